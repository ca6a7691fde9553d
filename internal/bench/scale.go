package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
)

var ErrScaleConfig = errors.New("bench: invalid scale configuration")

// ScaleSchema names the layout of scale.json.
const ScaleSchema = "zkd-bench-scale/1"

// ScaleConfig is one run of `zkd bench scale`: how each server's costs
// grow with the tree, the sessions and the watches it holds.
type ScaleConfig struct {
	Zkd       ServerSpec
	ZooKeeper ServerSpec
	// ZooKeeperHeapMiB is the -Xmx Apache's JVM was given (echoed only;
	// the spec carries it).
	ZooKeeperHeapMiB int

	// Znodes are the tree sizes measured, loaded one after the other into
	// one server: ValueSize bytes each, memoryNodesPerDir to a parent.
	Znodes    []int
	ValueSize int
	// SnapCount is written to both servers' zoo.cfg: a snapshot starts
	// after snapCount/2 + rand[0, snapCount/2) txns, in both.
	SnapCount int
	// Clients and Duration are each set and get run's at every size.
	Clients  int
	Duration time.Duration
	// Writers issue sets through the snapshot that follows each restart;
	// SnapshotTimeout bounds how long they may wait for it.
	Writers         int
	SnapshotTimeout time.Duration

	// Sessions idle sessions; Watches watches set by WatchSessions
	// sessions, each on the same Watches/WatchSessions znodes.
	Sessions      int
	Watches       int
	WatchSessions int
	// The storm: StormRate new sessions a second for StormDuration, while
	// StormClients sessions run the mixed workload; a storm session counts
	// as established when granted within StormConnectTimeout.
	StormRate           int
	StormDuration       time.Duration
	StormClients        int
	StormConnectTimeout time.Duration

	// Settle is the pause before each memory reading.
	Settle time.Duration

	OutDir      string // scale.json, scale.md, scale.svg
	WorkDir     string
	KeepWorkDir bool
	// PortBase: ZooKeeper listens on PortBase, zkd on PortBase+1.
	PortBase int
	Log      io.Writer
}

// DefaultScaleConfig is issue 12's full set of sizes, minus the server
// specs.
func DefaultScaleConfig() ScaleConfig {
	return ScaleConfig{
		Znodes:              []int{100_000, 1_000_000, 5_000_000},
		ValueSize:           100,
		SnapCount:           100_000,
		Clients:             32,
		Duration:            10 * time.Second,
		Writers:             8,
		SnapshotTimeout:     10 * time.Minute,
		Sessions:            10_000,
		Watches:             1_000_000,
		WatchSessions:       10,
		StormRate:           1000,
		StormDuration:       10 * time.Second,
		StormClients:        16,
		StormConnectTimeout: 10 * time.Second,
		Settle:              2 * time.Second,
		OutDir:              "bench-out",
		PortBase:            22810,
		Log:                 io.Discard,
	}
}

// ShortScaleConfig is the test setting: every figure, tiny.
func ShortScaleConfig() ScaleConfig {
	c := DefaultScaleConfig()
	c.Znodes = []int{2_000, 12_000} // the second crosses into a second parent
	c.SnapCount = 1_000
	c.Clients = 4
	c.Duration = time.Second
	c.Writers = 4
	c.SnapshotTimeout = time.Minute
	c.Sessions = 100
	c.Watches = 1_000
	c.WatchSessions = 4
	c.StormRate = 50
	c.StormDuration = time.Second
	c.StormClients = 4
	c.StormConnectTimeout = 5 * time.Second
	c.Settle = 500 * time.Millisecond
	return c
}

// ApacheHeapFor is the -Xmx (MiB) that fits a scale run in Apache's JVM:
// the 1 GiB compare gives it, plus 1 KiB per znode of the largest tree
// (a 100-byte znode takes about half of that in ZooKeeper's DataTree:
// node, data, stat, path key and the parent's child entry), 256 bytes per
// watch and 16 KiB per session, rounded up to 256 MiB.
func ApacheHeapFor(znodes []int, watches, sessions int) int {
	largest := 0
	for _, n := range znodes {
		largest = max(largest, n)
	}
	bytes := int64(1<<30) + int64(largest)<<10 + int64(watches)*256 + int64(sessions)<<14
	const step = 256 << 20
	return int((bytes + step - 1) / step * step >> 20)
}

func (c ScaleConfig) validate() error {
	if c.Zkd.Argv == nil || c.ZooKeeper.Argv == nil {
		return fmt.Errorf("%w: both server commands are needed", ErrScaleConfig)
	}
	return c.validateSettings()
}

