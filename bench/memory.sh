#!/usr/bin/env bash
# memory.sh SSELOAD LABEL=PATH... shows where each world stream's memory
# goes in a movingobject binary (BENCHMARKS.md, "Where a stream's memory
# goes"). For each target it starts a fresh server, and reads its /metrics
# and RSS with no stream. It then opens N streams (default 10,000) of
# /world/events from SSELOAD, with a 10 s ramp and then 15 s held. It reads
# the figures again 10 s into the hold. It prints what each stream added to
# the RSS, the Go heap in use, the goroutine stacks in use, the rest of the
# runtime's own memory, and the goroutines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
if [ $# -lt 2 ]; then
	echo "usage: memory.sh SSELOAD LABEL=PATH..." >&2
	exit 2
fi
sseload=$1
shift
n=${N:-10000}
port=18600
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

sample() { # sample PID OUT writes the figures the breakdown needs to OUT, one per line
	curl -fsS "http://127.0.0.1:$port/metrics" | awk '
		/^go_memstats_heap_inuse_bytes /  {print "heap", $2}
		/^go_memstats_stack_inuse_bytes / {print "stack", $2}
		/^go_memstats_sys_bytes /         {print "sys", $2}
		/^go_goroutines /                 {print "goroutines", $2}' >"$2"
	awk '/^VmRSS:/ {print "rss", $2 * 1024}' "/proc/$1/status" >>"$2"
}

for t in "$@"; do
	label=${t%%=*} bin=${t#*=}
	settle
	"$bin" $(goflags) >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
	sample "$pid" "$work/before"
	"$sseload" -url "http://127.0.0.1:$port/world/events" -n "$n" -ramp 10s -d 15s >/dev/null 2>&1 &
	load=$!
	sleep 20
	sample "$pid" "$work/after"
	wait "$load" || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	python3 - "$label" "$n" "$work/before" "$work/after" <<'PY'
import sys
label, n, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
read = lambda f: {k: float(v) for k, v in (l.split() for l in open(f))}
b, a = read(before), read(after)
per = lambda k: (a[k] - b[k]) / n / 1024
print("%-8s streams=%d rss_kib=%.2f heap_kib=%.2f stack_kib=%.2f other_runtime_kib=%.2f goroutines_per_stream=%.3f" % (
    label, n, per("rss"), per("heap"), per("stack"),
    ((a["sys"] - a["heap"] - a["stack"]) - (b["sys"] - b["heap"] - b["stack"])) / n / 1024,
    (a["goroutines"] - b["goroutines"]) / n))
PY
done
