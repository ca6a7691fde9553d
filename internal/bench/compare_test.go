package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

// Ports of this package's tests; compare uses base and base+1.
const (
	testComparePortBase = 22810
	testBenchPort       = 22812
	testBusyPort        = 22813
)

// requireApache fails, not skips, without Java or ZooKeeper: CI must have
// them for the comparison to keep working.
func requireApache(t *testing.T) ServerSpec {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper (a JVM): slow; runs without -short")
	}
	spec, err := DiscoverApache("", "")
	if err != nil {
		t.Fatalf("the benchmark tests need Apache ZooKeeper 3.8 and Java (apt-get install zookeeper): %v", err)
	}
	return spec
}

// lineLogger forwards log lines to t.Log as they come.
type lineLogger struct{ t *testing.T }

func (l lineLogger) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startApache(t *testing.T, port int) *serverProcess {
	t.Helper()
	p, err := newServerProcess(requireApache(t), t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if _, err := p.awaitFirstWrite(context.Background(), startTimeout); err != nil {
		t.Fatal(err)
	}
	return p
}

func runBenchCommand(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := Command()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench %v: %v\n%s", args, err, errOut.String())
	}
	return out.String(), errOut.String()
}

func TestBenchCommandJSONAgainstApache(t *testing.T) {
	p := startApache(t, testBenchPort)

	stdout, _ := runBenchCommand(t, "--endpoints", p.endpoint(), "--workload", "mixed", "--clients", "4",
		"--ops", "3000", "--prepopulate", "50", "--value-size", "100", "--json")
	var res Result
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not a Result: %v\n%s", err, stdout)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than the JSON result:\n%s", stdout)
	}
	if res.Errors != 0 || res.Ops != 3000 {
		t.Fatalf("ops %d, errors %d (%v); want 3000 acknowledged", res.Ops, res.Errors, res.ErrorSamples)
	}
	if res.OpsLimit != 3000 || res.DurationLimitS != 0 {
		t.Errorf("limits ops=%d duration=%v, want an operation-count run", res.OpsLimit, res.DurationLimitS)
	}
	gets, sets := res.ByOp["get"].Count, res.ByOp["set"].Count
	if gets+sets != 3000 || gets < 4*sets {
		t.Errorf("mixed 90/10 issued %d gets and %d sets", gets, sets)
	}
	l := res.Latency
	if !(0 < l.P50US && l.P50US <= l.P90US && l.P90US <= l.P99US && l.P99US <= l.P999US && l.P999US <= l.MaxUS) {
		t.Errorf("percentiles out of order: %+v", l)
	}
	if res.OpsPerSecond <= 0 || res.ElapsedS <= 0 {
		t.Errorf("throughput %v over %v s", res.OpsPerSecond, res.ElapsedS)
	}

	conn, err := openSession(context.Background(), []string{p.endpoint()}, 10*time.Second, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, before, err := conn.Get(dataRoot)
	if err != nil {
		t.Fatal(err)
	}

	// A create run leaves nothing behind, and a run with the same
	// prepopulation settings reuses the tree instead of rewriting it.
	runBenchCommand(t, "--endpoints", p.endpoint(), "--workload", "create", "--clients", "3",
		"--ops", "600", "--prepopulate", "50", "--value-size", "100", "--quiet")
	if kids, _, err := conn.Children(createRoot); err != nil || len(kids) != 0 {
		t.Errorf("after a create run %s holds %v (%v), want nothing", createRoot, kids, err)
	}
	if kids, _, err := conn.Children(dataRoot); err != nil || len(kids) != 50 {
		t.Errorf("%s holds %d znodes (%v), want the 50 prepopulated", dataRoot, len(kids), err)
	}
	if _, after, err := conn.Get(dataRoot); err != nil || after.Mzxid != before.Mzxid {
		t.Errorf("%s rewritten by a run with the same settings (mzxid %x → %x, %v)", dataRoot, before.Mzxid, after.Mzxid, err)
	}
	data, _, err := conn.Get(dataRoot + "/k0000049")
	if err != nil || len(data) != 100 {
		t.Errorf("prepopulated znode holds %d bytes (%v), want 100", len(data), err)
	}

	// The human form carries the same figures.
	text, _ := runBenchCommand(t, "--endpoints", p.endpoint(), "--workload", "get", "--clients", "2",
		"--ops", "500", "--prepopulate", "50", "--quiet")
	if !strings.Contains(text, "500 acknowledged, 0 failed") || !strings.Contains(text, "p99.9") {
		t.Errorf("text output:\n%s", text)
	}
}

