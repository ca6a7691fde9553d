package bench

import (
	"slices"
	"strings"
	"testing"
)

func markdownReport() *CompareReport {
	r := chartReport()
	r.Settings.MemoryValueSize = 100
	r.Startup = StartupReport{
		ZkdMS:       Spread{Median: 20, Min: 10, Max: 30, N: 3},
		ZooKeeperMS: Spread{Median: 400, Min: 300, Max: 500, N: 3},
		Ratio:       Spread{Median: 0.05, Min: 0.03, Max: 0.1, N: 3},
	}
	mem := func(role string, rss int64) MemoryReport {
		return MemoryReport{
			System:                role,
			Idle:                  MemoryUsage{RSSBytes: rss, PeakBytes: rss},
			Loaded:                []LoadPoint{{Znodes: 1_000_000, Memory: MemoryUsage{RSSBytes: 10 * rss, PeakBytes: 12 * rss}, LoadPerSecond: 20_000}},
			Snapshot:              SnapshotInfo{File: "snapshot.f4241", Zxid: "0xf4241", Bytes: 150 << 20},
			CoversLoad:            true,
			LastZxid:              "0xf4241",
			NodeCount:             1_000_106,
			NodeCountAfterRestart: 1_000_106,
			RestartMS:             1500,
		}
	}
	r.Memory = []MemoryReport{mem(roleZkd, 10<<20), mem(roleZooKeeper, 40<<20)}
	return r
}

func TestMarkdownTables(t *testing.T) {
	md := markdownReport().Markdown()
	for _, want := range []string{
		"| get | 8 | 4,000 (3,800–4,200) | 2,000 (2,000–2,000) |",
		"| mixed 90/10 | 64 |",
		"| exec → first acknowledged write, empty dataDir (ms, 3 starts) | 20.0 (10.0–30.0) | 400.0 (300.0–500.0) | 0.05 (0.03–0.10) |",
		"| RSS idle (MiB) | 10.0 | 40.0 | 0.25 |",
		"| RSS after 1,000,000 znodes of 100 bytes (MiB) | 100.0 | 400.0 | 0.25 |",
		"| newest snapshot after restart with 1,000,000 znodes (MiB) | 150.0 | 150.0 | 1.00 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "**") {
		t.Errorf("a durable pair of servers got a warning:\n%s", md)
	}
}

func TestMarkdownWarnsWhenZkdLosesWrites(t *testing.T) {
	r := markdownReport()
	r.Memory[0].NodeCountAfterRestart = 6
	r.Memory[0].Snapshot = SnapshotInfo{}
	md := r.Markdown()
	if !strings.Contains(md, "**zkd lost acknowledged writes across a restart: 1,000,106 znodes before, 6 after.**") {
		t.Errorf("no data-loss warning:\n%s", md)
	}
	if !strings.Contains(md, "| newest snapshot after restart with 1,000,000 znodes (MiB) | none | 150.0 | – |") {
		t.Errorf("a missing snapshot is not shown as none:\n%s", md)
	}
}

func TestMarkdownMarksSelfTest(t *testing.T) {
	r := markdownReport()
	r.SelfTest = true
	md := r.Markdown()
	if !strings.HasPrefix(md, "> **Self-test:** both sides are Apache ZooKeeper.") || !strings.Contains(md, "zkd (selftest: Apache) ops/s") {
		t.Errorf("self-test not marked:\n%s", md)
	}
}

func TestMarkdownShowsTheCeiling(t *testing.T) {
	r := withCeiling(markdownReport())
	for i := range r.Throughput {
		r.Throughput[i].Zkd.ServerCPUUSPerOp = Spread{Median: 20, N: 3}
		r.Throughput[i].Zkd.ClientCPUUSPerOp = Spread{Median: 10, N: 3}
		r.Throughput[i].ZooKeeper.ServerCPUUSPerOp = Spread{Median: 40, N: 3}
		r.Throughput[i].Ceiling.ServerCPUUSPerOp = Spread{Median: 5, N: 3}
		r.Throughput[i].Ceiling.ClientCPUUSPerOp = Spread{Median: 9, N: 3}
	}
	md := r.Markdown()
	for _, want := range []string{
		"| workload | clients | zkd ops/s | ZooKeeper ops/s | limit ops/s | ops/s zkd ÷ ZooKeeper | zkd ÷ limit | ZooKeeper ÷ limit | zkd p99 ms | ZooKeeper p99 ms | limit p99 ms |",
		"| get | 8 | 4,000 (3,800–4,200) | 2,000 (2,000–2,000) | 6,000 (5,800–6,200) | – | 67 % (60 %–70 %) | 33 % (30 %–35 %) |",
		"`zkd bench ceiling`",
		"| zkd µs | ZooKeeper µs | limit µs |",
		"| get | 8 | 20.0 | 40.0 | 5.0 | 0.50 | 10.0 | 0.0 | 9.0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	// Without the ceiling the tables keep their two-server form.
	if md := markdownReport().Markdown(); strings.Contains(md, "limit") {
		t.Errorf("a report without the ceiling mentions a limit:\n%s", md)
	}
}

// TestMarkdownShowsTheDurableCeiling: with the durable ceiling beside the
// plain one, both tables gain its columns after the plain limit's, and the
// text says what it is.
func TestMarkdownShowsTheDurableCeiling(t *testing.T) {
	r := withDurableCeiling(withCeiling(markdownReport()))
	for i := range r.Throughput {
		r.Throughput[i].Zkd.ClientCPUUSPerOp = Spread{Median: 10, N: 3}
		r.Throughput[i].DurableCeiling.ServerCPUUSPerOp = Spread{Median: 7, N: 3}
		r.Throughput[i].DurableCeiling.ClientCPUUSPerOp = Spread{Median: 8, N: 3}
	}
	md := r.Markdown()
	for _, want := range []string{
		"`zkd bench ceiling --durable`",
		"| limit p99 ms | durable limit ops/s | zkd ÷ durable limit | ZooKeeper ÷ durable limit | durable limit p99 ms |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
		"| 0.100 (0.100–0.100) | 4,000 (3,800–4,200) | 80 % (75 %–85 %) | 40 % (38 %–42 %) | 0.200 (0.200–0.200) |\n",
		"| durable limit µs | client µs, durable limit run |",
		" 7.0 | 8.0 |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if md := withCeiling(markdownReport()).Markdown(); strings.Contains(md, "durable limit") {
		t.Errorf("a report without the durable ceiling mentions it:\n%s", md)
	}
	spec := DurableCeilingSpec("/bin/zkd", 256)
	if argv := spec.Argv("zoo.cfg"); !slices.Contains(argv, "--durable") || !slices.Contains(argv, "ceiling") || spec.Name != roleDurableCeiling {
		t.Errorf("DurableCeilingSpec runs %q as %q", argv, spec.Name)
	}
}
