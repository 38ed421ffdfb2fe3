#!/usr/bin/env python3
"""A Stavily stdio plugin (the Python protocol, as cpu_monitor.py speaks it) that reports what it can read."""

import json
import os
import sys


def execute(request):
    path = request["parameters"]["path"]
    try:
        with open(path) as f:
            data = {"text": f.read(), "pid": os.getpid()}
    except OSError as error:
        data = {"errno": error.errno, "error": type(error).__name__}
    return {"id": request["id"], "status": "completed", "data": data}


def main():
    for line in sys.stdin:
        request = json.loads(line)
        action = request.get("action")
        if action == "execute_action":
            print(json.dumps({"action": action, "success": True, "data": execute(request["action_request"])}))
        elif action == "get_health":
            print(json.dumps({"action": action, "success": True, "data": {"status": "healthy"}}))
        else:
            print(json.dumps({"action": action, "success": True}))
        if action == "stop":
            break


if __name__ == "__main__":
    main()
