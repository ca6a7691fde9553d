package interop

import (
	"errors"
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
	errServerExited  = errors.New("interop: server exited before answering ruok")
	errServerTimeout = errors.New("interop: server did not answer ruok in time")
	errNoModuleRoot  = errors.New("interop: no go.mod above the working directory")
)

const (
	// Our slice of the machine's loopback ports; other engineers use other ranges.
	portLow  = 21810
	portHigh = 21899

	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second

	installHint = "install Debian packages zookeeper zookeeper-bin python3-kazoo"

	apacheJar    = "/usr/share/java/zookeeper.jar"
	apacheMain   = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	zkCliPath    = "/usr/share/zookeeper/bin/zkCli.sh"
	cliMtPath    = "/usr/lib/zookeeper/bin/cli_mt"
	pythonPath   = "/usr/bin/python3"
	envSelftest  = "ZKD_INTEROP_SELFTEST"
	envZkdBin    = "ZKD_BIN"
	envOutputDir = "ZKD_INTEROP_OUT"

	// superDigest is the digest of "super:test", as go-zookeeper's own suite uses.
	superDigest   = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
	superPassword = "super:test"
)

// apacheClasspath is zookeeper.jar (its manifest names the other Debian jars it
// needs) plus a log4j 1.2 binding so the server logs to a file we can show.
var apacheClasspath = strings.Join([]string{
	apacheJar,
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}, ":")

// Options configure one server. Apache and zkd get the same zoo.cfg.
type Options struct {
	// TickTime in ms; 0 means 2000. Session timeouts are clamped to [2, 20] ticks.
	TickTime int
	// ExtendedTypes sets extendedTypesEnabled=true, which TTL nodes need.
	ExtendedTypes bool
	// SuperDigest ("super:<base64 sha1>") lets a session authenticated as that
	// digest user bypass ACLs. Apache gets it as -Dzookeeper.DigestAuthenticationProvider.superDigest,
	// and zoo.cfg carries it as DigestAuthenticationProvider.superDigest (Apache turns
	// any zoo.cfg key k into system property zookeeper.k).
	SuperDigest string
	// DefaultWhitelist leaves 4lw.commands.whitelist out of zoo.cfg, so only
	// Apache's default words are allowed; otherwise it is "*".
	DefaultWhitelist bool
}

// Server is one ZooKeeper-compatible server process on a loopback port.
type Server struct {
	// Kind is "apache" or "zkd" (or "zkd=apache" in self-test mode).
	Kind string
	// Dir holds zoo.cfg, the data dir and the logs.
	Dir string

	addr    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	endOnce sync.Once
}

// Addr is host:port of the client port.
func (s *Server) Addr() string { return s.addr }

// LogPath is the file holding the server's own log.
func (s *Server) LogPath() string { return s.logPath }

// Alive reports whether the process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Stop asks the server to shut down (SIGTERM) and kills it if it has not exited
// after 10 s.
func (s *Server) Stop() {
	s.end(syscall.SIGTERM)
}

// Kill ends the server at once (SIGKILL), like a crash.
func (s *Server) Kill() {
	s.end(syscall.SIGKILL)
}

