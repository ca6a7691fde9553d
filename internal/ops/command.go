package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoPid is returned when {pid} or a signal needs a pid no flag gave.
var ErrNoPid = errors.New("ops: no pid")

// Placeholders are the names a command template may use.
var Placeholders = []string{"name", "host", "port", "addr", "myid", "pid"}

var placeholderRE = regexp.MustCompile(`\{([a-z]*)\}`)

// CheckTemplate reports a placeholder Expand would not know, and whether
// the template uses {pid}.
func CheckTemplate(tmpl string) (usesPid bool, err error) {
	if strings.TrimSpace(tmpl) == "" {
		return false, errors.New("ops: empty command")
	}
	for _, m := range placeholderRE.FindAllStringSubmatch(tmpl, -1) {
		known := false
		for _, p := range Placeholders {
			known = known || m[1] == p
		}
		if !known {
			return false, fmt.Errorf("ops: command %q: unknown placeholder {%s} (known: {%s})", tmpl, m[1], strings.Join(Placeholders, "}, {"))
		}
		usesPid = usesPid || m[1] == "pid"
	}
	return usesPid, nil
}

// Expand replaces the placeholders of tmpl with vars, each quoted for sh
// when it holds anything but letters, digits and ._:/@%+=,-.
func Expand(tmpl string, vars map[string]string) (string, error) {
	if _, err := CheckTemplate(tmpl); err != nil {
		return "", err
	}
	var missing error
	out := placeholderRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		key := m[1 : len(m)-1]
		v, ok := vars[key]
		if !ok {
			missing = fmt.Errorf("ops: command %q: no value for {%s}", tmpl, key)
		}
		return shellQuote(v)
	})
	return out, missing
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9._:/@%+=,-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// A Target is the server an action acts on.
type Target struct {
	Server Server
	MyID   int64
}

func (t Target) vars() map[string]string {
	return map[string]string{
		"name": t.Server.Name, "host": t.Server.Host, "port": strconv.Itoa(t.Server.Port),
		"addr": t.Server.Addr, "myid": strconv.FormatInt(t.MyID, 10),
	}
}

// A PidSource gives a server's process id on this machine: from a list
// given up front, or read from a pid file when needed (a restarted server
// has a new pid).
type PidSource struct {
	// Pids by server name.
	Pids map[string]int
	// File is a path template ({name}, {host}, {port}, {addr}, {myid}) of a
	// file holding the pid.
	File string
}

// Empty: no pid can be found.
func (p PidSource) Empty() bool { return len(p.Pids) == 0 && p.File == "" }

// Pid looks t's pid up.
func (p PidSource) Pid(t Target) (int, error) {
	if pid, ok := p.Pids[t.Server.Name]; ok {
		return pid, nil
	}
	if p.File == "" {
		return 0, fmt.Errorf("%w for %s: give it with --pids %s=PID or --pid-file", ErrNoPid, t.Server.Name, t.Server.Name)
	}
	path := placeholderRE.ReplaceAllStringFunc(p.File, func(m string) string { return t.vars()[m[1:len(m)-1]] })
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%w for %s: %v", ErrNoPid, t.Server.Name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%w for %s: %s holds %q", ErrNoPid, t.Server.Name, path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// An Action stops or restarts one server.
type Action interface {
	// Describe says what Run would do to t, for plans and reports.
	Describe(t Target) string
	// Run does it and returns what the command printed.
	Run(ctx context.Context, t Target) (string, error)
}

// Shell runs a command template through sh -c.
type Shell struct {
	Template string
	Pids     PidSource
	// Timeout bounds the command (none when 0); it is killed after it.
	Timeout time.Duration
}

var _ Action = Shell{}

func (s Shell) expand(t Target) (string, error) {
	usesPid, err := CheckTemplate(s.Template)
	if err != nil {
		return "", err
	}
	vars := t.vars()
	if usesPid {
		pid, err := s.Pids.Pid(t)
		if err != nil {
			return "", err
		}
		vars["pid"] = strconv.Itoa(pid)
	}
	return Expand(s.Template, vars)
}

func (s Shell) Describe(t Target) string {
	cmd, err := s.expand(t)
	if err != nil {
		return fmt.Sprintf("%s (cannot expand: %v)", s.Template, err)
	}
	return "sh -c " + shellQuote(cmd)
}

func (s Shell) Run(ctx context.Context, t Target) (string, error) {
	line, err := s.expand(t)
	if err != nil {
		return "", err
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %v", ctx.Err(), s.Timeout)
		}
		if text != "" {
			return text, fmt.Errorf("ops: %s: %v: %s", line, err, lastLines(text, 5))
		}
		return text, fmt.Errorf("ops: %s: %v", line, err)
	}
	return text, nil
}

// Signal sends a signal to the server's local process.
type Signal struct {
	Signal syscall.Signal
	Pids   PidSource
}

var _ Action = Signal{}

func (s Signal) Describe(t Target) string {
	pid, err := s.Pids.Pid(t)
	if err != nil {
		return fmt.Sprintf("send %v (%v)", s.Signal, err)
	}
	return fmt.Sprintf("send %s to pid %d", signalName(s.Signal), pid)
}

func (s Signal) Run(ctx context.Context, t Target) (string, error) {
	pid, err := s.Pids.Pid(t)
	if err != nil {
		return "", err
	}
	if err := syscall.Kill(pid, s.Signal); err != nil {
		return "", fmt.Errorf("ops: send %s to pid %d (%s): %w", signalName(s.Signal), pid, t.Server.Name, err)
	}
	return "", nil
}

// ParseSignal reads KILL, SIGKILL, TERM, 9, 15 and the other usual names.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for sig, n := range signalNames {
		if n == name {
			return sig, nil
		}
	}
	return 0, fmt.Errorf("ops: unknown signal %q (want KILL, TERM, INT, HUP, QUIT, STOP, CONT, USR1, USR2 or a number)", s)
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM", syscall.SIGINT: "INT", syscall.SIGHUP: "HUP",
	syscall.SIGQUIT: "QUIT", syscall.SIGSTOP: "STOP", syscall.SIGCONT: "CONT",
	syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return "SIG" + n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// ParsePids reads name=pid,name=pid.
func ParsePids(spec string) (map[string]int, error) {
	out := map[string]int{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, v, ok := strings.Cut(item, "=")
		pid, err := strconv.Atoi(v)
		if !ok || name == "" || err != nil || pid <= 1 {
			return nil, fmt.Errorf("ops: pids: %q: want name=pid", item)
		}
		out[name] = pid
	}
	return out, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
