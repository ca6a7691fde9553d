package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

// Ports of the scale tests (this branch's range, 29200-29399).
const (
	testScalePortBase = 29200 // ZooKeeper, and zkd on the next
	testScaleRawPort  = 29210
)

// TestScaleShort runs `zkd bench scale --short` end to end, through the
// command as a user would, against zkd built from ./cmd/zkd and Apache
// ZooKeeper, and checks that every figure of both is there and sane.
func TestScaleShort(t *testing.T) {
	requireApache(t)
	bin, err := launch.BuildZkd(t.TempDir())
	if err != nil {
		t.Fatalf("build zkd: %v", err)
	}
	cfg := ShortScaleConfig()
	cfg.OutDir, cfg.WorkDir = t.TempDir(), t.TempDir()
	cfg.PortBase = testScalePortBase
	began := time.Now()
	stdout, stderr := runBenchCommand(t, "scale", "--short", "--zkd-bin", bin, "--port-base", strconv.Itoa(cfg.PortBase),
		"--out", cfg.OutDir, "--work-dir", cfg.WorkDir)
	t.Logf("short scale run took %v:\n%s", time.Since(began).Round(time.Second), stderr)

	data, err := os.ReadFile(filepath.Join(cfg.OutDir, "scale.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report ScaleReport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&report); err != nil {
		t.Fatalf("scale.json: %v", err)
	}
	if report.Schema != ScaleSchema {
		t.Errorf("schema %q", report.Schema)
	}
	if s := report.Settings; s.SnapCount != cfg.SnapCount || s.Sessions != cfg.Sessions || s.Watches != cfg.Watches ||
		s.StormRate != cfg.StormRate || s.ZooKeeperHeapMiB != ApacheHeapFor(cfg.Znodes, cfg.Watches, cfg.Sessions) {
		t.Errorf("settings %+v are not --short's", s)
	}
	if len(report.Systems) != 2 || report.Systems[0].System != roleZkd || report.Systems[1].System != roleZooKeeper {
		t.Fatalf("systems %+v, want zkd then zookeeper", report.Systems)
	}
	for _, sys := range report.Systems {
		if len(sys.Sizes) != len(cfg.Znodes) {
			t.Fatalf("%s sizes %+v, want %v", sys.System, sys.Sizes, cfg.Znodes)
		}
		for i, p := range sys.Sizes {
			n := cfg.Znodes[i]
			name := fmt.Sprintf("%s at %d znodes", sys.System, n)
			if p.Znodes != n {
				t.Errorf("%s: size %d", name, p.Znodes)
			}
			if p.Loaded.RSSBytes < 1<<20 || p.LoadPerSecond <= 0 {
				t.Errorf("%s after the load: RSS %d bytes, %v znodes/s", name, p.Loaded.RSSBytes, p.LoadPerSecond)
			}
			if p.RestartMS <= 0 || p.RestartMS > float64(restartTimeout.Milliseconds()) {
				t.Errorf("%s restart %v ms", name, p.RestartMS)
			}
			if a := p.AfterRestart; a.RSSBytes < 1<<20 || a.PeakBytes < a.RSSBytes {
				t.Errorf("%s after the restart: %+v", name, a)
			}
			if p.NodeCountAfterRestart < int64(n) {
				t.Errorf("%s holds %d znodes after the restart, want at least %d", name, p.NodeCountAfterRestart, n)
			}
			sn := p.Snapshot
			// The values alone take n × value size bytes.
			if sn.File.File == "" || sn.File.Bytes < int64(n*cfg.ValueSize) || sn.Snapshots < 1 {
				t.Errorf("%s snapshot %+v", name, sn)
			}
			if sn.TimeMS < 0 || sn.TimeMS > float64(cfg.SnapshotTimeout.Milliseconds()) {
				t.Errorf("%s snapshot time %v ms", name, sn.TimeMS)
			}
			// The writers ran for at least snapCount/2 writes, and through the
			// snapshot.
			if sn.Writes < int64(cfg.SnapCount/2) || sn.WritesDuring < 1 || sn.WritesDuring > sn.Writes {
				t.Errorf("%s: %d writes, %d during the snapshot", name, sn.Writes, sn.WritesDuring)
			}
			if sn.LongestDuringMS <= 0 || sn.P99OutsideMS <= 0 || sn.LongestOutsideMS < sn.P99OutsideMS {
				t.Errorf("%s write latencies: during %v ms, outside max %v p99 %v", name, sn.LongestDuringMS, sn.LongestOutsideMS, sn.P99OutsideMS)
			}
			if own := sn.ServerLongestHoldMS; (sys.System == roleZkd) != (own != nil) || (own != nil && (*own < 0 || sn.ServerAppliesHeldMS == nil || *sn.ServerAppliesHeldMS < 0)) {
				t.Errorf("%s's own longest hold %v, applies held %v: want zkd's from its log, none for Apache", name, own, sn.ServerAppliesHeldMS)
			}
			for w, f := range map[string]LoadFigures{"set": p.Set, "get": p.Get} {
				if f.OpsPerSecond <= 0 || f.P99US <= 0 || f.MaxUS < f.P99US || f.Errors != 0 {
					t.Errorf("%s %s: %+v", name, w, f)
				}
			}
			if p.DataDirBytes < sn.File.Bytes {
				t.Errorf("%s data directory %d bytes, below its snapshot's %d", name, p.DataDirBytes, sn.File.Bytes)
			}
		}

		// A JVM's RSS moves with its heap, not with what it holds, so for
		// Apache only the sign and the order of magnitude are checked.
		name := sys.System
		s := sys.Sessions
		if s.Count != cfg.Sessions || s.Before.RSSBytes <= 0 || s.After.RSSBytes <= 0 || s.OpenPerSecond <= 0 {
			t.Errorf("%s sessions %+v", name, s)
		}
		if s.BytesPerSession <= 0 || s.BytesPerSession > 1<<20 {
			t.Errorf("%s: %v bytes of RSS per idle session", name, s.BytesPerSession)
		}
		w := sys.Watches
		if w.Count != cfg.Watches || w.Sessions != cfg.WatchSessions || w.Znodes*w.Sessions != w.Count || w.SetPerSecond <= 0 {
			t.Errorf("%s watches %+v", name, w)
		}
		if w.Reported != int64(cfg.Watches) {
			t.Errorf("%s counts %d watches (wchs), want the %d set", name, w.Reported, cfg.Watches)
		}
		if w.Before.RSSBytes <= 0 || w.After.RSSBytes <= 0 || w.BytesPerWatch < -1<<10 || w.BytesPerWatch > 1<<20 {
			t.Errorf("%s: %v bytes of RSS per watch (%+v → %+v)", name, w.BytesPerWatch, w.Before, w.After)
		}
		st := sys.Storm
		if st.Attempted != cfg.stormSessions() || st.Established != st.Attempted || len(st.FailureSamples) != 0 {
			t.Errorf("%s storm: %d of %d established (%v)", name, st.Established, st.Attempted, st.FailureSamples)
		}
		if st.ConnectP99US <= 0 || st.ConnectMaxUS < st.ConnectP99US || st.ConnectMaxUS > float64(cfg.StormConnectTimeout.Microseconds()) {
			t.Errorf("%s storm connect times: %+v", name, st)
		}
		for when, f := range map[string]LoadFigures{"before": st.Before, "during": st.During} {
			if f.OpsPerSecond <= 0 || f.P99US <= 0 || f.Errors != 0 {
				t.Errorf("%s open sessions %s the storm: %+v", name, when, f)
			}
		}
	}
	if report.Versions[roleZkd] == "" || report.Versions[roleZooKeeper] == "" {
		t.Errorf("versions %v", report.Versions)
	}

	// The tables (also printed) and a plot with both servers in each of
	// its panels.
	md, err := os.ReadFile(filepath.Join(cfg.OutDir, "scale.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 2,000 | zkd |", "| 2,000 | ZooKeeper |", "| 12,000 | zkd |", "| 12,000 | ZooKeeper |", "| RSS per idle session (100 sessions), bytes |",
		"| RSS per watch (1,000 watches), bytes |", "| storm: sessions established of 50 | 50 | 50 | 1.00 |", "snapCount 1,000", "(heap -Xmx1280m)"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("scale.md lacks %q:\n%s", want, md)
		}
	}
	if stdout != string(md) {
		t.Errorf("the command printed something else than scale.md:\n%s", stdout)
	}
	if bytes.Contains(md, []byte("**")) {
		t.Errorf("scale.md warns:\n%s", md)
	}
	svg, err := os.ReadFile(filepath.Join(cfg.OutDir, "scale.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Errorf("scale.svg: %v", err)
	}
	if panels, lines := bytes.Count(svg, []byte(`<g class="panel">`)), bytes.Count(svg, []byte("<polyline")); panels != 8 || lines != 16 || bytes.Count(svg, []byte("<circle")) != 8*len(cfg.Znodes)+1 {
		t.Errorf("scale.svg has %d panels and %d series, want 8 and 16, each point of zkd's a circle", panels, lines)
	}
	for _, port := range []int{cfg.PortBase, cfg.PortBase + 1} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("a server still listens on port %d after the run", port)
		}
	}
}

