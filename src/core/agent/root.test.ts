import { expect, test } from "bun:test";
import { loadConfig } from "../config/index.ts";
import { refuseRoot } from "./lifecycle.ts";

const config = (allowRoot: boolean) => loadConfig({ env: {}, type: "action", set: ["agent.base_dir=/tmp/stavily-root-test", `security.allow_root=${allowRoot}`] }).config;

test("root is refused with a usage error saying how to run instead, unless security.allow_root", () => {
  expect(() => refuseRoot(config(false), 0)).toThrow(
    "refusing to run the action agent as root: run it as a dedicated user (docs/security.md), or set security.allow_root: true (--set security.allow_root=true) if you mean it",
  );
  expect(() => refuseRoot(config(true), 0)).not.toThrow();
  expect(() => refuseRoot(config(false), 1000)).not.toThrow();
});
