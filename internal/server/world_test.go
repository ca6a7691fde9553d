package server

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/recovery"
	"github.com/zkd/zkd/internal/storage"
)

// fakeClock is the clock a deterministic server reads; time moves only
// when the test says so.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// worldServer is a durable server on an in-memory FS with injected time:
// nothing in it reads the wall clock's progress or the OS file system.
type worldServer struct {
	*Server
	addr  string
	fs    storage.FS
	clock *fakeClock
	ticks chan time.Time
}

func worldConfig(t testing.TB, extra string) *config.Config {
	t.Helper()
	// preAllocSize=16 (KB): every crash clone copies the log files.
	text := "tickTime=2000\npreAllocSize=16\ndataDir=/data\nclientPort=2181\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n" + extra
	cfg, err := config.Parse(strings.NewReader(text), "test.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startWorld(t testing.TB, fsys storage.FS, extra string) *worldServer {
	t.Helper()
	w := &worldServer{fs: fsys, clock: &fakeClock{now: time.Unix(1_800_000_000, 0)}, ticks: make(chan time.Time)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := OpenDurable(worldConfig(t, extra), log, Options{FS: fsys, Now: w.clock.Now, Ticks: w.ticks})
	if err != nil {
		t.Fatal(err)
	}
	w.Server = s
	w.addr = serveOnLoopback(t, s)
	return w
}

// tick moves time on by d and hands the server one tick. The driver takes
// the tick before anything submitted after it, so a sync issued next
// returns only after what the tick proposed is applied.
func (w *worldServer) tick(d time.Duration) {
	w.ticks <- w.clock.advance(d)
}

// Session expiry runs on the injected ticks: a silent session outlives
// 3 s of fake time and is expired after 7, with no sleeping (expiry is
// rounded up to the next tick, as ZooKeeper's ExpiryQueue does).
func TestSessionExpiryOnInjectedTicks(t *testing.T) {
	w := startWorld(t, storage.NewMemFS(), "")
	watcher, _, err := zk.Connect([]string{w.addr}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	r := dialRaw(t, w.addr)
	r.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if resp := r.handshake(true); resp.TimeOut != 4000 {
		t.Fatalf("negotiated %d, want 4000", resp.TimeOut)
	}
	r.send(&proto.RequestHeader{Xid: 1, Type: proto.OpCreate},
		&proto.CreateRequest{Path: "/exp", ACL: proto.OpenACLUnsafe, Flags: proto.ModeEphemeral})
	if _, err := r.recv(); err != nil {
		t.Fatal(err)
	}
	exists := func() bool {
		t.Helper()
		if _, err := watcher.Sync("/"); err != nil {
			t.Fatal(err)
		}
		ok, _, err := watcher.Exists("/exp")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	w.tick(3 * time.Second)
	if !exists() {
		t.Fatal("session expired after 3 s of its 4 s timeout")
	}
	w.tick(4 * time.Second)
	if exists() {
		t.Fatal("session not expired after 7 s of its 4 s timeout")
	}
	// The expired session's connection is closed: EOF, not a timeout.
	if _, err := r.recv(); err != io.EOF {
		t.Fatalf("expired session's connection: got %v, want EOF", err)
	}
}

// The crash sweep, as pebble's crash tests: after every acknowledged step
// of a workload, the FS as a crash would leave it is cloned; every clone
// recovers to a tree holding every write acknowledged before it.
func TestCrashSweepKeepsAcknowledgedWrites(t *testing.T) {
	fsys := storage.NewMemFS()
	// snapCount=8: fuzzy snapshots and log rolls happen during the sweep.
	w := startWorld(t, fsys, "snapCount=8\n")
	c, _, err := zk.Connect([]string{w.addr}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	model := map[string]string{}
	type crash struct {
		fs    *storage.MemFS
		model map[string]string
	}
	var crashes []crash
	steps := 40
	if testing.Short() {
		steps = 15
	}
	for i := range steps {
		path := fmt.Sprintf("/k%d", i%7)
		var err error
		switch _, ok := model[path]; {
		case !ok:
			data := fmt.Sprintf("created-%d", i)
			_, err = c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll))
			model[path] = data
		case i%3 == 0:
			err = c.Delete(path, -1)
			delete(model, path)
		default:
			data := fmt.Sprintf("set-%d", i)
			_, err = c.Set(path, []byte(data), -1)
			model[path] = data
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		snap := map[string]string{}
		for k, v := range model {
			snap[k] = v
		}
		crashes = append(crashes, crash{fsys.CrashClone(), snap})
	}
	for i, cr := range crashes {
		dirs := recoveryDirs(worldConfig(t, ""))
		rec, err := recovery.Read(cr.fs, dirs, nil)
		if err != nil {
			t.Fatalf("crash after step %d: recovery failed: %v", i, err)
		}
		// Repairing changes no content: read again after it, the same tree.
		if err := recovery.Repair(cr.fs, rec, nil); err != nil {
			t.Fatalf("crash after step %d: repair failed: %v", i, err)
		}
		again, err := recovery.Read(cr.fs, dirs, nil)
		if err != nil {
			t.Fatalf("crash after step %d: read after repair: %v", i, err)
		}
		if len(again.Repairs) > 0 || again.Tree.Digest() != rec.Tree.Digest() || again.Tree.LastZxid() != rec.Tree.LastZxid() {
			t.Fatalf("crash after step %d: read after repair differs (repairs left %v)", i, again.Repairs)
		}
		for k := 0; k < 7; k++ {
			path := fmt.Sprintf("/k%d", k)
			want, ok := cr.model[path]
			n := rec.Tree.Get(path)
			switch {
			case ok && n == nil:
				t.Fatalf("crash after step %d: acknowledged %s lost", i, path)
			case ok && string(n.Data) != want:
				t.Fatalf("crash after step %d: %s holds %q, acknowledged %q", i, path, n.Data, want)
			case !ok && n != nil:
				t.Fatalf("crash after step %d: %s deleted and acknowledged, but recovered", i, path)
			}
		}
	}
	// The last crash state also starts a server, which serves the data.
	last := crashes[len(crashes)-1]
	w2 := startWorld(t, last.fs, "")
	c2, _, err := zk.Connect([]string{w2.addr}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for path, want := range last.model {
		got, _, err := c2.Get(path)
		if err != nil || string(got) != want {
			t.Fatalf("restarted server: %s = %q, %v; want %q", path, got, err, want)
		}
	}
	if e, err := storage.ReadEpoch(last.fs, "/data", storage.CurrentEpochFile); err != nil || e != 0 {
		t.Fatalf("currentEpoch after restart: %d, %v; want 0 written as QuorumPeer writes a missing one", e, err)
	}
}

// A snapshot whose file writes hang on a slow disk holds off no commit:
// the apply step is never held (applyMu) across a snapshot's I/O.
func TestSlowSnapshotWritesStallNoCommit(t *testing.T) {
	var gate sync.Mutex // held: snapshot writes block
	var blocked sync.WaitGroup
	var once sync.Once
	blocked.Add(1)
	var gateFrom atomic.Int64 // snapshots of zxids from this one on are gated
	gateFrom.Store(math.MaxInt64)
	inj := storage.InjectorFunc(func(op storage.Op, path string) error {
		var zxid int64
		if op != storage.OpWrite && op != storage.OpWriteAt && op != storage.OpSync {
			return nil
		}
		if _, err := fmt.Sscanf(filepath.Base(path), "snapshot.%x", &zxid); err != nil || zxid < gateFrom.Load() {
			return nil
		}
		once.Do(blocked.Done)
		gate.Lock()
		gate.Unlock()
		return nil
	})
	// snapCount=2: a snapshot is due after every txn.
	w := startWorld(t, storage.NewErrorFS(storage.NewMemFS(), inj), "snapCount=2\n")
	c, _, err := zk.Connect([]string{w.addr}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// More than one snapshot chunk (1 MiB) of data, so that a snapshot
	// writes while it walks the tree, not only at its end.
	for i := range 4 {
		if _, err := c.Create(fmt.Sprintf("/big%d", i), make([]byte, 900<<10), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	gate.Lock()
	gateFrom.Store(w.LastZxid() + 1)
	// Snapshots go on being due; the first one named after a zxid from
	// here on hangs in its first write, while it walks the tree.
	go func() {
		for i := 0; i < 20; i++ {
			c.Create(fmt.Sprintf("/trigger%d", i), nil, 0, zk.WorldACL(zk.PermAll))
		}
	}()
	blocked.Wait() // a snapshot is stuck in a write
	done := make(chan error, 1)
	go func() {
		for i := range 50 {
			if _, err := c.Create(fmt.Sprintf("/n%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		gate.Unlock()
		t.Fatal("writes stalled behind a snapshot blocked on its file")
	}
	gate.Unlock()
}
