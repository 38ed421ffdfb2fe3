import { expect, test } from "bun:test";
import type { PluginState } from "../../../src/sdk/index.ts";
import type { FileInfo } from "./_scan.ts";
import { apply, diff, loadSnapshot, saveSnapshot } from "./_snapshot.ts";

/** Two views of one store, so a load does not come from the first view's in-memory copy. */
function store() {
  const values = new Map<string, string>();
  const view = (): PluginState => ({
    get: <T>(key: string) => (values.has(key) ? (JSON.parse(values.get(key)!) as T) : undefined),
    set: (key, value) => {
      const json = JSON.stringify(value);
      if (json.length > 1024 * 1024) throw new Error(`${key}: over the 1 MiB cap`);
      values.set(key, json);
    },
    delete: (key) => values.delete(key),
    keys: () => [...values.keys()].sort(),
  });
  return { values, view };
}

test("a snapshot larger than one state value is split over keys, and stale chunks are removed", () => {
  const { values, view } = store();
  const files = new Map<string, FileInfo>();
  for (let i = 0; i < 20_000; i++) files.set(`/srv/data/${"d".repeat(40)}/file-${i}.bin`, { size: i, mtimeMs: 1_700_000_000_000 + i, ino: 1000 + i });
  saveSnapshot(view(), "fp", files);
  expect([...values.keys()].filter((key) => key.startsWith("snapshot.")).length).toBeGreaterThan(1);
  expect(loadSnapshot(view(), "fp")).toEqual(files);
  expect(loadSnapshot(view(), "other fp")).toBe("other");
  saveSnapshot(view(), "fp", new Map([["/a", { size: 1, mtimeMs: 2, ino: 3 }]]));
  expect([...values.keys()].sort()).toEqual(["snapshot", "snapshot.0"]);
});

test("diff in path order; apply keeps unreported changes for the next diff; keep protects unseen files", () => {
  const before = new Map<string, FileInfo>([["/a", { size: 1, mtimeMs: 1, ino: 1 }], ["/b", { size: 1, mtimeMs: 1, ino: 2 }], ["/c", { size: 1, mtimeMs: 1, ino: 3 }]]);
  const now = new Map<string, FileInfo>([["/a", { size: 1, mtimeMs: 1, ino: 9 }], ["/d", { size: 4, mtimeMs: 4, ino: 4 }]]);
  const changes = diff(before, now, (path) => path === "/c");
  expect(changes.map((c) => [c.kind, c.path])).toEqual([["modified", "/a"], ["deleted", "/b"], ["created", "/d"]]);
  const next = apply(before, changes.slice(0, 1));
  expect(diff(next, now, (path) => path === "/c").map((c) => [c.kind, c.path])).toEqual([["deleted", "/b"], ["created", "/d"]]);
});
