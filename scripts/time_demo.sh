#!/usr/bin/env bash
# Time `make demo` honestly: wall-clock seconds, the machine's cores and its load before and after, and
# whether the one-off costs (set-up, the SmolLM2 GGUF conversion) were already paid. Prints one JSON
# object on the last line; the README's demo time is copied from it (run it on an idle machine:
# it refuses to start when the 1-minute load average is above the number of cores, unless FORCE=1).
#
#   bash scripts/time_demo.sh                 # times `make demo RUN=runs/demo-timed`
#   RUN=runs/x DATA_ROOT=/data bash scripts/time_demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-runs/demo-timed}"
CORES="$(nproc)"
load() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE="$(load)"
if [ "${FORCE:-0}" != 1 ] && awk -v l="${LOAD_BEFORE%% *}" -v c="$CORES" 'BEGIN{exit !(l > c)}'; then
  echo "time_demo: the machine is busy (load ${LOAD_BEFORE} on ${CORES} cores): a time measured now would not be" \
       "the demo's; wait for an idle machine or set FORCE=1" >&2
  exit 2
fi
SETUP_DONE=false; [ -f .venv/.ftgeo-setup ] && SETUP_DONE=true
GGUF_CACHED=false
CACHE="${FTGEO_CACHE_DIR:-$HOME/.cache/ftgeo}"
[ -f "$CACHE/models/smollm2-135m/config.json" ] && GGUF_CACHED=true
if [ -e "$RUN" ] && [ ! -f "$RUN/config.yaml" ]; then
  echo "time_demo: $RUN exists and is not a run folder; pass another RUN=" >&2; exit 2
fi
rm -rf "$RUN"                                   # a fresh run folder: nothing reused from an earlier demo
START="$(date +%s.%N)"
set +e
make demo RUN="$RUN" ${DATA_ROOT:+DATA_ROOT="$DATA_ROOT"}
RC=$?
set -e
END="$(date +%s.%N)"
LOAD_AFTER="$(load)"
SECONDS_TAKEN="$(awk -v a="$START" -v b="$END" 'BEGIN{printf "%.1f", b - a}')"
WHOLE="${SECONDS_TAKEN%.*}"
REPORT_BYTES=0; [ -f "$RUN/report.html" ] && REPORT_BYTES="$(stat -c %s "$RUN/report.html")"
printf '{"bench": "make demo", "exit_code": %d, "seconds": %s, "minutes": "%dm%02ds", "cores": %d, "load_before": "%s", "load_after": "%s", "setup_already_done": %s, "smollm2_conversion_cached": %s, "report_bytes": %d, "run": "%s", "date": "%s"}\n' \
  "$RC" "$SECONDS_TAKEN" "$(( WHOLE / 60 ))" "$(( WHOLE % 60 ))" "$CORES" "$LOAD_BEFORE" "$LOAD_AFTER" \
  "$SETUP_DONE" "$GGUF_CACHED" "$REPORT_BYTES" "$RUN" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
exit "$RC"