func (s *Server) end(sig syscall.Signal) {
	s.endOnce.Do(func() {
		if !s.Alive() {
			return
		}
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// LogTail returns the last n lines of the server log, for failure messages.
func (s *Server) LogTail(n int) string {
	return tailFile(s.logPath, n)
}

// StartApache starts Debian's Apache ZooKeeper 3.8 standalone and waits until it
// answers ruok (and srvr shows it serving). It is killed when the test ends.
func StartApache(t testing.TB, o Options) *Server {
	t.Helper()
	requireApache(t)
	s, err := startApache(o, serverDir(t, "apache"))
	if err != nil {
		t.Fatalf("start Apache ZooKeeper: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// StartZkd starts `zkd serve --config zoo.cfg` (zkd built once per test binary
// from ./cmd/zkd, or $ZKD_BIN) and waits until it answers ruok. It is killed
// when the test ends. With ZKD_INTEROP_SELFTEST=1 it starts Apache instead.
func StartZkd(t testing.TB, o Options) *Server {
	t.Helper()
	if SelfTest() {
		requireApache(t)
	}
	s, err := startZkd(o, serverDir(t, "zkd"))
	if err != nil {
		t.Fatalf("start zkd: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// SelfTest reports whether ZKD_INTEROP_SELFTEST=1: StartZkd then starts Apache,
// which is how the harness itself is validated.
func SelfTest() bool { return os.Getenv(envSelftest) == "1" }

func startApache(o Options, dir string) (*Server, error) {
	cfg, addr, err := writeConfig(o, dir)
	if err != nil {
		return nil, err
	}
	log4j := filepath.Join(dir, "log4j.properties")
	logPath := filepath.Join(dir, "zookeeper.log")
	props := "log4j.rootLogger=INFO, FILE\n" +
		"log4j.appender.FILE=org.apache.log4j.FileAppender\n" +
		"log4j.appender.FILE.File=" + logPath + "\n" +
		"log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] %m%n\n"
	if err := os.WriteFile(log4j, []byte(props), 0o644); err != nil {
		return nil, err
	}
	args := []string{"-Xmx1g", "-XX:+UseSerialGC", "-Dlog4j.configuration=file:" + log4j}
	if o.SuperDigest != "" {
		args = append(args, "-Dzookeeper.DigestAuthenticationProvider.superDigest="+o.SuperDigest)
	}
	args = append(args, "-cp", apacheClasspath, apacheMain, cfg)
	return launch("apache", dir, addr, logPath, "java", args...)
}

func startZkd(o Options, dir string) (*Server, error) {
	if SelfTest() {
		s, err := startApache(o, dir)
		if s != nil {
			s.Kind = "zkd=apache"
		}
		return s, err
	}
	bin, err := zkdBinary()
	if err != nil {
		return nil, err
	}
	cfg, addr, err := writeConfig(o, dir)
	if err != nil {
		return nil, err
	}
	return launch("zkd", dir, addr, filepath.Join(dir, "server.out"), bin, "serve", "--config", cfg)
}

// writeConfig writes dir/zoo.cfg on a fresh port and returns its path and the
// client address.
func writeConfig(o Options, dir string) (cfgPath, addr string, err error) {
	port, err := allocPort()
	if err != nil {
		return "", "", err
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", "", err
	}
	tick := o.TickTime
	if tick == 0 {
		tick = 2000
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", tick)
	fmt.Fprintf(&b, "dataDir=%s\n", dataDir)
	fmt.Fprintf(&b, "clientPort=%d\n", port)
	b.WriteString("clientPortAddress=127.0.0.1\n")
	b.WriteString("admin.enableServer=false\n")
	if !o.DefaultWhitelist {
		b.WriteString("4lw.commands.whitelist=*\n")
	}
	if o.ExtendedTypes {
		b.WriteString("extendedTypesEnabled=true\n")
	}
	if o.SuperDigest != "" {
		fmt.Fprintf(&b, "DigestAuthenticationProvider.superDigest=%s\n", o.SuperDigest)
	}
	cfgPath = filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o644); err != nil {
		return "", "", err
	}
	return cfgPath, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// launch starts the process with stdout and stderr in dir/server.out and waits
// for ruok.
func launch(kind, dir, addr, logPath, bin string, args ...string) (*Server, error) {
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	s := &Server{Kind: kind, Dir: dir, addr: addr, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		out.Close()
		close(s.exited)
	}()
	if err := s.waitReady(startTimeout); err != nil {
		s.Kill()
		return nil, fmt.Errorf("%s on %s: %w\n%s\n--- server.out ---\n%s", kind, addr, err,
			s.LogTail(30), tailFile(filepath.Join(dir, "server.out"), 30))
	}
	return s, nil
}

// waitReady polls ruok, then srvr. A server with the default whitelist answers
// that ruok is not allowed, which proves it serves four-letter words just as
// well. Apache answers imok before it accepts sessions (its ruok does not look
// at the server state), so readiness also needs srvr to report a running
// server ("Zookeeper version: ..." rather than "... not currently serving requests").
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !s.Alive() {
			return fmt.Errorf("%w (%v)", errServerExited, s.waitErr)
		}
		reply, err := FourLetterWord(s.addr, "ruok", time.Second)
		if err == nil && (reply == "imok" || strings.Contains(reply, "is not in the whitelist")) {
			srvr, err := FourLetterWord(s.addr, "srvr", time.Second)
			if err == nil && strings.HasPrefix(srvr, "Zookeeper version:") {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errServerTimeout
}

// FourLetterWord sends word on a fresh connection and returns everything the
// server writes until it closes the connection.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	return testnet.FourLetterWord(addr, word, timeout)
}

// ports are this package's: other packages that start servers use other ranges.
var ports = &testnet.Ports{Low: portLow, High: portHigh}

func allocPort() (int, error) { return ports.Alloc() }

// serverDir is a fresh directory for one server: under $ZKD_INTEROP_OUT when set
// (kept for inspection), else in the test's temp dir.
func serverDir(t testing.TB, kind string) string {
	t.Helper()
	if out := os.Getenv(envOutputDir); out != "" {
		dir, err := os.MkdirTemp(out, sanitize(t.Name())+"-"+kind+"-")
		if err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := filepath.Join(t.TempDir(), kind)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sanitize(name string) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(name)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return tailLines(string(data), n)
}

// Dependencies fail the test rather than skip it: a missing client would
// otherwise hide every incompatibility that client would have found.

func requireApache(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper (a JVM) and zkd: slow; runs without -short")
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java not found (%v): %s", err, installHint)
	}
	for _, jar := range strings.Split(apacheClasspath, ":") {
		if _, err := os.Stat(jar); err != nil {
			t.Fatalf("Apache ZooKeeper jar missing (%v): %s", err, installHint)
		}
	}
}

func requireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s missing (%v): %s", path, err, installHint)
	}
}

func requireKazoo(t testing.TB) {
	t.Helper()
	requireFile(t, pythonPath)
	if out, err := exec.Command(pythonPath, "-c", "import kazoo").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import kazoo (%v: %s): %s", pythonPath, err, out, installHint)
	}
}

// The zkd binary is built at most once per test binary.
var zkdBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func zkdBinary() (string, error) {
	zkdBuild.once.Do(func() {
		if bin := os.Getenv(envZkdBin); bin != "" {
			zkdBuild.bin = bin
			return
		}
		root, err := repoRoot()
		if err != nil {
			zkdBuild.err = err
			return
		}
		dir, err := os.MkdirTemp("", "zkd-interop-build-")
		if err != nil {
			zkdBuild.err = err
			return
		}
		zkdBuild.dir = dir
		bin := filepath.Join(dir, "zkd")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/zkd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			zkdBuild.err = fmt.Errorf("go build ./cmd/zkd: %v\n%s", err, out)
			return
		}
		zkdBuild.bin = bin
	})
	return zkdBuild.bin, zkdBuild.err
}

// repoRoot is the module root: the nearest directory above the working
// directory (a test's package directory) that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoModuleRoot
		}
		dir = parent
	}
}

// RemoveZkdBuild deletes the zkd binary StartZkd built, if any. Call it from
// TestMain after m.Run.
func RemoveZkdBuild() {
	if zkdBuild.dir != "" {
		os.RemoveAll(zkdBuild.dir)
	}
}
