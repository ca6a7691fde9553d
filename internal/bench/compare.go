package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

var ErrCompareConfig = errors.New("bench: invalid compare configuration")

// The roles of a comparison. In a self-test zkd's is Apache ZooKeeper too;
// the ceiling (fixed replies, see Ceiling) runs only when asked for.
const (
	roleZkd       = "zkd"
	roleZooKeeper = "zookeeper"
	roleCeiling   = "ceiling"
	// roleDurableCeiling is the ceiling with --durable: the limit of a
	// server that fdatasyncs every write before acknowledging it.
	roleDurableCeiling = "durable-ceiling"
)

// CompareSchema names the layout of compare.json.
const CompareSchema = "zkd-bench-compare/1"

// How long a freshly started server may take to acknowledge its first
// write, and a restarted one holding the memory load.
const (
	startTimeout   = 60 * time.Second
	restartTimeout = 5 * time.Minute
)

// memoryLoadSessions and the fan-out of memory-load parents: 100 znodes per
// 10,000 keeps every parent's child list modest.
const (
	memoryLoadSessions = 32
	memoryNodesPerDir  = 10_000
	memoryRoot         = benchRoot + "/mem"
)

// CompareConfig is one side-by-side comparison.
type CompareConfig struct {
	Zkd       ServerSpec
	ZooKeeper ServerSpec
	// SelfTest marks a comparison whose zkd side is Apache ZooKeeper too,
	// which checks the harness: every ratio should be close to 1.
	SelfTest bool
	// Ceiling, when its Argv is set, runs `zkd bench ceiling` in the same
	// alternation as the two servers (throughput runs only: it has no
	// start-up, memory or data to measure), so that every row shows the
	// limit of the machine and client beside them.
	Ceiling ServerSpec
	// DurableCeiling, when its Argv is set (DurableCeilingSpec), runs the
	// ceiling with --durable beside the plain one: the limit of a server
	// that fdatasyncs every write before acknowledging it. It needs Ceiling.
	DurableCeiling ServerSpec

	Workloads   []Workload
	Clients     []int
	Duration    time.Duration // timed phase of every run
	Warmup      time.Duration // untimed mixed load on each server first
	Repeats     int
	ReadRatio   float64
	ValueSize   int
	Prepopulate int

	StartupRepeats int
	// Ensemble is the number of servers of each kind: 1 runs one standalone
	// server of each, more an ensemble of each on loopback (every member a
	// voter, Apache's as QuorumPeerMain), with the sessions of every run
	// spread over its members and CPU counted for all of them together.
	Ensemble int
	// Failovers is the number of kill -9 rounds per ensemble in the
	// failover phase (ensembles only; 0 skips the phase); FailoverWarmup is
	// how long the writers write before each kill.
	Failovers      int
	FailoverWarmup time.Duration
	// Memory enables the memory phase: RSS idle and after each count in
	// MemoryNodes znodes of MemoryValueSize bytes, then the snapshot.
	Memory          bool
	MemoryNodes     []int
	MemoryValueSize int
	// MemorySettle is the pause between the last acknowledged write and a
	// memory reading, so that it sees the server settled, not mid-burst.
	MemorySettle time.Duration

	OutDir      string // compare.json, summary.md, throughput.svg
	WorkDir     string // the servers' directories; a temporary one if empty
	KeepWorkDir bool
	// PortBase: standalone, ZooKeeper listens on PortBase and zkd on
	// PortBase+1; ensembles of n take 6n ports from PortBase (see peers).
	PortBase int
	// Pin runs the load generator on the first allowed CPU and the servers
	// on the others, as a client on its own machine would not take CPU
	// from the server it measures.
	Pin bool
	Log io.Writer
}

// DefaultCompareConfig is the full comparison that produces published
// figures, minus the server specs.
func DefaultCompareConfig() CompareConfig {
	return CompareConfig{
		Workloads:       slices.Clone(AllWorkloads),
		Clients:         []int{1, 8, 16, 32, 64},
		Duration:        10 * time.Second,
		Warmup:          10 * time.Second,
		Repeats:         3,
		ReadRatio:       0.9,
		ValueSize:       256,
		Prepopulate:     10_000,
		StartupRepeats:  5,
		Ensemble:        1,
		Failovers:       3,
		FailoverWarmup:  2 * time.Second,
		MemoryNodes:     []int{100_000, 1_000_000},
		MemoryValueSize: 100,
		MemorySettle:    2 * time.Second,
		OutDir:          "bench-out",
		PortBase:        22810,
		Log:             io.Discard,
	}
}

// The workloads and client counts an ensemble comparison measures by
// default: writes of both kinds, reads and the mix, at the client counts an
// ensemble serves.
var (
	EnsembleWorkloads = []Workload{WorkloadCreate, WorkloadSet, WorkloadGet, WorkloadMixed}
	EnsembleClients   = []int{16, 32, 64}
)

