package bench

import (
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in nanoseconds between 1 ns and one minute with three
// significant digits: a bucket is at most 1/1024 of its value wide, so a
// reported percentile is never more than 0.1% above the exact sample.
const (
	histogramLowestNanos  = 1
	histogramHighestNanos = int64(time.Minute)
	histogramDigits       = 3
)

// Percentile names one reported percentile. PerMillion is the fraction of
// samples at or below it, in parts per million, so that 99.9 is exact.
type Percentile struct {
	Label      string
	PerMillion int64
}

// ReportedPercentiles are the percentiles every summary carries.
var ReportedPercentiles = []Percentile{
	{"p50", 500_000},
	{"p90", 900_000},
	{"p99", 990_000},
	{"p99.9", 999_000},
}

// latencyHistogram is an HDR histogram plus the exact extremes, which the
// histogram itself only knows to bucket precision.
type latencyHistogram struct {
	hist *hdrhistogram.Histogram
	min  int64
	max  int64
}

func newLatencyHistogram() *latencyHistogram {
	return &latencyHistogram{
		hist: hdrhistogram.New(histogramLowestNanos, histogramHighestNanos, histogramDigits),
		min:  math.MaxInt64,
	}
}

// record adds one latency; values beyond the histogram's range are clamped
// to it so that a pathological stall still counts as a (very slow) sample.
func (l *latencyHistogram) record(d time.Duration) {
	v := int64(d)
	if v < histogramLowestNanos {
		v = histogramLowestNanos
	}
	if v > histogramHighestNanos {
		v = histogramHighestNanos
	}
	_ = l.hist.RecordValue(v) // cannot fail: v is within the range above
	l.min = min(l.min, v)
	l.max = max(l.max, v)
}

func (l *latencyHistogram) count() int64 { return l.hist.TotalCount() }

func (l *latencyHistogram) merge(other *latencyHistogram) {
	if other.count() == 0 {
		return
	}
	l.hist.Merge(other.hist)
	l.min = min(l.min, other.min)
	l.max = max(l.max, other.max)
}

// nearestRank is the 1-based rank of the percentile's sample among count
// sorted samples: the smallest rank r with r/count >= perMillion/1e6.
func nearestRank(perMillion, count int64) int64 {
	rank := (perMillion*count + 999_999) / 1_000_000
	return max(1, min(rank, count))
}

// valuesAt returns, for each percentile, the upper end of the bucket that
// holds the nearest-rank sample, capped at the exact maximum.
func (l *latencyHistogram) valuesAt(percentiles []Percentile) []int64 {
	out := make([]int64, len(percentiles))
	total := l.count()
	if total == 0 {
		return out
	}
	for i, p := range percentiles {
		// The library picks rank int(q/100*total + 0.5); asking for
		// rank-0.25 lands on exactly our rank, with a margin far wider than
		// floating-point error.
		rank := nearestRank(p.PerMillion, total)
		q := 100 * (float64(rank) - 0.25) / float64(total)
		out[i] = min(l.hist.ValueAtPercentile(q), l.max)
	}
	return out
}

// LatencySummary is what a run reports about one kind of request. Times are
// microseconds.
type LatencySummary struct {
	Count  int64   `json:"count"`
	MeanUS float64 `json:"mean_us"`
	P50US  float64 `json:"p50_us"`
	P90US  float64 `json:"p90_us"`
	P99US  float64 `json:"p99_us"`
	P999US float64 `json:"p999_us"`
	MaxUS  float64 `json:"max_us"`
}

func (l *latencyHistogram) summary() LatencySummary {
	if l.count() == 0 {
		return LatencySummary{}
	}
	v := l.valuesAt(ReportedPercentiles)
	return LatencySummary{
		Count:  l.count(),
		MeanUS: nanosToMicros(l.hist.Mean()),
		P50US:  nanosToMicros(float64(v[0])),
		P90US:  nanosToMicros(float64(v[1])),
		P99US:  nanosToMicros(float64(v[2])),
		P999US: nanosToMicros(float64(v[3])),
		MaxUS:  nanosToMicros(float64(l.max)),
	}
}

// nanosToMicros keeps three decimals (nanosecond resolution) so that JSON
// stays readable.
func nanosToMicros(ns float64) float64 {
	return math.Round(ns) / 1000
}
