package admin

import (
	"strings"
	"testing"
)

// AvgMinMaxPercentileCounter's percentiles are Dropwizard's UniformSnapshot
// values, Math.round-ed: position q*(n+1) in the sorted sample, between
// its neighbours.
func TestPercentilesAsDropwizard(t *testing.T) {
	s := newSummary("readlatency", Advanced)
	if v := s.Values(); !v.Percentiles || v.P50 != 0 || v.P999 != 0 {
		t.Fatalf("before any value: %+v, want percentiles of 0", v)
	}
	s.Observe(7)
	if v := s.Values(); v.P50 != 7 || v.P95 != 7 || v.P99 != 7 || v.P999 != 7 {
		t.Fatalf("one value: %+v", v)
	}
	s = newSummary("readlatency", Advanced)
	for i := int64(100); i >= 1; i-- {
		s.Observe(i)
	}
	// p50: position 50.5, 50 and 51 -> 50.5 -> 51; p95: 95.95 -> 96;
	// p99: 99.99 -> 100; p999: 100.899 is past the end -> 100.
	if v := s.Values(); v.P50 != 51 || v.P95 != 96 || v.P99 != 100 || v.P999 != 100 {
		t.Fatalf("1..100: p50 %d p95 %d p99 %d p999 %d, want 51 96 100 100", v.P50, v.P95, v.P99, v.P999)
	}
	if v := newSummary("fsynctime", Basic).Values(); v.Percentiles || v.PercentileList() != nil {
		t.Fatalf("a basic summary has percentiles: %+v", v)
	}
}

// Past 4096 values the reservoir keeps a uniform sample: the median of
// 1..100000 lands near 50000.
func TestReservoirStaysUniform(t *testing.T) {
	s := newSummary("updatelatency", Advanced)
	for i := int64(1); i <= 100000; i++ {
		s.Observe(i)
	}
	if n := len(s.sample.sorted()); n != reservoirSize {
		t.Fatalf("sample of %d values, want %d", n, reservoirSize)
	}
	v := s.Values()
	if v.P50 < 45000 || v.P50 > 55000 || v.P99 < 97000 {
		t.Fatalf("p50 %d, p99 %d of a uniform 1..100000", v.P50, v.P99)
	}
	if v.Count != 100000 || v.Min != 1 || v.Max != 100000 {
		t.Fatalf("count/min/max %d/%d/%d", v.Count, v.Min, v.Max)
	}
}

// mntr prints an advanced summary's percentiles after its sum, with
// Apache's names, and none for a basic one.
func TestMntrPrintsPercentiles(t *testing.T) {
	a := newTestAdmin(newFake(), "")
	a.Metrics().ReadLatency.Observe(3)
	out := string(a.FourLetter("mntr", nil))
	for _, want := range []string{"zk_sum_readlatency\t3\nzk_p50_readlatency\t3\nzk_p95_readlatency\t3\nzk_p99_readlatency\t3\nzk_p999_readlatency\t3\n",
		"zk_p50_updatelatency\t0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("mntr lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "zk_p50_fsynctime") {
		t.Errorf("mntr prints percentiles of a basic summary:\n%s", out)
	}
}
