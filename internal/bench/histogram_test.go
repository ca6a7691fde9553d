package bench

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// exactPercentile is the textbook nearest-rank percentile of sorted
// samples: the smallest sample with at least perMillion/1e6 of all samples
// at or below it.
func exactPercentile(sorted []int64, perMillion int64) int64 {
	n := int64(len(sorted))
	rank := (perMillion*n + 999_999) / 1_000_000 // ceil
	rank = max(rank, 1)
	return sorted[rank-1]
}

// checkAgainstReference asserts what the package documents: each reported
// percentile is at or above the exact sample and less than 0.1% above it.
func checkAgainstReference(t interface {
	Helper()
	Fatalf(string, ...any)
}, samples []int64, percentiles []Percentile) {
	t.Helper()
	h := newLatencyHistogram()
	for _, s := range samples {
		h.record(time.Duration(s))
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	got := h.valuesAt(percentiles)
	for i, p := range percentiles {
		want := exactPercentile(sorted, p.PerMillion)
		if got[i] < want || float64(got[i]-want) > float64(want)/1000 {
			t.Fatalf("%s of %d samples = %d, exact %d (must be within [exact, exact+0.1%%])", p.Label, len(samples), got[i], want)
		}
	}
	if s := h.summary(); s.MaxUS != nanosToMicros(float64(sorted[len(sorted)-1])) {
		t.Fatalf("max %v µs, exact %v ns", s.MaxUS, sorted[len(sorted)-1])
	}
}

func TestPercentilesMatchSortedReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Latencies from 1 ns to a minute, with a bias to clusters so that
		// many samples share buckets, as real latencies do.
		base := rapid.Int64Range(1, int64(time.Second)).Draw(t, "base")
		samples := rapid.SliceOfN(rapid.OneOf(
			rapid.Int64Range(1, int64(time.Minute)),
			rapid.Int64Range(base, base+base/10+1),
			rapid.Int64Range(1, 5000),
		), 1, 1000).Draw(t, "samples")
		percentiles := slices.Clone(ReportedPercentiles)
		for _, pm := range rapid.SliceOfN(rapid.Int64Range(1, 1_000_000), 0, 5).Draw(t, "extra") {
			percentiles = append(percentiles, Percentile{Label: "p(extra)", PerMillion: pm})
		}
		slices.SortFunc(percentiles, func(a, b Percentile) int { return int(a.PerMillion - b.PerMillion) })
		checkAgainstReference(t, samples, percentiles)
	})
}

func TestPercentilesOfOneToThousandMilliseconds(t *testing.T) {
	h := newLatencyHistogram()
	for ms := 1; ms <= 1000; ms++ {
		h.record(time.Duration(ms) * time.Millisecond)
	}
	s := h.summary()
	// Nearest rank of 1..1000: p50 is the 500th sample, p99.9 the 999th.
	want := map[string][2]float64{
		"p50":   {s.P50US, 500_000},
		"p90":   {s.P90US, 900_000},
		"p99":   {s.P99US, 990_000},
		"p99.9": {s.P999US, 999_000},
		"max":   {s.MaxUS, 1_000_000},
		"mean":  {s.MeanUS, 500_500},
	}
	for name, gw := range want {
		if gw[0] < gw[1] || gw[0] > gw[1]*1.001 {
			t.Errorf("%s = %.3f µs, want %.0f µs (+0.1%%)", name, gw[0], gw[1])
		}
	}
	if s.Count != 1000 {
		t.Errorf("count = %d, want 1000", s.Count)
	}
}

func TestMergedHistogramsSummariseLikeOne(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		parts := rapid.SliceOfN(rapid.SliceOfN(rapid.Int64Range(1, int64(10*time.Second)), 0, 200), 1, 8).Draw(t, "parts")
		whole := newLatencyHistogram()
		merged := newLatencyHistogram()
		for _, part := range parts {
			h := newLatencyHistogram()
			for _, v := range part {
				h.record(time.Duration(v))
				whole.record(time.Duration(v))
			}
			merged.merge(h)
		}
		if got, want := merged.summary(), whole.summary(); got != want {
			t.Fatalf("merged %+v, want %+v", got, want)
		}
	})
}

func TestEmptyHistogramSummaryIsZero(t *testing.T) {
	if s := newLatencyHistogram().summary(); s != (LatencySummary{}) {
		t.Fatalf("empty summary = %+v", s)
	}
}

func TestOutOfRangeLatencyIsClampedNotLost(t *testing.T) {
	h := newLatencyHistogram()
	h.record(0)
	h.record(2 * time.Minute)
	if h.count() != 2 {
		t.Fatalf("count = %d, want 2", h.count())
	}
	if got := h.summary().MaxUS; got != nanosToMicros(float64(time.Minute)) {
		t.Fatalf("max = %v µs, want one minute", got)
	}
}
