#!/usr/bin/env bash
# counts.sh SSELOAD GO_BINARY WRITELOOP makes BENCHMARKS.md's table per
# stream count in one run. It runs one round of compare.sh at each of
# COUNTS (default 2,000, 10,000 and 19,000 streams) unpinned, then at each
# of PINNED (default 2,000 and 10,000) with PIN=1. Each round runs the
# shared world, the C floor, nchan (two workers) and the per-viewer walks,
# in that order. With PIN=1 a round also runs nchan with one worker, as the
# others have one thread on the one core. At 19,000 no server can keep
# 10 moves/s on one core, because each write costs several microseconds of
# kernel time, so 19,000 is not run pinned. An empty COUNTS= or PINNED=
# skips that half. Each block starts with a "=== PIN=p N=n" line, and
# bench/plot.py draws the output.
#
#   bench/counts.sh /tmp/sseload /tmp/mo /tmp/writeloop | tee counts.txt
#   python3 bench/plot.py docs/bench-counts.svg counts.txt
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 3 ]; then
	echo "usage: counts.sh SSELOAD GO_BINARY WRITELOOP" >&2
	exit 2
fi
for n in ${COUNTS-2000 10000 19000}; do
	echo "=== PIN=0 N=$n"
	PIN=0 N=$n bash "$here/compare.sh" 1 "$1" new="$2" writeloop="$3" nchan walks="$2"
done
for n in ${PINNED-2000 10000}; do
	echo "=== PIN=1 N=$n"
	PIN=1 N=$n bash "$here/compare.sh" 1 "$1" new="$2" writeloop="$3" nchan nchan/1 walks="$2"
done
