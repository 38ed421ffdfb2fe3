#!/usr/bin/env bash
# Reads the first request (initialize) and dies without answering.
read -r _
echo "exit_at_start: giving up" >&2
exit 4