// validateSettings checks everything but the server commands, so that the
// command refuses bad flags before it looks for Java.
func (c ScaleConfig) validateSettings() error {
	switch {
	case len(c.Znodes) == 0:
		return fmt.Errorf("%w: no znode counts", ErrScaleConfig)
	case c.ValueSize < 0 || c.ValueSize > 0xfffff:
		return fmt.Errorf("%w: value size %d", ErrScaleConfig, c.ValueSize)
	case c.SnapCount < 2:
		return fmt.Errorf("%w: snapCount %d (want 2 or more)", ErrScaleConfig, c.SnapCount)
	case c.Clients < 1 || c.Writers < 1 || c.StormClients < 1:
		return fmt.Errorf("%w: clients, writers and storm clients must be at least 1", ErrScaleConfig)
	case c.Duration <= 0 || c.SnapshotTimeout <= 0 || c.StormConnectTimeout <= 0:
		return fmt.Errorf("%w: durations must be positive", ErrScaleConfig)
	case c.Sessions < 1 || c.Watches < 1 || c.WatchSessions < 1 || c.WatchSessions > c.Watches:
		return fmt.Errorf("%w: sessions %d, watches %d from %d sessions", ErrScaleConfig, c.Sessions, c.Watches, c.WatchSessions)
	case c.Watches%c.WatchSessions != 0:
		return fmt.Errorf("%w: %d watches do not divide among %d sessions", ErrScaleConfig, c.Watches, c.WatchSessions)
	case c.StormRate < 1 || c.StormDuration < time.Second/time.Duration(c.StormRate):
		return fmt.Errorf("%w: a storm of %d sessions/s for %v opens none", ErrScaleConfig, c.StormRate, c.StormDuration)
	case c.PortBase < 1 || c.PortBase+1 > 65535:
		return fmt.Errorf("%w: port base %d", ErrScaleConfig, c.PortBase)
	case c.OutDir == "":
		return fmt.Errorf("%w: no output directory", ErrScaleConfig)
	}
	for _, n := range c.Znodes {
		if n < 1 {
			return fmt.Errorf("%w: znode count %d", ErrScaleConfig, n)
		}
	}
	return nil
}

func (c ScaleConfig) stormSessions() int {
	return int(float64(c.StormRate) * c.StormDuration.Seconds())
}

// ScaleReport is everything a scale run measured; scale.json holds it.
type ScaleReport struct {
	Schema   string              `json:"schema"`
	Machine  MachineInfo         `json:"machine"`
	Settings ScaleSettings       `json:"settings"`
	Commands map[string][]string `json:"commands"`
	Versions map[string]string   `json:"versions"`
	Systems  []ScaleSystem       `json:"systems"`
	ElapsedS float64             `json:"elapsed_s"`
}

// ScaleSettings echoes the settings in units a reader can check.
type ScaleSettings struct {
	Znodes               []int   `json:"znodes"`
	ValueSize            int     `json:"value_size"`
	SnapCount            int     `json:"snap_count"`
	Clients              int     `json:"clients"`
	DurationS            float64 `json:"duration_s"`
	Writers              int     `json:"snapshot_writers"`
	Sessions             int     `json:"sessions"`
	Watches              int     `json:"watches"`
	WatchSessions        int     `json:"watch_sessions"`
	StormRate            int     `json:"storm_rate"`
	StormDurationS       float64 `json:"storm_duration_s"`
	StormClients         int     `json:"storm_clients"`
	StormConnectTimeoutS float64 `json:"storm_connect_timeout_s"`
	ZooKeeperHeapMiB     int     `json:"zookeeper_heap_mib,omitempty"`
	ZooCfg               string  `json:"zoo_cfg"`
}

// ScaleSystem is one server's figures.
type ScaleSystem struct {
	System   string          `json:"system"`
	Sizes    []ScalePoint    `json:"sizes"`
	Sessions SessionsFigures `json:"sessions"`
	Watches  WatchesFigures  `json:"watches"`
	Storm    StormFigures    `json:"storm"`
}

