package admin

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

// Detail is a summary's detail level, as ZooKeeper's MetricsContext has it:
// Prometheus shows the median of a basic summary and the 0.5, 0.9 and
// 0.99 quantiles of an advanced one.
type Detail int

const (
	Basic Detail = iota
	Advanced
)

// Observer receives a summary's observations; prometheus.Summary is one.
type Observer interface{ Observe(float64) }

// Summary is ZooKeeper's Summary: count, sum, min and max of the values
// added (the monitor command's avg_/min_/max_/cnt_/sum_ keys), for an
// advanced one also a uniform sample of them for its percentiles (p50_,
// p95_, p99_, p999_, as AvgMinMaxPercentileCounter), and, while Prometheus
// is on, its quantiles. Observe costs a few atomic operations.
type Summary struct {
	Name   string
	Detail Detail
	count  atomic.Int64
	sum    atomic.Int64
	min    atomic.Int64 // math.MaxInt64 before any value
	max    atomic.Int64 // math.MinInt64 before any value
	// window is the largest value since the status page's sampler last
	// took it (0 when none).
	window atomic.Int64
	prom   atomic.Pointer[Observer]
	// sample is an advanced summary's reservoir (nil for a basic one).
	sample *reservoir
}

func newSummary(name string, d Detail) *Summary {
	s := &Summary{Name: name, Detail: d}
	s.min.Store(math.MaxInt64)
	s.max.Store(math.MinInt64)
	if d == Advanced {
		s.sample = &reservoir{}
	}
	return s
}

// reservoirSize is ResettableUniformReservoir's DEFAULT_SIZE.
const reservoirSize = 4096

// reservoir is AvgMinMaxPercentileCounter's ResettableUniformReservoir:
// the first 4096 values, then each later one (the n-th) replaces a random
// slot with probability 4096/n (Vitter's algorithm R), so the slots hold a
// uniform sample of everything observed.
type reservoir struct {
	count  atomic.Int64
	values [reservoirSize]atomic.Int64
}

func (r *reservoir) update(v int64) {
	n := r.count.Add(1)
	if n <= reservoirSize {
		r.values[n-1].Store(v)
		return
	}
	if i := rand.Int64N(n); i < reservoirSize {
		r.values[i].Store(v)
	}
}

// sorted returns the sample in ascending order.
func (r *reservoir) sorted() []int64 {
	n := min(r.count.Load(), reservoirSize)
	out := make([]int64, n)
	for i := range out {
		out[i] = r.values[i].Load()
	}
	slices.Sort(out)
	return out
}

// quantile is Dropwizard's UniformSnapshot.getValue over a sorted sample:
// the value at position q*(n+1), interpolated between its neighbours,
// rounded as Math.round does.
func quantile(sorted []int64, q float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := q * float64(n+1)
	i := int(pos)
	var v float64
	switch {
	case i < 1:
		v = float64(sorted[0])
	case i >= n:
		v = float64(sorted[n-1])
	default:
		lo, hi := float64(sorted[i-1]), float64(sorted[i])
		v = lo + (pos-math.Floor(pos))*(hi-lo)
	}
	return int64(math.Floor(v + 0.5))
}

// Observe adds one value (ms for times, a count for sizes).
func (s *Summary) Observe(v int64) {
	s.count.Add(1)
	s.sum.Add(v)
	for old := s.min.Load(); v < old && !s.min.CompareAndSwap(old, v); old = s.min.Load() {
	}
	for old := s.max.Load(); v > old && !s.max.CompareAndSwap(old, v); old = s.max.Load() {
	}
	for old := s.window.Load(); v > old && !s.window.CompareAndSwap(old, v); old = s.window.Load() {
	}
	if s.sample != nil {
		s.sample.update(v)
	}
	if p := s.prom.Load(); p != nil {
		(*p).Observe(float64(v))
	}
}

// takeWindow returns the largest value since the last call and starts a
// new window.
func (s *Summary) takeWindow() int64 { return s.window.Swap(0) }

// attach sends later observations to o as well.
func (s *Summary) attach(o Observer) { s.prom.Store(&o) }

// SummaryValues are a summary's figures as ZooKeeper's AvgMinMaxCounter
// reports them: 0 for min and max before any value; an advanced summary's
// percentiles as AvgMinMaxPercentileCounter adds them (0 before any value).
type SummaryValues struct {
	Count, Sum, Min, Max int64
	Avg                  float64
	// Percentiles: P50, P95, P99 and P999 are set (an advanced summary).
	Percentiles         bool
	P50, P95, P99, P999 int64
}

// Values reads the summary.
func (s *Summary) Values() SummaryValues {
	v := SummaryValues{Count: s.count.Load(), Sum: s.sum.Load()}
	if v.Count > 0 {
		v.Min, v.Max = s.min.Load(), s.max.Load()
		v.Avg = float64(v.Sum) / float64(v.Count)
	}
	if s.sample != nil {
		sorted := s.sample.sorted()
		v.Percentiles = true
		v.P50, v.P95, v.P99, v.P999 = quantile(sorted, 0.5), quantile(sorted, 0.95), quantile(sorted, 0.99), quantile(sorted, 0.999)
	}
	return v
}