// DefaultEnsembleCompareConfig is the full comparison of two 3-server
// ensembles, minus the server specs.
func DefaultEnsembleCompareConfig() CompareConfig {
	c := DefaultCompareConfig()
	c.Ensemble = 3
	c.Workloads = slices.Clone(EnsembleWorkloads)
	c.Clients = slices.Clone(EnsembleClients)
	c.StartupRepeats = 3
	return c
}

// ShortEnsembleCompareConfig is the CI setting for ensembles: every phase
// once, at 16 clients.
func ShortEnsembleCompareConfig() CompareConfig {
	c := DefaultEnsembleCompareConfig()
	c.Clients = []int{16}
	c.Duration = time.Second
	c.Warmup = time.Second
	c.Repeats = 1
	c.Prepopulate = 100
	c.StartupRepeats = 1
	c.Failovers = 1
	c.FailoverWarmup = 500 * time.Millisecond
	return c
}

// ShortCompareConfig is the CI setting: every code path, in about a minute.
func ShortCompareConfig() CompareConfig {
	c := DefaultCompareConfig()
	c.Clients = []int{1, 8}
	c.Duration = time.Second
	c.Warmup = time.Second
	c.Repeats = 2
	c.Prepopulate = 100
	c.StartupRepeats = 2
	c.Memory = true
	c.MemoryNodes = []int{2_000, 10_000}
	c.MemorySettle = 500 * time.Millisecond
	return c
}

func (c CompareConfig) validate() error {
	switch {
	case c.Zkd.Argv == nil || c.ZooKeeper.Argv == nil:
		return fmt.Errorf("%w: both server commands are needed", ErrCompareConfig)
	case len(c.Workloads) == 0:
		return fmt.Errorf("%w: no workloads", ErrCompareConfig)
	case len(c.Clients) == 0:
		return fmt.Errorf("%w: no client counts", ErrCompareConfig)
	case c.Repeats < 1 || c.StartupRepeats < 1:
		return fmt.Errorf("%w: repeats must be at least 1", ErrCompareConfig)
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration must be positive", ErrCompareConfig)
	case c.Ensemble < 1 || (c.Ensemble > 1 && c.Ensemble%2 == 0):
		return fmt.Errorf("%w: ensemble of %d servers (want 1 for standalone servers, or an odd count)", ErrCompareConfig, c.Ensemble)
	case c.durableCeiling() && !c.ceiling():
		return fmt.Errorf("%w: the durable ceiling runs beside the plain one; set both", ErrCompareConfig)
	case c.Ensemble > 1 && c.ceiling():
		return fmt.Errorf("%w: the ceiling stands beside standalone servers; not with an ensemble", ErrCompareConfig)
	case c.Ensemble > 1 && c.Memory:
		return fmt.Errorf("%w: the memory phase measures standalone servers; not with an ensemble", ErrCompareConfig)
	case c.Failovers < 0:
		return fmt.Errorf("%w: failovers must not be negative", ErrCompareConfig)
	case c.PortBase < 1 || c.PortBase+c.portSpan()-1 > 65535:
		return fmt.Errorf("%w: port base %d (%d ports needed)", ErrCompareConfig, c.PortBase, c.portSpan())
	case c.OutDir == "":
		return fmt.Errorf("%w: no output directory", ErrCompareConfig)
	case c.Memory && len(c.MemoryNodes) == 0:
		return fmt.Errorf("%w: memory phase without node counts", ErrCompareConfig)
	}
	for _, n := range c.Clients {
		if n < 1 {
			return fmt.Errorf("%w: client count %d", ErrCompareConfig, n)
		}
	}
	for _, n := range c.MemoryNodes {
		if n < 1 {
			return fmt.Errorf("%w: memory node count %d", ErrCompareConfig, n)
		}
	}
	return c.runConfig(c.Workloads[0], c.Clients[0]).Validate()
}

// portSpan is how many ports from PortBase the comparison listens on.
func (c CompareConfig) portSpan() int {
	switch {
	case c.Ensemble > 1:
		return 6 * c.Ensemble
	case c.durableCeiling():
		return 4
	case c.ceiling():
		return 3
	}
	return 2
}

// spec is how role's server starts.
func (c CompareConfig) spec(role string) ServerSpec {
	switch role {
	case roleZkd:
		return c.Zkd
	case roleCeiling:
		return c.Ceiling
	case roleDurableCeiling:
		return c.DurableCeiling
	}
	return c.ZooKeeper
}

// commands is how each role measured is started, for the report.
func (c CompareConfig) commands() map[string][]string {
	cmds := map[string][]string{}
	for _, role := range c.roles() {
		cmds[role] = c.spec(role).argv(c.Ensemble > 1 && !isCeiling(role), "<zoo.cfg>")
	}
	return cmds
}

func (c CompareConfig) ceiling() bool        { return c.Ceiling.Argv != nil }
func (c CompareConfig) durableCeiling() bool { return c.DurableCeiling.Argv != nil }