// ScalePoint is one server holding Znodes znodes.
type ScalePoint struct {
	Znodes        int         `json:"znodes"`
	LoadPerSecond float64     `json:"load_znodes_per_second"`
	Loaded        MemoryUsage `json:"loaded"`
	// RestartMS is exec to the first acknowledged write with the tree on
	// disk; AfterRestart's peak is VmHWM since that exec, so the peak of
	// the recovery itself.
	RestartMS             float64     `json:"restart_ms"`
	AfterRestart          MemoryUsage `json:"after_restart"`
	NodeCountAfterRestart int64       `json:"node_count_after_restart"`
	Snapshot              SnapshotRun `json:"snapshot"`
	Set                   LoadFigures `json:"set"`
	Get                   LoadFigures `json:"get"`
	DataDirBytes          int64       `json:"data_dir_bytes"`
}

// SnapshotRun is the first snapshot a server takes by its snapCount while
// writers run, after a restart.
type SnapshotRun struct {
	File SnapshotInfo `json:"file"`
	// TimeMS is the snapshot's duration as the server's mntr counts it
	// (zk_sum_snapshottime, in both servers the time to write the file).
	TimeMS    float64 `json:"time_ms"`
	Snapshots int64   `json:"snapshots"`
	// Writes issued by the writers; WritesDuring those whose issue-to-ack
	// interval overlaps the snapshot, LongestDuringMS the slowest of them:
	// the longest the snapshot held a write up, measured from outside the
	// same way for both servers.
	Writes           int64   `json:"writes"`
	WritesDuring     int64   `json:"writes_during"`
	LongestDuringMS  float64 `json:"longest_write_during_ms"`
	LongestOutsideMS float64 `json:"longest_write_outside_ms"`
	P99OutsideMS     float64 `json:"p99_write_outside_ms"`
	// ServerLongestHoldMS and ServerAppliesHeldMS are zkd's own account
	// ("snapshot taken" log line: longest_hold, applies_held); Apache logs
	// none.
	ServerLongestHoldMS *float64 `json:"server_longest_hold_ms,omitempty"`
	ServerAppliesHeldMS *float64 `json:"server_applies_held_ms,omitempty"`
}

// LoadFigures are one closed-loop run's.
type LoadFigures struct {
	OpsPerSecond float64 `json:"ops_per_second"`
	P99US        float64 `json:"p99_us"`
	MaxUS        float64 `json:"max_us"`
	Errors       int64   `json:"errors"`
}

// SessionsFigures: RSS before and after Count idle sessions.
type SessionsFigures struct {
	Count           int         `json:"count"`
	Before          MemoryUsage `json:"before"`
	After           MemoryUsage `json:"after"`
	BytesPerSession float64     `json:"rss_bytes_per_session"`
	OpenPerSecond   float64     `json:"opened_per_second"`
}

// WatchesFigures: RSS before and after Count watches.
type WatchesFigures struct {
	Count    int `json:"count"`
	Sessions int `json:"sessions"`
	Znodes   int `json:"znodes"`
	// Reported is wchs's "Total watches" once they are set.
	Reported      int64       `json:"reported_by_server"`
	Before        MemoryUsage `json:"before"`
	After         MemoryUsage `json:"after"`
	BytesPerWatch float64     `json:"rss_bytes_per_watch"`
	SetPerSecond  float64     `json:"set_per_second"`
}

// StormFigures: new sessions at Rate a second while others work.
type StormFigures struct {
	Rate           int      `json:"rate"`
	DurationS      float64  `json:"duration_s"`
	Attempted      int      `json:"attempted"`
	Established    int      `json:"established"`
	FailureSamples []string `json:"failure_samples,omitempty"`
	// Connect latency of the established, from the moment each was due.
	ConnectP50US float64 `json:"connect_p50_us"`
	ConnectP99US float64 `json:"connect_p99_us"`
	ConnectMaxUS float64 `json:"connect_max_us"`
	// The mixed workload of the sessions already open, for as long
	// without the storm and then during it.
	Before LoadFigures `json:"before"`
	During LoadFigures `json:"during"`
}

