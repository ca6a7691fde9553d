package durability

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

var errNotOurs = errors.New("durability: another process's server answers on the port")

const (
	// Our slice of the machine's loopback ports; other engineers use others.
	portLow  = 24810
	portHigh = 24899

	startTimeout = 40 * time.Second
	stopTimeout  = 15 * time.Second

	// readerSession is the session timeout of clients that check a
	// server: the most tickTime=500 allows, so that a loaded machine
	// does not expire them mid-check.
	readerSession = 10 * time.Second

	kindZkd    = "zkd"
	kindApache = "apache"

	apacheJar  = launch.ZooKeeperJar
	installMsg = "install the Debian packages default-jre-headless zookeeper libzookeeper-java libslf4j-java liblog4j1.2-java"

	envKeep = "ZKD_DURABILITY_KEEP"
)

// apache runs Apache ZooKeeper with its log on stdout, in a small JVM that
// starts fast (the crash tests restart it often).
var apacheJVM = launch.Apache{JVMFlags: []string{"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}

// zkdBin is the zkd binary TestMain builds (or $ZKD_BIN).
var zkdBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips (skipIfShort): no zkd to build
	}
	var err error
	zkdBin, err = launch.ZkdBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "durability:", err)
		os.Exit(1)
	}
	code := m.Run()
	launch.RemoveZkdBuild()
	os.Exit(code)
}

// requireApache fails the test when Java or Debian's ZooKeeper jars are
// missing: skipping would hide every incompatibility the test looks for.
func requireApache(t testing.TB) {
	t.Helper()
	skipIfShort(t)
	if err := apacheJVM.Check(); err != nil {
		t.Fatalf("%v: %s", err, installMsg)
	}
}

// skipIfShort skips under -short: every test here starts, kills and
// restarts server processes, Apache ZooKeeper's JVM among them.
func skipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs zkd and Apache ZooKeeper processes: slow; runs without -short")
	}
}

// testDir is a fresh directory for one test's servers; with
// ZKD_DURABILITY_KEEP=1 it survives a failed test.
func testDir(t testing.TB) string {
	t.Helper()
	if os.Getenv(envKeep) != "1" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "zkd-durability-"+strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// zooConfig is one zoo.cfg, shared by every server started on its dataDir.
type zooConfig struct {
	Dir     string // holds zoo.cfg, log4j.properties and server outputs
	DataDir string
	// DataLogDir, when set, holds the transaction logs apart from DataDir.
	DataLogDir string
	Port       int
	TickTime   int // ms
	// SnapCount and PreAllocSizeKB are left out of zoo.cfg when 0.
	SnapCount      int
	PreAllocSizeKB int
	ExtendedTypes  bool
	// SnapshotCompression is snapshot.compression.method: "", "gz" or "snappy".
	SnapshotCompression string

	starts int // numbers the output files
}

// newZooConfig allocates a port and a dataDir under dir.
func newZooConfig(t testing.TB, dir string) *zooConfig {
	t.Helper()
	port, err := allocPort()
	if err != nil {
		t.Fatal(err)
	}
	return &zooConfig{Dir: dir, DataDir: filepath.Join(dir, "data"), Port: port, TickTime: 500}
}

func (c *zooConfig) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)) }

func (c *zooConfig) Path() string { return filepath.Join(c.Dir, "zoo.cfg") }

