#!/usr/bin/env python3
"""Publish the shared world's moves to nchan (bench/nchan.conf): at each
boundary of the interval on the wall clock (and at once for any boundary
passed while it was late), POST {"seq","x","y","ts"} over
one kept-alive connection, seq and ts as /world/events has them (seq =
ts / interval), so that the load generator reads nchan's stream as it
reads the Go server's.

    python3 bench/publish.py http://127.0.0.1:18601/pub 100   # URL, interval in ms
"""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: publish.py URL INTERVAL_MS")
    url = urllib.parse.urlsplit(sys.argv[1])
    interval = int(sys.argv[2])
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=5)
    seq = time.time_ns() // 1_000_000 // interval  # the last move published
    while True:
        seq += 1
        now = time.time_ns() // 1_000_000
        if seq * interval > now:
            time.sleep((seq * interval - now) / 1000)
        # Woken late, the moves missed are published at once, one each.
        body = json.dumps({"seq": seq, "x": seq % 800, "y": seq % 600, "ts": seq * interval}, separators=(",", ":"))
        conn.request("POST", url.path, body, {"Content-Type": "application/json"})
        res = conn.getresponse()
        res.read()
        if res.status not in (201, 202):
            sys.exit(f"publish: {res.status} {res.reason}")


if __name__ == "__main__":
    main()
