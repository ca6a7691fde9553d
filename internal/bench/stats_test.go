package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		in   []float64
		want Spread
	}{
		{nil, Spread{}},
		{[]float64{5}, Spread{Median: 5, Min: 5, Max: 5, N: 1}},
		{[]float64{3, 1, 2}, Spread{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{4, 1, 3, 2}, Spread{Median: 2.5, Min: 1, Max: 4, N: 4}},
	}
	for _, tt := range tests {
		if got := spreadOf(tt.in); got != tt.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func resultFor(w Workload, clients int, ops, p99 float64) *Result {
	return &Result{Workload: w, Clients: clients, OpsPerSecond: ops, Latency: LatencySummary{P99US: p99}}
}

// The ratio is taken pair by pair: here zkd doubles ZooKeeper in repeat 0
// and ties in repeat 1, so the ratio spans 1–2 with median 1.5, whereas the
// ratio of medians (200/175) would hide both.
func TestThroughputRatioIsPairedByRepeat(t *testing.T) {
	runs := []RunRecord{
		{System: roleZooKeeper, Repeat: 1, Result: resultFor(WorkloadSet, 8, 300, 10)},
		{System: roleZkd, Repeat: 0, Result: resultFor(WorkloadSet, 8, 100, 5)},
		{System: roleZooKeeper, Repeat: 0, Result: resultFor(WorkloadSet, 8, 50, 10)},
		{System: roleZkd, Repeat: 1, Result: resultFor(WorkloadSet, 8, 300, 10)},
		{System: roleZkd, Repeat: 0, Result: resultFor(WorkloadGet, 8, 999, 1)}, // another cell
	}
	rows := summarizeThroughput(runs, []Workload{WorkloadSet}, []int{8}, []string{roleZkd, roleZooKeeper})
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	r := rows[0]
	if want := (Spread{Median: 1.5, Min: 1, Max: 2, N: 2}); r.Ratio != want {
		t.Errorf("ratio = %+v, want %+v", r.Ratio, want)
	}
	if want := (Spread{Median: 200, Min: 100, Max: 300, N: 2}); r.Zkd.OpsPerSecond != want {
		t.Errorf("zkd ops/s = %+v, want %+v", r.Zkd.OpsPerSecond, want)
	}
	if want := (Spread{Median: 0.75, Min: 0.5, Max: 1, N: 2}); r.P99Ratio != want {
		t.Errorf("p99 ratio = %+v, want %+v", r.P99Ratio, want)
	}
}

func TestThroughputSkipsCellsWithoutPairs(t *testing.T) {
	runs := []RunRecord{{System: roleZkd, Repeat: 0, Result: resultFor(WorkloadGet, 1, 10, 1)}}
	if rows := summarizeThroughput(runs, []Workload{WorkloadGet}, []int{1}, []string{roleZkd, roleZooKeeper}); len(rows) != 0 {
		t.Fatalf("a cell with no ZooKeeper run produced %+v", rows)
	}
}

func TestOrderAlternates(t *testing.T) {
	if a, b := order(false), order(true); a[0] == b[0] || a[1] == b[1] {
		t.Fatalf("order(false) = %v, order(true) = %v: not alternated", a, b)
	}
	two := []string{roleZkd, roleZooKeeper}
	if a, b := rotation(two, 0), rotation(two, 1); !slices.Equal(a, order(false)) || !slices.Equal(b, order(true)) {
		t.Errorf("rotation of two roles %v, %v; want order's alternation", a, b)
	}
	// With the ceiling, each role goes first, second and third once in
	// three rounds.
	three := []string{roleZkd, roleZooKeeper, roleCeiling}
	seen := map[string]map[int]bool{}
	for k := range 3 {
		for pos, role := range rotation(three, k) {
			if seen[role] == nil {
				seen[role] = map[int]bool{}
			}
			seen[role][pos] = true
		}
	}
	for _, role := range three {
		if len(seen[role]) != 3 {
			t.Errorf("%s ran at positions %v in three rounds, want each once", role, seen[role])
		}
	}
}

// With the ceiling, each server's fraction of it is taken run by run
// within a repeat, and a repeat the ceiling missed is left out of the row.
func TestThroughputFractionOfTheCeiling(t *testing.T) {
	runs := []RunRecord{
		{System: roleZkd, Repeat: 0, Result: resultFor(WorkloadGet, 8, 90, 5)},
		{System: roleZooKeeper, Repeat: 0, Result: resultFor(WorkloadGet, 8, 60, 10)},
		{System: roleCeiling, Repeat: 0, Result: resultFor(WorkloadGet, 8, 100, 2)},
		{System: roleZkd, Repeat: 1, Result: resultFor(WorkloadGet, 8, 100, 5)},
		{System: roleZooKeeper, Repeat: 1, Result: resultFor(WorkloadGet, 8, 50, 10)},
		{System: roleCeiling, Repeat: 1, Result: resultFor(WorkloadGet, 8, 200, 2)},
		{System: roleZkd, Repeat: 2, Result: resultFor(WorkloadGet, 8, 1, 5)}, // no ceiling run
		{System: roleZooKeeper, Repeat: 2, Result: resultFor(WorkloadGet, 8, 1, 10)},
	}
	rows := summarizeThroughput(runs, []Workload{WorkloadGet}, []int{8}, []string{roleZkd, roleZooKeeper, roleCeiling})
	if len(rows) != 1 || rows[0].Ceiling == nil {
		t.Fatalf("rows %+v, want one with the ceiling", rows)
	}
	r := rows[0]
	if want := (Spread{Median: 0.7, Min: 0.5, Max: 0.9, N: 2}); *r.ZkdOfCeiling != want {
		t.Errorf("zkd of the ceiling %+v, want %+v", *r.ZkdOfCeiling, want)
	}
	if want := (Spread{Median: 0.425, Min: 0.25, Max: 0.6, N: 2}); *r.ZooKeeperOfCeiling != want {
		t.Errorf("ZooKeeper of the ceiling %+v, want %+v", *r.ZooKeeperOfCeiling, want)
	}
	if want := (Spread{Median: 150, Min: 100, Max: 200, N: 2}); r.Ceiling.OpsPerSecond != want {
		t.Errorf("ceiling ops/s %+v, want %+v", r.Ceiling.OpsPerSecond, want)
	}
	if r.Zkd.OpsPerSecond.N != 2 {
		t.Errorf("zkd counted %d repeats, want the 2 with a ceiling run", r.Zkd.OpsPerSecond.N)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -4321: "-4,321", 999.6: "1,000"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	bad := map[string]func(*Config){
		"no endpoints":       func(c *Config) { c.Endpoints = nil },
		"no clients":         func(c *Config) { c.Clients = 0 },
		"ratio above one":    func(c *Config) { c.ReadRatio = 1.5 },
		"negative value":     func(c *Config) { c.ValueSize = -1 },
		"no bound":           func(c *Config) { c.Duration = 0 },
		"get without keys":   func(c *Config) { c.Workload = WorkloadGet; c.Prepopulate = 0 },
		"unknown workload":   func(c *Config) { c.Workload = "delete" },
		"no session timeout": func(c *Config) { c.SessionTimeout = 0 },
	}
	for name, mutate := range bad {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
	c := DefaultConfig()
	c.Workload, c.Prepopulate = WorkloadCreate, 0
	if err := c.Validate(); err != nil {
		t.Errorf("create needs no prepopulated znodes, got %v", err)
	}
	c = DefaultConfig()
	c.Duration, c.Ops = 0, 100
	if err := c.Validate(); err != nil {
		t.Errorf("an operation count alone bounds a run, got %v", err)
	}
}

func TestParseWorkload(t *testing.T) {
	for _, w := range AllWorkloads {
		if got, err := ParseWorkload(string(w)); err != nil || got != w {
			t.Errorf("ParseWorkload(%q) = %q, %v", w, got, err)
		}
	}
	if _, err := ParseWorkload("exists"); err == nil || !strings.Contains(err.Error(), "exists-watch") {
		t.Errorf("unknown workload error should list the valid ones, got %v", err)
	}
}

func TestShortCompareConfigIsShort(t *testing.T) {
	c := ShortCompareConfig()
	runs := time.Duration(c.Repeats*len(c.Workloads)*len(c.Clients)*2) * c.Duration
	if runs > time.Minute {
		t.Errorf("short setting times %v of runs, too long for CI", runs)
	}
	if !c.Memory || c.MemoryNodes[len(c.MemoryNodes)-1] > 20_000 {
		t.Errorf("short setting must measure memory with small counts, got %v %v", c.Memory, c.MemoryNodes)
	}
}
