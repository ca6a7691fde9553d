package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/ops"
)

// electionBound is how long writes may stop while a step replaces the
// leader: the survivors' election, the new leader's discovery and sync,
// which Apache bounds by initLimit ticks (10 × 500 ms here), and the
// client's reconnect, with room for a JVM's start-up stalls on a shared
// two-core machine. A follower's replacement keeps the quorum and should
// stop writes only for the client's reconnect, under the same bound.
const electionBound = 10 * time.Second

// phaseAcks is how many writes each ensemble of the migration (three
// Apache, two Apache and a zkd, ...) acknowledges before the next server
// is replaced: with snapCount=100 every server takes a snapshot and
// starts a new log in each phase, so that each implementation starts on
// snapshots, logs and sessions the other wrote, mid-epoch.
const phaseAcks = 120

// Issue 9: an ensemble can be migrated from Java ZooKeeper one server at
// a time. A three-server Apache ZooKeeper 3.8 ensemble, with a client
// holding every server creating sequential znodes throughout, has its
// servers replaced one at a time by zkd on the same zoo.cfg, dataDir,
// dataLogDir and myid, followers first and the leader last, each back in
// the quorum and synced before the next (ops.Roll, what `zkd roll` runs,
// with "stop Apache, start zkd" as its restart). Then every acknowledged
// write is on every server with the same data and Stat, and the ensemble
// is migrated back to Apache on zkd's files the same way and checked
// again. Throughout: writes never stop for longer than an election, no
// acknowledged write is lost, zxids and sequence numbers only grow and
// each leader replacement starts a newer epoch.
func TestMigrateFromApacheAndBack(t *testing.T) {
	begin := time.Now()
	c := newMixedCluster(t, 3, 0, 500, map[int]bool{1: true, 2: true, 3: true})
	var spec []string
	for _, nd := range c.nodes {
		// The log apart from the snapshots, as installations have it, and
		// a snapshot and a new log every 50 to 100 txns (see phaseAcks).
		f, err := os.OpenFile(filepath.Join(nd.dir, "zoo.cfg"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "dataLogDir=%s\nsnapCount=100\n", filepath.Join(nd.dir, "datalog"))
		f.Close()
		spec = append(spec, fmt.Sprintf("s%d=%s", nd.id, nd.client))
	}
	servers, err := ops.ParseServers(strings.Join(spec, ","))
	if err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitRoles(60 * time.Second)
	t.Logf("Apache ensemble up after %v", time.Since(begin).Round(time.Millisecond))

	w, err := ops.NewWriter(c.addrs(), "/migrate", 6*time.Second, 20*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWriter := context.WithCancel(context.Background())
	written := make(chan struct{})
	go func() {
		defer close(written)
		w.Run(wctx, time.Millisecond)
	}()
	t.Cleanup(func() {
		stopWriter()
		<-written
		w.Close()
	})
	// A second session holds an ephemeral znode throughout: sessions and
	// their ephemerals cross both migrations, in snapshots and logs.
	holder := connect(t, c.addrs()...)
	if _, err := holder.Create("/migrate-holder", []byte("held"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	checkHolder := func(when string) {
		t.Helper()
		// The session lives on: the holder, reconnected wherever, can
		// write to its ephemeral.
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := holder.Set("/migrate-holder", []byte(when), -1)
			if err == nil {
				break
			}
			if errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrNoNode) || time.Now().After(deadline) {
				t.Fatalf("%s: the holder's session 0x%x: %v (state %v)", when, holder.SessionID(), err, holder.State())
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, nd := range c.nodes {
			cl := connect(t, nd.client)
			if _, err := cl.Sync("/"); err != nil {
				t.Fatalf("%s: sync on server %d: %v", when, nd.id, err)
			}
			d, st, err := cl.Get("/migrate-holder")
			if err != nil || st.EphemeralOwner != holder.SessionID() || string(d) != when {
				t.Errorf("%s: server %d (%s): the holder's ephemeral: %q %+v %v; want %q owned by session 0x%x", when, nd.id, impl(nd.apache), d, st, err, when, holder.SessionID())
			}
			cl.Close()
		}
	}

	m := &migration{c: c, w: w, servers: servers, observer: ops.Observer{Timeout: 2 * time.Second, Mntr: true}}
	m.roll(t, false)
	m.checkEverywhere(t, "all three zkd", true)
	checkHolder("all three zkd")
	m.roll(t, true)
	m.checkEverywhere(t, "back on Apache", true)
	checkHolder("back on Apache")
	waitAcked(t, w, phaseAcks, 30*time.Second)
	stopWriter()
	<-written

	check, err := w.Verify(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("writes: %d acknowledged, %d refused, %d in doubt (%d of them applied)", check.Acked, check.Refused, check.InDoubt, check.InDoubtApplied)
	for i, wr := range check.Lost {
		if i < 3 {
			t.Errorf("acknowledged write %d (%s, done %s) lost", wr.Seq, wr.Path, wr.Done.Format("15:04:05.000"))
		}
	}
	for i, wr := range check.Phantoms {
		if i < 3 {
			t.Errorf("write %d refused (%s) but applied", wr.Seq, wr.Err)
		}
	}
	stats := m.checkEverywhere(t, "at the end", false)
	m.checkOrder(t, stats)
	m.checkGaps(t)
	t.Logf("migration drill took %v", time.Since(begin).Round(time.Millisecond))
}

// migration is the restart action of ops.Roll that swaps the
// implementation: it stops a server (SIGTERM) and starts the other
// implementation on the same directory and zoo.cfg.
type migration struct {
	c        *cluster
	w        *ops.Writer
	servers  []ops.Server
	observer ops.Observer
	toApache bool // the implementation the servers are moved to

	// What Run saw, for the checks after the roll.
	steps []migrationStep
	// cancel ends the roll in progress; died says which process exited
	// by itself, which it calls.
	mu     sync.Mutex
	cancel context.CancelFunc
	died   error
}

type migrationStep struct {
	id          int
	toApache    bool
	wasLeader   bool
	leaderZxid  int64     // srvr's zxid on the leader before the stop
	entered     time.Time // Run called: ops.Roll's Back counts from here
	stop, start time.Time
	back        time.Time // entered + ops.Roll's Back
	// What the new process must recover: the newest snapshot the old one
	// left, and at least the zxid srvr showed before the stop.
	snapshot string
	zxid     int64
	logFrom  int64 // where the new process's output starts in server.out
	// Until the next step (or the roll's end): where its output ends in
	// server.out, and whether the leader it followed ran Apache.
	logTo        int64
	leaderApache bool
}

// endStep records what the last step's server wrote until now, under the
// leader a shows.
func (m *migration) endStep(a ops.Assessment) {
	if len(m.steps) == 0 || a.Leader < 0 {
		return
	}
	st := &m.steps[len(m.steps)-1]
	if st.logTo > 0 {
		return // ended by its roll's end
	}
	if info, err := os.Stat(filepath.Join(m.c.nodes[st.id-1].dir, "server.out")); err == nil {
		st.logTo = info.Size()
	}
	st.leaderApache = m.c.nodes[a.Leader].apache
}

var _ ops.Action = (*migration)(nil)

func impl(apache bool) string {
	if apache {
		return "Apache ZooKeeper"
	}
	return "zkd"
}

func (m *migration) Describe(t ops.Target) string {
	return fmt.Sprintf("stop %s on server %d, start %s on its zoo.cfg and data", impl(!m.toApache), t.Server.Index, impl(m.toApache))
}

func (m *migration) Run(ctx context.Context, t ops.Target) (string, error) {
	entered := time.Now() // ops.Roll times the step from here
	id := t.Server.Index
	nd := m.c.nodes[id-1]
	if nd.apache == m.toApache || nd.proc == nil {
		return "", fmt.Errorf("server %d already runs %s", id, impl(m.toApache))
	}
	// What the previous step left: the ensemble it made acknowledges
	// writes, and every write acknowledged so far is on every server, the
	// replaced one included.
	if err := m.waitAcks(ctx, entered, phaseAcks); err != nil {
		return "", err
	}
	if err := m.checkAcked(); err != nil {
		return "", err
	}
	a := ops.Assess(m.observer.ObserveAll(m.servers))
	if a.Leader < 0 {
		return "", fmt.Errorf("no leader before replacing server %d: %s", id, strings.Join(a.Problems, "; "))
	}
	m.endStep(a)
	step := migrationStep{entered: entered, id: id, toApache: m.toApache, wasLeader: a.Leader == id-1,
		leaderZxid: a.Observations[a.Leader].Zxid, stop: time.Now()}
	m.mu.Lock()
	old, was := nd.proc, nd.apache
	nd.proc, nd.apache = nil, m.toApache
	m.mu.Unlock()
	if err := old.Stop(); err != nil {
		return "", fmt.Errorf("stopping %s on server %d: %w", impl(was), id, err)
	}
	step.zxid = a.Observations[id-1].Zxid
	snap, err := newestSnapshot(filepath.Join(nd.dir, "data", "version-2"))
	if err != nil {
		return "", err
	}
	step.snapshot = snap
	if info, err := os.Stat(filepath.Join(nd.dir, "server.out")); err == nil {
		step.logFrom = info.Size()
	}
	step.start = time.Now()
	m.mu.Lock()
	err = m.c.launch(id)
	p := nd.proc
	m.mu.Unlock()
	if err != nil {
		return "", err
	}
	m.steps = append(m.steps, step)
	go func() {
		<-p.Exited() // a server stopped by a later step has left nd first
		m.mu.Lock()
		defer m.mu.Unlock()
		if nd.proc == p && m.died == nil {
			m.died = fmt.Errorf("%s on server %d exited by itself (%v); its log:\n%s", impl(nd.apache), id, p.ExitErr(), p.Tail(40))
			m.cancel()
		}
	}()
	return fmt.Sprintf("pid %d", p.Pid()), nil
}

// roll moves every server to Apache (toApache) or zkd with ops.Roll.
func (m *migration) roll(t *testing.T, toApache bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.mu.Lock()
	m.toApache, m.cancel = toApache, cancel
	m.mu.Unlock()
	began, first := time.Now(), len(m.steps)
	r, err := ops.Roll(ctx, ops.RollOptions{Servers: m.servers, Observer: m.observer, Restart: m,
		CommandTimeout: 30 * time.Second, Timeout: 45 * time.Second, Poll: 100 * time.Millisecond, Log: io.Discard})
	m.mu.Lock()
	died := m.died
	m.mu.Unlock()
	var text strings.Builder
	r.WriteText(&text)
	if died != nil || err != nil {
		ws := m.w.Writes()
		fmt.Fprintf(&text, "the writer's last writes of %d:\n", len(ws))
		for _, wr := range ws[max(0, len(ws)-5):] {
			fmt.Fprintf(&text, "  %d %s %s %s %s\n", wr.Seq, wr.Done.Format("15:04:05.000"), wr.Outcome, wr.Path, wr.Err)
		}
	}
	switch {
	case died != nil:
		t.Fatalf("migrating to %s: %v\nroll so far:\n%s", impl(toApache), died, text.String())
	case err != nil:
		t.Fatalf("migrating to %s: %v\nroll so far:\n%s", impl(toApache), err, text.String())
	}
	t.Logf("migrated to %s in %v:\n%s", impl(toApache), time.Since(began).Round(time.Millisecond), text.String())
	if len(r.Steps) != 3 || len(m.steps) != first+3 {
		t.Fatalf("%d steps reported, %d replacements run; want 3", len(r.Steps), len(m.steps)-first)
	}
	for i, s := range r.Steps {
		st := &m.steps[first+i]
		if s.Name != fmt.Sprintf("s%d", st.id) || s.Back == nil {
			t.Fatalf("step %d: roll reports %s, the replacement was server %d", i+1, s.Name, st.id)
		}
		st.back = st.entered.Add(time.Duration(float64(*s.Back) * float64(time.Second)))
		if s.WasLeader != (i == 2) {
			t.Errorf("step %d replaced server %d, leader=%v: followers first, the leader last", i+1, st.id, s.WasLeader)
		}
	}
	for _, nd := range m.c.nodes {
		if nd.apache != toApache {
			t.Fatalf("server %d still runs %s", nd.id, impl(nd.apache))
		}
	}
	m.endStep(ops.Assess(m.observer.ObserveAll(m.servers)))
	for _, st := range m.steps[first:] {
		m.checkRecovery(t, st)
	}
	m.checkEpochFiles(t, impl(toApache))
}

// newestSnapshot is the complete snapshot file with the highest zxid in
// dir: one that ends with its seal, the string "/" (00 00 00 01 2F) after
// its checksum. Apache writes snapshots in place, so a stop while it
// writes one leaves it cut short, and both implementations then start
// from the one before.
func newestSnapshot(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	best, bestZxid := "", int64(-1)
	for _, e := range entries {
		hex, ok := strings.CutPrefix(e.Name(), "snapshot.")
		if !ok {
			continue
		}
		z, err := strconv.ParseInt(hex, 16, 64)
		if err != nil || z <= bestZxid {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		if !strings.HasSuffix(string(b), "\x00\x00\x00\x01/") {
			continue
		}
		best, bestZxid = filepath.Join(dir, e.Name()), z
	}
	if best == "" {
		return "", fmt.Errorf("no complete snapshot in %s", dir)
	}
	return best, nil
}

// checkRecovery reads the log of the process a step started: it loaded
// the newest snapshot the other implementation left (none was refused)
// and replayed the logs after it at least to the zxid the old process
// had served, rather than throwing the directory away for a SNAP from the
// leader.
func (m *migration) checkRecovery(t *testing.T, st migrationStep) {
	t.Helper()
	nd := m.c.nodes[st.id-1]
	b, err := os.ReadFile(filepath.Join(nd.dir, "server.out"))
	if err != nil || int64(len(b)) < st.logTo || st.logTo < st.logFrom {
		t.Fatalf("server %d's log: %v", st.id, err)
	}
	out := string(b[st.logFrom:st.logTo])
	var loaded, recovered string
	for line := range strings.SplitSeq(out, "\n") {
		if st.toApache { // Apache's FileSnap and ZKDatabase
			if strings.Contains(line, "problem reading snap file") || strings.Contains(line, "invalid snapshot") {
				t.Errorf("server %d: Apache refuses a snapshot zkd wrote: %s", st.id, line)
			}
			// Following a zkd leader, the sync and broadcast never fail
			// (Apache 3.8's own leaders can make its learners fail with
			// ZOOKEEPER-4394's NullPointerException).
			if !st.leaderApache && (strings.Contains(line, "NullPointerException") || strings.Contains(line, "Severe unrecoverable error")) {
				t.Errorf("server %d: Apache following zkd leader: %s", st.id, line)
			}
			if _, p, ok := strings.Cut(line, "Reading snapshot "); ok && loaded == "" {
				loaded = strings.TrimSpace(p)
			}
			if _, z, ok := strings.Cut(line, "highest zxid is "); ok && recovered == "" {
				recovered, _, _ = strings.Cut(z, ",")
			}
		} else {
			if _, p, ok := strings.Cut(line, `msg="snapshot loaded" path=`); ok && loaded == "" {
				loaded, _, _ = strings.Cut(p, " ")
			}
			if _, z, ok := strings.Cut(line, `msg="data recovered" last_zxid=`); ok && recovered == "" {
				recovered, _, _ = strings.Cut(z, " ")
			}
		}
	}
	who := impl(st.toApache)
	if loaded != st.snapshot {
		t.Errorf("server %d: %s loaded snapshot %q; the newest one left was %s", st.id, who, loaded, st.snapshot)
	}
	// An Apache leader shows epoch<<32 before its epoch's first write,
	// a zxid no log holds: then the epoch before must be there.
	want := st.zxid
	if want&0xffffffff == 0 {
		want = (want>>32 - 1) << 32
	}
	z, err := strconv.ParseUint(strings.TrimPrefix(recovered, "0x"), 16, 64)
	if err != nil || int64(z) < want {
		t.Errorf("server %d: %s recovered its data to zxid %q; before the stop it served 0x%x", st.id, who, recovered, st.zxid)
	}
}

// checkEpochFiles: every server's acceptedEpoch and currentEpoch, which
// each implementation must write where the other reads them, hold the
// epoch the leader broadcasts in: that of a write made now. (srvr does
// not tell it before the epoch's first write: a new leader shows
// epoch<<32, its followers their last zxid of the epoch before.)
func (m *migration) checkEpochFiles(t *testing.T, when string) {
	t.Helper()
	probe := connect(t, m.c.addrs()...)
	path, err := probe.Create("/migrate-epoch-", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	_, st, err := probe.Exists(path)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	probe.Close()
	epoch := st.Czxid >> 32
	for _, nd := range m.c.nodes {
		for _, name := range []string{"acceptedEpoch", "currentEpoch"} {
			b, err := os.ReadFile(filepath.Join(nd.dir, "data", "version-2", name))
			if err != nil || strings.TrimSpace(string(b)) != strconv.FormatInt(epoch, 10) {
				t.Errorf("on %s: server %d's %s holds %q (%v); the leader's epoch is %d", when, nd.id, name, b, err, epoch)
			}
		}
	}
}

// checkAcked: every server has every write acknowledged so far, read
// after a sync.
func (m *migration) checkAcked() error {
	acked := ackedWrites(m.w)
	for _, nd := range m.c.nodes {
		names, err := children(nd.client, m.w.RunPath())
		if err != nil {
			return fmt.Errorf("server %d (%s): %w", nd.id, impl(nd.apache), err)
		}
		have := map[string]bool{}
		for _, n := range names {
			have[m.w.RunPath()+"/"+n] = true
		}
		for _, wr := range acked {
			if !have[wr.Path] {
				return fmt.Errorf("server %d (%s) lacks acknowledged write %d (%s) of %d", nd.id, impl(nd.apache), wr.Seq, wr.Path, len(acked))
			}
		}
	}
	return nil
}

// waitAcks waits until n writes are acknowledged after since.
func (m *migration) waitAcks(ctx context.Context, since time.Time, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		k := 0
		for _, wr := range ackedWrites(m.w) {
			if wr.Done.After(since) {
				k++
			}
		}
		switch {
		case k >= n:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%d of %d writes acknowledged within 30s of step %d", k, n, len(m.steps))
		case ctx.Err() != nil:
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ackedWrites(w *ops.Writer) []ops.Write {
	var out []ops.Write
	for _, wr := range w.Writes() {
		if wr.Outcome == ops.Acked {
			out = append(out, wr)
		}
	}
	return out
}

func children(addr, path string) ([]string, error) {
	conn, err := session([]string{addr}, 20*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Sync(path); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	names, _, err := conn.Children(path)
	return names, err
}

// znode is what one server returns for a path.
type znode struct {
	data string
	stat zk.Stat
}

// checkEverywhere reads every acknowledged write on every server (after a
// sync) and checks they agree on its data and Stat; it returns server 1's
// Stats by path.
func (m *migration) checkEverywhere(t *testing.T, when string, writing bool) map[string]zk.Stat {
	t.Helper()
	acked := ackedWrites(m.w)
	var paths []string
	if !writing { // the parent's Stat changes with every write
		paths = append(paths, m.w.RunPath())
	}
	for _, wr := range acked {
		paths = append(paths, wr.Path)
	}
	var ref map[string]znode
	for _, nd := range m.c.nodes {
		got, err := readAll(nd.client, paths)
		if err != nil {
			t.Fatalf("%s: server %d (%s): %v", when, nd.id, impl(nd.apache), err)
		}
		if ref == nil {
			ref = got
			continue
		}
		bad := 0
		for _, p := range paths {
			if got[p] != ref[p] {
				if bad++; bad <= 3 {
					t.Errorf("%s: %s on server %d (%s) is %q %+v, on server 1 %q %+v", when, p, nd.id, impl(nd.apache), got[p].data, got[p].stat, ref[p].data, ref[p].stat)
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%s: server %d differs from server 1 on %d of %d znodes", when, nd.id, bad, len(paths))
		}
	}
	t.Logf("%s: %d acknowledged writes on every server, same data and Stat", when, len(acked))
	out := make(map[string]zk.Stat, len(ref))
	for p, z := range ref {
		out[p] = z.stat
	}
	return out
}

// readAll gets every path from one server, eight requests at a time.
func readAll(addr string, paths []string) (map[string]znode, error) {
	conn, err := session([]string{addr}, 20*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Sync("/"); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	out := make(map[string]znode, len(paths))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	next := make(chan string)
	for range 8 {
		wg.Go(func() {
			for p := range next {
				d, st, err := conn.Get(p)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("get %s: %w", p, err))
				} else {
					out[p] = znode{string(d), *st}
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

// checkOrder: the writer's acknowledged creates, issued one after
// another, have growing zxids and sequence numbers across both
// migrations, and the epoch grew at each leader's replacement; the
// leader's zxid seen before each step grew too.
func (m *migration) checkOrder(t *testing.T, stats map[string]zk.Stat) {
	t.Helper()
	acked := ackedWrites(m.w)
	var prevZxid, prevSeq int64 = -1, -1
	epochs := map[int64]bool{}
	for _, wr := range acked {
		st := stats[wr.Path]
		i := strings.LastIndexByte(wr.Path, '-')
		seq, err := strconv.ParseInt(wr.Path[i+1:], 10, 64)
		if err != nil {
			t.Fatalf("write %d: path %q has no sequence number", wr.Seq, wr.Path)
		}
		if st.Czxid <= prevZxid || seq <= prevSeq {
			t.Fatalf("write %d (%s): zxid 0x%x, sequence %d after 0x%x, %d: acknowledged writes out of order", wr.Seq, wr.Path, st.Czxid, seq, prevZxid, prevSeq)
		}
		prevZxid, prevSeq = st.Czxid, seq
		epochs[st.Czxid>>32] = true
	}
	for _, s := range m.steps {
		if !s.wasLeader {
			continue
		}
		var before, after int64 = -1, -1
		for _, wr := range acked {
			if wr.Done.Before(s.stop) {
				before = stats[wr.Path].Czxid >> 32
			} else if wr.Issued.After(s.back) && after < 0 {
				after = stats[wr.Path].Czxid >> 32
			}
		}
		if before < 0 || after <= before {
			t.Errorf("replacing leader %d: writes' epoch %d before, %d after; a new leader must start a newer epoch", s.id, before, after)
		}
	}
	for i := 1; i < len(m.steps); i++ {
		if m.steps[i].leaderZxid <= m.steps[i-1].leaderZxid {
			t.Errorf("leader's zxid 0x%x before step %d, 0x%x before step %d: it must grow", m.steps[i-1].leaderZxid, i, m.steps[i].leaderZxid, i+1)
		}
	}
	t.Logf("%d acknowledged writes in zxid and sequence order over %d epochs", len(acked), len(epochs))
}

// checkGaps: for each step, the longest time between two acknowledged
// writes from the last one before the stop to the first one after the
// server was back.
func (m *migration) checkGaps(t *testing.T) {
	t.Helper()
	acked := ackedWrites(m.w)
	for i, s := range m.steps {
		var gap time.Duration
		last, resumed := time.Time{}, false
		for _, wr := range acked {
			if wr.Done.Before(s.stop) {
				last = wr.Done
				continue
			}
			if !last.IsZero() {
				gap = max(gap, wr.Done.Sub(last))
			}
			last = wr.Done
			if wr.Done.After(s.back) {
				resumed = true
				break
			}
		}
		role := "follower"
		if s.wasLeader {
			role = "leader"
		}
		t.Logf("step %d: %s %d to %s, back after %v; writes stopped for at most %v", i+1, role, s.id, impl(s.toApache),
			s.back.Sub(s.stop).Round(time.Millisecond), gap.Round(time.Millisecond))
		if !resumed {
			t.Errorf("step %d (%s %d): no write acknowledged after it", i+1, role, s.id)
		}
		if gap > electionBound {
			t.Errorf("step %d (%s %d): no write acknowledged for %v, longer than an election (%v)", i+1, role, s.id, gap.Round(time.Millisecond), electionBound)
		}
	}
}

// waitAcked waits until n more writes are acknowledged.
func waitAcked(t *testing.T, w *ops.Writer, n int, timeout time.Duration) {
	t.Helper()
	start := len(ackedWrites(w))
	deadline := time.Now().Add(timeout)
	for len(ackedWrites(w)) < start+n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes acknowledged within %v", len(ackedWrites(w))-start, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