// Scale runs every phase against zkd, then against Apache ZooKeeper, and
// writes scale.json, scale.md and scale.svg to cfg.OutDir.
func Scale(ctx context.Context, cfg ScaleConfig) (*ScaleReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkFileLimit(max(cfg.Sessions, cfg.stormSessions())); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	began := time.Now()
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	workDir, cleanup, err := makeWorkDir(cfg.WorkDir, "zkd-bench-scale-", cfg.KeepWorkDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	sizes := slices.Clone(cfg.Znodes)
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	s := &scaler{cfg: cfg, sizes: sizes, workDir: workDir, report: &ScaleReport{
		Schema:  ScaleSchema,
		Machine: describeMachine(workDir),
		Settings: ScaleSettings{
			Znodes: sizes, ValueSize: cfg.ValueSize, SnapCount: cfg.SnapCount, Clients: cfg.Clients,
			DurationS: cfg.Duration.Seconds(), Writers: cfg.Writers, Sessions: cfg.Sessions, Watches: cfg.Watches,
			WatchSessions: cfg.WatchSessions, StormRate: cfg.StormRate, StormDurationS: cfg.StormDuration.Seconds(),
			StormClients: cfg.StormClients, StormConnectTimeoutS: cfg.StormConnectTimeout.Seconds(),
			ZooKeeperHeapMiB: cfg.ZooKeeperHeapMiB, ZooCfg: scaleZooCfg("<dataDir>", "<port>", cfg.SnapCount),
		},
		Commands: map[string][]string{
			roleZkd:       cfg.Zkd.argv(false, "<zoo.cfg>"),
			roleZooKeeper: cfg.ZooKeeper.argv(false, "<zoo.cfg>"),
		},
		Versions: map[string]string{},
	}}
	s.report.Machine.Java = javaVersion(cfg.ZooKeeper.Argv("")[0])
	for _, role := range []string{roleZkd, roleZooKeeper} {
		sys, err := s.system(ctx, role)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
		s.report.Systems = append(s.report.Systems, *sys)
	}
	s.report.ElapsedS = time.Since(began).Seconds()
	if err := s.report.writeFiles(cfg.OutDir); err != nil {
		return nil, err
	}
	return s.report, nil
}

func scaleZooCfg(dataDir, port string, snapCount int) string {
	return zooCfg(dataDir, port) + fmt.Sprintf("snapCount=%d\n", snapCount)
}

type scaler struct {
	cfg     ScaleConfig
	sizes   []int
	workDir string
	report  *ScaleReport
}

func (s *scaler) logf(format string, args ...any) { fmt.Fprintf(s.cfg.Log, format+"\n", args...) }

func (s *scaler) spec(role string) ServerSpec {
	if role == roleZkd {
		return s.cfg.Zkd
	}
	return s.cfg.ZooKeeper
}

func (s *scaler) port(role string) int {
	if role == roleZkd {
		return s.cfg.PortBase + 1
	}
	return s.cfg.PortBase
}

// launch starts role's server on a fresh directory with the scale zoo.cfg
// and waits for its first acknowledged write.
func (s *scaler) launch(ctx context.Context, role, name string) (*serverProcess, error) {
	dir := filepath.Join(s.workDir, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	p, err := newServerProcess(s.spec(role), dir, s.port(role))
	if err != nil {
		return nil, err
	}
	cfg := scaleZooCfg(p.dataDir(), strconv.Itoa(p.port), s.cfg.SnapCount)
	if err := os.WriteFile(p.cfgPath(), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	if _, err := p.awaitFirstWrite(ctx, startTimeout); err != nil {
		_ = p.stop()
		return nil, err
	}
	if _, ok := s.report.Versions[role]; !ok {
		s.report.Versions[role] = serverVersion(ctx, p.endpoint())
	}
	return p, nil
}

func (s *scaler) system(ctx context.Context, role string) (*ScaleSystem, error) {
	sys := &ScaleSystem{System: role}
	if err := s.sizePhases(ctx, role, sys); err != nil {
		return nil, err
	}
	if err := s.sessionPhases(ctx, role, sys); err != nil {
		return nil, err
	}
	return sys, nil
}

// sizePhases loads the sizes one after the other into one server; at each
// it reads RSS, restarts, takes a snapshot under writers and runs set and
// get over the whole tree.
func (s *scaler) sizePhases(ctx context.Context, role string, sys *ScaleSystem) (err error) {
	p, err := s.launch(ctx, role, "sizes-"+role)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	value := payload(s.cfg.ValueSize, 2)
	loaded := 0
	for _, n := range s.sizes {
		pt := ScalePoint{Znodes: n}
		conns, err := openSessions(ctx, []string{p.endpoint()}, memoryLoadSessions, DefaultConfig().SessionTimeout)
		if err != nil {
			return err
		}
		t0 := time.Now()
		err = loadZnodes(ctx, conns, loaded, n, value)
		closeSessions(conns)
		if err != nil {
			return err
		}
		pt.LoadPerSecond = float64(n-loaded) / time.Since(t0).Seconds()
		loaded = n
		sleepCtx(ctx, s.cfg.Settle)
		if pt.Loaded, err = p.memory(); err != nil {
			return err
		}
		s.logf("scale %-9s %9d znodes: RSS %s, loaded at %.0f znodes/s", role, n, mib(pt.Loaded.RSSBytes), pt.LoadPerSecond)

		if err := p.stop(); err != nil {
			return err
		}
		if err := p.start(); err != nil {
			return err
		}
		restart, err := p.awaitFirstWrite(ctx, restartTimeout)
		if err != nil {
			return err
		}
		pt.RestartMS = ms(restart)
		sleepCtx(ctx, s.cfg.Settle)
		if pt.AfterRestart, err = p.memory(); err != nil {
			return err
		}
		if st, err := srvr(ctx, p.endpoint()); err == nil {
			pt.NodeCountAfterRestart = st.nodes
		}
		s.logf("scale %-9s %9d znodes: restart %.0f ms, RSS after %s (peak during %s), %d znodes back",
			role, n, pt.RestartMS, mib(pt.AfterRestart.RSSBytes), mib(pt.AfterRestart.PeakBytes), pt.NodeCountAfterRestart)

		if pt.Snapshot, err = s.snapshotUnderWrites(ctx, p, n, value); err != nil {
			return err
		}
		sn := pt.Snapshot
		s.logf("scale %-9s %9d znodes: snapshot %s %s in %.0f ms; slowest write during it %.1f ms (%d writes), outside max %.1f ms p99 %.1f ms",
			role, n, sn.File.File, mib(sn.File.Bytes), sn.TimeMS, sn.LongestDuringMS, sn.WritesDuring, sn.LongestOutsideMS, sn.P99OutsideMS)

		keys := keySpace{n: n, path: memoryPath}
		for _, w := range []Workload{WorkloadSet, WorkloadGet} {
			cfg := DefaultConfig()
			cfg.Endpoints = []string{p.endpoint()}
			cfg.Workload, cfg.Clients, cfg.Duration, cfg.ValueSize = w, s.cfg.Clients, s.cfg.Duration, s.cfg.ValueSize
			res, err := runKeyed(ctx, cfg, keys)
			if err != nil {
				return fmt.Errorf("%s at %d znodes: %w", w, n, err)
			}
			f := loadFigures(res)
			if w == WorkloadSet {
				pt.Set = f
			} else {
				pt.Get = f
			}
			s.logf("scale %-9s %9d znodes: %-3s %8.0f ops/s p99 %.3f ms errors %d", role, n, w, f.OpsPerSecond, f.P99US/1000, f.Errors)
		}
		if !p.running() {
			return fmt.Errorf("%w: log %s:\n%s", ErrServerExited, p.logPath(), p.logTail())
		}
		pt.DataDirBytes, _ = diskUsage(p.dataDir())
		sys.Sizes = append(sys.Sizes, pt)
	}
	return nil
}

func loadFigures(res *Result) LoadFigures {
	return LoadFigures{OpsPerSecond: res.OpsPerSecond, P99US: res.Latency.P99US, MaxUS: res.Latency.MaxUS, Errors: res.Errors}
}

// runKeyed runs cfg's workload over keys, which are already in the tree,
// on sessions of its own.
func runKeyed(ctx context.Context, cfg Config, keys keySpace) (*Result, error) {
	k, err := openKeyed(ctx, cfg, keys)
	if err != nil {
		return nil, err
	}
	defer k.close()
	return k.drive(ctx), nil
}

// keyedRun is a run's sessions, open before its clock starts.
type keyedRun struct {
	cfg     Config
	keys    keySpace
	conns   []*zk.Conn
	clients []*client
}

func openKeyed(ctx context.Context, cfg Config, keys keySpace) (*keyedRun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conns, err := openSessions(ctx, cfg.Endpoints, cfg.Clients, cfg.SessionTimeout)
	if err != nil {
		return nil, err
	}
	value := payload(cfg.ValueSize, cfg.Seed)
	k := &keyedRun{cfg: cfg, keys: keys, conns: conns}
	for i, conn := range conns {
		k.clients = append(k.clients, newClient(i, conn, cfg, keys, value, ""))
	}
	return k, nil
}

func (k *keyedRun) drive(ctx context.Context) *Result {
	res := drive(ctx, k.cfg, k.clients, Options{})
	res.Prepopulate = k.keys.n
	return res
}

func (k *keyedRun) close() { closeSessions(k.conns) }

// snapshotPoll is how often mntr is asked whether a snapshot has ended; it
// widens the window in which writes count as during the snapshot.
const snapshotPoll = 50 * time.Millisecond

// afterSnapshot is how long the writers go on once the snapshot is seen.
const afterSnapshot = 300 * time.Millisecond

type writeSample struct {
	at  time.Time
	lat time.Duration
}

// snapshotUnderWrites runs writers over the n znodes until the server
// reports a snapshot it took by its snapCount, and measures the writes
// that overlapped it.
func (s *scaler) snapshotUnderWrites(ctx context.Context, p *serverProcess, n int, value []byte) (SnapshotRun, error) {
	var run SnapshotRun
	base, err := snapshotTimes(p.endpoint())
	if err != nil {
		return run, err
	}
	logFrom := fileSize(p.logPath())
	conns, err := openSessions(ctx, []string{p.endpoint()}, s.cfg.Writers, DefaultConfig().SessionTimeout)
	if err != nil {
		return run, err
	}
	defer closeSessions(conns)
	var stop atomic.Bool
	var failed atomic.Int64
	samples := make([][]writeSample, len(conns))
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 0x736e6170))
			for !stop.Load() && ctx.Err() == nil {
				at := time.Now()
				if _, err := conn.Set(memoryPath(rng.IntN(n)), value, -1); err != nil {
					failed.Add(1)
					time.Sleep(errorBackoff)
					continue
				}
				samples[i] = append(samples[i], writeSample{at, time.Since(at)})
			}
		}()
	}
	deadline := time.Now().Add(s.cfg.SnapshotTimeout)
	prevPoll := time.Now()
	var seen time.Time
	var now snapTimes
	for {
		if !sleepCtx(ctx, snapshotPoll) {
			break
		}
		polled := time.Now()
		now, err = snapshotTimes(p.endpoint())
		if err == nil && now.count > base.count {
			seen = polled
			// The file now, before a later snapshot can take its place.
			run.File, _, _ = newestSnapshot(p.dataDir())
			break
		}
		if time.Now().After(deadline) || !p.running() {
			break
		}
		prevPoll = polled
	}
	if !seen.IsZero() {
		sleepCtx(ctx, afterSnapshot)
	}
	stop.Store(true)
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return run, ctx.Err()
	case !p.running():
		return run, fmt.Errorf("%w during the snapshot; log %s:\n%s", ErrServerExited, p.logPath(), p.logTail())
	case seen.IsZero():
		return run, fmt.Errorf("bench: no snapshot within %v of writes (snapCount %d; mntr zk_cnt_snapshottime stayed %d)",
			s.cfg.SnapshotTimeout, s.cfg.SnapCount, base.count)
	case failed.Load() > 0:
		return run, fmt.Errorf("bench: %d writes failed during the snapshot", failed.Load())
	}
	run.Snapshots = now.count - base.count
	run.TimeMS = float64(now.sum-base.sum) / float64(run.Snapshots)
	// It ended between the last poll that did not see it and the one that
	// did, and began its duration before that.
	from := prevPoll.Add(-time.Duration(run.TimeMS * float64(time.Millisecond)))
	var outside []float64
	for _, ws := range samples {
		for _, w := range ws {
			run.Writes++
			lat := float64(w.lat.Microseconds()) / 1000
			if !w.at.After(seen) && !w.at.Add(w.lat).Before(from) {
				run.WritesDuring++
				run.LongestDuringMS = max(run.LongestDuringMS, lat)
				continue
			}
			outside = append(outside, lat)
		}
	}
	if len(outside) > 0 {
		slices.Sort(outside)
		run.LongestOutsideMS = outside[len(outside)-1]
		run.P99OutsideMS = outside[min(len(outside)-1, int(math.Ceil(0.99*float64(len(outside))))-1)]
	}
	if run.File.File == "" {
		return run, fmt.Errorf("%w in %s after mntr counted one", ErrNoSnapshot, p.dataDir())
	}
	run.ServerLongestHoldMS, run.ServerAppliesHeldMS = zkdSnapshotHold(p.logPath(), logFrom)
	return run, nil
}

