#!/usr/bin/env bash
# counts.sh SSELOAD GO_BINARY WRITELOOP: BENCHMARKS.md's table per stream
# count in one run: at each of COUNTS (default 2,000, 10,000 and 19,000
# streams), unpinned and then with PIN=1, one round of compare.sh of the
# shared world, the C floor, nchan and the per-viewer walks, in that order.
# Each block starts with a "=== PIN=p N=n" line; bench/plot.py draws the
# output.
#
#   bench/counts.sh /tmp/sseload /tmp/mo /tmp/writeloop | tee counts.txt
#   python3 bench/plot.py docs/bench-counts.svg counts.txt
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 3 ]; then
	echo "usage: counts.sh SSELOAD GO_BINARY WRITELOOP" >&2
	exit 2
fi
for pin in 0 1; do
	for n in ${COUNTS:-2000 10000 19000}; do
		echo "=== PIN=$pin N=$n"
		PIN=$pin N=$n bash "$here/compare.sh" 1 "$1" new="$2" writeloop="$3" nchan walks="$2"
	done
done
