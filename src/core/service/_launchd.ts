/**
 * A launchd daemon per agent instance: /Library/LaunchDaemons/io.stavily.<type>.<id>.plist.
 * deployments/launchd/ holds the plist rendered for the placeholder id "ID" (a test keeps it current).
 */
import { type InstanceRef, launchdLabel } from "./_layout.ts";

export interface PlistOptions {
  ref: InstanceRef;
  binary: string;
  configFile: string;
  user: string;
  group: string;
  /** `<base_dir>/agent-<id>`; launchd writes the agent's stderr to logs/launchd.log in it. */
  home: string;
  stopTimeoutSec: number;
}

/** 0027: the group may read what the agent writes, others nothing (launchd takes the mode in decimal). */
const UMASK = 0o027;

export function renderPlist(options: PlistOptions): string {
  const { ref, binary, configFile, user, group, home, stopTimeoutSec } = options;
  const args = [binary, ref.type, "--config", configFile].map((arg) => `\n    <string>${xml(arg)}</string>`).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Stavily ${xml(ref.type)} agent ${xml(ref.id)}: written by stavily service install; run it again rather than editing. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${xml(launchdLabel(ref))}</string>
  <key>ProgramArguments</key>
  <array>${args}
  </array>
  <key>UserName</key>
  <string>${xml(user)}</string>
  <key>GroupName</key>
  <string>${xml(group)}</string>
  <key>WorkingDirectory</key>
  <string>${xml(home)}</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>5</integer>
  <key>ExitTimeOut</key>
  <integer>${stopTimeoutSec}</integer>
  <key>Umask</key>
  <integer>${UMASK}</integer>
  <key>SoftResourceLimits</key>
  <dict>
    <key>NumberOfFiles</key>
    <integer>65536</integer>
  </dict>
  <key>StandardErrorPath</key>
  <string>${xml(`${home}/logs/launchd.log`)}</string>
  <key>ProcessType</key>
  <string>Background</string>
</dict>
</plist>
`;
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}