func TestBenchCommandRejectsBadFlags(t *testing.T) {
	cmd := Command()
	cmd.SetArgs([]string{"--workload", "delete"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); !errors.Is(err, ErrUnknownWorkload) {
		t.Fatalf("unknown workload: err = %v", err)
	}
}

// TestCompareShort runs the CI setting of `bench compare` end to end:
// against zkd built from ./cmd/zkd, or with ZKD_BENCH_SELFTEST=1 against
// Apache ZooKeeper on both sides.
func TestCompareShort(t *testing.T) {
	apache := requireApache(t)
	cfg := ShortCompareConfig()
	cfg.ZooKeeper = apache
	if os.Getenv("ZKD_BENCH_SELFTEST") == "1" {
		cfg.Zkd, cfg.SelfTest = apache, true
	} else {
		bin, err := launch.BuildZkd(t.TempDir())
		if err != nil {
			t.Fatalf("build zkd (set ZKD_BENCH_SELFTEST=1 to test the harness against Apache alone): %v", err)
		}
		cfg.Zkd = ZkdSpec(bin)
	}
	cfg.OutDir = t.TempDir()
	cfg.WorkDir = t.TempDir()
	cfg.PortBase = testComparePortBase
	cfg.Log = lineLogger{t}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	report, err := Compare(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("short compare took %v", time.Since(began).Round(time.Second))

	if got, want := len(report.Throughput), len(cfg.Workloads)*len(cfg.Clients); got != want {
		t.Fatalf("%d throughput rows, want %d", got, want)
	}
	for _, row := range report.Throughput {
		for role, f := range map[string]SystemFigures{roleZkd: row.Zkd, roleZooKeeper: row.ZooKeeper} {
			if f.OpsPerSecond.N != cfg.Repeats || f.OpsPerSecond.Min <= 0 {
				t.Errorf("%s %s/%d: ops/s %+v, want %d positive runs", role, row.Workload, row.Clients, f.OpsPerSecond, cfg.Repeats)
			}
			if f.Errors != 0 {
				t.Errorf("%s %s/%d: %d failed requests", role, row.Workload, row.Clients, f.Errors)
			}
			// 1 s runs: the server's 10 ms ticks may round a light run down
			// to nothing, but the load generator always spends some CPU.
			if f.ClientCPUUSPerOp.N != cfg.Repeats || f.ClientCPUUSPerOp.Min <= 0 {
				t.Errorf("%s %s/%d: client CPU per request %+v", role, row.Workload, row.Clients, f.ClientCPUUSPerOp)
			}
		}
		if row.Ratio.N != cfg.Repeats || row.Ratio.Median <= 0 {
			t.Errorf("%s/%d: ratio %+v", row.Workload, row.Clients, row.Ratio)
		}
	}
	if got := len(report.Runs); got != 2*cfg.Repeats*len(cfg.Workloads)*len(cfg.Clients) {
		t.Errorf("%d runs recorded", got)
	}
	st := report.Startup
	if st.ZkdMS.N != cfg.StartupRepeats || st.ZooKeeperMS.N != cfg.StartupRepeats || st.ZkdMS.Min <= 0 || st.ZooKeeperMS.Min <= 0 {
		t.Errorf("startup %+v", st)
	}
	if len(report.Memory) != 2 {
		t.Fatalf("memory reports for %d servers, want 2", len(report.Memory))
	}
	for _, m := range report.Memory {
		if m.Idle.RSSBytes <= 0 || len(m.Loaded) != len(cfg.MemoryNodes) {
			t.Errorf("%s memory: %+v", m.System, m)
			continue
		}
		last := m.Loaded[len(m.Loaded)-1]
		if last.Znodes != cfg.MemoryNodes[len(cfg.MemoryNodes)-1] || last.Memory.RSSBytes <= 0 || last.Memory.PeakBytes < last.Memory.RSSBytes {
			t.Errorf("%s memory after load: %+v", m.System, last)
		}
		if m.NodeCount < int64(last.Znodes) {
			t.Errorf("%s reports %d znodes after loading %d", m.System, m.NodeCount, last.Znodes)
		}
		if m.RestartMS <= 0 {
			t.Errorf("%s restart time %v", m.System, m.RestartMS)
		}
		durable := m.NodeCountAfterRestart >= m.NodeCount && m.CoversLoad &&
			m.Snapshot.Bytes >= int64(last.Znodes)*int64(cfg.MemoryValueSize) // the values alone take that much
		switch {
		case durable:
		case m.System == roleZooKeeper || cfg.SelfTest:
			t.Errorf("%s kept %d of %d znodes across the restart; snapshot %+v (covers last zxid %s: %v)",
				m.System, m.NodeCountAfterRestart, m.NodeCount, m.Snapshot, m.LastZxid, m.CoversLoad)
		default:
			// zkd's durability is zkd's tests' business; the comparison's
			// job is to say so, which the summary does in bold.
			t.Logf("WARNING: zkd kept %d of %d znodes across the restart; snapshot %+v", m.NodeCountAfterRestart, m.NodeCount, m.Snapshot)
			if !strings.Contains(report.Markdown(), "**zkd ") {
				t.Errorf("summary does not warn that zkd is not durable:\n%s", report.Markdown())
			}
		}
	}

	// The files an operator reads: JSON that decodes to the same report,
	// the Markdown table and a well-formed SVG.
	data, err := os.ReadFile(filepath.Join(cfg.OutDir, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	var decoded CompareReport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&decoded); err != nil {
		t.Fatalf("compare.json: %v", err)
	}
	if decoded.Schema != CompareSchema || len(decoded.Throughput) != len(report.Throughput) || len(decoded.Runs) != len(report.Runs) {
		t.Errorf("compare.json does not hold the report")
	}
	summary, err := os.ReadFile(filepath.Join(cfg.OutDir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| create | 1 |", "| mixed 90/10 | 8 |", "exec → first acknowledged write", "RSS after 10,000 znodes"} {
		if !bytes.Contains(summary, []byte(want)) {
			t.Errorf("summary.md lacks %q:\n%s", want, summary)
		}
	}
	svg, err := os.ReadFile(filepath.Join(cfg.OutDir, "throughput.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Errorf("throughput.svg: %v", err)
	}
	if lines := bytes.Count(svg, []byte("<polyline")); lines != 2*len(cfg.Workloads) {
		t.Errorf("throughput.svg has %d series lines, want %d", lines, 2*len(cfg.Workloads))
	}

	// The servers are gone: nothing listens on the comparison's ports.
	for _, port := range []int{cfg.PortBase, cfg.PortBase + 1} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("a server still listens on port %d after the comparison", port)
		}
	}
}

func TestServerRefusesABusyPort(t *testing.T) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(testBusyPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := newServerProcess(ZkdSpec("/bin/true"), t.TempDir(), testBusyPort)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.start(); !errors.Is(err, ErrPortInUse) {
		p.stop()
		t.Fatalf("start on a busy port: err = %v, want ErrPortInUse", err)
	}
}

// testEnsemblePortBase is the ensemble comparison's: 18 ports from here.
const testEnsemblePortBase = 22840

// TestCompareEnsembleShort runs `bench compare --ensemble 3` small: two
// 3-server ensembles, one run per workload, one start and one kill -9 of
// each leader; against zkd built from ./cmd/zkd, or with
// ZKD_BENCH_SELFTEST=1 against Apache on both sides.
func TestCompareEnsembleShort(t *testing.T) {
	apache := requireApache(t)
	cfg := ShortEnsembleCompareConfig()
	cfg.ZooKeeper = apache
	if os.Getenv("ZKD_BENCH_SELFTEST") == "1" {
		cfg.Zkd, cfg.SelfTest = apache, true
	} else {
		bin, err := launch.BuildZkd(t.TempDir())
		if err != nil {
			t.Fatalf("build zkd (set ZKD_BENCH_SELFTEST=1 to test the harness against Apache alone): %v", err)
		}
		cfg.Zkd = ZkdSpec(bin)
	}
	cfg.Workloads = []Workload{WorkloadSet, WorkloadGet}
	cfg.Warmup = 0
	cfg.OutDir = t.TempDir()
	cfg.WorkDir = t.TempDir()
	cfg.PortBase = testEnsemblePortBase
	cfg.Log = lineLogger{t}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	report, err := Compare(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("short ensemble compare took %v", time.Since(began).Round(time.Second))

	if report.Settings.Ensemble != 3 || !strings.Contains(report.Settings.ZooCfg, "server.3=127.0.0.1:") {
		t.Errorf("settings do not describe the ensemble: %+v", report.Settings)
	}
	if argv := strings.Join(report.Commands[roleZooKeeper], " "); !strings.Contains(argv, "QuorumPeerMain") {
		t.Errorf("Apache's members ran as %s, want QuorumPeerMain", argv)
	}
	if got, want := len(report.Throughput), len(cfg.Workloads); got != want {
		t.Fatalf("%d throughput rows, want %d", got, want)
	}
	for _, row := range report.Throughput {
		for role, f := range map[string]SystemFigures{roleZkd: row.Zkd, roleZooKeeper: row.ZooKeeper} {
			if f.OpsPerSecond.N != 1 || f.OpsPerSecond.Min <= 0 || f.Errors != 0 {
				t.Errorf("%s %s/%d: ops/s %+v, %d errors", role, row.Workload, row.Clients, f.OpsPerSecond, f.Errors)
			}
			// Three processes' CPU over a second of writes is never all
			// below their 10 ms ticks.
			if row.Workload == WorkloadSet && f.ServerCPUUSPerOp.Median <= 0 {
				t.Errorf("%s set: server CPU per request %+v", role, f.ServerCPUUSPerOp)
			}
		}
	}
	// Every run spread its sessions over the three members.
	for _, run := range report.Runs {
		if len(run.Result.Endpoints) != 3 {
			t.Errorf("%s %s ran against %v, want the 3 members", run.System, run.Result.Workload, run.Result.Endpoints)
		}
	}
	st := report.Startup
	if st.ZkdMS.N != 1 || st.ZooKeeperMS.N != 1 || st.ZkdMS.Min <= 0 || st.ZooKeeperMS.Min <= 0 {
		t.Errorf("startup %+v", st)
	}

	f := report.Failover
	if f == nil || len(f.Rounds) != 2 {
		t.Fatalf("failover %+v, want one round per ensemble", f)
	}
	for _, r := range f.Rounds {
		if r.Killed < 1 || r.NewLeader < 1 || r.NewLeader == r.Killed {
			t.Errorf("%s: killed leader %d, new leader %d", r.System, r.Killed, r.NewLeader)
		}
		// A write is acknowledged only once a leader leads; the leader is
		// seen by a 5 ms poll, which may come after that write.
		if r.WriteMS <= 0 || r.LeaderMS <= 0 || r.RejoinMS <= 0 || r.AckedBeforeKill == 0 {
			t.Errorf("%s round: %+v", r.System, r)
		}
	}
	if f.WriteRatio.N != 1 || f.WriteRatio.Median <= 0 {
		t.Errorf("failover ratio %+v", f.WriteRatio)
	}
	var targets []string
	for _, tc := range report.Targets {
		targets = append(targets, tc.Target)
	}
	// No create rows in this run: the write target is judged on set.
	for _, want := range []string{"writes (create, set): ops/s", "reads (get): ops/s", "set p99 at 16 clients",
		"failover: kill -9 of the leader → first acknowledged write", "CPU per write (create, set), the servers together"} {
		if !slices.Contains(targets, want) {
			t.Errorf("targets %q lack %q", targets, want)
		}
	}

	summary, err := os.ReadFile(filepath.Join(cfg.OutDir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Two ensembles of 3 servers", "| set | 16 |", "exec of 3 servers → first acknowledged write",
		"kill -9 of the leader → first acknowledged write issued after it (ms, 1 rounds)", "### Against the targets"} {
		if !bytes.Contains(summary, []byte(want)) {
			t.Errorf("summary.md lacks %q:\n%s", want, summary)
		}
	}
	data, err := os.ReadFile(filepath.Join(cfg.OutDir, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	var decoded CompareReport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&decoded); err != nil {
		t.Fatalf("compare.json: %v", err)
	}
	if decoded.Failover == nil || len(decoded.Failover.Rounds) != 2 || len(decoded.Targets) != len(report.Targets) {
		t.Errorf("compare.json does not hold the failover rounds and targets")
	}

	// Every member of both ensembles is gone.
	for port := cfg.PortBase; port < cfg.PortBase+cfg.portSpan(); port++ {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("something still listens on port %d after the comparison", port)
		}
	}
}
