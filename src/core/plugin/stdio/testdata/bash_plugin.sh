#!/usr/bin/env bash
# A Stavily stdio trigger in bash: one JSON request a line in, one answer a line out. No jq: the action
# is picked out of the request with a pattern, which is enough for requests the host writes.
counter=0
while IFS= read -r line; do
  [[ -z "$line" ]] && break
  action=""
  [[ "$line" =~ \"action\":\"([a-z_]+)\" ]] && action="${BASH_REMATCH[1]}"
  case "$action" in
    initialize|start|stop)
      echo "bash plugin: $action" >&2
      printf '{"action":"%s","success":true}\n' "$action" ;;
    get_health)
      printf '{"action":"get_health","success":true,"data":{"status":"healthy","message":"pid %s"}}\n' "$$" ;;
    detect_triggers)
      counter=$((counter + 1))
      printf '{"action":"detect_triggers","success":true,"data":{"type":"bash.tick","severity":"low","data":{"count":%d,"plugin":"%s"}}}\n' "$counter" "$STAVILY_PLUGIN_ID" ;;
    *)
      printf '{"action":"%s","success":false,"error":"Unknown action: %s"}\n' "$action" "$action" ;;
  esac
done
