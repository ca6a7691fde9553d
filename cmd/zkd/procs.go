package main

import (
	"os"
	"runtime"
)

// servingProcs is the GOMAXPROCS zkd serves with: one more than Go's default
// (the CPUs it may use, after any cgroup limit). The log's group commit spends
// much of its time in fdatasync, and a goroutine in a system call keeps its P
// until the runtime's monitor takes it back, 20 µs to 10 ms later: with one
// P per CPU that leaves a CPU idle while work waits. Measured with the server
// on one CPU (a Kubernetes pod limited to 1 CPU): 22,000 -> 38,900 sets/s at
// 64 clients (docs/benchmarks.md). An operator's GOMAXPROCS wins.
func servingProcs(defaultProcs int, env string) int {
	if env != "" {
		return defaultProcs
	}
	return defaultProcs + 1
}

func tuneProcs() {
	runtime.GOMAXPROCS(servingProcs(runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS")))
}
