package interop

import (
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

var errNoModuleRoot = errors.New("interop: no go.mod above the working directory")

const (
	// Our slice of the machine's loopback ports; other engineers use other ranges.
	portLow  = 21810
	portHigh = 21899

	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second

	installHint = "install Debian packages zookeeper zookeeper-bin python3-kazoo"

	zkCliPath = "/usr/share/zookeeper/bin/zkCli.sh"
	// servletAPIJar is Debian's libservlet-api-java, which Apache's
	// AdminServer needs on its class path.
	servletAPIJar = "/usr/share/java/servlet-api.jar"
	cliMtPath     = "/usr/lib/zookeeper/bin/cli_mt"
	pythonPath    = "/usr/bin/python3"
	envSelftest   = "ZKD_INTEROP_SELFTEST"
	envZkdBin     = launch.EnvZkdBin
	envOutputDir  = "ZKD_INTEROP_OUT"

	// superDigest is the digest of "super:test", as go-zookeeper's own suite uses.
	superDigest   = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
	superPassword = "super:test"
)

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
	// AdminServer turns the AdminServer on, on a loopback port of its own
	// (Server.AdminAddr); Apache then needs the servlet API jar.
	AdminServer bool
	// Ports, when set, is where an ensemble's ports come from (a test's
	// own range) instead of the package's.
	Ports *launch.Ports
}

// Server is one ZooKeeper-compatible server process on a loopback port.
type Server struct {
	// Kind is "apache" or "zkd" (or "zkd=apache" in self-test mode).
	Kind string
	// Dir holds zoo.cfg, the data dir and the log.
	Dir string
	// AdminAddr is the AdminServer's host:port when Options.AdminServer.
	AdminAddr string

	proc *launch.Process
}

// Addr is host:port of the client port.
func (s *Server) Addr() string { return s.proc.Addr() }

// LogPath is the file holding the server's stdout and stderr, its log.
func (s *Server) LogPath() string { return s.proc.LogPath() }

// Alive reports whether the process is still running.
func (s *Server) Alive() bool { return s.proc.Running() }

// Stop asks the server to shut down (SIGTERM) and kills it if it has not exited
// after 10 s.
func (s *Server) Stop() { s.proc.Stop() }

// Kill ends the server at once (SIGKILL), like a crash.
func (s *Server) Kill() { s.proc.Kill() }

// Pause stops the server process (SIGSTOP) and waits until every one of
// its threads has stopped: a process stops only once the thread the
// kernel gave the signal to takes it, and a thread in the middle of an
// fsync takes it only after the fsync, while the others go on running.
func (s *Server) Pause() error {
	pid := s.proc.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	deadline := time.Now().Add(stopTimeout)
	for {
		running, err := runningThreads(pid)
		if err != nil {
			return err
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d): %d threads still running %v after SIGSTOP", s.Kind, pid, running, stopTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return syscall.Kill(s.proc.Pid(), syscall.SIGCONT) }

// runningThreads counts the threads of pid not in state T (stopped).
func runningThreads(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		// "tid (comm) S ...": the state follows the last ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		if f := strings.Fields(rest); len(f) == 0 || f[0] != "T" {
			n++
		}
	}
	return n, nil
}

// LogTail returns the last n lines of the server log, for failure messages.
func (s *Server) LogTail(n int) string { return s.proc.Tail(n) }

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

// apacheJVM runs Apache with its log on stdout. QuorumPeerMain, as
// zkServer.sh does, hands the standalone zoo.cfg to ZooKeeperServerMain.
var apacheJVM = launch.Apache{Main: launch.QuorumPeerMain, JVMFlags: []string{"-Xmx1g", "-XX:+UseSerialGC"}}

func startApache(o Options, dir string) (*Server, error) {
	return onFreshPorts(o, dir, startApacheOn)
}

func startApacheOn(o Options, dir, cfg, addr, adminAddr string) (*Server, error) {
	jvm := apacheJVM
	if o.AdminServer {
		// Jetty's servlets need the servlet API, which zookeeper.jar's
		// manifest does not name; without it Apache starts with no
		// AdminServer ("Unable to load jetty").
		jvm.Classpath = launch.LoggingClasspath + ":" + servletAPIJar
		jvm.JVMFlags = append(slices.Clone(jvm.JVMFlags), "-Dzookeeper.root.logger=INFO,CONSOLE")
	}
	if o.SuperDigest != "" {
		jvm.JVMFlags = append(slices.Clone(jvm.JVMFlags), "-Dzookeeper.DigestAuthenticationProvider.superDigest="+o.SuperDigest)
	}
	s, err := start("apache", dir, addr, jvm.Argv(cfg))
	if s != nil {
		s.AdminAddr = adminAddr
	}
	return s, err
}

