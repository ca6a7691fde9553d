package bench

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatCPUCountsUserAndSystemTicks(t *testing.T) {
	// A command name with spaces and a parenthesis, as /proc prints it.
	line := "4242 (java (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 30 0 1000 0 0"
	got, err := parseStatCPU(line)
	if err != nil || got != 3.25 {
		t.Fatalf("parseStatCPU = %v, %v; want 3.25 s (250 + 75 ticks)", got, err)
	}
	if _, err := parseStatCPU("4242 (cut"); err == nil {
		t.Fatal("a line without a closing parenthesis parsed")
	}
}

func TestProcessCPUSecondsGrowsWithWork(t *testing.T) {
	before, err := processCPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	self0 := selfCPUSeconds()
	x := 0
	for i := range 300_000_000 {
		x += i % 7
	}
	after, _ := processCPUSeconds(os.Getpid())
	if after-before < 0.05 || selfCPUSeconds()-self0 < 0.05 {
		t.Fatalf("after ~0.1 s of work: /proc says %.2f s, getrusage %.2f s (x=%d)", after-before, selfCPUSeconds()-self0, x)
	}
}

func TestCPUTableOnlyWhenMeasured(t *testing.T) {
	r := &CompareReport{Throughput: []ThroughputRow{{Workload: WorkloadSet, Clients: 8}}}
	var b strings.Builder
	r.writeCPUTable(&b, "zkd", "ZooKeeper")
	if b.Len() != 0 {
		t.Fatalf("table without measurements:\n%s", b.String())
	}
	r.Throughput[0].Zkd.ServerCPUUSPerOp = Spread{Median: 20, N: 2}
	r.Throughput[0].Zkd.ClientCPUUSPerOp = Spread{Median: 15, N: 2}
	r.Throughput[0].ZooKeeper.ServerCPUUSPerOp = Spread{Median: 40, N: 2}
	r.writeCPUTable(&b, "zkd", "ZooKeeper")
	if !strings.Contains(b.String(), "| 20.0 | 40.0 | 0.50 |") {
		t.Fatalf("table:\n%s", b.String())
	}
}
