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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkd/zkd/test/testnet"
)

var (
	errServerExited  = errors.New("durability: server exited before it served")
	errServerTimeout = errors.New("durability: server did not serve in time")
	errNotOurs       = errors.New("durability: another process's server answers on the port")
)

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

	apacheJar  = "/usr/share/java/zookeeper.jar"
	apacheMain = "org.apache.zookeeper.server.ZooKeeperServerMain"
	installMsg = "install the Debian packages default-jre-headless zookeeper libzookeeper-java libslf4j-java liblog4j1.2-java"

	envKeep   = "ZKD_DURABILITY_KEEP"
	envZkdBin = "ZKD_BIN"
)

// apacheClasspath is zookeeper.jar (its manifest lists the jars it needs)
// plus one SLF4J binding so that Apache's log reaches the output file.
var apacheClasspath = []string{
	apacheJar,
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}

// zkdBin is the zkd binary TestMain builds.
var zkdBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips (skipIfShort): no zkd to build
	}
	dir, err := os.MkdirTemp("", "zkd-durability-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zkdBin, err = buildZkd(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildZkd runs go build ./cmd/zkd from the module root into dir, or
// returns $ZKD_BIN when set (a prebuilt binary).
func buildZkd(dir string) (string, error) {
	if bin := os.Getenv(envZkdBin); bin != "" {
		return bin, nil
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("durability: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("durability: not inside the zkd module (go env GOMOD is empty)")
	}
	bin := filepath.Join(dir, "zkd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/zkd")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("durability: go build ./cmd/zkd: %w\n%s", err, out)
	}
	return bin, nil
}

// requireApache fails the test when Java or Debian's ZooKeeper jars are
// missing: skipping would hide every incompatibility the test looks for.
func requireApache(t testing.TB) {
	t.Helper()
	skipIfShort(t)
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java not found (%v): %s", err, installMsg)
	}
	for _, jar := range apacheClasspath {
		if _, err := os.Stat(jar); err != nil {
			t.Fatalf("Apache ZooKeeper 3.8 jar missing (%v): %s", err, installMsg)
		}
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
	kind    string
	cfg     *zooConfig
	outPath string
	cmd     *exec.Cmd
	started time.Time // launched
	ready   time.Time // first seen serving
	exited  chan struct{}
	waitErr error
	endOnce sync.Once
}

// startServer starts kind on cfg and waits until it serves; the process is
// killed when the test ends.
func startServer(t testing.TB, kind string, cfg *zooConfig) *proc {
	t.Helper()
	p, err := launch(t, kind, cfg)
	if err != nil {
		t.Fatalf("start %s: %v", kind, err)
	}
	if err := p.waitReady(startTimeout); err != nil {
		p.kill()
		t.Fatalf("start %s on %s: %v\n--- %s ---\n%s", kind, cfg.Addr(), err, p.outPath, p.tail(40))
	}
	return p
}

// launch starts the process without waiting for it to serve.
func launch(t testing.TB, kind string, cfg *zooConfig) (*proc, error) {
	t.Helper()
	skipIfShort(t)
	if err := cfg.write(); err != nil {
		return nil, err
	}
	cfg.starts++
	outPath := filepath.Join(cfg.Dir, fmt.Sprintf("%s-%02d.out", kind, cfg.starts))
	var cmd *exec.Cmd
	switch kind {
	case kindZkd:
		cmd = exec.Command(zkdBin, "serve", "--config", cfg.Path())
	case kindApache:
		requireApache(t)
		log4j := filepath.Join(cfg.Dir, "log4j.properties")
		props := "log4j.rootLogger=INFO, CONSOLE\n" +
			"log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
			"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
			"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] %m%n\n"
		if err := os.WriteFile(log4j, []byte(props), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command("java", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dlog4j.configuration=file:"+log4j,
			"-cp", strings.Join(apacheClasspath, ":"), apacheMain, cfg.Path())
	default:
		return nil, fmt.Errorf("unknown server kind %q", kind)
	}
	out, err := os.Create(outPath)
	if err != nil {
		return nil, err
	}
	cmd.Dir = cfg.Dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	p := &proc{kind: kind, cfg: cfg, outPath: outPath, cmd: cmd, started: time.Now(), exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p, nil
}

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitReady polls ruok, then srvr: Apache answers imok before it accepts
// sessions, srvr only says "Zookeeper version:" once it serves.
func (p *proc) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return fmt.Errorf("%w (%v)", errServerExited, p.waitErr)
		}
		if reply, err := fourLetterWord(p.cfg.Addr(), "ruok", time.Second); err == nil && reply == "imok" {
			if srvr, err := fourLetterWord(p.cfg.Addr(), "srvr", time.Second); err == nil && strings.HasPrefix(srvr, "Zookeeper version:") {
				// The port may be answered by another test binary's server
				// (ports are free when picked, not reserved): conf names
				// the dataDir of the server that answers.
				conf, err := fourLetterWord(p.cfg.Addr(), "conf", time.Second)
				if err == nil && !strings.Contains(conf, "dataDir="+filepath.Join(p.cfg.DataDir, "version-2")+"\n") {
					return fmt.Errorf("%w %s:\n%s", errNotOurs, p.cfg.Addr(), conf)
				}
				p.ready = time.Now()
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errServerTimeout
}

// serveOrExit waits until the process serves (true) or exits by itself
// (false, with its exit code).
func (p *proc) serveOrExit(timeout time.Duration) (bool, int, error) {
	err := p.waitReady(timeout)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, errServerExited) {
		return false, 0, err
	}
	code, err := p.waitExit(time.Second)
	return false, code, err
}

// waitExit waits for the process to end by itself and returns its exit
// code, or an error if it is still running after timeout.
func (p *proc) waitExit(timeout time.Duration) (int, error) {
	select {
	case <-p.exited:
	case <-time.After(timeout):
		return 0, fmt.Errorf("%s still running after %v", p.kind, timeout)
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode(), nil
	}
	if p.waitErr != nil {
		return 0, p.waitErr
	}
	return 0, nil
}

// kill ends the process at once (SIGKILL), like a crash.
func (p *proc) kill() { p.end(syscall.SIGKILL) }

// stop asks the process to shut down (SIGTERM) and kills it after 15 s.
func (p *proc) stop() { p.end(syscall.SIGTERM) }

func (p *proc) end(sig syscall.Signal) {
	p.endOnce.Do(func() {
		if !p.alive() {
			return
		}
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// output is everything the process wrote to stdout and stderr so far.
func (p *proc) output() string {
	data, err := os.ReadFile(p.outPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.outPath, err)
	}
	return string(data)
}

// tail is the last n lines of the output, for failure messages.
func (p *proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.output(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	fourLetterWord = testnet.FourLetterWord
	// ports are this package's: other packages that start servers use other ranges.
	ports = &testnet.Ports{Low: portLow, High: portHigh}
)

func allocPort() (int, error) { return ports.Alloc() }

// runJava runs an Apache class to completion and returns its exit code and
// combined output.
func runJava(t testing.TB, timeout time.Duration, class string, args ...string) (int, string) {
	t.Helper()
	requireApache(t)
	cmdArgs := append([]string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", apacheJar + ":/usr/share/java/slf4j-nop.jar", class}, args...)
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
