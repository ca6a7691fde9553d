package launch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	ErrPortInUse    = errors.New("launch: something already answers on the client port")
	ErrExited       = errors.New("launch: server exited before it served")
	ErrNotServing   = errors.New("launch: server did not serve in time")
	ErrKilled       = errors.New("launch: server ignored SIGTERM and was killed")
	ErrUncleanExit  = errors.New("launch: server exited uncleanly")
	ErrStillRunning = errors.New("launch: server still running")
)

const (
	// DefaultStopGrace is how long Stop waits after SIGTERM before SIGKILL.
	DefaultStopGrace = 10 * time.Second
	// tailBytes bounds how much of the log a failure message reads.
	tailBytes = 64 << 10
	// errorTailLines is how much of that an error message shows.
	errorTailLines = 40
	pollInterval   = 50 * time.Millisecond
)

// Options say how to start one server process.
type Options struct {
	// Name labels the server in errors: "zkd", "apache", ...
	Name string
	// Argv is the command line: Apache.Argv or ZkdArgv, possibly wrapped
	// (taskset ...).
	Argv []string
	// Env is added to this process's environment (a later KEY=value wins).
	Env []string
	// Dir is the working directory; empty means this process's.
	Dir string
	// Addr is the client address (host:port) that zoo.cfg makes the server
	// listen on: refused if it answers before Start, probed by WaitServing.
	Addr string
	// LogPath receives stdout and stderr, appended.
	LogPath string
	// Probe decides WaitServing; nil means ProbeFourLetter.
	Probe Probe
	// StopGrace is Stop's wait between SIGTERM and SIGKILL; 0 means
	// DefaultStopGrace.
	StopGrace time.Duration
	// OwnGroup puts the server in its own process group, away from a
	// terminal's Ctrl-C (the caller stops it in order), and has the kernel
	// kill it if the thread that started it dies, so that it never
	// outlives its starter.
	OwnGroup bool
}

// Process is one started server.
type Process struct {
	name      string
	addr      string
	logPath   string
	logStart  int64 // size of the log file at start: this process's output follows
	probe     Probe
	stopGrace time.Duration
	cmd       *exec.Cmd
	started   time.Time

	exited  chan struct{}
	waitErr error // cmd.Wait's; written before exited is closed

	mu      sync.Mutex
	serving time.Time

	endOnce sync.Once
	endErr  error
}

// Start execs the server without waiting for it to serve.
func Start(o Options) (*Process, error) {
	if len(o.Argv) == 0 || o.Addr == "" || o.LogPath == "" {
		return nil, errors.New("launch: Options need Argv, Addr and LogPath")
	}
	name := o.Name
	if name == "" {
		name = filepath.Base(o.Argv[0])
	}
	if conn, err := net.DialTimeout("tcp", o.Addr, time.Second); err == nil {
		conn.Close()
		owner := listenerOwner(o.Addr)
		if owner == "" {
			owner = "owner unknown"
		}
		return nil, fmt.Errorf("%w: %s, held by %s (%s not started: its readiness check would reach that instead)", ErrPortInUse, o.Addr, owner, name)
	}
	log, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// The child gets its own descriptor; this one is not needed after Start.
	defer log.Close()
	info, err := log.Stat()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Argv[0], o.Argv[1:]...)
	cmd.Dir = o.Dir
	if len(o.Env) > 0 {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if o.OwnGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	p := &Process{
		name:      name,
		addr:      o.Addr,
		logPath:   o.LogPath,
		logStart:  info.Size(),
		probe:     o.Probe,
		stopGrace: o.StopGrace,
		cmd:       cmd,
		exited:    make(chan struct{}),
	}
	if p.probe == nil {
		p.probe = ProbeFourLetter
	}
	if p.stopGrace <= 0 {
		p.stopGrace = DefaultStopGrace
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch: start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// StartServing starts the server and waits up to timeout until it serves;
// a server that does not is killed.
func StartServing(o Options, timeout time.Duration) (*Process, error) {
	p, err := Start(o)
	if err != nil {
		return nil, err
	}
	if err := p.WaitServing(timeout); err != nil {
		_ = p.Kill()
		return nil, err
	}
	return p, nil
}

// WaitServing polls the probe until it passes, the process exits
// (ErrExited) or timeout passes (ErrNotServing). Both errors end with the
// tail of the server's log.
func (p *Process) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if !p.Running() {
			return fmt.Errorf("%w: %s (%s)%s", ErrExited, p.name, p.cmd.ProcessState, p.tailSection())
		}
		err := p.probe(p.addr)
		if err == nil {
			p.mu.Lock()
			p.serving = time.Now()
			p.mu.Unlock()
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w: %s on %s within %v (last probe: %v)%s", ErrNotServing, p.name, p.addr, timeout, err, p.tailSection())
		}
		select {
		case <-p.exited:
		case <-time.After(pollInterval):
		}
	}
}

