/**
 * The files of a python scaffold: a plugin speaking the Stavily stdio protocol (one JSON object per
 * line each way, src/core/plugin/stdio/README.md) with the standard library only, and a unittest that
 * drives it over that protocol as the agent does.
 */
import type { ScaffoldVars } from "./manifest.ts";

const MAIN = `#!/usr/bin/env python3
"""__NAME__: a Stavily __KIND__ plugin speaking the stdio protocol.

The agent writes one JSON request per line on stdin and reads one JSON answer per line on stdout.
Anything else goes to stderr (the plugin's log): never print() anything but answers.
"""

import json
import logging
import os
import sys
from datetime import datetime, timezone

log = logging.getLogger("__ID__")


class Plugin:
    def __init__(self):
        self.config = {}
        self.running = False

    def initialize(self, config):
        # The agent has already checked config against plugin.yaml and applied its defaults.
        self.config = config
        return True

    def start(self):
        self.running = True
        return True

    def stop(self):
        self.running = False
        return True

    def get_health(self):
        return {"status": "healthy" if self.running else "unhealthy", "message": "running" if self.running else "stopped"}
__BODY__

def handle(plugin, command):
    action = command.get("action")
    response = {"action": action, "success": True}
    if action == "initialize":
        response["success"] = plugin.initialize(command.get("config", {}))
    elif action == "start":
        response["success"] = plugin.start()
    elif action == "stop":
        response["success"] = plugin.stop()
    elif action == "get_health":
        response["data"] = plugin.get_health()
__DISPATCH__
    else:
        response = {"action": action, "success": False, "error": "unknown action: %s" % action}
    return response


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    plugin = Plugin()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            command = json.loads(line)
        except ValueError:
            print(json.dumps({"error": "Invalid JSON command"}), flush=True)
            continue
        try:
            response = handle(plugin, command)
        except Exception as error:  # the agent fails the call with this message
            log.exception("%s failed", command.get("action"))
            response = {"action": command.get("action"), "success": False, "error": str(error)}
        print(json.dumps(response), flush=True)


if __name__ == "__main__":
    main()
`;

const TRIGGER_BODY = `
    def detect_triggers(self):
        """One scheduled run: an event, or None when there is nothing to report."""
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        threshold = float(self.config.get("threshold", 4))
        log.debug("sampled load %.2f (threshold %.2f)", load, threshold)
        if load < threshold:
            return None
        return {
            "id": "__ID__-%d" % int(datetime.now(timezone.utc).timestamp()),
            "type": "__ID__.high",
            "source": "__ID__",
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "severity": "high" if load >= threshold * 2 else "medium",
            "data": {"load": load, "threshold": threshold},
            "metadata": {},
            "tags": [],
        }
`;

const ACTION_BODY = `
    def execute_action(self, request):
        """Greets request["parameters"]["name"]; status "failed" with an error fails the action."""
        started = datetime.now(timezone.utc)
        result = {"id": request["id"], "started_at": started.isoformat()}
        name = request.get("parameters", {}).get("name")
        if not isinstance(name, str) or name == "":
            result.update({"status": "failed", "error": "parameter name: expected a non-empty string"})
        else:
            log.info("greeting %s", name)
            result.update({"status": "completed", "data": {"message": "%s, %s!" % (self.config.get("greeting", "Hello"), name)}})
        result["completed_at"] = datetime.now(timezone.utc).isoformat()
        return result
`;

const DISPATCH = {
  trigger: `    elif action == "detect_triggers":
        response["data"] = plugin.detect_triggers()`,
  action: `    elif action == "execute_action":
        response["data"] = plugin.execute_action(command.get("action_request", {}))`,
};

const TEST_HEAD = `"""Drives main.py over the stdio protocol, as the agent does. Run: python3 -m unittest"""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class StdioPlugin:
    """main.py as a child process: one JSON request a line in, one JSON answer a line out."""

    def __init__(self, config):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.join(HERE, "main.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.call({"action": "initialize", "config": config})["success"]
        assert self.call({"action": "start"})["success"]

    def call(self, request):
        self.proc.stdin.write(json.dumps(request) + "\\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert answer["action"] == request["action"], answer
        return answer

    def close(self):
        self.call({"action": "stop"})
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
`;

const TEST_BODY = {
  trigger: `

class TestTrigger(unittest.TestCase):
    def test_reports_an_event_at_the_threshold(self):
        plugin = StdioPlugin({"threshold": 0})
        try:
            answer = plugin.call({"action": "detect_triggers"})
            self.assertTrue(answer["success"])
            self.assertEqual(answer["data"]["type"], "__ID__.high")
            self.assertIn(answer["data"]["severity"], ["medium", "high"])
        finally:
            plugin.close()

    def test_reports_nothing_below_it(self):
        plugin = StdioPlugin({"threshold": 1e9})
        try:
            self.assertIsNone(plugin.call({"action": "detect_triggers"})["data"])
        finally:
            plugin.close()


if __name__ == "__main__":
    unittest.main()
`,
  action: `

def request(parameters):
    return {"id": "req-test", "type": "__ID__", "parameters": parameters, "context": {}, "variables": {}, "timeout": 30, "metadata": {}}


class TestAction(unittest.TestCase):
    def test_greets_the_name_it_is_given(self):
        plugin = StdioPlugin({"greeting": "Hello"})
        try:
            answer = plugin.call({"action": "execute_action", "action_request": request({"name": "SRE"})})
            self.assertEqual(answer["data"]["status"], "completed")
            self.assertEqual(answer["data"]["data"], {"message": "Hello, SRE!"})
        finally:
            plugin.close()

    def test_fails_without_a_name(self):
        plugin = StdioPlugin({"greeting": "Hello"})
        try:
            answer = plugin.call({"action": "execute_action", "action_request": request({})})
            self.assertEqual(answer["data"]["status"], "failed")
        finally:
            plugin.close()


if __name__ == "__main__":
    unittest.main()
`,
};

export function pythonFiles(vars: ScaffoldVars & { kind: "trigger" | "action" }): Record<string, string> {
  const fill = (text: string) => text.replaceAll("__ID__", vars.id).replaceAll("__NAME__", vars.name).replaceAll("__KIND__", vars.kind);
  const main = MAIN.replace("__BODY__", vars.kind === "trigger" ? TRIGGER_BODY : ACTION_BODY).replace("__DISPATCH__", DISPATCH[vars.kind]);
  return { "main.py": fill(main), "test_main.py": fill(TEST_HEAD + TEST_BODY[vars.kind]) };
}
