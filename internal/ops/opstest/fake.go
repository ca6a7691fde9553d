// Package opstest is a scripted ZooKeeper ensemble for the tests of the
// operator commands (internal/ops, cmd/zkd): loopback listeners that answer
// srvr, mntr and conf as Apache prints them and relay client connections to
// a real server. It never imports zkd's packages.
package opstest

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Ensemble is a scripted ensemble for the tests: one loopback listener
// per server answering srvr, mntr and conf as Apache prints them, with
// modes and zxids that follow a simple election model (the highest epoch,
// zxid and myid among a quorum of servers up wins, in a new epoch). Client
// connections (anything that is not a four-letter word) are relayed to a
// real zkd while the server serves, and cut when it stops or loses its
// leader, as a ZooKeeper server drops its clients when it goes LOOKING.
//
// A server stops when a file <name>.stop appears in Dir and restarts on
// <name>.restart, so the commands under test can be shell commands
// ('touch DIR/{name}.stop'); tests may also call Stop and Restart.
type Ensemble struct {
	t       *testing.T
	Dir     string
	backend string // the zkd client connections are relayed to

	ElectionDelay, RestartDelay, SyncDelay time.Duration
	words                                  map[string]bool // whitelisted words (nil: all)

	mu     sync.Mutex
	nodes  []*fakeNode
	events []string // what happened, for failure messages
	done   chan struct{}
	wg     sync.WaitGroup
}

type fakeNode struct {
	name  string
	addr  string
	myid  int64
	ln    net.Listener
	up    bool
	mode  string // leader, follower, observer; "" while looking
	zxid  int64
	peer  string // mntr's zk_peer_state suffix: broadcast or synchronization
	start time.Time
	conns map[net.Conn]bool
}

// NewEnsemble starts one fake server per name; the first leads, all at
// zxid 0x100000020, and clients are relayed to backend (none if empty).
func NewEnsemble(t *testing.T, backend string, names ...string) *Ensemble {
	t.Helper()
	fe := &Ensemble{t: t, Dir: t.TempDir(), backend: backend, done: make(chan struct{}),
		ElectionDelay: 300 * time.Millisecond, RestartDelay: 200 * time.Millisecond, SyncDelay: 200 * time.Millisecond}
	for i, name := range names {
		n := &fakeNode{name: name, myid: int64(i + 1), up: true, mode: "follower", zxid: 1<<32 | 0x20, peer: "broadcast", start: time.Now(), conns: map[net.Conn]bool{}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n.ln, n.addr = ln, ln.Addr().String()
		fe.nodes = append(fe.nodes, n)
		fe.accept(n, ln)
	}
	fe.nodes[0].mode = "leader"
	fe.wg.Add(1)
	go fe.watchDir()
	t.Cleanup(fe.close)
	return fe
}

// Spec is the --servers list: name=addr,...
func (fe *Ensemble) Spec() string {
	var parts []string
	for _, n := range fe.nodes {
		parts = append(parts, n.name+"="+n.addr)
	}
	return strings.Join(parts, ",")
}

func (fe *Ensemble) node(name string) *fakeNode {
	for _, n := range fe.nodes {
		if n.name == name {
			return n
		}
	}
	fe.t.Errorf("fake: no server %s", name)
	return &fakeNode{conns: map[net.Conn]bool{}}
}

// Whitelist answers only these words (and ruok); the others are refused
// as a 4lw.commands.whitelist refuses them.
func (fe *Ensemble) Whitelist(words ...string) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	fe.words = map[string]bool{}
	for _, w := range words {
		fe.words[w] = true
	}
}

// Set scripts one server's mode and zxid (mode "" is looking).
func (fe *Ensemble) Set(name, mode string, zxid int64) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	n := fe.node(name)
	n.mode, n.zxid = mode, zxid
}

