package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
)

var (
	ErrNoJava       = errors.New("bench: java not found (install Debian's default-jre-headless)")
	ErrNoZooKeeper  = errors.New("bench: Apache ZooKeeper not found (install Debian's zookeeper package)")
	ErrServerExited = errors.New("bench: server exited")
	ErrNoSnapshot   = errors.New("bench: no snapshot in the data directory")
	ErrPortInUse    = errors.New("bench: port already in use")

	errNoAnswer = errors.New("bench: connected but no session granted")
)

// How long a stopped server may take to exit on SIGTERM before it is killed.
const stopGrace = 60 * time.Second

// ServerSpec says how to start one kind of server on a zoo.cfg.
type ServerSpec struct {
	// Name labels the server in reports: "zkd" or "zookeeper".
	Name string
	// Argv runs a standalone server.
	Argv func(zooCfg string) []string
	// MemberArgv runs an ensemble member (a zoo.cfg with server.N lines);
	// nil means Argv.
	MemberArgv func(zooCfg string) []string
}

// argv is the command for a standalone server or an ensemble member.
func (s ServerSpec) argv(member bool, zooCfg string) []string {
	if member && s.MemberArgv != nil {
		return s.MemberArgv(zooCfg)
	}
	return s.Argv(zooCfg)
}

// ApacheSpec starts Apache ZooKeeper in a JVM with a 1 GiB heap: a
// standalone server as ZooKeeperServerMain and an ensemble member as
// QuorumPeerMain, which is what zkServer.sh runs for each.
func ApacheSpec(java, classpath string) ServerSpec {
	return apacheSpecFlags(java, classpath, []string{"-Xmx1g", "-Xms1g"})
}

// ApacheSpecHeap is ApacheSpec with a maximum heap of heapMiB (at least
// the 1 GiB it starts with), for loads that do not fit in 1 GiB.
func ApacheSpecHeap(java, classpath string, heapMiB int) ServerSpec {
	return apacheSpecFlags(java, classpath, []string{"-Xmx" + strconv.Itoa(max(heapMiB, 1024)) + "m", "-Xms1g"})
}

func apacheSpecFlags(java, classpath string, flags []string) ServerSpec {
	jvm := launch.Apache{Java: java, Classpath: classpath, Main: launch.StandaloneMain, JVMFlags: flags}
	member := jvm
	member.Main = launch.QuorumPeerMain
	return ServerSpec{Name: "zookeeper", Argv: jvm.Argv, MemberArgv: member.Argv}
}

// ZkdSpec starts `zkd serve --config zoo.cfg` from the given binary.
func ZkdSpec(bin string) ServerSpec {
	return ServerSpec{
		Name: "zkd",
		Argv: func(zooCfg string) []string { return launch.ZkdArgv(bin, zooCfg) },
	}
}

// CeilingSpec starts `zkd bench ceiling --config zoo.cfg` from the given
// binary, its getData replies valueSize bytes long as the runs' values are.
func CeilingSpec(bin string, valueSize int) ServerSpec {
	return ServerSpec{
		Name: "ceiling",
		Argv: func(zooCfg string) []string {
			return []string{bin, "bench", "ceiling", "--config", zooCfg, "--value-size", strconv.Itoa(valueSize)}
		},
	}
}

// DurableCeilingSpec is CeilingSpec with --durable: writes are logged to the
// zoo.cfg's dataDir and fdatasynced before their replies.
func DurableCeilingSpec(bin string, valueSize int) ServerSpec {
	s := CeilingSpec(bin, valueSize)
	s.Name = roleDurableCeiling
	plain := s.Argv
	s.Argv = func(zooCfg string) []string { return append(plain(zooCfg), "--durable") }
	return s
}

// DiscoverApache finds java and the ZooKeeper class path. An explicit
// classpath is used as given; otherwise Debian's environment file decides
// (/etc/zookeeper/conf/environment, what the package's own scripts use).
func DiscoverApache(java, classpath string) (ServerSpec, error) {
	return DiscoverApacheHeap(java, classpath, 0)
}

