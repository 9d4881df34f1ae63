package lab

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// What the lab and the benchmarks read of a process from /proc. Every reader returns 0 when the
// process is gone.

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// this runs on (fixed by the kernel ABI for x86 and arm64).
const clockTicks = 100

// RSS returns a process's resident set size (VmRSS) in bytes.
func RSS(pid int) int64 { return StatusKB(pid, "VmRSS") << 10 }

// PeakRSS returns a process's peak resident set size (VmHWM) in bytes.
func PeakRSS(pid int) int64 { return StatusKB(pid, "VmHWM") << 10 }

// StatusKB returns a "<field>: N kB" line of /proc/PID/status as N.
func StatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// CPUSeconds returns a process's user+system CPU time.
func CPUSeconds(pid int) float64 {
	u, s := CPUSplit(pid)
	return u + s
}

// CPUSplit returns a process's user and system CPU seconds from /proc/PID/stat.
func CPUSplit(pid int) (user, sys float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The command name (field 2) may hold spaces; the fields after its ')' are fixed.
	line := string(b)
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(ut) / clockTicks, float64(st) / clockTicks
}