// isCeiling says whether role is one of the fixed-reply servers.
func isCeiling(role string) bool { return role == roleCeiling || role == roleDurableCeiling }

// roles are the systems measured, in the order of a run's first round.
func (c CompareConfig) roles() []string {
	switch {
	case c.durableCeiling():
		return []string{roleZkd, roleZooKeeper, roleCeiling, roleDurableCeiling}
	case c.ceiling():
		return []string{roleZkd, roleZooKeeper, roleCeiling}
	}
	return []string{roleZkd, roleZooKeeper}
}

// peers lays out role's ensemble of n on loopback: ZooKeeper's client ports
// are PortBase…+n-1 and zkd's the n after; the quorum ports follow from
// PortBase+2n (ZooKeeper's, then zkd's), the election ports from
// PortBase+4n.
func (c CompareConfig) peers(role string) []peer {
	n := c.Ensemble
	off := 0
	if role == roleZkd {
		off = n
	}
	out := make([]peer, n)
	for i := range out {
		out[i] = peer{id: i + 1, client: c.PortBase + off + i, quorum: c.PortBase + 2*n + off + i, election: c.PortBase + 4*n + off + i}
	}
	return out
}

func (c CompareConfig) runConfig(w Workload, clients int) Config {
	cfg := DefaultConfig()
	cfg.Clients = clients
	cfg.Workload = w
	cfg.ReadRatio = c.ReadRatio
	cfg.ValueSize = c.ValueSize
	cfg.Duration = c.Duration
	cfg.Prepopulate = c.Prepopulate
	return cfg
}

// CompareReport is everything a comparison measured; compare.json holds it.
type CompareReport struct {
	Schema   string          `json:"schema"`
	SelfTest bool            `json:"selftest"`
	Machine  MachineInfo     `json:"machine"`
	Settings CompareSettings `json:"settings"`
	// Commands are the argv each role was started with.
	Commands   map[string][]string `json:"commands"`
	Versions   map[string]string   `json:"versions"`
	Runs       []RunRecord         `json:"runs"`
	Throughput []ThroughputRow     `json:"throughput"`
	Startup    StartupReport       `json:"startup"`
	Memory     []MemoryReport      `json:"memory,omitempty"`
	// Failover is the ensembles' kill -9 phase.
	Failover *FailoverReport `json:"failover,omitempty"`
	// Targets judge the ensembles' ratios against issue 9's targets.
	Targets  []TargetCheck `json:"targets,omitempty"`
	ElapsedS float64       `json:"elapsed_s"`
}

// CompareSettings echoes the settings in units a reader can check.
type CompareSettings struct {
	Workloads      []Workload `json:"workloads"`
	Clients        []int      `json:"clients"`
	DurationS      float64    `json:"duration_s"`
	WarmupS        float64    `json:"warmup_s"`
	Repeats        int        `json:"repeats"`
	ReadRatio      float64    `json:"read_ratio"`
	ValueSize      int        `json:"value_size"`
	Prepopulate    int        `json:"prepopulate"`
	StartupRepeats int        `json:"startup_repeats"`
	// Ensemble is the servers of each kind (absent: 1, standalone);
	// Failovers the kill -9 rounds of each ensemble.
	Ensemble        int    `json:"ensemble,omitempty"`
	Failovers       int    `json:"failovers,omitempty"`
	MemoryNodes     []int  `json:"memory_nodes,omitempty"`
	MemoryValueSize int    `json:"memory_value_size,omitempty"`
	ZooCfg          string `json:"zoo_cfg"`
	// Pinning is set when the client and the servers ran on separate CPUs.
	Pinning *CPUPinning `json:"pinning,omitempty"`
	// Ceiling is set when `zkd bench ceiling` ran beside the servers;
	// DurableCeiling when `zkd bench ceiling --durable` (writes fdatasynced
	// before their replies) ran beside it too.
	Ceiling        bool `json:"ceiling,omitempty"`
	DurableCeiling bool `json:"durable_ceiling,omitempty"`
}

// CPUPinning says which CPUs the load generator and the servers ran on.
type CPUPinning struct {
	Client  string `json:"client_cpus"`
	Servers string `json:"server_cpus"`
}

// RunRecord is one timed run against one server.
type RunRecord struct {
	System string  `json:"system"`
	Repeat int     `json:"repeat"`
	Result *Result `json:"result"`
	// CPU seconds (user + system) spent during the timed phase by the
	// server process (an ensemble's members together) and by the load
	// generator; 0 when not measured.
	ServerCPUSeconds float64 `json:"server_cpu_s,omitempty"`
	ClientCPUSeconds float64 `json:"client_cpu_s,omitempty"`
}

