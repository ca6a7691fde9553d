package interop

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

// ErrNoLeader: an ensemble did not settle with exactly one leader and every
// other running server following it.
var ErrNoLeader = errors.New("interop: no settled leader")

// Ensemble is n servers of one kind replicating on loopback, each with a
// zoo.cfg of Options plus initLimit, syncLimit and the server.N lines of all
// of them (server.i is Servers[i-1]).
type Ensemble struct {
	// Kind is "apache", "zkd" or "zkd=apache" (self-test).
	Kind    string
	Servers []*Server
}

// Addrs are the servers' client addresses, server.1's first.
func (e *Ensemble) Addrs() []string {
	out := make([]string, len(e.Servers))
	for i, s := range e.Servers {
		out[i] = s.Addr()
	}
	return out
}

// ConnectString is every client address, comma-separated, as clients take
// an ensemble.
func (e *Ensemble) ConnectString() string { return strings.Join(e.Addrs(), ",") }

// Leader waits until every running server's srvr shows a serving mode with
// exactly one leader, and returns the leader's index in Servers.
func (e *Ensemble) Leader(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		modes := make([]string, len(e.Servers))
		leader, leaders, settled := -1, 0, true
		for i, s := range e.Servers {
			if !s.Alive() {
				modes[i] = "(stopped)"
				continue
			}
			modes[i] = srvrMode(s.Addr())
			switch modes[i] {
			case "leader":
				leader = i
				leaders++
			case "follower", "observer":
			default:
				settled = false
			}
		}
		if settled && leaders == 1 {
			return leader, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("%w in the %s ensemble within %v: modes %q", ErrNoLeader, e.Kind, timeout, modes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// srvrMode is srvr's "Mode:" value, or "" when the server does not serve.
func srvrMode(addr string) string {
	out, err := FourLetterWord(addr, "srvr", time.Second)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(l, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// Kill ends every server at once.
func (e *Ensemble) Kill() {
	for _, s := range e.Servers {
		if s != nil {
			s.Kill()
		}
	}
}

// LogTails are the last n lines of every server's log, for failure messages.
func (e *Ensemble) LogTails(n int) string {
	var b strings.Builder
	for i, s := range e.Servers {
		fmt.Fprintf(&b, "--- %s server.%d (%s, %s):\n%s\n", e.Kind, i+1, s.Addr(), s.LogPath(), s.LogTail(n))
	}
	return b.String()
}

// StartZkdEnsemble starts n zkd servers as one ensemble and waits until
// each serves (a quorum elected a leader and synced them). They are killed
// when the test ends. With ZKD_INTEROP_SELFTEST=1 they are Apache servers.
func StartZkdEnsemble(t testing.TB, n int, o Options) *Ensemble {
	t.Helper()
	e, err := startZkdEnsemble(n, o, serverDir(t, "zkd-ensemble"))
	if err != nil {
		t.Fatalf("start a %d-server zkd ensemble: %v", n, err)
	}
	t.Cleanup(e.Kill)
	return e
}

// StartApacheEnsemble starts n Apache ZooKeeper 3.8 servers (QuorumPeerMain)
// as one ensemble, as StartZkdEnsemble does.
func StartApacheEnsemble(t testing.TB, n int, o Options) *Ensemble {
	t.Helper()
	requireApache(t)
	e, err := startApacheEnsemble(n, o, serverDir(t, "apache-ensemble"))
	if err != nil {
		t.Fatalf("start a %d-server Apache ensemble: %v", n, err)
	}
	t.Cleanup(e.Kill)
	return e
}

// ensembleJVM is one Apache ensemble member: three of them share two cores
// with zkd's, so the JIT stops at its first tier and the heap is small.
var ensembleJVM = launch.Apache{Main: launch.QuorumPeerMain,
	JVMFlags: []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}

func startApacheEnsemble(n int, o Options, dir string) (*Ensemble, error) {
	return startEnsemble("apache", n, o, dir, func(_ int, cfg string) []string { return apacheMemberArgv(o, cfg) })
}

func apacheMemberArgv(o Options, cfg string) []string {
	jvm := ensembleJVM
	if o.SuperDigest != "" {
		jvm.JVMFlags = append(append([]string(nil), jvm.JVMFlags...),
			"-Dzookeeper.DigestAuthenticationProvider.superDigest="+o.SuperDigest)
	}
	return jvm.Argv(cfg)
}

func startZkdEnsemble(n int, o Options, dir string) (*Ensemble, error) {
	if SelfTest() {
		e, err := startApacheEnsemble(n, o, dir)
		if e != nil {
			e.Kind = "zkd=apache"
		}
		return e, err
	}
	bin, err := launch.ZkdBinary()
	if err != nil {
		return nil, err
	}
	return startEnsemble("zkd", n, o, dir, func(_ int, cfg string) []string { return launch.ZkdArgv(bin, cfg) })
}

// StartMixedEnsemble starts n servers as one ensemble, server.i run by zkd
// when zkd[i] and by Apache ZooKeeper 3.8 otherwise, as StartZkdEnsemble
// does (Kind "mixed"). With ZKD_INTEROP_SELFTEST=1 all are Apache.
func StartMixedEnsemble(t testing.TB, n int, o Options, zkd map[int]bool) *Ensemble {
	t.Helper()
	requireApache(t)
	bin, err := launch.ZkdBinary()
	if err != nil {
		t.Fatalf("zkd binary: %v", err)
	}
	e, err := startEnsemble("mixed", n, o, serverDir(t, "mixed-ensemble"), func(id int, cfg string) []string {
		if zkd[id] && !SelfTest() {
			return launch.ZkdArgv(bin, cfg)
		}
		return apacheMemberArgv(o, cfg)
	})
	if err != nil {
		t.Fatalf("start a %d-server mixed ensemble: %v", n, err)
	}
	t.Cleanup(e.Kill)
	return e
}

// startEnsemble writes the servers' configs on fresh ports, starts them all
// and waits for each to serve; a client port found taken means new ports
// for all (as onFreshPorts does for one server).
func startEnsemble(kind string, n int, o Options, dir string, argv func(id int, cfg string) []string) (*Ensemble, error) {
	var errs []error
	for try := range portTries {
		e, err := startEnsembleOnce(kind, n, o, filepath.Join(dir, fmt.Sprintf("try%d", try+1)), argv)
		if !errors.Is(err, launch.ErrPortInUse) {
			return e, err
		}
		log.Printf("interop: %v; trying other ports", err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func startEnsembleOnce(kind string, n int, o Options, dir string, argv func(id int, cfg string) []string) (*Ensemble, error) {
	type member struct{ client, quorum, election int }
	members := make([]member, n)
	var lines strings.Builder
	for i := range members {
		for _, p := range []*int{&members[i].client, &members[i].quorum, &members[i].election} {
			port, err := allocPort()
			if o.Ports != nil {
				port, err = o.Ports.Alloc()
			}
			if err != nil {
				return nil, err
			}
			*p = port
		}
		fmt.Fprintf(&lines, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", i+1, members[i].quorum, members[i].election, members[i].client)
	}
	e := &Ensemble{Kind: kind}
	procs := make([]*launch.Process, n)
	fail := func(err error) (*Ensemble, error) {
		for _, p := range procs {
			if p != nil {
				p.Kill()
			}
		}
		return nil, err
	}
	for i, m := range members {
		sdir := filepath.Join(dir, fmt.Sprintf("server%d", i+1))
		dataDir := filepath.Join(sdir, "data")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(filepath.Join(dataDir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			return fail(err)
		}
		var b strings.Builder
		writeCommonConfig(&b, o, dataDir, m.client)
		b.WriteString("initLimit=10\nsyncLimit=5\nadmin.enableServer=false\n")
		b.WriteString(lines.String())
		cfg := filepath.Join(sdir, "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
			return fail(err)
		}
		name := fmt.Sprintf("%s server.%d", kind, i+1)
		p, err := launch.Start(launch.Options{Name: name, Argv: argv(i+1, cfg), Dir: sdir, Addr: launch.Loopback(m.client),
			LogPath: filepath.Join(sdir, "server.out"), StopGrace: stopTimeout})
		if err != nil {
			return fail(err)
		}
		procs[i] = p
		e.Servers = append(e.Servers, &Server{Kind: kind, Dir: sdir, proc: p})
	}
	// A member serves only once a quorum is up, so all start before any
	// is waited for.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = p.WaitServing(startTimeout) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return e, nil
}
