package bench

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func sampleResult() *Result {
	return &Result{
		Schema:         ResultSchema,
		Workload:       WorkloadMixed,
		Endpoints:      []string{"127.0.0.1:2181", "127.0.0.1:2182"},
		Clients:        32,
		ReadRatio:      0.9,
		ValueSize:      256,
		Prepopulate:    1000,
		DurationLimitS: 10,
		StartedAt:      time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC),
		ElapsedS:       10.002,
		Ops:            123456,
		Errors:         2,
		OpsPerSecond:   12343.1,
		Latency:        LatencySummary{Count: 123456, MeanUS: 512.5, P50US: 400.127, P90US: 900, P99US: 2500.5, P999US: 9000, MaxUS: 15000.25},
		ByOp: map[string]LatencySummary{
			"get": {Count: 111000, MeanUS: 300, P50US: 250, P90US: 600, P99US: 1200, P999US: 5000, MaxUS: 9000},
			"set": {Count: 12456, MeanUS: 2400, P50US: 2000, P90US: 3000, P99US: 6000, P999US: 12000, MaxUS: 15000.25},
		},
		ErrorSamples: []string{"zk: connection closed"},
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	want := sampleResult()
	var buf bytes.Buffer
	if err := want.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "}\n") {
		t.Errorf("JSON output does not end with a newline after the object")
	}
	var got Result
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("round trip changed the result:\n got %+v\nwant %+v", got, *want)
	}
}

// TestResultJSONSchema pins the field names scripts read; renaming one
// must be a deliberate schema change.
func TestResultJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	wantTop := []string{"by_op", "clients", "duration_limit_s", "elapsed_s", "endpoints", "error_samples", "errors",
		"latency", "ops", "ops_limit", "ops_per_second", "prepopulate", "read_ratio", "schema", "started_at",
		"value_size", "workload"}
	if got := sortedKeys(doc); !slices.Equal(got, wantTop) {
		t.Errorf("top-level keys\n got %v\nwant %v", got, wantTop)
	}
	wantLatency := []string{"count", "max_us", "mean_us", "p50_us", "p90_us", "p999_us", "p99_us"}
	if got := sortedKeys(doc["latency"].(map[string]any)); !slices.Equal(got, wantLatency) {
		t.Errorf("latency keys\n got %v\nwant %v", got, wantLatency)
	}
	if got := doc["schema"]; got != "zkd-bench-result/1" {
		t.Errorf("schema = %v", got)
	}
	if got := doc["latency"].(map[string]any)["p999_us"]; got != 9000.0 {
		t.Errorf("latency.p999_us = %v, want 9000", got)
	}
	if got := doc["started_at"]; got != "2025-03-01T12:00:00.123456789Z" {
		t.Errorf("started_at = %v, want RFC 3339 UTC", got)
	}
}

func TestResultWithoutErrorsOmitsErrorSamples(t *testing.T) {
	r := sampleResult()
	r.ErrorSamples = nil
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("error_samples")) {
		t.Fatalf("error_samples present without errors: %s", data)
	}
}

func TestResultText(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"mixed (90% get, 10% set), 32 sessions, 256-byte values, 1000 prepopulated znodes",
		"123456 acknowledged, 2 failed",
		"12343.1 ops/s",
		"p99.9",
		"error: zk: connection closed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	// The "all" row shows milliseconds: p99 2500.5 µs is 2.500 ms (2.5005 rounds half to even).
	if !strings.Contains(out, "2.500") && !strings.Contains(out, "2.501") {
		t.Errorf("p99 not shown in milliseconds:\n%s", out)
	}
}

func TestCompareReportJSONRoundTrip(t *testing.T) {
	want := &CompareReport{
		Schema:   CompareSchema,
		SelfTest: true,
		Machine:  MachineInfo{CPU: "cpu", Cores: 2, MemoryBytes: 1 << 34},
		Settings: CompareSettings{Workloads: []Workload{WorkloadGet}, Clients: []int{1, 8}, DurationS: 1, Repeats: 2},
		Commands: map[string][]string{roleZkd: {"zkd", "serve"}, roleZooKeeper: {"java"}},
		Versions: map[string]string{roleZooKeeper: "3.8.0"},
		Runs:     []RunRecord{{System: roleZkd, Repeat: 1, Result: sampleResult()}},
		Throughput: []ThroughputRow{{Workload: WorkloadGet, Clients: 8,
			Zkd:   SystemFigures{OpsPerSecond: Spread{Median: 2, Min: 1, Max: 3, N: 2}},
			Ratio: Spread{Median: 1, Min: 0.9, Max: 1.1, N: 2}}},
		Startup: StartupReport{ZkdMS: Spread{Median: 300, Min: 280, Max: 320, N: 2}},
		Memory: []MemoryReport{{System: roleZkd, Idle: MemoryUsage{RSSBytes: 1, PeakBytes: 2},
			Loaded:   []LoadPoint{{Znodes: 100, Memory: MemoryUsage{RSSBytes: 3, PeakBytes: 4}, LoadPerSecond: 5}},
			Snapshot: SnapshotInfo{File: "snapshot.2a", Zxid: "0x2a", Bytes: 99}, CoversLoad: true}},
		ElapsedS: 60,
	}
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got CompareReport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("round trip changed the report:\n got %+v\nwant %+v", got, *want)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