// SystemFigures are one server's figures for a workload and client count.
type SystemFigures struct {
	OpsPerSecond Spread `json:"ops_per_second"`
	P99US        Spread `json:"p99_us"`
	Errors       int64  `json:"errors"`
	// ServerCPUUSPerOp is the server's CPU time per acknowledged request
	// (user + system, all threads), ClientCPUUSPerOp the load generator's.
	ServerCPUUSPerOp Spread `json:"server_cpu_us_per_op"`
	ClientCPUUSPerOp Spread `json:"client_cpu_us_per_op"`
}

// ThroughputRow compares the servers on one workload and client count.
// Ratio divides zkd by ZooKeeper run by run: runs of a repeat were adjacent
// in time, so a pair shares the machine's state of the moment.
type ThroughputRow struct {
	Workload  Workload      `json:"workload"`
	Clients   int           `json:"clients"`
	Zkd       SystemFigures `json:"zkd"`
	ZooKeeper SystemFigures `json:"zookeeper"`
	Ratio     Spread        `json:"ratio"`
	P99Ratio  Spread        `json:"p99_ratio"`
	// Ceiling is the fixed-reply server's figures, when it ran;
	// ZkdOfCeiling and ZooKeeperOfCeiling are each server's ops/s as a
	// fraction of the ceiling's, taken run by run within a repeat.
	Ceiling            *SystemFigures `json:"ceiling,omitempty"`
	ZkdOfCeiling       *Spread        `json:"zkd_of_ceiling,omitempty"`
	ZooKeeperOfCeiling *Spread        `json:"zookeeper_of_ceiling,omitempty"`
	// DurableCeiling and the fractions of it are the same for the durable
	// ceiling, when it ran.
	DurableCeiling            *SystemFigures `json:"durable_ceiling,omitempty"`
	ZkdOfDurableCeiling       *Spread        `json:"zkd_of_durable_ceiling,omitempty"`
	ZooKeeperOfDurableCeiling *Spread        `json:"zookeeper_of_durable_ceiling,omitempty"`
}

// StartupReport is the time from exec to the first acknowledged write on an
// empty data directory, in milliseconds.
type StartupReport struct {
	ZkdMS       Spread `json:"zkd_ms"`
	ZooKeeperMS Spread `json:"zookeeper_ms"`
	Ratio       Spread `json:"ratio"`
}

// MemoryReport is one server's memory phase.
type MemoryReport struct {
	System string      `json:"system"`
	Idle   MemoryUsage `json:"idle"`
	Loaded []LoadPoint `json:"loaded"`
	// Snapshot is the newest snapshot after a restart with the largest
	// load; CoversLoad says whether its zxid reaches the last write before
	// the restart (taken from srvr).
	Snapshot   SnapshotInfo `json:"snapshot"`
	CoversLoad bool         `json:"covers_load"`
	LastZxid   string       `json:"last_zxid"`
	NodeCount  int64        `json:"node_count"`
	// NodeCountAfterRestart is srvr's node count after the restart; below
	// NodeCount, the server lost acknowledged writes.
	NodeCountAfterRestart int64 `json:"node_count_after_restart"`
	// RestartMS is exec to first acknowledged write with the load on disk.
	RestartMS        float64     `json:"restart_ms"`
	AfterRestart     MemoryUsage `json:"after_restart"`
	DataDirBytes     int64       `json:"data_dir_bytes"`
	DataDirFileBytes int64       `json:"data_dir_file_bytes"`
}

// LoadPoint is memory after loading Znodes znodes.
type LoadPoint struct {
	Znodes        int         `json:"znodes"`
	Memory        MemoryUsage `json:"memory"`
	LoadPerSecond float64     `json:"load_znodes_per_second"`
}