type snapTimes struct{ count, sum int64 }

// snapshotTimes reads mntr's snapshottime summary, which both servers keep
// (Apache's ServerMetrics.SNAPSHOT_TIME, zkd's admin metrics).
func snapshotTimes(endpoint string) (snapTimes, error) {
	text, err := launch.FourLetterWord(endpoint, "mntr", 5*time.Second)
	if err != nil {
		return snapTimes{}, err
	}
	m := ops.ParseMntr(text)
	count, err1 := strconv.ParseInt(m["zk_cnt_snapshottime"], 10, 64)
	sum, err2 := strconv.ParseInt(m["zk_sum_snapshottime"], 10, 64)
	if err1 != nil || err2 != nil {
		return snapTimes{}, fmt.Errorf("bench: mntr of %s lacks zk_cnt_snapshottime or zk_sum_snapshottime", endpoint)
	}
	return snapTimes{count, sum}, nil
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// zkdSnapshotHold reads the first "snapshot taken" line zkd logged after
// offset: its longest_hold and applies_held (see docs/operations.md).
// Apache logs no such figure; it gets nil.
func zkdSnapshotHold(logPath string, offset int64) (longest, held *float64) {
	data, err := os.ReadFile(logPath)
	if err != nil || int64(len(data)) < offset {
		return nil, nil
	}
	for line := range strings.SplitSeq(string(data[offset:]), "\n") {
		if !strings.Contains(line, `msg="snapshot taken"`) {
			continue
		}
		return logDurationMS(line, "longest_hold="), logDurationMS(line, "applies_held=")
	}
	return nil, nil
}

func logDurationMS(line, key string) *float64 {
	_, rest, ok := strings.Cut(line, " "+key)
	if !ok {
		return nil
	}
	value, _, _ := strings.Cut(rest, " ")
	d, err := time.ParseDuration(strings.Trim(value, `"`))
	if err != nil {
		return nil
	}
	v := float64(d.Microseconds()) / 1000
	return &v
}

// sessionPhases measure a fresh server: idle sessions, watches and the
// storm, in that order, each after the previous one's sessions are closed.
func (s *scaler) sessionPhases(ctx context.Context, role string, sys *ScaleSystem) (err error) {
	p, err := s.launch(ctx, role, "sessions-"+role)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	targets := s.cfg.Watches / s.cfg.WatchSessions
	conns, err := openSessions(ctx, []string{p.endpoint()}, memoryLoadSessions, DefaultConfig().SessionTimeout)
	if err != nil {
		return err
	}
	err = loadZnodes(ctx, conns, 0, targets, payload(s.cfg.ValueSize, 2))
	closeSessions(conns)
	if err != nil {
		return err
	}
	timeout := DefaultConfig().SessionTimeout

	// Idle sessions.
	f := &sys.Sessions
	f.Count = s.cfg.Sessions
	sleepCtx(ctx, s.cfg.Settle)
	if f.Before, err = p.memory(); err != nil {
		return err
	}
	t0 := time.Now()
	idle, err := openRawSessions(ctx, p.endpoint(), s.cfg.Sessions, 32, timeout)
	if err != nil {
		return fmt.Errorf("open %d idle sessions: %w", s.cfg.Sessions, err)
	}
	f.OpenPerSecond = float64(s.cfg.Sessions) / time.Since(t0).Seconds()
	sleepCtx(ctx, s.cfg.Settle)
	f.After, err = p.memory()
	closeRawSessions(idle)
	if err != nil {
		return err
	}
	f.BytesPerSession = float64(f.After.RSSBytes-f.Before.RSSBytes) / float64(f.Count)
	s.logf("scale %-9s %d idle sessions (opened at %.0f/s): RSS %s → %s, %.0f bytes each",
		role, f.Count, f.OpenPerSecond, mib(f.Before.RSSBytes), mib(f.After.RSSBytes), f.BytesPerSession)

	// Watches: every watch session on the same znodes.
	w := &sys.Watches
	w.Count, w.Sessions, w.Znodes = s.cfg.Watches, s.cfg.WatchSessions, targets
	watchers, err := openRawSessions(ctx, p.endpoint(), s.cfg.WatchSessions, s.cfg.WatchSessions, timeout)
	if err != nil {
		return err
	}
	defer closeRawSessions(watchers)
	sleepCtx(ctx, s.cfg.Settle)
	if w.Before, err = p.memory(); err != nil {
		return err
	}
	paths := make([]string, targets)
	for i := range paths {
		paths[i] = memoryPath(i)
	}
	t0 = time.Now()
	errs := make([]error, len(watchers))
	var wg sync.WaitGroup
	for i, ws := range watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ws.watchAll(ctx, paths)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("set watches: %w", err)
	}
	w.SetPerSecond = float64(w.Count) / time.Since(t0).Seconds()
	w.Reported = totalWatches(p.endpoint())
	sleepCtx(ctx, s.cfg.Settle)
	if w.After, err = p.memory(); err != nil {
		return err
	}
	w.BytesPerWatch = float64(w.After.RSSBytes-w.Before.RSSBytes) / float64(w.Count)
	closeRawSessions(watchers)
	s.logf("scale %-9s %d watches (%d sessions × %d znodes, server counts %d): RSS %s → %s, %.0f bytes each",
		role, w.Count, w.Sessions, w.Znodes, w.Reported, mib(w.Before.RSSBytes), mib(w.After.RSSBytes), w.BytesPerWatch)

	if sys.Storm, err = s.storm(ctx, p, keySpace{n: targets, path: memoryPath}); err != nil {
		return err
	}
	st := sys.Storm
	s.logf("scale %-9s storm %d/s for %.0f s: %d of %d sessions established (connect p99 %.1f ms); open sessions' p99 %.2f ms before, %.2f ms during",
		role, st.Rate, st.DurationS, st.Established, st.Attempted, st.ConnectP99US/1000, st.Before.P99US/1000, st.During.P99US/1000)
	if !p.running() {
		return fmt.Errorf("%w: log %s:\n%s", ErrServerExited, p.logPath(), p.logTail())
	}
	return nil
}