// TestRawSession checks the bare client against the fixed-reply server:
// a session, pipelined exists with watches, every reply counted, a clean
// close.
func TestRawSession(t *testing.T) {
	c := startCeiling(t, testScaleRawPort, 100)
	endpoint := c.Addr().String()
	sessions, err := openRawSessions(context.Background(), endpoint, 20, 8, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, s := range sessions {
		ids[s.id] = true
		if s.timeout != 30*time.Second {
			t.Errorf("granted timeout %v, want the 30 s asked for (within the ceiling's 4–40 s)", s.timeout)
		}
	}
	if len(ids) != len(sessions) {
		t.Errorf("%d distinct session ids for %d sessions", len(ids), len(sessions))
	}
	paths := make([]string, 5000) // more than rawWatchWindow in flight
	for i := range paths {
		paths[i] = fmt.Sprintf("/w/%d", i)
	}
	if err := sessions[0].watchAll(context.Background(), paths); err != nil {
		t.Fatal(err)
	}
	if got := sessions[0].acked.Load(); got != int64(len(paths)) {
		t.Errorf("%d exists replies, want %d", got, len(paths))
	}
	done := make(chan struct{})
	go func() { closeRawSessions(sessions); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("closing the sessions took over 10 s: the closeSession replies were not seen")
	}
	for _, s := range sessions {
		select {
		case <-s.closed:
		default:
			t.Errorf("session %x closed without the server's reply to closeSession", s.id)
		}
	}
}

func TestRawSessionRefusedWithoutServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { // accepts and hangs up, as a server that refuses does
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	defer l.Close()
	if s, err := dialRawSession(context.Background(), l.Addr().String(), 30*time.Second, 2*time.Second); err == nil {
		s.close()
		t.Fatal("a session from a server that hangs up")
	}
}

func TestZkdSnapshotHold(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	text := `time=2026-12-07T12:34:37.259Z level=INFO msg="storage: creating new log file" file=/d/log.a75 zxid=0xa75
time=2026-12-07T12:34:37.263Z level=INFO msg="snapshot taken" file=/d/snapshot.a72 zxid=0xa72 znodes=2010 bytes=393935 ms=112 applies_held=106ms longest_hold=980µs
time=2026-12-07T12:34:38.263Z level=INFO msg="snapshot taken" file=/d/snapshot.b00 zxid=0xb00 znodes=2010 bytes=393935 ms=1 applies_held=1ms longest_hold=1ms
`
	if err := os.WriteFile(log, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	longest, held := zkdSnapshotHold(log, 0)
	if longest == nil || held == nil || *longest != 0.98 || *held != 106 {
		t.Fatalf("longest %v held %v, want the first line's 0.98 ms and 106 ms", longest, held)
	}
	// Apache's log has no such line.
	if err := os.WriteFile(log, []byte("2026-12-07 12:00:00,000 [myid:] - INFO  [Snapshot Thread:ZooKeeperServer@558] - Snapshot taken in 9 ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if longest, held := zkdSnapshotHold(log, 0); longest != nil || held != nil {
		t.Errorf("from Apache's log: %v, %v", longest, held)
	}
}

func TestApacheHeapFor(t *testing.T) {
	for _, tc := range []struct {
		znodes            []int
		watches, sessions int
		want              int
	}{
		{[]int{2000}, 1000, 100, 1280},
		// 1 GiB + 97.7 MiB + 24.4 MiB + 156.3 MiB, rounded up.
		{[]int{100_000}, 100_000, 10_000, 1536},
		// 1 GiB + 4.77 GiB + 244 MiB + 156 MiB.
		{[]int{100_000, 5_000_000, 1_000_000}, 1_000_000, 10_000, 6400},
	} {
		if got := ApacheHeapFor(tc.znodes, tc.watches, tc.sessions); got != tc.want {
			t.Errorf("ApacheHeapFor(%v, %d, %d) = %d MiB, want %d", tc.znodes, tc.watches, tc.sessions, got, tc.want)
		}
	}
}

func TestScaleCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"scale", "--watches", "1001", "--watch-sessions", "10"},
		{"scale", "--znodes", "100,0"},
		{"scale", "--storm-rate", "0"},
	} {
		cmd := Command()
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); !errors.Is(err, ErrScaleConfig) {
			t.Errorf("%v: err = %v, want ErrScaleConfig", args, err)
		}
	}
}

