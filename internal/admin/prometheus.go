package admin

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus is the registry behind /metrics, with Apache ZooKeeper's
// metric names: ServerMetrics' summaries and counters that zkd measures,
// the gauges ZooKeeperServer (and, in an ensemble, the quorum servers)
// register, each named as the key of its mntr line without "zk_" and with
// its own name as help, as PrometheusMetricsProvider exports them.
type Prometheus struct {
	reg *prometheus.Registry
}

// NewPrometheus registers m's recorders; from now on they feed the
// summaries' quantiles too. Create it before the server records anything
// that Prometheus should count (the start-up figures). exportRuntime adds
// the Go runtime and process collectors, zkd's counterpart of the JVM
// metrics that metricsProvider.exportJvmInfo turns on.
func NewPrometheus(m *Metrics, exportRuntime bool) *Prometheus {
	reg := prometheus.NewRegistry()
	for _, s := range m.Summaries() {
		objectives := map[float64]float64{0.5: 0.05}
		if s.Detail == Advanced {
			objectives[0.9], objectives[0.99] = 0.01, 0.001
		}
		ps := prometheus.NewSummary(prometheus.SummaryOpts{Name: s.Name, Help: s.Name, Objectives: objectives})
		reg.MustRegister(ps)
		s.attach(ps)
	}
	for _, c := range m.Counters() {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.Name, Help: c.Name},
			func() float64 { return float64(c.Value()) }))
	}
	if exportRuntime {
		// The prometheus package's own collectors, not package collectors':
		// that one links expvar and database/sql, resident memory for
		// nothing zkd uses.
		//lint:ignore SA1019 the same collectors without collectors' imports
		reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	}
	return &Prometheus{reg: reg}
}

// Gatherer is the registry, for handlers and tests.
func (p *Prometheus) Gatherer() prometheus.Gatherer { return p.reg }

// addServer registers a's gauges, read from its Source at every scrape.
func (p *Prometheus) addServer(a *Admin) { p.reg.MustRegister(gauges{a}) }

// gauges reads the Source once per scrape and reports ZooKeeper's gauges.
// It is an unchecked collector: the quorum gauges come and go with the
// server's role, as Apache registers and unregisters them.
type gauges struct{ a *Admin }

func (gauges) Describe(chan<- *prometheus.Desc) {}

func (g gauges) Collect(ch chan<- prometheus.Metric) {
	st := g.a.src.Server()
	open, maxFD := fdCounts()
	emit := func(name string, v float64) {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, name, nil, nil), prometheus.GaugeValue, v)
	}
	for _, kv := range []struct {
		name string
		v    float64
	}{
		{"avg_latency", st.AvgLatency},
		{"max_latency", float64(st.MaxLatency)},
		{"min_latency", float64(st.MinLatency)},
		{"packets_received", float64(st.PacketsReceived)},
		{"packets_sent", float64(st.PacketsSent)},
		{"num_alive_connections", float64(st.AliveConnections)},
		{"outstanding_requests", float64(st.Outstanding)},
		{"uptime", float64(time.Since(st.Started).Milliseconds())},
		{"znode_count", float64(st.NodeCount)},
		{"watch_count", float64(st.WatchCount)},
		{"ephemerals_count", float64(st.EphemeralsCount)},
		{"approximate_data_size", float64(st.ApproximateDataSize)},
		{"global_sessions", float64(st.GlobalSessions)},
		{"local_sessions", float64(st.LocalSessions)},
		{"open_file_descriptor_count", float64(open)},
		{"max_file_descriptor_count", float64(maxFD)},
		{"connection_drop_probability", 0},
		{"last_client_response_size", float64(st.LastResponseSize)},
		{"max_client_response_size", float64(st.MaxResponseSize)},
		{"min_client_response_size", float64(st.MinResponseSize)},
		{"outstanding_tls_handshake", 0},
		{"auth_failed_count", float64(st.AuthFailed)},
		{"non_mtls_remote_conn_count", 0},
		{"non_mtls_local_conn_count", 0},
	} {
		emit(kv.name, kv.v)
	}
	e := g.a.src.Ensemble()
	if !e.Quorum() {
		return
	}
	emit("quorum_size", float64(e.QuorumSize))
	switch e.State {
	case "leader":
		emit("learners", float64(e.Learners))
		emit("synced_followers", float64(e.SyncedFollowers))
		emit("synced_non_voting_followers", float64(e.SyncedNonVotingFollowers))
		emit("synced_observers", float64(e.SyncedObservers))
		emit("pending_syncs", float64(e.PendingSyncs))
		emit("leader_uptime", float64(e.LeaderUptime.Milliseconds()))
		emit("last_proposal_size", float64(e.LastProposalSize))
		emit("max_proposal_size", float64(e.MaxProposalSize))
		emit("min_proposal_size", float64(e.MinProposalSize))
	}
}