// totalWatches is wchs's "Total watches:", or -1.
func totalWatches(endpoint string) int64 {
	text, err := launch.FourLetterWord(endpoint, "wchs", 5*time.Second)
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Total watches:"); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// storm runs the mixed workload on StormClients sessions for StormDuration
// alone, then again while new sessions arrive at StormRate a second.
func (s *scaler) storm(ctx context.Context, p *serverProcess, keys keySpace) (StormFigures, error) {
	f := StormFigures{Rate: s.cfg.StormRate, DurationS: s.cfg.StormDuration.Seconds(), Attempted: s.cfg.stormSessions()}
	cfg := DefaultConfig()
	cfg.Endpoints = []string{p.endpoint()}
	cfg.Workload, cfg.Clients, cfg.Duration, cfg.ValueSize = WorkloadMixed, s.cfg.StormClients, s.cfg.StormDuration, s.cfg.ValueSize
	// The same sessions before and during: they are the connections
	// already open when the storm comes.
	load, err := openKeyed(ctx, cfg, keys)
	if err != nil {
		return f, err
	}
	defer load.close()
	f.Before = loadFigures(load.drive(ctx))

	timeout := DefaultConfig().SessionTimeout
	var (
		mu       sync.Mutex
		opened   []*rawSession
		connect  = newLatencyHistogram()
		failures []string
		stormWG  sync.WaitGroup
	)
	defer func() { closeRawSessions(opened) }()
	interval := time.Second / time.Duration(s.cfg.StormRate)
	stormDone := make(chan struct{})
	go func() {
		defer close(stormDone)
		start := time.Now()
		for k := range f.Attempted {
			due := start.Add(time.Duration(k) * interval)
			if d := time.Until(due); d > 0 && !sleepCtx(ctx, d) {
				break
			}
			stormWG.Add(1)
			go func() {
				defer stormWG.Done()
				rs, err := dialRawSession(ctx, p.endpoint(), timeout, s.cfg.StormConnectTimeout)
				took := time.Since(due)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if len(failures) < maxErrorSamples && !slices.Contains(failures, err.Error()) {
						failures = append(failures, err.Error())
					}
					return
				}
				opened = append(opened, rs)
				connect.record(took)
			}()
		}
		stormWG.Wait()
	}()
	during := load.drive(ctx)
	<-stormDone
	if err := ctx.Err(); err != nil {
		return f, err
	}
	f.During = loadFigures(during)
	f.Established = len(opened)
	f.FailureSamples = failures
	sum := connect.summary()
	f.ConnectP50US, f.ConnectP99US, f.ConnectMaxUS = sum.P50US, sum.P99US, sum.MaxUS
	return f, nil
}

// writeFiles writes scale.json, scale.md and scale.svg.
func (r *ScaleReport) writeFiles(dir string) error {
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scale.json"), data.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scale.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "scale.svg"), r.SVG(), 0o644)
}

// fileLimitMargin is the open files left for everything but the sessions
// of the largest phase: the writers' and loaders' sessions, four-letter
// words, the servers' logs.
const fileLimitMargin = 256

// checkFileLimit refuses a run whose idle sessions or storm would run out
// of file descriptors in the load generator, which would read as sessions
// the server did not establish. (Go has already raised the soft limit to
// the hard one.)
func checkFileLimit(sessions int) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return nil
	}
	if uint64(sessions+fileLimitMargin) > l.Cur {
		return fmt.Errorf("%w: %d sessions at once need %d open files; the limit is %d (ulimit -n)",
			ErrScaleConfig, sessions, sessions+fileLimitMargin, l.Cur)
	}
	return nil
}
