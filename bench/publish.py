#!/usr/bin/env python3
"""Publish the shared world's moves to nchan (bench/nchan.conf), as the Go
server makes them.

The publisher sends one move at each boundary of the interval on the wall
clock. A move is {"seq","x","y","ts"}, with seq and ts as /world/events has
them (seq = ts / interval), so that the load generator reads nchan's stream
as it reads the Go server's. One move is one POST, with no batching.

Each POST goes over one of CONNS kept-alive connections (default 1). nchan
answers after its fan-out, so its round trip grows with the subscribers.
With one connection, a fan-out slower than the interval holds up the next
move. With more, the next move is sent at its boundary on a free
connection while the last one is still being written. Moves sent together
may then reach nchan out of order. When every connection is busy, the
moves that fall due meanwhile are sent at once, in order, as connections
come free.

On SIGTERM or SIGINT the publisher prints to stderr how many moves it sent,
and how many were sent late (more than one interval after their boundary).
It also prints the POSTs' round trips (p50, p99, max), so that a slow nchan
shows where its time went.

    python3 bench/publish.py http://127.0.0.1:18601/pub 100      # URL, interval in ms
    python3 bench/publish.py http://127.0.0.1:18601/pub 100 4    # and 4 connections
"""
import http.client
import json
import os
import queue
import signal
import sys
import threading
import time
import urllib.parse


class Stats:
    """What the posters did, guarded by a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.late = 0
        self.rtts = []  # seconds

    def add(self, rtt, late):
        with self.lock:
            self.sent += 1
            self.late += late
            self.rtts.append(rtt)

    def report(self, conns):
        with self.lock:
            r = sorted(self.rtts)
            if not r:
                return "publish: no move sent"
            q = lambda p: r[min(len(r) - 1, int(p * len(r)))] * 1000
            return "publish: %d moves over %d connection(s), %d late; POST p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
                self.sent, conns, self.late, q(0.50), q(0.99), r[-1] * 1000)


def fail(why):
    """Ends the publisher from any thread. It is called when nchan is gone
    or refused a move, as when the benchmark stops nchan first."""
    print(why, file=sys.stderr, flush=True)
    os._exit(1)


def poster(url, interval, moves, free, stats):
    """POST each move taken from moves, over one kept-alive connection."""
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
    while True:
        seq = moves.get()
        body = json.dumps({"seq": seq, "x": seq % 800, "y": seq % 600, "ts": seq * interval}, separators=(",", ":"))
        start = time.time_ns()
        try:
            conn.request("POST", url.path, body, {"Content-Type": "application/json"})
            res = conn.getresponse()
            res.read()
        except (OSError, http.client.HTTPException) as e:
            fail(f"publish: move {seq}: {e}")
        if res.status not in (201, 202):
            fail(f"publish: move {seq}: {res.status} {res.reason}")
        stats.add((time.time_ns() - start) / 1e9, start // 1_000_000 > (seq + 1) * interval)
        free.release()


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: publish.py URL INTERVAL_MS [CONNS]")
    url = urllib.parse.urlsplit(sys.argv[1])
    interval = int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) == 4 else 1
    stats = Stats()

    def stop(*_):
        print(stats.report(conns), file=sys.stderr, flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    moves, free = queue.SimpleQueue(), threading.Semaphore(conns)
    for _ in range(conns):
        threading.Thread(target=poster, args=(url, interval, moves, free, stats), daemon=True).start()
    seq = time.time_ns() // 1_000_000 // interval  # the last move published
    while True:
        seq += 1
        now = time.time_ns() // 1_000_000
        if seq * interval > now:
            time.sleep((seq * interval - now) / 1000)
        free.acquire()  # a connection is free, so the move goes now
        moves.put(seq)


if __name__ == "__main__":
    main()
