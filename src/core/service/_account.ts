/**
 * The account a service runs as. On the machine itself `id` answers (it asks NSS, so LDAP users
 * count); under `--root` the tree's own /etc/passwd and /etc/group do, as a package's would.
 */
import { existsSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { usageError } from "../errors.ts";
import { onDisk, type ServicePlatform } from "./_layout.ts";

export interface Account {
  user: string;
  /** The user's primary group, or a group of the user's name when the user does not exist yet. */
  group: string;
  /** Absent when the user does not exist (yet): files stay root's and install says how to fix it. */
  uid?: number;
  gid?: number;
}

const USER_NAME = /^[a-z_][a-z0-9_-]*$/i;

export function lookupAccount(user: string, root: string, platform: ServicePlatform): Account {
  if (platform === "win32") return { user, group: user };
  if (!USER_NAME.test(user)) throw usageError("service", `--user "${user}": expected a user name`);
  const found = root === "/" ? fromId(user) : fromFiles(user, root);
  return found ?? { user, group: user };
}

function fromId(user: string): Account | undefined {
  const id = (flag: string) => {
    const result = spawnSync("id", [flag, user], { encoding: "utf8", timeout: 5_000 });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const uid = id("-u");
  const gid = id("-g");
  if (uid === undefined || gid === undefined) return undefined;
  return { user, group: id("-gn") ?? gid, uid: Number(uid), gid: Number(gid) };
}

function fromFiles(user: string, root: string): Account | undefined {
  const entry = readColonFile(onDisk(root, "/etc/passwd")).find((fields) => fields[0] === user);
  if (!entry) return undefined;
  const gid = Number(entry[3]);
  const group = readColonFile(onDisk(root, "/etc/group")).find((fields) => Number(fields[2]) === gid)?.[0] ?? String(gid);
  return { user, group, uid: Number(entry[2]), gid };
}

function readColonFile(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(":"));
}
