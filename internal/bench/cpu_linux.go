package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// userHZ is the unit of /proc/<pid>/stat's CPU times on Linux (USER_HZ,
// 100 on every architecture Go supports).
const userHZ = 100

// processCPUSeconds is a process's user + system CPU time, all threads,
// from /proc/<pid>/stat (fields 14 and 15, counted after the command name,
// which may hold spaces and parentheses).
func processCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: /proc stat line without a command: %.40q", stat)
	}
	// After ") ": state is field 3, utime field 14, stime field 15.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc stat line: %.80q", stat)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: /proc stat times %q %q", f[11], f[12])
	}
	return float64(utime+stime) / userHZ, nil
}

// selfCPUSeconds is this process's user + system CPU time.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// cpuMeter measures the CPU the server processes (an ensemble's members
// together) and this process (the load generator) spend during a run's
// timed phase.
type cpuMeter struct {
	server, client float64 // seconds; 0 when unknown
}

func (m *cpuMeter) timedPhase(pids ...int) func() (end func()) {
	return func() func() {
		server0, err := processesCPUSeconds(pids)
		client0 := selfCPUSeconds()
		return func() {
			if server1, err1 := processesCPUSeconds(pids); err == nil && err1 == nil {
				m.server = server1 - server0
				m.client = selfCPUSeconds() - client0
			}
		}
	}
}

// processesCPUSeconds is the sum of processCPUSeconds over pids.
func processesCPUSeconds(pids []int) (float64, error) {
	total := 0.0
	for _, pid := range pids {
		s, err := processCPUSeconds(pid)
		if err != nil {
			return 0, err
		}
		total += s
	}
	return total, nil
}

// perOpUS is seconds per op in microseconds (0 without ops).
func perOpUS(seconds float64, ops int64) float64 {
	if ops <= 0 {
		return 0
	}
	return seconds / float64(ops) * 1e6
}
