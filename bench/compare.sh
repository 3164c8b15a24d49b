#!/usr/bin/env bash
# compare.sh ROUNDS SSELOAD TARGET... measures the shared world's cost per
# event on this machine, server by server, side by side in one run
# (BENCHMARKS.md, "Against C: the floor and nchan"). Each TARGET is one of
# these:
#
#   LABEL=PATH       a movingobject binary, serving /world/events
#   walks=PATH       the same binary serving per-viewer walks (/events)
#   gzip=PATH        the same binary serving /world/events to clients that
#                    ask for gzip (and decode it); deflate=PATH for deflate
#   h3=PATH          the same binary serving /world/events over HTTP/3, a
#                    QUIC connection per client, with its own certificate
#   webtransport=PATH the same binary serving /world/webtransport, a
#                    WebTransport session per client; websocket=PATH
#                    serves /world/ws
#   writeloop=PATH   bench/writeloop.c, built, with a writer thread per
#                    core it may run on (one with PIN=1)
#   writeloopK=PATH  the same with K writer threads (writeloop1 has one)
#   sendloop[K]=PATH the same binary writing with send(2) rather than
#                    write(2), as the Go engine does
#   nchan            nginx with bench/nchan.conf and two workers, fed by
#                    bench/publish.py over one connection, a POST at a time
#   nchanK           the same, with K publisher connections (nchan4 has
#                    four), so that a slow answer holds up no move
#   nchan/W          (or nchanK/W) with W workers (nchan/1 has one)
#
# Each round runs every target once, in reverse order every other round.
# Each run starts a fresh server and opens N streams (default 10,000) at
# 10 Hz from SSELOAD, with a 10 s ramp and a 15 s window. Before each run
# the script waits for the last run's connections to leave TIME_WAIT,
# because 10,000 of them make the next run dearer.
#
# The script prints one line per run. The line gives the moves/s per
# stream, and the server's user and system CPU per move over the window.
# It gives the server's RSS per stream, summed over all its processes, as
# SSELOAD -pid reads them from /proc. It gives the delays, losses and
# errors. Last comes the CPU of the kernel's ksoftirqd threads per move,
# over about the same window. That is loopback's receiving work, which a
# saturated machine moves there from the sender's writes, out of any
# server's figure. After an nchan line, the script prints what its
# publisher saw. With PIN=1 the server runs on core 0 and the load
# generator on core 1 (taskset), so that they do not share a core.
#
# This is how nchan is set up (nchan 1.3.6 on nginx 1.22, Debian's
# libnginx-mod-nchan). bench/nchan.conf runs two worker processes, as the
# Go server has two shards on this machine, and nchan/W sets W. Each worker
# takes 20,000 connections, and the access log is off. There is one
# channel, "world". Its EventSource subscriber location names the event
# move, and a new subscriber starts at the newest message. Its publisher
# location keeps the last 10 messages for 60 s.
#
# This is how nchan is fed. bench/publish.py posts one move per POST, with
# no batching, at each 100 ms boundary of the wall clock. A move is
# {"seq","x","y","ts"}, as the Go server makes them. The publisher uses one
# kept-alive connection and waits for each answer. Moves that fell due
# while it waited go at once, one POST each, in order.
#
# nchan answers a POST after its fan-out, so the round trip grows with the
# subscribers (p50 22-48 ms at 2,000, 84-116 ms at 10,000). At 10,000
# streams each answer takes about the interval, and nchan delivers 4 to 7
# of the 10 moves a second, seconds late. Its fan-out needs more CPU than
# the cores have beside the load generator. nchan4 (four connections, with
# no wait for an answer before the next move) is not better. Its POSTs take
# 271 ms (p50), 7.8 moves/s arrive, 12,864 are lost, and 2,340 of the
# 10,000 streams are not held (BENCHMARKS.md, "nchan, fed fairly"). nchan's
# own fan-out sets the pace, not the publisher, so the one-connection
# publisher is the default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
if [ $# -lt 3 ]; then
	echo "usage: compare.sh ROUNDS SSELOAD TARGET... (LABEL=PATH of a movingobject binary, walks=PATH, writeloop[K]=PATH, sendloop[K]=PATH, nchan[K][/W])" >&2
	exit 2
fi
rounds=$1 sseload=$2
shift 2
targets=("$@")
n=${N:-10000}
ramp=10 window=15 # seconds, the load generator's ramp and then its window
srvcpu=() gencpu=()
if [ "${PIN:-0}" = 1 ]; then
	srvcpu=(taskset -c 0) gencpu=(taskset -c 1)
fi
port=18600
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# softirqd prints the CPU time, in clock ticks, of the kernel's ksoftirqd
# threads. Loopback's receiving work goes there, out of the sender's
# account, once a machine is too busy to do it in the sender's write(2).
softirqd() {
	local t=0 p
	for p in $(pgrep ksoftirqd); do t=$((t + $(cut -d' ' -f14,15 "/proc/$p/stat" | tr ' ' '+'))); done
	echo $t
}

run() { # run LABEL runs one server under one load run
	local label=${1%%=*} bin=${1#*=} url pids=() extra=() accept="" transport=sse
	settle
	case $label in
	nchan*)
		local k=${label#nchan} w=2
		if [[ $k == */* ]]; then w=${k#*/} k=${k%/*}; fi
		mkdir -p "$work/nchan"
		"${srvcpu[@]}" nginx -p "$work/nchan" -c "$here/nchan.conf" -g "daemon off; worker_processes $w;" &
		extra=($!)
		sleep 1
		python3 "$here/publish.py" http://127.0.0.1:18601/pub 100 "${k:-1}" 2>"$work/publish.txt" &
		extra+=($!)
		url=http://127.0.0.1:18601/world/events
		pids=($(pgrep -P "${extra[0]}") "${extra[0]}") # the workers and the master
		;;
	writeloop* | sendloop*)
		local send=0
		if [[ $label == sendloop* ]]; then send=1; fi
		WRITELOOP_SEND=$send "${srvcpu[@]}" "$bin" 127.0.0.1 $port 100 ${label#*loop} >/dev/null &
		pids=($!) url=http://127.0.0.1:$port/world/events
		;;
	*)
		if [ "$label" = gzip ] || [ "$label" = deflate ]; then accept=$label; fi
		"${srvcpu[@]}" "$bin" $(goflags) >/dev/null 2>&1 &
		pids=($!) url=http://127.0.0.1:$port/world/events
		case $label in
		walks) url=http://127.0.0.1:$port/events ;;
		h3) transport=h3 url=https://127.0.0.1:$port/world/events ;;
		webtransport) transport=webtransport url=https://127.0.0.1:$port/world/webtransport ;;
		websocket) transport=websocket url=http://127.0.0.1:$port/world/ws ;;
		esac
		;;
	esac
	sleep 1
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	"${gencpu[@]}" "$sseload" -transport "$transport" -url "$url" -n "$n" -ramp "${ramp}s" -d "${window}s" -json -accept-encoding "$accept" -pid "$(IFS=,; echo "${pids[*]}")" >"$work/out.json" 2>/dev/null &
	local gen=$! soft0 soft1
	sleep "$ramp" # the window starts
	soft0=$(softirqd)
	wait $gen || true
	soft1=$(softirqd)
	kill "${pids[@]}" "${extra[@]}" 2>/dev/null || true
	wait "${pids[@]}" "${extra[@]}" 2>/dev/null || true
	python3 - "$label" "$load" "$work/out.json" "$((soft1 - soft0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
label, load, f, soft, hz = sys.argv[1:6]
r = json.load(open(f))
cpu, sys_ = r.get("server_cpu_us_per_event", 0), r.get("server_sys_us_per_event", 0)
# ksoftirqd's CPU over about the window, per move delivered in it
softirqd = int(soft) / int(hz) * 1e6 / max(1, r["events"])
print("%-10s load=%s streams=%d moves/s=%.2f cpu_us=%.2f user=%.2f sys=%.2f p50=%.0f p99=%.0f lost=%d err=%d rss_kib=%.1f ksoftirqd_us=%.2f bytes=%.1f encoded=%d" % (
    label, load, r["streams"], r["events_per_sec"]/max(1, r["streams"]), cpu, cpu-sys_, sys_,
    r["delay_p50_ms"], r["delay_p99_ms"], r["lost"], r["errors"], r.get("server_rss_kib_per_stream", 0), softirqd,
    r.get("bytes_in_per_event", 0), r.get("encoded", 0)))
PY
	if [ -s "$work/publish.txt" ]; then # what nchan's publisher saw
		sed 's/^/        /' "$work/publish.txt"
		rm "$work/publish.txt"
	fi
}

for r in $(seq "$rounds"); do
	order=("${targets[@]}")
	if [ $((r % 2)) = 0 ]; then
		order=()
		for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done
	fi
	for t in "${order[@]}"; do
		echo -n "round=$r "
		run "$t"
	done
done
