package admin

// Metrics are the recorders the server feeds as things happen (fsyncs,
// snapshots, request latencies), as ZooKeeper's ServerMetrics.
type Metrics struct{}

// NewMetrics returns a set of recorders at zero.
func NewMetrics() *Metrics { return &Metrics{} }
