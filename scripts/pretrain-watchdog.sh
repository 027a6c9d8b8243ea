#!/usr/bin/env bash
# Runs `rlif pretrain` and resumes it from its newest checkpoint whenever it exits abnormally or
# its metrics stop advancing for STALL_S seconds (a guard against a hung worker thread).
# Usage: scripts/pretrain-watchdog.sh configs/organism-base.yaml runs/organism-base [extra flags]
set -u
config=$1; out=$2; shift 2
STALL_S=${STALL_S:-180}
while true; do
  resume=(); [ -d "$out/checkpoints" ] && resume=(--resume)
  node bin/rlif.mjs pretrain --config "$config" "${resume[@]}" "$@" &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    sleep 15
    m="$out/metrics.jsonl"
    if [ -f "$m" ] && [ $(( $(date +%s) - $(stat -c %Y "$m") )) -gt "$STALL_S" ]; then
      echo "watchdog: no progress for ${STALL_S}s, restarting from the newest checkpoint" >&2
      kill -9 $pid; break
    fi
  done
  wait $pid 2>/dev/null; rc=$?
  [ $rc -eq 0 ] && exit 0
  echo "watchdog: pretrain exited with $rc; resuming" >&2
  sleep 2
done
