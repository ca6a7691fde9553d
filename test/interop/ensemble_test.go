package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The ensemble scenarios run each client against a 3-server zkd ensemble
// and, as the reference, a 3-server Apache ZooKeeper ensemble, both on
// loopback. Every client gets the full server list. The writes it must see
// are made through each server alone (one go-zookeeper session per
// server), and its own write is read back through each server alone, each
// after a sync: so whichever server the client picked, it reads writes that
// went through the others, and the others read its write. The last
// scenario stops each ensemble's leader.

// ensembleOptions is the servers' configuration: Apache's default tickTime,
// so a session of kazoo's 10 s outlives an election.
var ensembleOptions = Options{}

func TestEnsembleClients(t *testing.T) {
	requireApache(t)
	requireFile(t, zkCliPath)
	requireFile(t, cliMtPath)
	requireKazoo(t)
	var apache, zkd *Ensemble
	var apacheErr, zkdErr error
	var wg sync.WaitGroup
	wg.Add(2)
	apacheDir, zkdDir := serverDir(t, "apache-ensemble"), serverDir(t, "zkd-ensemble")
	go func() { defer wg.Done(); apache, apacheErr = startApacheEnsemble(3, ensembleOptions, apacheDir) }()
	go func() { defer wg.Done(); zkd, zkdErr = startZkdEnsemble(3, ensembleOptions, zkdDir) }()
	wg.Wait()
	for _, e := range []*Ensemble{apache, zkd} {
		if e != nil {
			t.Cleanup(e.Kill)
		}
	}
	if err := errors.Join(apacheErr, zkdErr); err != nil {
		t.Fatalf("start the ensembles: %v", err)
	}
	compareEnsembles(t, apache, zkd, "zkcli", ensembleZkCli)
	compareEnsembles(t, apache, zkd, "climt", ensembleCliMt)
	compareEnsembles(t, apache, zkd, "kazoo", func(t *testing.T, e *Ensemble) string {
		return runKazooArgs(t, "ensemble.py", e.ConnectString())
	})
	compareEnsembles(t, apache, zkd, "reconnect-while-leader-paused", ensembleReconnectLeaderPaused)
	compareEnsembles(t, apache, zkd, "gozk-watches-move", ensembleGozkWatchesMove)
	// Last: it leaves each ensemble without its first leader.
	compareEnsembles(t, apache, zkd, "kazoo-leader-stopped", ensembleKazooFailover)
}

// compareEnsembles runs sc against both ensembles in parallel and compares
// the normalized transcripts.
func compareEnsembles(t *testing.T, apache, zkd *Ensemble, name string, sc func(t *testing.T, e *Ensemble) string) {
	t.Helper()
	sideOf := func(e *Ensemble) side {
		return side{e.Kind + " ensemble", func(t *testing.T) string { return sc(t, e) }, func() string { return e.LogTails(15) }}
	}
	compareSides(t, name, normalize, sideOf(apache), sideOf(zkd))
}

// ensembleSession is a go-zookeeper session with one server of e alone.
func ensembleSession(t *testing.T, e *Ensemble, i int) *gozkSession {
	t.Helper()
	return gozkConnect(t, e.Servers[i].Addr(), 10*time.Second)
}

// writeThroughEach creates root (through server.1) and root/via-<i>
// through server.i alone, and returns what it did as transcript lines.
func writeThroughEach(t *testing.T, e *Ensemble, root string) string {
	t.Helper()
	var tr transcript
	for i := range e.Servers {
		s := ensembleSession(t, e, i)
		if i == 0 {
			_, err := s.Create(root, []byte("root"), 0, openACL)
			tr.printf("through server.1 alone: create %s: %s", root, errStr(err))
		}
		path := fmt.Sprintf("%s/via-%d", root, i+1)
		_, err := s.Create(path, []byte(fmt.Sprintf("written through server.%d", i+1)), 0, openACL)
		tr.printf("through server.%d alone: create %s: %s", i+1, path, errStr(err))
		s.Close()
	}
	return tr.String()
}

// readThroughEach reads path through each server alone after a sync there.
func readThroughEach(t *testing.T, e *Ensemble, path string) string {
	t.Helper()
	var tr transcript
	for i := range e.Servers {
		s := ensembleSession(t, e, i)
		_, err := s.Sync(path)
		data, st, gerr := s.Get(path)
		version := int32(-1)
		if st != nil {
			version = st.Version
		}
		tr.printf("through server.%d alone: sync: %s; get %s: %q version=%d %s", i+1, errStr(err), path, data, version, errStr(gerr))
		s.Close()
	}
	return tr.String()
}