// Stop sends SIGTERM and waits for the exit, sending SIGKILL after the
// grace period (then the error wraps ErrKilled). A server that exited by
// SIGTERM, or with 0 or 143 (128+SIGTERM, as the JVM does), stopped
// cleanly; any other exit, also one before Stop, wraps ErrUncleanExit.
// Only the first Stop or Kill acts; later calls return its result.
func (p *Process) Stop() error { return p.end(syscall.SIGTERM) }

// Kill sends SIGKILL, like a crash, and waits for the exit. It returns an
// error (ErrUncleanExit) only when the process had already exited uncleanly
// by itself.
func (p *Process) Kill() error { return p.end(syscall.SIGKILL) }

func (p *Process) end(sig syscall.Signal) error {
	p.endOnce.Do(func() { p.endErr = p.terminate(sig) })
	return p.endErr
}

func (p *Process) terminate(sig syscall.Signal) error {
	if !p.Running() {
		return p.judgeExit(0) // it ended by itself: only 0 is clean
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(p.stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%w: %s ignored SIGTERM for %v", ErrKilled, p.name, p.stopGrace)
	}
	return p.judgeExit(sig)
}

// judgeExit is nil for an exit that sent (0 for none) explains: status 0,
// death by sent, or status 128+sent from a process that handles it.
func (p *Process) judgeExit(sent syscall.Signal) error {
	if p.waitErr == nil {
		return nil
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && sent != 0 {
		if (ws.Signaled() && ws.Signal() == sent) || (ws.Exited() && ws.ExitStatus() == 128+int(sent)) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %s%s", ErrUncleanExit, p.name, p.cmd.ProcessState, p.tailSection())
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitErr is what waiting for the process returned (nil for status 0, an
// *exec.ExitError otherwise); nil while it runs.
func (p *Process) ExitErr() error {
	if p.Running() {
		return nil
	}
	return p.waitErr
}

// WaitExit waits up to timeout for the process to end by itself and returns
// its exit status (-1 for death by a signal), or ErrStillRunning.
func (p *Process) WaitExit(timeout time.Duration) (int, error) {
	if p.Running() {
		select {
		case <-p.exited:
		case <-time.After(timeout):
			return 0, fmt.Errorf("%w: %s after %v", ErrStillRunning, p.name, timeout)
		}
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// Name is Options.Name.
func (p *Process) Name() string { return p.name }

// Addr is the client address watched.
func (p *Process) Addr() string { return p.addr }

// Pid is the server's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// LogPath is the file holding the server's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Started is when the process was exec'd.
func (p *Process) Started() time.Time { return p.started }

// ServingSince is when WaitServing first saw it serve (zero before).
func (p *Process) ServingSince() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.serving
}

// Tail is the last n lines this process wrote to its log (all of the last
// 64 KiB when n <= 0), for failure messages.
func (p *Process) Tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	from := max(p.logStart, info.Size()-tailBytes)
	if from >= info.Size() {
		return ""
	}
	buf := make([]byte, info.Size()-from)
	k, _ := f.ReadAt(buf, from)
	text := string(buf[:k])
	if from > p.logStart {
		_, text, _ = strings.Cut(text, "\n") // a cut first line
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *Process) tailSection() string {
	return fmt.Sprintf("\n--- last lines of %s ---\n%s", p.logPath, p.Tail(errorTailLines))
}