// DiscoverApacheHeap is DiscoverApache with ApacheSpecHeap's heap; 0 keeps
// ApacheSpec's 1 GiB.
func DiscoverApacheHeap(java, classpath string, heapMiB int) (ServerSpec, error) {
	if java == "" {
		java = "java"
	}
	javaPath, err := exec.LookPath(java)
	if err != nil {
		return ServerSpec{}, fmt.Errorf("%w: %v", ErrNoJava, err)
	}
	if classpath == "" {
		classpath = launch.DebianClasspath()
	}
	if !launch.HasZooKeeperJar(classpath) {
		return ServerSpec{}, fmt.Errorf("%w: no zookeeper jar on class path %q", ErrNoZooKeeper, classpath)
	}
	if heapMiB > 0 {
		return ApacheSpecHeap(javaPath, classpath, heapMiB), nil
	}
	return ApacheSpec(javaPath, classpath), nil
}

// zooCfg is the one configuration both servers run with: forceSync on,
// Apache's defaults for time and limits, no connection cap (64 sessions
// from one address exceed the default of 60), four-letter words on, the
// AdminServer off, listening on loopback only.
func zooCfg(dataDir, clientPort string) string {
	return fmt.Sprintf(`# written by zkd bench compare; zkd and Apache ZooKeeper read the same file
tickTime=2000
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%s
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
4lw.commands.whitelist=*
admin.enableServer=false
`, dataDir, clientPort)
}

// peer is one ensemble member as the server.N lines name it.
type peer struct {
	id                       int
	client, quorum, election int
}

// ensembleZooCfg is zooCfg for one member of an ensemble: the same
// settings, its own dataDir and clientPort, and a server.N line per member
// (static configuration, every member a voter, all on loopback).
func ensembleZooCfg(dataDir, clientPort string, peers []peer) string {
	var b strings.Builder
	b.WriteString(zooCfg(dataDir, clientPort))
	for _, p := range peers {
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", p.id, p.quorum, p.election)
	}
	return b.String()
}

// serverProcess is one server this package started and must stop; it
// may be started again on the same directory.
type serverProcess struct {
	spec ServerSpec
	dir  string // holds zoo.cfg, data/ and server.log
	port int
	myid int             // the ensemble member's id; 0 for a standalone server
	proc *launch.Process // nil when not started or stopped
}