// makeWorkDir is the servers' data directory: dir (created if missing), or
// a new temporary one; cleanup removes it unless keep.
func makeWorkDir(dir, tempPrefix string, keep bool) (abs string, cleanup func(), err error) {
	if dir == "" {
		if dir, err = os.MkdirTemp("", tempPrefix); err != nil {
			return "", nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	cleanup = func() {}
	if !keep {
		cleanup = func() { os.RemoveAll(dir) }
	}
	abs, _ = filepath.Abs(dir)
	return abs, cleanup, nil
}

// Compare runs the comparison and writes its files to cfg.OutDir.
func Compare(ctx context.Context, cfg CompareConfig) (*CompareReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	began := time.Now()
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	workDir, cleanup, err := makeWorkDir(cfg.WorkDir, "zkd-bench-", cfg.KeepWorkDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	javaBin := cfg.ZooKeeper.Argv("")[0]
	var pinning *CPUPinning
	if cfg.Pin {
		all, err := allowedCPUs()
		if err != nil {
			return nil, err
		}
		client, servers, err := splitCPUs()
		if err != nil {
			return nil, err
		}
		if cfg.Zkd, err = pinnedSpec(cfg.Zkd, servers); err != nil {
			return nil, err
		}
		if cfg.ZooKeeper, err = pinnedSpec(cfg.ZooKeeper, servers); err != nil {
			return nil, err
		}
		if cfg.ceiling() {
			if cfg.Ceiling, err = pinnedSpec(cfg.Ceiling, servers); err != nil {
				return nil, err
			}
		}
		if cfg.durableCeiling() {
			if cfg.DurableCeiling, err = pinnedSpec(cfg.DurableCeiling, servers); err != nil {
				return nil, err
			}
		}
		if err := pinProcess(client); err != nil {
			return nil, err
		}
		defer pinProcess(all)
		pinning = &CPUPinning{Client: cpuList(client), Servers: cpuList(servers)}
	}

	c := &comparison{cfg: cfg, workDir: workDir, report: &CompareReport{
		Schema:   CompareSchema,
		SelfTest: cfg.SelfTest,
		Machine:  describeMachine(workDir),
		Settings: CompareSettings{
			Workloads: cfg.Workloads, Clients: cfg.Clients,
			DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(),
			Repeats: cfg.Repeats, ReadRatio: cfg.ReadRatio, ValueSize: cfg.ValueSize,
			Prepopulate: cfg.Prepopulate, StartupRepeats: cfg.StartupRepeats,
			ZooCfg: zooCfg("<dataDir>", "<port>"), Pinning: pinning,
		},
		Commands: cfg.commands(),
		Versions: map[string]string{},
	}}
	c.report.Settings.Ceiling = cfg.ceiling()
	c.report.Settings.DurableCeiling = cfg.durableCeiling()
	if cfg.Memory {
		c.report.Settings.MemoryNodes = cfg.MemoryNodes
		c.report.Settings.MemoryValueSize = cfg.MemoryValueSize
	}
	if cfg.Ensemble > 1 {
		c.report.Settings.Ensemble, c.report.Settings.Failovers = cfg.Ensemble, cfg.Failovers
		c.report.Settings.ZooCfg = ensembleZooCfg("<dataDir>", "<port>", cfg.peers(roleZkd))
	}
	c.report.Machine.Java = javaVersion(javaBin)

	if err := c.startupPhase(ctx); err != nil {
		return nil, err
	}
	if err := c.loadPhases(ctx); err != nil {
		return nil, err
	}
	if cfg.Ensemble > 1 {
		c.report.Targets = c.report.targetChecks()
	}
	if cfg.Memory {
		if err := c.memoryPhase(ctx); err != nil {
			return nil, err
		}
	}
	c.report.ElapsedS = time.Since(began).Seconds()
	if err := c.writeOutputs(); err != nil {
		return nil, err
	}
	return c.report, nil
}

type comparison struct {
	cfg     CompareConfig
	workDir string
	report  *CompareReport
}

func (c *comparison) spec(role string) ServerSpec { return c.cfg.spec(role) }

func (c *comparison) port(role string) int {
	switch role {
	case roleZkd:
		return c.cfg.PortBase + 1
	case roleCeiling:
		return c.cfg.PortBase + 2
	case roleDurableCeiling:
		return c.cfg.PortBase + 3
	}
	return c.cfg.PortBase
}

// newCluster lays out role's servers under dir: one standalone server, or
// an ensemble with a directory per member.
func (c *comparison) newCluster(role, dir string) (*cluster, error) {
	cl := &cluster{role: role}
	if c.cfg.Ensemble <= 1 {
		p, err := newServerProcess(c.spec(role), dir, c.port(role))
		if err != nil {
			return nil, err
		}
		cl.members = []*serverProcess{p}
		return cl, nil
	}
	peers := c.cfg.peers(role)
	for _, me := range peers {
		p, err := newEnsembleMember(c.spec(role), filepath.Join(dir, fmt.Sprintf("server%d", me.id)), me, peers)
		if err != nil {
			return nil, err
		}
		cl.members = append(cl.members, p)
	}
	return cl, nil
}

// order alternates which server goes first, so that drift in the machine
// (page cache, CPU frequency, other tenants) falls on both.
func order(flip bool) []string {
	if flip {
		return []string{roleZooKeeper, roleZkd}
	}
	return []string{roleZkd, roleZooKeeper}
}

// rotation is roles started at the k-th (mod their count): the same
// alternation as order for two roles, and for three each goes first, second
// and third in turn.
func rotation(roles []string, k int) []string {
	out := make([]string, len(roles))
	for i := range roles {
		out[i] = roles[(i+k)%len(roles)]
	}
	return out
}

func (c *comparison) logf(format string, args ...any) {
	fmt.Fprintf(c.cfg.Log, format+"\n", args...)
}

// launch starts role's server, or ensemble, in a fresh directory and
// waits for its first acknowledged write (and an ensemble whole).
func (c *comparison) launch(ctx context.Context, role, dirName string) (*cluster, time.Duration, error) {
	dir := filepath.Join(c.workDir, dirName)
	if err := os.RemoveAll(dir); err != nil {
		return nil, 0, err
	}
	cl, err := c.newCluster(role, dir)
	if err != nil {
		return nil, 0, err
	}
	if err := cl.start(); err != nil {
		return nil, 0, err
	}
	ready, err := cl.awaitFirstWrite(ctx, startTimeout)
	if err != nil {
		_ = cl.stop()
		return nil, 0, fmt.Errorf("%s: %w", role, err)
	}
	if _, ok := c.report.Versions[role]; !ok && !isCeiling(role) { // the ceiling answers no srvr
		c.report.Versions[role] = serverVersion(ctx, cl.members[0].endpoint())
	}
	return cl, ready, nil
}

func (c *comparison) startupPhase(ctx context.Context) error {
	times := map[string][]float64{}
	for i := range c.cfg.StartupRepeats {
		for _, role := range order(i%2 == 1) {
			cl, ready, err := c.launch(ctx, role, fmt.Sprintf("startup-%s-%d", role, i))
			if err != nil {
				return err
			}
			if err := cl.stop(); err != nil {
				return err
			}
			took := ms(ready)
			times[role] = append(times[role], took)
			c.logf("startup %d/%d %-9s exec to first acknowledged write %8.1f ms%s", i+1, c.cfg.StartupRepeats, role, took, c.startupNote())
		}
	}
	c.report.Startup = StartupReport{
		ZkdMS:       spreadOf(times[roleZkd]),
		ZooKeeperMS: spreadOf(times[roleZooKeeper]),
		Ratio:       spreadOf(ratios(times[roleZkd], times[roleZooKeeper])),
	}
	return nil
}

// loadPhases starts both servers (or ensembles) once for the throughput
// runs and, for ensembles, the failover phase.
func (c *comparison) loadPhases(ctx context.Context) (err error) {
	servers := map[string]*cluster{}
	defer func() {
		for _, cl := range servers {
			err = errors.Join(err, cl.stop())
		}
	}()
	for _, role := range c.cfg.roles() {
		cl, _, err := c.launch(ctx, role, "throughput-"+role)
		if err != nil {
			return err
		}
		servers[role] = cl
	}
	if err := c.throughputPhase(ctx, servers); err != nil {
		return err
	}
	if c.cfg.Ensemble > 1 && c.cfg.Failovers > 0 {
		return c.failoverPhase(ctx, servers)
	}
	return nil
}

func (c *comparison) throughputPhase(ctx context.Context, servers map[string]*cluster) error {
	if c.cfg.Warmup > 0 {
		for _, role := range c.cfg.roles() {
			cfg := c.runConfig(WorkloadMixed, slices.Max(c.cfg.Clients), servers[role])
			cfg.Duration = c.cfg.Warmup
			res, err := Run(ctx, cfg, Options{})
			if err != nil {
				return fmt.Errorf("%s warm-up: %w", role, err)
			}
			c.logf("warm-up   %-15s %9.0f ops/s (not reported)", role, res.OpsPerSecond)
		}
	}
	total := c.cfg.Repeats * len(c.cfg.Workloads) * len(c.cfg.Clients) * len(c.cfg.roles())
	done := 0
	for r := range c.cfg.Repeats {
		for wi, w := range c.cfg.Workloads {
			for ci, clients := range c.cfg.Clients {
				for _, role := range rotation(c.cfg.roles(), r+wi+ci) {
					var cpu cpuMeter
					res, err := Run(ctx, c.runConfig(w, clients, servers[role]),
						Options{TimedPhase: cpu.timedPhase(servers[role].pids()...)})
					if err != nil {
						return fmt.Errorf("%s %s with %d clients: %w", role, w, clients, err)
					}
					done++
					c.logf("[%d/%d] %-12s clients=%-3d repeat=%d %-15s %9.0f ops/s  p99 %7.3f ms  errors %d  CPU/op server %.1f µs client %.1f µs",
						done, total, w, clients, r+1, role, res.OpsPerSecond, res.Latency.P99US/1000, res.Errors,
						perOpUS(cpu.server, res.Ops), perOpUS(cpu.client, res.Ops))
					c.report.Runs = append(c.report.Runs, RunRecord{System: role, Repeat: r, Result: res,
						ServerCPUSeconds: cpu.server, ClientCPUSeconds: cpu.client})
					if gone := servers[role].exited(); gone != "" {
						return fmt.Errorf("%w during %s: %s", ErrServerExited, w, gone)
					}
				}
			}
		}
	}
	c.report.Throughput = summarizeThroughput(c.report.Runs, c.cfg.Workloads, c.cfg.Clients, c.cfg.roles())
	return nil
}

func (c *comparison) runConfig(w Workload, clients int, cl *cluster) Config {
	cfg := c.cfg.runConfig(w, clients)
	cfg.Endpoints = cl.endpoints()
	return cfg
}

// summarizeThroughput pairs each repeat's runs of the roles: zkd's and
// ZooKeeper's, and the ceiling's when it ran.
func summarizeThroughput(runs []RunRecord, workloads []Workload, clients []int, roles []string) []ThroughputRow {
	var rows []ThroughputRow
	for _, w := range workloads {
		for _, n := range clients {
			ops := map[string][]float64{}
			p99 := map[string][]float64{}
			serverCPU := map[string][]float64{}
			clientCPU := map[string][]float64{}
			errs := map[string]int64{}
			// Index by repeat so that pairs line up whatever the run order.
			byRepeat := map[string]map[int]RunRecord{}
			for _, role := range roles {
				byRepeat[role] = map[int]RunRecord{}
			}
			for _, run := range runs {
				if run.Result.Workload == w && run.Result.Clients == n && byRepeat[run.System] != nil {
					byRepeat[run.System][run.Repeat] = run
				}
			}
			repeats := make([]int, 0, len(byRepeat[roleZkd]))
		repeat:
			for r := range byRepeat[roleZkd] {
				for _, role := range roles {
					if _, ok := byRepeat[role][r]; !ok {
						continue repeat
					}
				}
				repeats = append(repeats, r)
			}
			slices.Sort(repeats)
			for _, r := range repeats {
				for _, role := range roles {
					run := byRepeat[role][r]
					res := run.Result
					ops[role] = append(ops[role], res.OpsPerSecond)
					p99[role] = append(p99[role], res.Latency.P99US)
					errs[role] += res.Errors
					if run.ClientCPUSeconds > 0 { // measured (the server's 10 ms ticks may read 0)
						serverCPU[role] = append(serverCPU[role], perOpUS(run.ServerCPUSeconds, res.Ops))
						clientCPU[role] = append(clientCPU[role], perOpUS(run.ClientCPUSeconds, res.Ops))
					}
				}
			}
			if len(repeats) == 0 {
				continue
			}
			figures := func(role string) SystemFigures {
				return SystemFigures{OpsPerSecond: spreadOf(ops[role]), P99US: spreadOf(p99[role]), Errors: errs[role],
					ServerCPUUSPerOp: spreadOf(serverCPU[role]), ClientCPUUSPerOp: spreadOf(clientCPU[role])}
			}
			row := ThroughputRow{
				Workload:  w,
				Clients:   n,
				Zkd:       figures(roleZkd),
				ZooKeeper: figures(roleZooKeeper),
				Ratio:     spreadOf(ratios(ops[roleZkd], ops[roleZooKeeper])),
				P99Ratio:  spreadOf(ratios(p99[roleZkd], p99[roleZooKeeper])),
			}
			// A limit's figures and each server's fraction of it, when it ran.
			limit := func(role string) (*SystemFigures, *Spread, *Spread) {
				if !slices.Contains(roles, role) {
					return nil, nil, nil
				}
				f := figures(role)
				zkdOf := spreadOf(ratios(ops[roleZkd], ops[role]))
				zkOf := spreadOf(ratios(ops[roleZooKeeper], ops[role]))
				return &f, &zkdOf, &zkOf
			}
			row.Ceiling, row.ZkdOfCeiling, row.ZooKeeperOfCeiling = limit(roleCeiling)
			row.DurableCeiling, row.ZkdOfDurableCeiling, row.ZooKeeperOfDurableCeiling = limit(roleDurableCeiling)
			rows = append(rows, row)
		}
	}
	return rows
}

func (c *comparison) memoryPhase(ctx context.Context) error {
	targets := slices.Clone(c.cfg.MemoryNodes)
	slices.Sort(targets)
	targets = slices.Compact(targets)
	for _, role := range order(false) {
		rep, err := c.measureMemory(ctx, role, targets)
		if err != nil {
			return fmt.Errorf("%s memory: %w", role, err)
		}
		c.report.Memory = append(c.report.Memory, *rep)
	}
	return nil
}

func (c *comparison) measureMemory(ctx context.Context, role string, targets []int) (rep *MemoryReport, err error) {
	cl, _, err := c.launch(ctx, role, "memory-"+role)
	if err != nil {
		return nil, err
	}
	p := cl.members[0] // the memory phase runs standalone servers
	defer func() { err = errors.Join(err, p.stop()) }()
	rep = &MemoryReport{System: role}
	sleepCtx(ctx, c.cfg.MemorySettle)
	if rep.Idle, err = p.memory(); err != nil {
		return nil, err
	}
	c.logf("memory    %-9s idle RSS %s", role, mib(rep.Idle.RSSBytes))

	conns, err := openSessions(ctx, []string{p.endpoint()}, memoryLoadSessions, DefaultConfig().SessionTimeout)
	if err != nil {
		return nil, err
	}
	loaded := 0
	value := payload(c.cfg.MemoryValueSize, 2)
	for _, target := range targets {
		from := loaded
		t0 := time.Now()
		if err := loadZnodes(ctx, conns, from, target, value); err != nil {
			closeSessions(conns)
			return nil, err
		}
		rate := float64(target-from) / time.Since(t0).Seconds()
		loaded = target
		sleepCtx(ctx, c.cfg.MemorySettle)
		m, err := p.memory()
		if err != nil {
			closeSessions(conns)
			return nil, err
		}
		rep.Loaded = append(rep.Loaded, LoadPoint{Znodes: target, Memory: m, LoadPerSecond: rate})
		c.logf("memory    %-9s %9d znodes: RSS %s (peak %s), loaded at %.0f znodes/s", role, target, mib(m.RSSBytes), mib(m.PeakBytes), rate)
	}
	closeSessions(conns)

	if st, err := srvr(ctx, p.endpoint()); err == nil {
		rep.LastZxid = fmt.Sprintf("0x%x", st.zxid)
		rep.NodeCount = st.nodes
	} else {
		c.logf("memory    %-9s srvr failed, snapshot coverage unknown: %v", role, err)
	}
	// A restart makes both servers load the log and write a snapshot of the
	// whole tree (Apache does so at every start); it also times recovery.
	if err := p.stop(); err != nil {
		return nil, err
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	restart, err := p.awaitFirstWrite(ctx, restartTimeout)
	if err != nil {
		return nil, err
	}
	rep.RestartMS = float64(restart.Microseconds()) / 1000
	sleepCtx(ctx, c.cfg.MemorySettle)
	if rep.AfterRestart, err = p.memory(); err != nil {
		return nil, err
	}
	if st, err := srvr(ctx, p.endpoint()); err == nil {
		rep.NodeCountAfterRestart = st.nodes
	}
	// A server without a snapshot is reported, not fatal: the figures show
	// what it does, including that it persisted nothing.
	snap, zxid, err := newestSnapshot(p.dataDir())
	switch {
	case err == nil:
		rep.Snapshot = snap
		if rep.LastZxid != "" {
			last, _ := strconv.ParseUint(rep.LastZxid[2:], 16, 64)
			rep.CoversLoad = zxid >= last
		}
	case errors.Is(err, ErrNoSnapshot) || errors.Is(err, fs.ErrNotExist):
		c.logf("memory    %-9s wrote no snapshot in %s", role, p.dataDir())
	default:
		return nil, err
	}
	rep.DataDirBytes, rep.DataDirFileBytes = diskUsage(p.dataDir())
	c.logf("memory    %-9s restart to first write %.1f ms, %d of %d znodes back, snapshot %q %s (covers load: %v)",
		role, rep.RestartMS, rep.NodeCountAfterRestart, rep.NodeCount, rep.Snapshot.File, mib(rep.Snapshot.Bytes), rep.CoversLoad)
	return rep, nil
}

// memoryPath is the n-th znode of a memory load: memoryNodesPerDir to a
// parent under memoryRoot.
func memoryPath(n int) string {
	return memoryRoot + "/d" + strconv.Itoa(n/memoryNodesPerDir) + "/n" + strconv.Itoa(n)
}

// loadZnodes creates the memory-load znodes [from, to) holding value, with
// the parents they need, pipelined over conns.
func loadZnodes(ctx context.Context, conns []*zk.Conn, from, to int, value []byte) error {
	if to <= from {
		return nil
	}
	if from == 0 {
		if err := ensurePath(conns[0], memoryRoot); err != nil {
			return err
		}
	}
	// The parents of [from, to) not made by an earlier load.
	firstDir := (from + memoryNodesPerDir - 1) / memoryNodesPerDir
	lastDir := (to - 1) / memoryNodesPerDir
	err := forEachIndex(ctx, conns, 1, lastDir-firstDir+1, func(conn *zk.Conn, i int) error {
		_, err := conn.Create(memoryRoot+"/d"+strconv.Itoa(firstDir+i), nil, 0, openACL)
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: create memory-load directories: %w", err)
	}
	return forEachIndex(ctx, conns, bulkPerSession, to-from, func(conn *zk.Conn, i int) error {
		path := memoryPath(from + i)
		if _, err := conn.Create(path, value, 0, openACL); err != nil {
			return fmt.Errorf("bench: load %s: %w", path, err)
		}
		return nil
	})
}

// sleepCtx waits d unless ctx ends first; it reports whether ctx is live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return ctx.Err() == nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// writeOutputs writes compare.json, summary.md and throughput.svg.
func (c *comparison) writeOutputs() error {
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // keep "<zoo.cfg>" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(c.report); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.cfg.OutDir, "compare.json"), data.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.cfg.OutDir, "summary.md"), []byte(c.report.Markdown()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.cfg.OutDir, "throughput.svg"), c.report.ThroughputSVG(), 0o644)
}

// startupNote says what the start-up time covers in an ensemble.
func (c *comparison) startupNote() string {
	if c.cfg.Ensemble <= 1 {
		return ""
	}
	return fmt.Sprintf(" (%d servers exec'd, the write through server 1)", c.cfg.Ensemble)
}
