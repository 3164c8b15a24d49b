// Package procstat reads what Linux's /proc says of processes: their CPU
// time and resident memory, which the load generator measures a server
// by.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stat is the CPU time and resident memory of processes, summed.
type Stat struct {
	User, Sys time.Duration
	RSSKiB    int64
}

// Read returns the user and system CPU time and the resident memory of
// processes pids, summed.
func Read(pids []int) (Stat, error) {
	var p Stat
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return Stat{}, fmt.Errorf("read server cpu: %w", err)
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			return Stat{}, errors.New("read server cpu: short /proc stat")
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
		stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
		const clockTicks = 100                      // USER_HZ on Linux
		p.User += time.Duration(utime) * time.Second / clockTicks
		p.Sys += time.Duration(stime) * time.Second / clockTicks
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return Stat{}, fmt.Errorf("read server memory: %w", err)
		}
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				p.RSSKiB += kib
			}
		}
	}
	return p, nil
}