// newServerProcess lays out dir with a standalone zoo.cfg and an empty
// data directory.
func newServerProcess(spec ServerSpec, dir string, port int) (*serverProcess, error) {
	p := &serverProcess{spec: spec, dir: dir, port: port}
	if err := os.MkdirAll(p.dataDir(), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.cfgPath(), []byte(zooCfg(p.dataDir(), strconv.Itoa(port))), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// newEnsembleMember lays out dir for member me of peers: a zoo.cfg with
// the server.N lines and a data directory holding only myid.
func newEnsembleMember(spec ServerSpec, dir string, me peer, peers []peer) (*serverProcess, error) {
	p := &serverProcess{spec: spec, dir: dir, port: me.client, myid: me.id}
	if err := os.MkdirAll(p.dataDir(), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(p.dataDir(), "myid"), []byte(strconv.Itoa(me.id)+"\n"), 0o644); err != nil {
		return nil, err
	}
	cfg := ensembleZooCfg(p.dataDir(), strconv.Itoa(me.client), peers)
	if err := os.WriteFile(p.cfgPath(), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *serverProcess) dataDir() string  { return filepath.Join(p.dir, "data") }
func (p *serverProcess) cfgPath() string  { return filepath.Join(p.dir, "zoo.cfg") }
func (p *serverProcess) logPath() string  { return filepath.Join(p.dir, "server.log") }
func (p *serverProcess) endpoint() string { return launch.Loopback(p.port) }

// start execs the server; the clock for time-to-first-write starts here.
// A port that already answers is refused: the probe would otherwise time
// another server. The server runs in its own process group, which keeps a
// terminal's Ctrl-C away from it (the benchmark stops it in order), and
// dies with the benchmark, which keeps a crashed benchmark from leaving
// servers behind.
func (p *serverProcess) start() error {
	proc, err := launch.Start(launch.Options{
		Name:      p.spec.Name,
		Argv:      p.spec.argv(p.myid > 0, p.cfgPath()),
		Dir:       p.dir,
		Addr:      p.endpoint(),
		LogPath:   p.logPath(),
		StopGrace: stopGrace,
		OwnGroup:  true,
	})
	if errors.Is(err, launch.ErrPortInUse) {
		return fmt.Errorf("%w: %s (another server would be measured instead of %s)", ErrPortInUse, p.endpoint(), p.spec.Name)
	}
	if err != nil {
		return fmt.Errorf("bench: start %s: %w", p.spec.Name, err)
	}
	p.proc = proc
	return nil
}

// pid is the server's process id (0 before start).
func (p *serverProcess) pid() int {
	if p.proc == nil {
		return 0
	}
	return p.proc.Pid()
}

func (p *serverProcess) running() bool { return p.proc != nil && p.proc.Running() }

// stop sends SIGTERM and waits; a server still up after stopGrace is
// killed and reported. Exiting by SIGTERM, or with 0 or 143 after it,
// counts as clean; any other exit is reported with the log's tail.
func (p *serverProcess) stop() error {
	if p.proc == nil {
		return nil
	}
	err := p.proc.Stop()
	p.proc = nil
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// kill sends SIGKILL, as a crash, and waits for the exit.
func (p *serverProcess) kill() error {
	if p.proc == nil {
		return nil
	}
	err := p.proc.Kill()
	p.proc = nil
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// logTail returns the end of the server's log, for error messages.
func (p *serverProcess) logTail() string {
	if p.proc == nil {
		return ""
	}
	return p.proc.Tail(40)
}

// MemoryUsage is a process's resident memory as the kernel counts it.
type MemoryUsage struct {
	RSSBytes  int64 `json:"rss_bytes"`  // VmRSS now
	PeakBytes int64 `json:"peak_bytes"` // VmHWM, the high-water mark since exec
}

func (p *serverProcess) memory() (MemoryUsage, error) {
	if !p.running() {
		return MemoryUsage{}, fmt.Errorf("%w before its memory could be read", ErrServerExited)
	}
	return readProcMemory(p.pid())
}

func readProcMemory(pid int) (MemoryUsage, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return MemoryUsage{}, err
	}
	var m MemoryUsage
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			m.RSSBytes = kb * 1024
		case "VmHWM":
			m.PeakBytes = kb * 1024
		}
	}
	if m.RSSBytes == 0 {
		return m, fmt.Errorf("bench: no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// firstWriteProbeRetry is how often the probe redials a server that is not
// listening yet; it bounds the measurement's resolution.
const firstWriteProbeRetry = 2 * time.Millisecond

// eagerHost is a go-zookeeper host provider that redials one server every
// firstWriteProbeRetry. The default provider pauses a whole second after
// each failed round, which would swamp a start-up time.
type eagerHost struct {
	server string
	tried  bool
}

func (h *eagerHost) Init(servers []string) error {
	if len(servers) == 0 {
		return ErrNoSession
	}
	h.server = servers[0]
	return nil
}
func (h *eagerHost) Len() int { return 1 }
func (h *eagerHost) Next() (string, bool) {
	if h.tried {
		time.Sleep(firstWriteProbeRetry)
	}
	h.tried = true
	return h.server, false
}
func (h *eagerHost) Connected() {}

// A server may accept a connection before it can serve it and then never
// answer it (Apache binds its port before loading its data), so the probe
// gives each connection a short while to yield a session and then starts
// over; the while grows for a server that is merely slow.
const (
	probeFirstAnswerWithin = 100 * time.Millisecond
	probeMaxAnswerWithin   = time.Second
)

// awaitFirstWrite connects as soon as the server accepts and creates one
// persistent znode; it returns the time from exec to that create's
// acknowledgement.
func (p *serverProcess) awaitFirstWrite(ctx context.Context, within time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	exited := p.proc.Exited()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	answerWithin := probeFirstAnswerWithin
	var err error
	for ctx.Err() == nil {
		var conn *zk.Conn
		conn, err = probeSession(ctx, p.endpoint(), answerWithin)
		if errors.Is(err, errNoAnswer) {
			answerWithin = min(answerWithin*3/2, probeMaxAnswerWithin)
			continue
		}
		if err != nil {
			break
		}
		_, err = conn.Create(fmt.Sprintf("%s-first-write-%d", benchRoot, time.Now().UnixNano()), []byte("ready"), 0, openACL)
		acked := time.Since(p.proc.Started())
		closeSessions([]*zk.Conn{conn})
		if err == nil {
			return acked, nil
		}
	}
	if !p.running() {
		return 0, fmt.Errorf("%w during start-up; log %s:\n%s", ErrServerExited, p.logPath(), p.logTail())
	}
	if err == nil {
		err = ctx.Err()
	}
	return 0, fmt.Errorf("bench: %s acknowledged no write within %v: %w", p.spec.Name, within, err)
}

// probeSession dials until a TCP connection is up and returns the session
// if the server grants one within answerWithin of that.
func probeSession(ctx context.Context, endpoint string, answerWithin time.Duration) (*zk.Conn, error) {
	conn, events, err := zk.Connect([]string{endpoint}, 30*time.Second,
		zk.WithLogger(quietLogger{}), zk.WithLogInfo(false), zk.WithHostProvider(&eagerHost{}))
	if err != nil {
		return nil, err
	}
	abandon := func() {
		// Close waits up to a second for a close reply that a session-less
		// connection never gets; the probe must not wait with it.
		go conn.Close()
	}
	var answerDeadline <-chan time.Time
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil, errNoAnswer
			}
			switch ev.State {
			case zk.StateHasSession:
				return conn, nil
			case zk.StateConnected:
				if answerDeadline == nil {
					answerDeadline = time.After(answerWithin)
				}
			}
		case <-answerDeadline:
			abandon()
			return nil, errNoAnswer
		case <-ctx.Done():
			abandon()
			return nil, ctx.Err()
		}
	}
}

// SnapshotInfo describes the newest snapshot file in a data directory.
type SnapshotInfo struct {
	File  string `json:"file"`
	Zxid  string `json:"zxid"`
	Bytes int64  `json:"bytes"`
}

// newestSnapshot finds the snapshot with the highest zxid in
// dataDir/version-2, the layout both servers share.
func newestSnapshot(dataDir string) (SnapshotInfo, uint64, error) {
	dir := filepath.Join(dataDir, "version-2")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return SnapshotInfo{}, 0, err
	}
	var best SnapshotInfo
	var bestZxid uint64
	found := false
	for _, e := range entries {
		hex, ok := strings.CutPrefix(e.Name(), "snapshot.")
		if !ok || e.IsDir() {
			continue
		}
		hex, _, _ = strings.Cut(hex, ".") // a compressed snapshot has a suffix
		zxid, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return SnapshotInfo{}, 0, err
		}
		if !found || zxid > bestZxid {
			found, bestZxid = true, zxid
			best = SnapshotInfo{File: e.Name(), Zxid: fmt.Sprintf("0x%x", zxid), Bytes: info.Size()}
		}
	}
	if !found {
		return SnapshotInfo{}, 0, fmt.Errorf("%w %s", ErrNoSnapshot, dir)
	}
	return best, bestZxid, nil
}

// serverStatus is what the srvr four-letter word tells about the tree.
type serverStatus struct {
	version string
	mode    string // leader, follower, observer or standalone
	zxid    uint64
	nodes   int64
}

// srvr asks the server for its version, mode, last zxid and node count;
// a server that is not serving (an ensemble member without a quorum)
// answers without them, which is an error here.
func srvr(ctx context.Context, endpoint string) (serverStatus, error) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", endpoint)
	if err != nil {
		return serverStatus{}, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return serverStatus{}, err
	}
	var st serverStatus
	var sawZxid, sawNodes bool
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch name {
		case "Zookeeper version":
			st.version = value
		case "Mode":
			st.mode = value
		case "Zxid":
			st.zxid, err = strconv.ParseUint(strings.TrimPrefix(value, "0x"), 16, 64)
			sawZxid = err == nil
		case "Node count":
			st.nodes, err = strconv.ParseInt(value, 10, 64)
			sawNodes = err == nil
		}
	}
	if !sawZxid || !sawNodes {
		return st, fmt.Errorf("bench: srvr reply from %s lacks Zxid or Node count", endpoint)
	}
	return st, nil
}