func ensembleZkCli(t *testing.T, e *Ensemble) string {
	const root = "/zkcli-ensemble"
	before := writeThroughEach(t, e, root)
	cli := runZkCli(t, e.ConnectString(), []string{
		"sync " + root,
		"get " + root + "/via-1",
		"get " + root + "/via-2",
		"get " + root + "/via-3",
		"ls " + root,
		"create " + root + "/from-zkcli written-by-zkcli",
		"set " + root + " root-v1",
		"get -s " + root,
		"quit",
	})
	return before + cli + readThroughEach(t, e, root+"/from-zkcli") + readThroughEach(t, e, root)
}

func ensembleCliMt(t *testing.T, e *Ensemble) string {
	const root = "/climt-ensemble"
	before := writeThroughEach(t, e, root)
	cli := runCliMt(t, e.ConnectString(), []string{
		"sync " + root,
		"get " + root + "/via-1",
		"get " + root + "/via-2",
		"get " + root + "/via-3",
		"ls " + root,
		"create " + root + "/from-climt",
		"set " + root + " root-v1",
		"get " + root,
		"quit",
	})
	return before + cli + readThroughEach(t, e, root+"/from-climt") + readThroughEach(t, e, root)
}

// ensembleKazooFailover runs ensemble_failover.py with the leader first in
// its connect string; when the script says so, it stops the leader
// (SIGTERM), waits until the two others elect a leader, and tells the
// script. The transcript adds the driver's lines to the script's.
func ensembleKazooFailover(t *testing.T, e *Ensemble) string {
	leader, err := e.Leader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	addrs := e.Addrs()
	others := slices.Delete(slices.Clone(addrs), leader, leader+1)
	hosts := append([]string{addrs[leader]}, others...)
	dir, err := filepath.Abs(filepath.Join("testdata", "kazoo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, "ensemble_failover.py", strings.Join(hosts, ","), strings.Join(others, ","))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ensemble_failover.py: %v", err)
	}
	var tr transcript
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		tr.printf("%s", line)
		if line != "(stopping the leader)" {
			continue
		}
		stopped := time.Now()
		e.Servers[leader].Stop()
		answer := "the leader stopped and another leads"
		if _, err := e.Leader(30 * time.Second); err != nil {
			answer = "no new leader: " + err.Error()
			t.Error(err)
		} else {
			t.Logf("%s: server.%d stopped; a new leader within %v", e.Kind, leader+1, time.Since(stopped).Round(time.Millisecond))
		}
		io.WriteString(stdin, answer+"\n")
	}
	if err := cmd.Wait(); err != nil {
		tr.printf("(script failed: %v)", err)
		t.Errorf("ensemble_failover.py against %s: %v\nstderr:\n%s", e.Kind, err, stderr.String())
	} else if stderr.Len() > 0 {
		t.Logf("ensemble_failover.py stderr (kazoo's log):\n%s", stderr.String())
	}
	return tr.String()
}

// ensembleReconnectLeaderPaused reconnects a session through a follower
// while the leader is paused (SIGSTOP): only the leader knows whether the
// session still lives, so the follower asks it (REVALIDATE) and answers the
// client only once the leader does, after SIGCONT. The follower does not
// give up on its leader within the pause (2 s, under syncLimit*tickTime).
func ensembleReconnectLeaderPaused(t *testing.T, e *Ensemble) string {
	leader, err := e.Leader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var followers []int
	for i := range e.Servers {
		if i != leader {
			followers = append(followers, i)
		}
	}
	return reconnectWhileLeaderPaused(t, e, leader, followers[0], followers[1])
}

