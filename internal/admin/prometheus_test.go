package admin

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// apacheMetric is one line of testdata/apache-3.8.4-metrics.txt.
type apacheMetric struct {
	typ, labels, quantiles string
}

func loadApacheMetrics(t *testing.T) map[string]apacheMetric {
	t.Helper()
	f, err := os.Open("testdata/apache-3.8.4-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]apacheMetric{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 5 {
			t.Fatalf("bad fixture line %q", line)
		}
		out[fs[0]] = apacheMetric{typ: fs[1], labels: fs[2], quantiles: fs[3]}
	}
	return out
}

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

func TestPrometheusNamesTypesAndLabelsAreApaches(t *testing.T) {
	apache := loadApacheMetrics(t)
	m := NewMetrics()
	prom := NewPrometheus(m, true)
	f := newFake()
	a := New(f, Options{Config: newTestAdmin(f, "").cfg, Version: "v", Metrics: m})
	m.ReadLatency.Observe(3)
	m.ReadLatency.Observe(5)
	m.ResponseBytes.Add(45)
	families := scrape(t, a.MetricsHandler(prom))

	for name, fam := range families {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue // the Go runtime's, where Apache has the JVM's
		}
		want, ok := apache[name]
		if !ok {
			t.Errorf("%s: not a metric Apache ZooKeeper 3.8 exports", name)
			continue
		}
		if got := strings.ToLower(fam.GetType().String()); got != want.typ {
			t.Errorf("%s: type %s, Apache's is %s", name, got, want.typ)
		}
		for _, metric := range fam.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, l.GetName())
			}
			if wantLabels := strings.Split(want.labels, ","); want.labels == "-" && len(labels) > 0 || want.labels != "-" && !slices.Equal(labels, wantLabels) {
				t.Errorf("%s: labels %v, Apache's are %s", name, labels, want.labels)
			}
			if s := metric.GetSummary(); s != nil {
				var qs []string
				for _, q := range s.GetQuantile() {
					qs = append(qs, strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
				if strings.Join(qs, ",") != want.quantiles {
					t.Errorf("%s: quantiles %v, Apache's are %s", name, qs, want.quantiles)
				}
			}
		}
	}

	// What zkd measures must be there: every gauge of a standalone
	// ZooKeeperServer but the per-namespace quota sets, and the summaries
	// and counters dashboards chart.
	required := []string{"fsynctime", "snapshottime", "dbinittime", "readlatency", "updatelatency",
		"sync_processor_batch_size", "startup_txns_loaded", "bytes_received_count", "response_bytes", "watch_bytes",
		"connection_request_count", "node_changed_watch_count", "unrecoverable_error_count", "digest_mismatches_count",
		"go_goroutines", "process_resident_memory_bytes"}
	quorumOnly := []string{"quorum_size", "learners", "synced_followers", "synced_non_voting_followers", "synced_observers",
		"pending_syncs", "leader_uptime", "last_proposal_size", "max_proposal_size", "min_proposal_size"}
	for name, want := range apache {
		if want.typ == "gauge" && want.labels == "-" && !slices.Contains(quorumOnly, name) {
			required = append(required, name)
		}
	}
	for _, name := range required {
		if families[name] == nil {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	for _, name := range quorumOnly {
		if families[name] != nil {
			t.Errorf("%s on a standalone server; Apache registers it in an ensemble only", name)
		}
	}

	value := func(name string) float64 {
		fam := families[name]
		if fam == nil || len(fam.GetMetric()) == 0 {
			return -1
		}
		mt := fam.GetMetric()[0]
		switch {
		case mt.GetGauge() != nil:
			return mt.GetGauge().GetValue()
		case mt.GetCounter() != nil:
			return mt.GetCounter().GetValue()
		}
		return float64(mt.GetSummary().GetSampleCount())
	}
	for name, want := range map[string]float64{"znode_count": 7, "packets_sent": 7, "ephemerals_count": 1,
		"num_alive_connections": 1, "readlatency": 2, "response_bytes": 45, "min_client_response_size": 23} {
		if got := value(name); got != want {
			t.Errorf("%s = %v, want %v (the source's figure)", name, got, want)
		}
	}
}

func TestPrometheusWithoutRuntimeMetrics(t *testing.T) {
	f := newFake()
	m := NewMetrics()
	a := New(f, Options{Config: newTestAdmin(f, "").cfg, Metrics: m})
	families := scrape(t, a.MetricsHandler(NewPrometheus(m, false)))
	for name := range families {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			t.Fatalf("%s exported with metricsProvider.exportJvmInfo=false", name)
		}
	}
	if families["znode_count"] == nil {
		t.Fatal("znode_count missing")
	}
}