// TestScaleReportRendersEverySize draws a three-size report: a row per
// size and server in order, three points per series, the sizes as tick
// labels, and a lost znode in bold.
func TestScaleReportRendersEverySize(t *testing.T) {
	sizes := []int{100_000, 1_000_000, 5_000_000}
	r := &ScaleReport{Schema: ScaleSchema, Settings: ScaleSettings{Znodes: sizes, ValueSize: 100, SnapCount: 100_000},
		Commands: map[string][]string{roleZooKeeper: {"java", "-Xmx6400m", "-Xms1g"}}}
	for _, role := range []string{roleZkd, roleZooKeeper} {
		sys := ScaleSystem{System: role}
		for i, n := range sizes {
			p := ScalePoint{Znodes: n, NodeCountAfterRestart: int64(n), RestartMS: float64(100 * (i + 1))}
			p.Loaded.RSSBytes = int64(n) * 300
			p.Snapshot.File = SnapshotInfo{File: "snapshot.1", Bytes: int64(n) * 200}
			p.Set.OpsPerSecond, p.Get.OpsPerSecond = 20_000, 50_000
			sys.Sizes = append(sys.Sizes, p)
		}
		r.Systems = append(r.Systems, sys)
	}
	r.Systems[1].Sizes[2].NodeCountAfterRestart = 4_999_999

	md := r.Markdown()
	last := -1
	for _, n := range []string{"100,000", "1,000,000", "5,000,000"} {
		for _, who := range []string{"zkd", "ZooKeeper"} {
			row := "| " + n + " | " + who + " |"
			i := strings.Index(md, row)
			if i <= last {
				t.Errorf("row %q missing or out of order:\n%s", row, md)
			}
			last = i
		}
	}
	for _, want := range []string{"(heap -Xmx6400m)", "**ZooKeeper had 4,999,999 znodes after the restart at 5,000,000.**"} {
		if !strings.Contains(md, want) {
			t.Errorf("scale.md lacks %q:\n%s", want, md)
		}
	}

	svg := r.SVG()
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Fatalf("scale.svg: %v", err)
	}
	for _, m := range regexp.MustCompile(`<polyline[^>]* points="([^"]*)"`).FindAllSubmatch(svg, -1) {
		if n := len(strings.Fields(string(m[1]))); n != len(sizes) {
			t.Errorf("a series with %d points, want %d: %s", n, len(sizes), m[0])
		}
	}
	for _, tick := range []string{">100k<", ">1M<", ">5M<"} {
		if !bytes.Contains(svg, []byte(tick)) {
			t.Errorf("scale.svg lacks the tick label %s", tick)
		}
	}
}