// write (re)writes zoo.cfg from the current fields.
func (c *zooConfig) write() error {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", c.TickTime)
	fmt.Fprintf(&b, "dataDir=%s\n", c.DataDir)
	if c.DataLogDir != "" {
		fmt.Fprintf(&b, "dataLogDir=%s\n", c.DataLogDir)
		if err := os.MkdirAll(c.DataLogDir, 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintf(&b, "clientPort=%d\n", c.Port)
	b.WriteString("clientPortAddress=127.0.0.1\n")
	b.WriteString("admin.enableServer=false\n")
	b.WriteString("4lw.commands.whitelist=*\n")
	if c.SnapCount > 0 {
		fmt.Fprintf(&b, "snapCount=%d\n", c.SnapCount)
	}
	if c.PreAllocSizeKB > 0 {
		fmt.Fprintf(&b, "preAllocSize=%d\n", c.PreAllocSizeKB)
	}
	if c.ExtendedTypes {
		b.WriteString("extendedTypesEnabled=true\n")
	}
	if c.SnapshotCompression != "" {
		fmt.Fprintf(&b, "snapshot.compression.method=%s\n", c.SnapshotCompression)
	}
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(c.Path(), []byte(b.String()), 0o644)
}

// proc is one server process (zkd or Apache) on a zooConfig.
type proc struct {
	*launch.Process
	kind string
	cfg  *zooConfig
}

// startServer starts kind on cfg and waits until it serves; the process is
// killed when the test ends.
func startServer(t testing.TB, kind string, cfg *zooConfig) *proc {
	t.Helper()
	p, err := spawn(t, kind, cfg)
	if err != nil {
		t.Fatalf("start %s: %v", kind, err)
	}
	if err := p.waitReady(startTimeout); err != nil {
		p.Kill()
		t.Fatalf("start %s on %s: %v", kind, cfg.Addr(), err)
	}
	return p
}

// spawn starts the process without waiting for it to serve; its output
// goes to a file of its own in cfg.Dir.
func spawn(t testing.TB, kind string, cfg *zooConfig) (*proc, error) {
	t.Helper()
	skipIfShort(t)
	if err := cfg.write(); err != nil {
		return nil, err
	}
	cfg.starts++
	var argv []string
	switch kind {
	case kindZkd:
		argv = launch.ZkdArgv(zkdBin, cfg.Path())
	case kindApache:
		requireApache(t)
		argv = apacheJVM.Argv(cfg.Path())
	default:
		return nil, fmt.Errorf("unknown server kind %q", kind)
	}
	lp, err := launch.Start(launch.Options{
		Name:      kind,
		Argv:      argv,
		Dir:       cfg.Dir,
		Addr:      cfg.Addr(),
		LogPath:   filepath.Join(cfg.Dir, fmt.Sprintf("%s-%02d.out", kind, cfg.starts)),
		StopGrace: stopTimeout,
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { lp.Kill() })
	return &proc{Process: lp, kind: kind, cfg: cfg}, nil
}

// waitReady waits until the process serves, then checks that it is ours:
// the port may be answered by another test binary's server (ports are free
// when picked, not reserved), and conf names the dataDir of the server
// that answers.
func (p *proc) waitReady(timeout time.Duration) error {
	if err := p.WaitServing(timeout); err != nil {
		return err
	}
	conf, err := fourLetterWord(p.cfg.Addr(), "conf", time.Second)
	if err == nil && !strings.Contains(conf, "dataDir="+filepath.Join(p.cfg.DataDir, "version-2")+"\n") {
		return fmt.Errorf("%w %s:\n%s", errNotOurs, p.cfg.Addr(), conf)
	}
	return nil
}

// serveOrExit waits until the process serves (true) or exits by itself
// (false, with its exit code).
func (p *proc) serveOrExit(timeout time.Duration) (bool, int, error) {
	err := p.waitReady(timeout)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, launch.ErrExited) {
		return false, 0, err
	}
	code, err := p.WaitExit(time.Second)
	return false, code, err
}

// output is everything the process wrote to stdout and stderr so far.
func (p *proc) output() string {
	data, err := os.ReadFile(p.LogPath())
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogPath(), err)
	}
	return string(data)
}

var (
	fourLetterWord = launch.FourLetterWord
	// ports are this package's: other packages that start servers use other ranges.
	ports = &launch.Ports{Low: portLow, High: portHigh}
)

func allocPort() (int, error) { return ports.Alloc() }

// runJava runs an Apache class to completion and returns its exit code and
// combined output.
func runJava(t testing.TB, timeout time.Duration, class string, args ...string) (int, string) {
	t.Helper()
	requireApache(t)
	cmdArgs := append([]string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", launch.ZooKeeperJar + ":/usr/share/java/slf4j-nop.jar", class}, args...)
	cmd := exec.Command("java", cmdArgs...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("java %s: %v", class, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatalf("java %s: %v", class, err)
		}
		return 0, out.String()
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("java %s %v did not finish in %v:\n%s", class, args, timeout, out.String())
		return 0, ""
	}
}
