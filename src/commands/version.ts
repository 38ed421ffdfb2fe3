import { buildInfo } from "../core/build-info.ts";

export function versionCommand(options: { json?: boolean }): number {
  const info = buildInfo();
  if (options.json) {
    console.log(JSON.stringify(info, null, 2));
    return 0;
  }
  console.log(
    [
      `stavily ${info.version}`,
      `commit:  ${info.commit}`,
      `built:   ${info.buildDate}`,
      `bun:     ${info.bunVersion}`,
      `target:  ${info.target}`,
      `os/arch: ${info.os}/${info.arch}`,
    ].join("\n"),
  );
  return 0;
}