// reconnectWhileLeaderPaused creates a session through server index
// created, pauses the leader, and reconnects the session through server
// index through.
func reconnectWhileLeaderPaused(t *testing.T, e *Ensemble, leader, created, through int) string {
	var tr transcript
	first, err := net.DialTimeout("tcp", e.Servers[created].Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := sendConnect(first, 0, make([]byte, 16), 30000); err != nil {
		t.Fatal(err)
	}
	a, err := readConnect(first, 10*time.Second)
	if err != nil {
		t.Fatalf("a new session through a follower: %v", err)
	}
	tr.printf("new session through a follower: timeout=%d session=0x%x", a.timeout, a.session)
	first.Close() // the session lives on for its timeout

	leaderProc := e.Servers[leader]
	if err := leaderProc.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := leaderProc.Resume(); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()
	tr.printf("(leader paused)")
	second, err := net.DialTimeout("tcp", e.Servers[through].Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := sendConnect(second, a.session, a.passwd, 30000); err != nil {
		t.Fatal(err)
	}
	if b, err := readConnect(second, 2*time.Second); err == nil {
		tr.printf("reconnect through the other follower: answered while the leader was paused: timeout=%d session=0x%x", b.timeout, b.session)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		tr.printf("reconnect through the other follower: no answer within 2 s")
	} else {
		tr.printf("reconnect through the other follower: %v", err)
	}
	resume()
	tr.printf("(leader continued)")
	if b, err := readConnect(second, 10*time.Second); err == nil {
		tr.printf("reconnect answered: timeout=%d session=0x%x same=%v", b.timeout, b.session, b.session == a.session)
	} else {
		tr.printf("reconnect: no answer after the leader continued (%v)", err)
	}
	return tr.String()
}

type connectAnswer struct {
	timeout int32
	session int64
	passwd  []byte
}

// sendConnect writes a ConnectRequest (protocol version 0, last zxid seen
// 0, readOnly false).
func sendConnect(nc net.Conn, session int64, passwd []byte, timeoutMs int32) error {
	b := binary.BigEndian.AppendUint32(nil, 0) // length, set below
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(timeoutMs))
	b = binary.BigEndian.AppendUint64(b, uint64(session))
	b = binary.BigEndian.AppendUint32(b, uint32(len(passwd)))
	b = append(b, passwd...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	_, err := nc.Write(b)
	return err
}

// readConnect reads a ConnectResponse within d.
func readConnect(nc net.Conn, d time.Duration) (connectAnswer, error) {
	var a connectAnswer
	if err := nc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return a, err
	}
	var head [4]byte
	if _, err := io.ReadFull(nc, head[:]); err != nil {
		return a, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n < 20 || n > 1024 {
		return a, fmt.Errorf("a connect response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(nc, body); err != nil {
		return a, err
	}
	a.timeout = int32(binary.BigEndian.Uint32(body[4:]))
	a.session = int64(binary.BigEndian.Uint64(body[8:]))
	pl := int(binary.BigEndian.Uint32(body[16:]))
	if pl < 0 || 20+pl > len(body) {
		return a, fmt.Errorf("a connect response with a %d-byte password in %d bytes", pl, n)
	}
	a.passwd = body[20 : 20+pl]
	return a, nil
}

// TestMixedEnsembleRevalidate: a zkd follower of an Apache leader asks
// the leader about a reconnecting session (REVALIDATE) and answers the
// client with Apache's verdict, only once Apache answers.
func TestMixedEnsembleRevalidate(t *testing.T) {
	// Server 3 is Apache: with equal (empty) logs the highest myid leads,
	// unless server.1's JVM comes up well before server.3's and it forms
	// the first quorum with zkd's server.2; the start is then tried again.
	var e *Ensemble
	var leader int
	for try := 1; ; try++ {
		e = StartMixedEnsemble(t, 3, ensembleOptions, map[int]bool{1: true})
		var err error
		if leader, err = e.Leader(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		if leader == 2 {
			break
		}
		if try == 3 {
			t.Fatalf("server.%d leads in %d starts; the scenario needs Apache's server.3 as the leader", leader+1, try)
		}
		t.Logf("server.%d leads (the JVMs came up apart); starting the ensemble again", leader+1)
		e.Kill()
	}
	got := normalize(reconnectWhileLeaderPaused(t, e, leader, 1, 0))
	want := `new session through a follower: timeout=30000 session=s1
(leader paused)
reconnect through the other follower: no answer within 2 s
(leader continued)
reconnect answered: timeout=30000 session=s1 same=true
`
	if got != want {
		t.Errorf("a session created through Apache's follower, reconnected through zkd's while Apache's leader is paused:\n%s\nwant (what an all-Apache ensemble does):\n%s\n%s",
			got, want, e.LogTails(20))
	}
}

// ensembleGozkWatchesMove moves a go-zookeeper session to another server
// while its watches are set and the watched nodes change: the client
// sends its watches with SetWatches and the last zxid it saw, and the new
// server fires each watch whose node changed since.
func ensembleGozkWatchesMove(t *testing.T, e *Ensemble) string {
	const root = "/gozk-move"
	var tr transcript
	d := &movingDialer{}
	states := make(chan zk.State, 256)
	onEvent := zk.WithEventCallback(func(ev zk.Event) {
		if ev.Type == zk.EventSession {
			select {
			case states <- ev.State:
			default:
			}
		}
	})
	conn, _, err := zk.Connect(e.Addrs(), 10*time.Second, zk.WithLogger(silentLogger{}), onEvent, zk.WithDialer(d.dial))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &gozkSession{Conn: conn, states: states}
	if !c.waitState(zk.StateHasSession, 15*time.Second) {
		t.Fatalf("no session with %s", e.ConnectString())
	}
	before := conn.Server()
	_, err = c.Create(root, nil, 0, openACL)
	tr.printf("create %s: %s", root, errStr(err))
	_, err = c.Create(root+"/data", []byte("v0"), 0, openACL)
	tr.printf("create %s/data: %s", root, errStr(err))
	_, _, dataCh, err := c.GetW(root + "/data")
	tr.printf("get %s/data, watching: %s", root, errStr(err))
	_, _, childCh, err := c.ChildrenW(root)
	tr.printf("children of %s, watching: %s", root, errStr(err))
	_, _, existCh, err := c.ExistsW(root + "/later")
	tr.printf("exists %s/later, watching: %s", root, errStr(err))
	_, _, quietCh, err := c.ExistsW(root + "/never")
	tr.printf("exists %s/never, watching: %s", root, errStr(err))

	d.cut()
	tr.printf("(connection cut; no reconnect yet)")
	if !c.waitState(zk.StateDisconnected, 10*time.Second) {
		t.Fatal("the session did not see its connection cut")
	}
	var writerIdx int
	for i, a := range e.Addrs() {
		if a != before {
			writerIdx = i
			break
		}
	}
	w := ensembleSession(t, e, writerIdx)
	_, err = w.Set(root+"/data", []byte("v1"), -1)
	tr.printf("through another server: set %s/data: %s", root, errStr(err))
	_, err = w.Create(root+"/later", nil, 0, openACL)
	tr.printf("through another server: create %s/later: %s", root, errStr(err))
	tr.printf("events while away: data %s; children %s; exists %s", pollEvent(dataCh), pollEvent(childCh), pollEvent(existCh))

	d.allowAllBut(before)
	tr.printf("(reconnect allowed, to any server but the one it was on)")
	if !c.waitState(zk.StateHasSession, 15*time.Second) {
		t.Fatal("the session did not come back")
	}
	tr.printf("on another server: %v", conn.Server() != before)
	tr.printf("data watch: %s", waitEvent(dataCh, 10*time.Second))
	tr.printf("child watch: %s", waitEvent(childCh, 10*time.Second))
	tr.printf("exists watch: %s", waitEvent(existCh, 10*time.Second))
	data, _, err := c.Get(root + "/data")
	tr.printf("get %s/data: %q %s", root, data, errStr(err))
	tr.printf("untouched exists watch: %s", pollEvent(quietCh))
	_, err = w.Create(root+"/never", nil, 0, openACL)
	tr.printf("through another server: create %s/never: %s", root, errStr(err))
	tr.printf("exists watch set before the move: %s", waitEvent(quietCh, 10*time.Second))
	return tr.String()
}

// movingDialer lets a test cut a client's connections, keep it from
// reconnecting, then let it reconnect anywhere but one server.
type movingDialer struct {
	mu      sync.Mutex
	blocked func(addr string) bool
	conns   []net.Conn
}

func (d *movingDialer) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blocked != nil && d.blocked(address) {
		return nil, fmt.Errorf("interop: dialing %s blocked by the test", address)
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

// cut closes every connection and refuses new ones.
func (d *movingDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blocked = func(string) bool { return true }
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

// allowAllBut lets the client dial any server but addr.
func (d *movingDialer) allowAllBut(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blocked = func(a string) bool { return a == addr }
}

// runKazooArgs runs a kazoo script of testdata/kazoo with args and returns
// its stdout.
func runKazooArgs(t *testing.T, script string, args ...string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "kazoo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		// Part of what the user sees: a script that dies or hangs.
		stdout.WriteString("(script failed: " + err.Error() + ")\n")
		t.Errorf("%s against %s: %v\nstderr:\n%s", script, strings.Join(args, " "), err, stderr.String())
	} else if stderr.Len() > 0 {
		t.Logf("%s stderr (kazoo's log):\n%s", script, stderr.String())
	}
	return stdout.String()
}