func (fe *Ensemble) logf(format string, args ...any) {
	fe.events = append(fe.events, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// Events is what the fake did, one line each.
func (fe *Ensemble) Events() string {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return strings.Join(fe.events, "\n")
}

func (fe *Ensemble) close() {
	close(fe.done)
	fe.mu.Lock()
	for _, n := range fe.nodes {
		fe.down(n)
	}
	fe.mu.Unlock()
	fe.wg.Wait()
}

// Stop takes a server down; a leader's followers go looking and elect
// another after electionDelay.
func (fe *Ensemble) Stop(name string) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	n := fe.node(name)
	wasLeader := n.up && n.mode == "leader"
	fe.down(n)
	fe.logf("%s stopped", name)
	if wasLeader {
		fe.looking()
	}
}

// Restart stops a server and starts it again after restartDelay, as a
// follower that syncs for syncDelay.
func (fe *Ensemble) Restart(name string) {
	fe.Stop(name)
	time.AfterFunc(fe.RestartDelay, func() {
		fe.mu.Lock()
		defer fe.mu.Unlock()
		select {
		case <-fe.done:
			return
		default:
		}
		n := fe.node(name)
		ln, err := net.Listen("tcp", n.addr)
		if err != nil {
			fe.logf("%s cannot listen again on %s: %v", name, n.addr, err)
			return
		}
		n.ln, n.up, n.start, n.mode, n.peer = ln, true, time.Now(), "", "synchronization"
		fe.accept(n, ln)
		fe.logf("%s restarted", name)
		if l := fe.leader(); l != nil {
			fe.join(n, l)
		} else {
			fe.looking()
		}
	})
}

// join makes n follow l: syncing first, at l's zxid after syncDelay.
func (fe *Ensemble) join(n, l *fakeNode) {
	n.mode, n.peer, n.zxid = "follower", "synchronization", l.zxid&^0xffffffff
	time.AfterFunc(fe.SyncDelay, func() {
		fe.mu.Lock()
		defer fe.mu.Unlock()
		if n.up && n.mode == "follower" {
			if l := fe.leader(); l != nil {
				n.zxid, n.peer = l.zxid, "broadcast"
				fe.logf("%s synced with %s at 0x%x", n.name, l.name, n.zxid)
			}
		}
	})
}

func (fe *Ensemble) leader() *fakeNode {
	for _, n := range fe.nodes {
		if n.up && n.mode == "leader" {
			return n
		}
	}
	return nil
}

// looking drops every server's clients and elects after electionDelay.
func (fe *Ensemble) looking() {
	for _, n := range fe.nodes {
		if n.up {
			n.mode = ""
			fe.dropClients(n)
		}
	}
	time.AfterFunc(fe.ElectionDelay, fe.elect)
}

func (fe *Ensemble) elect() {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.leader() != nil {
		return
	}
	var up []*fakeNode
	for _, n := range fe.nodes {
		if n.up {
			up = append(up, n)
		}
	}
	if len(up) <= len(fe.nodes)/2 {
		fe.logf("no quorum: %d up", len(up))
		return
	}
	best := up[0]
	for _, n := range up[1:] {
		if n.zxid>>32 > best.zxid>>32 || (n.zxid>>32 == best.zxid>>32 && (n.zxid > best.zxid || (n.zxid == best.zxid && n.myid > best.myid))) {
			best = n
		}
	}
	newZxid := (best.zxid>>32 + 1) << 32
	for _, n := range up {
		n.zxid, n.mode, n.peer = newZxid, "follower", "broadcast"
	}
	best.mode = "leader"
	fe.logf("%s elected, epoch %d", best.name, newZxid>>32)
}

// down closes n's listener and clients. Caller holds mu.
func (fe *Ensemble) down(n *fakeNode) {
	if n.ln != nil {
		n.ln.Close()
		n.ln = nil
	}
	n.up, n.mode = false, ""
	fe.dropClients(n)
}

func (fe *Ensemble) dropClients(n *fakeNode) {
	for c := range n.conns {
		c.Close()
	}
	n.conns = map[net.Conn]bool{}
}

func (fe *Ensemble) watchDir() {
	defer fe.wg.Done()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-fe.done:
			return
		case <-tick.C:
		}
		for _, n := range fe.nodes {
			for _, what := range []string{"stop", "restart"} {
				f := filepath.Join(fe.Dir, n.name+"."+what)
				if os.Remove(f) == nil {
					if what == "stop" {
						fe.Stop(n.name)
					} else {
						fe.Restart(n.name)
					}
				}
			}
		}
	}
}

func (fe *Ensemble) accept(n *fakeNode, ln net.Listener) {
	fe.wg.Add(1)
	go func() {
		defer fe.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fe.wg.Add(1)
			go func() {
				defer fe.wg.Done()
				fe.serve(n, c)
			}()
		}
	}()
}

func (fe *Ensemble) serve(n *fakeNode, c net.Conn) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 4)
	if _, err := io.ReadFull(c, head); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	word := string(head)
	fe.mu.Lock()
	if reply, ok := fe.answer(n, word); ok {
		fe.mu.Unlock()
		c.Write([]byte(reply))
		c.Close()
		return
	}
	if !n.up || n.mode == "" || fe.backend == "" {
		fe.mu.Unlock()
		c.Close()
		return
	}
	b, err := net.DialTimeout("tcp", fe.backend, time.Second)
	if err != nil {
		fe.mu.Unlock()
		c.Close()
		return
	}
	n.conns[c] = true
	fe.mu.Unlock()
	b.Write(head)
	go func() { io.Copy(b, c); b.Close() }()
	io.Copy(c, b)
	c.Close()
}

// answer is n's reply to a four-letter word; ok false for anything else.
// Caller holds mu.
func (fe *Ensemble) answer(n *fakeNode, word string) (string, bool) {
	switch word {
	case "srvr", "mntr", "conf", "ruok":
	default:
		return "", false
	}
	allowed := fe.words == nil || fe.words[word] || word == "ruok"
	if !allowed {
		return word + " is not executed because it is not in the whitelist.\n", true
	}
	if word == "ruok" {
		return "imok", true
	}
	if n.mode == "" {
		return "This ZooKeeper instance is not currently serving requests\n", true
	}
	switch word {
	case "srvr":
		return fmt.Sprintf("Zookeeper version: 3.8.4-fake, built on 01/01/2026 00:00 GMT\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x%x\nMode: %s\nNode count: 5\n", n.zxid, n.mode), true
	case "mntr":
		state := map[string]string{"leader": "leading", "follower": "following", "observer": "observing"}[n.mode]
		s := fmt.Sprintf("zk_version\t3.8.4-fake\nzk_server_state\t%s\nzk_peer_state\t%s - %s\nzk_uptime\t%d\nzk_quorum_size\t%d\n",
			n.mode, state, n.peer, time.Since(n.start).Milliseconds(), len(fe.nodes))
		if n.mode == "leader" {
			synced := 0
			for _, o := range fe.nodes {
				if o != n && o.up && o.mode == "follower" && o.peer == "broadcast" {
					synced++
				}
			}
			s += fmt.Sprintf("zk_synced_followers\t%d\n", synced)
		}
		return s, true
	}
	_, port, _ := net.SplitHostPort(n.addr)
	return fmt.Sprintf("clientPort=%s\nsecureClientPort=-1\nserverId=%d\n", port, n.myid), true
}