func startZkd(o Options, dir string) (*Server, error) {
	if SelfTest() {
		s, err := startApache(o, dir)
		if s != nil {
			s.Kind = "zkd=apache"
		}
		return s, err
	}
	bin, err := launch.ZkdBinary()
	if err != nil {
		return nil, err
	}
	return onFreshPorts(o, dir, func(o Options, dir, cfg, addr, adminAddr string) (*Server, error) {
		s, err := start("zkd", dir, addr, launch.ZkdArgv(bin, cfg))
		if s != nil {
			s.AdminAddr = adminAddr
		}
		return s, err
	})
}

// portTries bounds onFreshPorts: a port free at allocation can be taken by
// another package's process before the server binds it (a free port is not
// reserved), which is rare; three times in a row is not.
const portTries = 3

// onFreshPorts writes dir/zoo.cfg on fresh ports and starts the server with
// startOn; when the client port turns out taken, it names who holds it and
// tries again on new ports.
func onFreshPorts(o Options, dir string, startOn func(o Options, dir, cfg, addr, adminAddr string) (*Server, error)) (*Server, error) {
	var errs []error
	for range portTries {
		cfg, addr, adminAddr, err := writeConfig(o, dir)
		if err != nil {
			return nil, err
		}
		s, err := startOn(o, dir, cfg, addr, adminAddr)
		if !errors.Is(err, launch.ErrPortInUse) {
			return s, err
		}
		log.Printf("interop: %v; trying other ports", err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// writeConfig writes dir/zoo.cfg on a fresh port and returns its path, the
// client address and the AdminServer's ("" when off).
func writeConfig(o Options, dir string) (cfgPath, addr, adminAddr string, err error) {
	port, err := allocPort()
	if err != nil {
		return "", "", "", err
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", "", "", err
	}
	var b strings.Builder
	writeCommonConfig(&b, o, dataDir, port)
	if o.AdminServer {
		adminPort, err := allocPort()
		if err != nil {
			return "", "", "", err
		}
		fmt.Fprintf(&b, "admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", adminPort)
		adminAddr = launch.Loopback(adminPort)
	} else {
		b.WriteString("admin.enableServer=false\n")
	}
	cfgPath = filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o644); err != nil {
		return "", "", "", err
	}
	return cfgPath, launch.Loopback(port), adminAddr, nil
}

// writeCommonConfig writes the zoo.cfg lines a standalone server and an
// ensemble member share: tickTime, dataDir, the client port on loopback,
// the four-letter word whitelist and the Options' extras.
func writeCommonConfig(b *strings.Builder, o Options, dataDir string, port int) {
	tick := o.TickTime
	if tick == 0 {
		tick = 2000
	}
	fmt.Fprintf(b, "tickTime=%d\n", tick)
	fmt.Fprintf(b, "dataDir=%s\n", dataDir)
	fmt.Fprintf(b, "clientPort=%d\n", port)
	b.WriteString("clientPortAddress=127.0.0.1\n")
	if !o.DefaultWhitelist {
		b.WriteString("4lw.commands.whitelist=*\n")
	}
	if o.ExtendedTypes {
		b.WriteString("extendedTypesEnabled=true\n")
	}
	if o.SuperDigest != "" {
		fmt.Fprintf(b, "DigestAuthenticationProvider.superDigest=%s\n", o.SuperDigest)
	}
}

// start runs argv with stdout and stderr in dir/server.out and waits until it
// serves: launch's probe accepts a ruok that is not whitelisted, and needs
// srvr to report a running server, since Apache answers imok before it
// accepts sessions.
func start(kind, dir, addr string, argv []string) (*Server, error) {
	p, err := launch.StartServing(launch.Options{
		Name:      kind,
		Argv:      argv,
		Dir:       dir,
		Addr:      addr,
		LogPath:   filepath.Join(dir, "server.out"),
		StopGrace: stopTimeout,
	}, startTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", kind, addr, err)
	}
	return &Server{Kind: kind, Dir: dir, proc: p}, nil
}

// FourLetterWord sends word on a fresh connection and returns everything the
// server writes until it closes the connection.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	return launch.FourLetterWord(addr, word, timeout)
}

// ports are this package's: other packages that start servers use other ranges.
var ports = &launch.Ports{Low: portLow, High: portHigh}

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

// Dependencies fail the test rather than skip it: a missing client would
// otherwise hide every incompatibility that client would have found.

func requireApache(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper (a JVM) and zkd: slow; runs without -short")
	}
	if err := apacheJVM.Check(); err != nil {
		t.Fatalf("%v: %s", err, installHint)
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
