package server

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/proto"
)

// bigNode is read by the stalled clients: replies they never read add up
// to far more than the kernel's socket buffers hold.
const bigNodeSize = 512 << 10

// floodAndStall is what a stalled client does before it stops reading: a
// persistent recursive watch on "/" (so every write sends it an event) and
// many reads of a large node, whose replies it never takes.
func floodAndStall(r *rawConn, reads int) {
	r.handshake(true)
	r.send(&proto.RequestHeader{Xid: 1, Type: proto.OpAddWatch},
		&proto.PathTypeRequest{Path: "/", Type: proto.AddWatchPersistentRecursive})
	for i := range reads {
		r.send(&proto.RequestHeader{Xid: int32(2 + i), Type: proto.OpGetData}, &proto.PathWatchRequest{Path: "/big"})
	}
}

// TestStalledClientHelper is the stalled client as a process of its own,
// for SIGSTOP; it runs only when the test below starts it.
func TestStalledClientHelper(t *testing.T) {
	addr := os.Getenv("ZKD_STALLED_CLIENT_ADDR")
	if addr == "" {
		t.Skip("runs as a subprocess of TestStalledClientsStallNothing")
	}
	r := dialRaw(t, addr)
	r.nc.SetDeadline(time.Time{})
	floodAndStall(r, 200)
	fmt.Println("stalled-client-ready")
	select {}
}

// A client that never reads its replies, and one stopped with SIGSTOP,
// stall no other client and no commit; what waits for them stays bounded,
// and once a connection's queue passes its bound the connection is closed.
func TestStalledClientsStallNothing(t *testing.T) {
	s := startServer(t, "")
	// A low bound, so that the events of the writes below pass it: the
	// reader of a stalled connection is blocked writing a reply (or paused
	// once readPauseBytes are queued), and events queue behind it.
	s.maxQueuedBytes = 64 << 10
	c, _ := connect(t, s.addr)
	for _, p := range []string{"/big", "/w"} {
		if _, err := c.Create(p, make([]byte, bigNodeSize), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}

	// In process: a raw client that floods and never reads.
	silent := dialRaw(t, s.addr)
	silent.nc.SetDeadline(time.Time{})
	floodAndStall(silent, 200)

	// In another process, stopped with SIGSTOP.
	cmd := exec.Command(os.Args[0], "-test.run=^TestStalledClientHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "ZKD_STALLED_CLIENT_ADDR="+s.addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "stalled-client-ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("stalled client process did not start")
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Signal(syscall.SIGCONT)

	// Other clients go on: writes commit (each one an event for both
	// stalled clients), reads answer.
	bound := func() {
		t.Helper()
		s.connMu.Lock()
		defer s.connMu.Unlock()
		for cn := range s.conns {
			cn.outMu.Lock()
			q := cn.outBytes
			cn.outMu.Unlock()
			if q > s.maxQueuedBytes {
				t.Fatalf("connection %s queues %d bytes, above its bound %d", cn.remote, q, s.maxQueuedBytes)
			}
		}
	}
	start := time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 3000; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes in 60 s with stalled clients connected", i)
		}
		// Not /big: the stalled clients' reads, whenever the server gets to
		// them, must stay large.
		if _, err := c.Set("/w", make([]byte, 16), -1); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if i%100 == 0 {
			if _, _, err := c.Get("/"); err != nil {
				t.Fatalf("read after write %d: %v", i, err)
			}
			bound()
		}
	}
	t.Logf("3000 writes in %v with two stalled clients", time.Since(start).Round(time.Millisecond))
	if n := s.requests.Load(); n > s.outstandingLimit {
		t.Fatalf("%d requests outstanding, above globalOutstandingLimit %d", n, s.outstandingLimit)
	}
	// Both stalled connections passed their bound (each write queued an
	// event for them) and were closed, their sessions still alive (closed
	// for the queue, not by the 4 s session expiry).
	open := 0
	waitFor(t, 2*time.Second, func() bool {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		open = len(s.conns)
		return open == 1
	}, "stalled connections closed")
	s.sessMu.Lock()
	sessions := s.sessions.Len()
	s.sessMu.Unlock()
	if open != 1 || sessions != 3 {
		t.Fatalf("after the writes: %d connections open (want 1), %d sessions (want 3)", open, sessions)
	}
	if time.Since(start) > 3500*time.Millisecond {
		t.Fatalf("writes took %v: too slow to tell a queue close from a session expiry", time.Since(start))
	}
}

// globalOutstandingLimit pauses reading: a client that pipelines far more
// writes than the limit never has more than the limit in the server.
func TestGlobalOutstandingLimitPausesReading(t *testing.T) {
	s := startServer(t, "globalOutstandingLimit=10\n")
	r := dialRaw(t, s.addr)
	r.nc.SetDeadline(time.Now().Add(30 * time.Second))
	r.handshake(true)
	r.send(&proto.RequestHeader{Xid: 1, Type: proto.OpCreate}, &proto.CreateRequest{Path: "/n", ACL: proto.OpenACLUnsafe})
	if _, err := r.recv(); err != nil {
		t.Fatal(err)
	}
	const writes = 2000
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range writes {
			r.send(&proto.RequestHeader{Xid: int32(2 + i), Type: proto.OpSetData}, &proto.SetDataRequest{Path: "/n", Version: -1})
		}
	}()
	// The peak is sampled apart from the replies: between two replies
	// read on a loaded machine, the pipeline may fill and drain unseen.
	var peakSeen atomic.Int64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := s.requests.Load(); n > peakSeen.Load() {
				peakSeen.Store(n)
			}
			select {
			case <-stopSampling:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	for got := 0; got < writes; got++ {
		if _, err := r.recv(); err != nil {
			t.Fatalf("reply %d: %v", got, err)
		}
	}
	<-sent
	close(stopSampling)
	<-sampled
	peak := peakSeen.Load()
	// The reader checks the limit before each read, so at most one request
	// more than the limit is ever queued.
	if peak > s.outstandingLimit+1 {
		t.Fatalf("peak %d requests outstanding with globalOutstandingLimit=%d", peak, s.outstandingLimit)
	}
	if peak < s.outstandingLimit/2 {
		t.Fatalf("peak %d: the flood never filled the pipeline, so the limit was not tested", peak)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
