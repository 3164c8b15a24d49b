# lib.sh holds what compare.sh and memory.sh share. It is sourced, not run.

# settle waits up to 2 min for the last run's connections to leave
# TIME_WAIT, because 10,000 of them make the next run dearer.
settle() {
	for _ in $(seq 60); do [ "$(ss -tan state time-wait | wc -l)" -lt 50 ] && break; sleep 2; done
}

# goflags are a movingobject server's flags for these runs, on port $port.
goflags() { echo -addr 127.0.0.1:$port -log-level warn -max-streams 20000 -max-streams-per-ip 0; }