// Percentile is one of SummaryValues' percentiles with its key prefix.
type Percentile struct {
	Prefix string // "p50", "p95", "p99", "p999"
	Value  int64
}

// PercentileList is v's percentiles in AvgMinMaxPercentileCounter's order
// (none for a basic summary).
func (v SummaryValues) PercentileList() []Percentile {
	if !v.Percentiles {
		return nil
	}
	return []Percentile{{"p50", v.P50}, {"p95", v.P95}, {"p99", v.P99}, {"p999", v.P999}}
}

// Counter is ZooKeeper's Counter: a total that only grows.
type Counter struct {
	Name string
	n    atomic.Int64
}

// Add adds delta (at least 0).
func (c *Counter) Add(delta int64) { c.n.Add(delta) }

// Value is the total so far.
func (c *Counter) Value() int64 { return c.n.Load() }

// Metrics are the recorders the server feeds as things happen, with the
// names ZooKeeper's ServerMetrics gives them. Only what zkd measures is
// here; the gauges (znode_count, packets_sent, ...) come from Source at
// each scrape instead.
type Metrics struct {
	// Disk: one fsync of the transaction log, the records it made durable,
	// the records queued for it, one snapshot written.
	FsyncTime, SyncBatchSize *Summary
	SyncQueued               *Counter
	SnapshotTime             *Summary
	// Start-up: loading the database (snapshot plus log replay) and the
	// log's transactions replayed.
	DBInitTime, TxnsLoaded *Summary
	// Requests: from arrival to reply, for reads (pings included) and for
	// writes.
	ReadLatency, UpdateLatency *Summary
	// Watchers triggered by one event, by event type.
	NodeCreatedWatchers, NodeDeletedWatchers, NodeChangedWatchers, NodeChildrenWatchers *Summary
	// Traffic: connect requests, request bytes read, reply and notification
	// bytes written.
	ConnectionRequests, BytesReceived, ResponseBytes, WatchBytes *Counter
	// UnrecoverableErrors counts the errors that stopped the server.
	UnrecoverableErrors *Counter
	// Learner syncs this server sent as leader: by DIFF (or TRUNC, which
	// Apache's LearnerHandler counts as a diff too) and by SNAP.
	DiffCount, SnapCount *Counter
	// DigestMismatches counts the txns applied whose TxnDigest differed
	// from the tree's digest after them (DataTree.reportDigestMismatch).
	DigestMismatches *Counter
}

// NewMetrics returns a set of recorders at zero.
func NewMetrics() *Metrics {
	return &Metrics{
		FsyncTime:            newSummary("fsynctime", Basic),
		SyncBatchSize:        newSummary("sync_processor_batch_size", Basic),
		SyncQueued:           &Counter{Name: "sync_processor_request_queued"},
		SnapshotTime:         newSummary("snapshottime", Basic),
		DBInitTime:           newSummary("dbinittime", Basic),
		TxnsLoaded:           newSummary("startup_txns_loaded", Basic),
		ReadLatency:          newSummary("readlatency", Advanced),
		UpdateLatency:        newSummary("updatelatency", Advanced),
		NodeCreatedWatchers:  newSummary("node_created_watch_count", Basic),
		NodeDeletedWatchers:  newSummary("node_deleted_watch_count", Basic),
		NodeChangedWatchers:  newSummary("node_changed_watch_count", Basic),
		NodeChildrenWatchers: newSummary("node_children_watch_count", Basic),
		ConnectionRequests:   &Counter{Name: "connection_request_count"},
		BytesReceived:        &Counter{Name: "bytes_received_count"},
		ResponseBytes:        &Counter{Name: "response_bytes"},
		WatchBytes:           &Counter{Name: "watch_bytes"},
		UnrecoverableErrors:  &Counter{Name: "unrecoverable_error_count"},
		DiffCount:            &Counter{Name: "diff_count"},
		SnapCount:            &Counter{Name: "snap_count"},
		DigestMismatches:     &Counter{Name: "digest_mismatches_count"},
	}
}

// Summaries lists every summary, in declaration order.
func (m *Metrics) Summaries() []*Summary {
	return []*Summary{m.FsyncTime, m.SyncBatchSize, m.SnapshotTime, m.DBInitTime, m.TxnsLoaded,
		m.ReadLatency, m.UpdateLatency, m.NodeCreatedWatchers, m.NodeDeletedWatchers,
		m.NodeChangedWatchers, m.NodeChildrenWatchers}
}

// Counters lists every counter, in declaration order.
func (m *Metrics) Counters() []*Counter {
	return []*Counter{m.SyncQueued, m.ConnectionRequests, m.BytesReceived, m.ResponseBytes, m.WatchBytes,
		m.UnrecoverableErrors, m.DiffCount, m.SnapCount, m.DigestMismatches}
}
