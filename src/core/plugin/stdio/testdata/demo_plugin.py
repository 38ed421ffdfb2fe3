#!/usr/bin/env python3
"""
A Stavily stdio plugin for the host's tests, written the way the Stavily agents' Python plugins are
(cpu_monitor.py, service_restart.py in Stavily/01-Agents): a class with one method per action, and a
main loop reading one JSON request a line from stdin and printing one JSON answer a line with print()
(no flush: the host must run Python unbuffered). Logging goes to stderr through the logging module.

It is both a trigger and an action. `execute_action` does what `action_request["type"]` says, so the tests
can make it misbehave on purpose.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime


class DemoPlugin:
    def __init__(self):
        self.config = {}
        self.running = False
        self.status = "stopped"
        self.logger = logging.getLogger("demo")
        self.logger.setLevel(logging.INFO)
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        self.logger.addHandler(handler)

    def get_info(self):
        return {"id": "demo", "name": "Demo", "version": "1.0.0", "type": "trigger", "tags": ["test"]}

    def initialize(self, config):
        self.config = config
        if config.get("refuse"):
            self.logger.error("refusing configuration")
            return False
        self.status = "initialized"
        self.logger.info("initialized with %s", json.dumps(config, sort_keys=True))
        return True

    def start(self):
        self.running = True
        self.status = "running"
        return True

    def stop(self):
        self.running = False
        self.status = "stopped"
        return True

    def get_health(self):
        return {
            "status": "healthy" if self.running else "unhealthy",
            "message": "running" if self.running else "not running",
            "last_check": datetime.now().isoformat(),
            "error_count": 0,
        }

    def detect_triggers(self):
        value = float(self.config.get("value", 0))
        threshold = float(self.config.get("threshold", 50))
        if not self.running or value <= threshold:
            return None
        return {
            "id": "demo-high-%d" % int(time.time()),
            "type": "demo.high",
            "source": "demo",
            "timestamp": datetime.now().isoformat(),
            "data": {"value": value, "threshold": threshold},
            "metadata": {"plugin_id": "demo"},
            "tags": ["test", "demo"],
            "severity": "high" if value > 90 else "medium",
        }

    def execute_action(self, request):
        kind = request.get("type")
        started = datetime.now()
        params = request.get("parameters", {})
        result = {"id": request["id"], "status": "completed", "started_at": started.isoformat()}
        if kind == "echo":
            for i in range(int(params.get("lines", 0))):
                self.logger.info("working step %d", i + 1)
            result["data"] = {"parameters": params, "context": request.get("context"), "timeout": request.get("timeout")}
        elif kind == "env":
            result["data"] = {"env": dict(os.environ), "cwd": os.getcwd()}
        elif kind == "fail":
            result.update({"status": "failed", "error": "service %s not found" % params.get("service")})
        elif kind == "noise":
            print("this is not JSON")
            print("42")
            print("x" * int(params.get("long", 0)))
            for i in range(int(params.get("stderr_lines", 0))):
                print("noise %d" % i, file=sys.stderr)
            result["data"] = {"ok": True}
        elif kind == "hang":
            self.logger.info("hanging")
            time.sleep(3600)
        elif kind == "fork_and_hang":
            grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            self.logger.info("grandchild %d", grandchild.pid)
            time.sleep(3600)
        elif kind == "stubborn":
            # Ignores SIGTERM, and so does its grandchild: only SIGKILL to the group ends them.
            code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
            grandchild = subprocess.Popen([sys.executable, "-c", code])
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.logger.info("grandchild %d", grandchild.pid)
            time.sleep(3600)
        elif kind == "exit":
            self.logger.info("exiting mid-call")
            sys.stderr.flush()
            os._exit(int(params.get("code", 3)))
        elif kind == "hog":
            hoard = []
            # Capped so a host that failed to limit memory fails the test instead of the machine.
            while len(hoard) < int(params.get("cap_mb", 4096)):
                hoard.append(bytearray(1024 * 1024))
            result["data"] = {"allocated_mb": len(hoard)}
        elif kind == "raise":
            raise RuntimeError("boom")
        elif kind == "wrong_action":
            return {"__raw__": {"action": "get_status", "success": True, "data": "running"}}
        elif kind == "bad_shape":
            return {"__raw__": {"action": "execute_action", "success": "yes"}}
        elif kind == "late":
            time.sleep(float(params.get("seconds", 1)))
            result["data"] = {"late": True}
        else:
            result.update({"status": "failed", "error": "unknown action type %s" % kind})
        result["completed_at"] = datetime.now().isoformat()
        result["duration"] = (datetime.now() - started).total_seconds()
        return result


def main():
    plugin = DemoPlugin()
    while True:
        try:
            line = sys.stdin.readline().strip()
            if not line:
                break
            try:
                command = json.loads(line)
            except json.JSONDecodeError:
                print(json.dumps({"error": "Invalid JSON command"}))
                continue

            action = command.get("action")
            response = {"action": action, "success": False}
            if action == "get_info":
                response["data"] = plugin.get_info()
                response["success"] = True
            elif action == "initialize":
                response["success"] = plugin.initialize(command.get("config", {}))
            elif action == "start":
                response["success"] = plugin.start()
            elif action == "stop":
                response["success"] = plugin.stop()
            elif action == "get_status":
                response["data"] = plugin.status
                response["success"] = True
            elif action == "get_health":
                response["data"] = plugin.get_health()
                response["success"] = True
            elif action == "detect_triggers":
                response["data"] = plugin.detect_triggers()
                response["success"] = True
            elif action == "execute_action":
                data = plugin.execute_action(command.get("action_request", {}))
                if "__raw__" in data:
                    response = data["__raw__"]
                else:
                    response["data"] = data
                    response["success"] = True
            else:
                response["error"] = "Unknown action: %s" % action
            print(json.dumps(response))
        except KeyboardInterrupt:
            break
        except MemoryError:
            # Out of memory under the host's limit: die rather than limp on.
            raise
        except Exception as e:
            print(json.dumps({"error": "Plugin error: %s" % e}))


if __name__ == "__main__":
    main()
