package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/zab"
)

// ErrStopped is returned by Serve after Close.
var ErrStopped = errors.New("server: stopped")

// Version is the ZooKeeper version zkd speaks plus its own, as clients see it.
const Version = "3.9.3-zkd-0.1.0"

// BuildDate is printed in the srvr/stat banner (pre-3.7 form, which every
// known parser accepts).
const BuildDate = "11/26/2026 00:00 GMT"

// Options configure a Server.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	Log    Log        // the persist step; nil = in memory
	Tree   *tree.Tree // initial tree (recovered); nil = empty
	// Sessions recovered from disk (id -> timeout ms).
	Sessions map[int64]int32
	// Epochs recovered from the epoch files (zab.Config's meaning: -1 for
	// a missing file); zero values mean missing.
	CurrentEpoch, AcceptedEpoch, CurrentEpochTmp *int64
	// SnapshotZxid is the zxid of the snapshot the state was loaded from
	// (0 for none): a TRUNC below it cannot be done by cutting the log.
	SnapshotZxid int64
	// FS is the file system of the data directories (nil = the OS's).
	FS storage.FS
	// Now is the clock (nil = time.Now); Ticks drives session expiry and
	// the container check (nil = a ticker at tickTime/2). Tests inject both
	// to run a server deterministically.
	Now   func() time.Time
	Ticks <-chan time.Time
	// ContainerCheckInterval is how often empty containers and expired TTL
	// nodes are looked for (ZooKeeper's znode.container.checkIntervalMs,
	// default one minute).
	ContainerCheckInterval time.Duration
	// Metrics receive what the server measures (nil: a fresh set); pass
	// them in to have Prometheus see the start-up figures too.
	Metrics *admin.Metrics
	// Ensemble makes the server a member of an ensemble (nil: standalone).
	Ensemble *EnsembleOptions
}

// Server is one zkd server.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	refused   *refusals // the rate-limited refused-client lines
	persist   Log
	fsys      storage.FS
	now       func() time.Time
	ticks     <-chan time.Time
	maxBuffer int
	started   time.Time
	serverID  int64

	containerInterval  time.Duration
	lastContainerCheck time.Time // driver only

	// dbMu guards tree; watch triggers happen under its write lock so that a
	// read that registers a watch never misses the event after it.
	dbMu sync.RWMutex
	// applyMu is held by the apply step around its tree write lock, and by
	// a snapshot while it walks the tree: a snapshot thus sees no change
	// without taking dbMu, and readers (which take dbMu.RLock) never queue
	// behind an apply that waits for a snapshot.
	applyMu sync.Mutex
	tree    *tree.Tree
	watches *watch.Manager

	// ens is the one write pipeline's driver: a standalone server is an
	// ensemble of one (ens.standalone).
	ens        *replicated
	driverDone chan struct{}
	// launched is set by Start; Close of a server never started stops
	// its replica itself.
	launched atomic.Bool
	// outstanding counts writes submitted and not yet applied.
	inPipeline atomic.Int64
	// applied is the last applied zxid (set under applyMu).
	applied atomic.Int64
	// epochZxid is makeZxid(epoch, 0) while this server leads and
	// serves, else 0: the zxid it shows until the epoch's first txn, as
	// Apache's leader sets its lastProcessedZxid when it starts serving.
	epochZxid atomic.Int64

	// requests counts client requests queued in connections' reply order
	// (writes in the pipeline and the reads behind them); while it is at
	// globalOutstandingLimit no connection reads more (waitOutstanding).
	requests         atomic.Int64
	outstandingLimit int64
	throttleMu       sync.Mutex
	throttleCond     *sync.Cond
	throttleWaiters  atomic.Int32
	// Per-connection bounds on what waits to be written: above
	// readPauseBytes the connection is not read from, above maxQueuedBytes
	// it is closed.
	readPauseBytes, maxQueuedBytes int

	sessMu       sync.Mutex
	sessions     *session.Table
	sessionConns map[int64]*conn
	// touched are the sessions this server's clients kept alive since the
	// last ping answer to the leader (in an ensemble).
	touched map[int64]int32

	connMu    sync.Mutex
	conns     map[*conn]struct{}
	connsByIP map[string]int

	applyCh   chan []committed
	stopping  chan struct{}
	applyDone chan struct{}
	stopOnce  sync.Once
	listeners []net.Listener
	wg        sync.WaitGroup
	serving   atomic.Bool
	fatalErr  atomic.Value

	stats serverStats
	snap  *snapshotter // nil when not durable

	adm     *admin.Admin
	metrics *admin.Metrics
	// When the last digest mismatch was logged, and the mismatches since
	// (apply step only).
	mismatchLogged     time.Time
	mismatchesUnlogged int64
	lastSnap           atomic.Value // admin.Snapshot: the newest written or loaded
	digestMu           sync.Mutex
	digestLog          []digestEntry // the hash 4lw: digests at zxids divisible by 128
}

type treeT = tree.Tree

type digestEntry struct{ zxid, digest int64 }

// recordDigest keeps the last 1,024 digests of zxids divisible by 128, as
// ZooKeeper's digest log for the hash 4lw. Caller holds dbMu.
func (s *Server) recordDigest(zxid int64) {
	if zxid%128 != 0 {
		return
	}
	s.digestMu.Lock()
	s.digestLog = append(s.digestLog, digestEntry{zxid, s.tree.Digest()})
	if len(s.digestLog) > 1024 {
		s.digestLog = s.digestLog[len(s.digestLog)-1024:]
	}
	s.digestMu.Unlock()
}

// New builds a server; Serve starts it.
func New(opts Options) (*Server, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("server: no config")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	p := opts.Log
	if p == nil {
		p = MemoryLog{}
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = storage.OSFS{}
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	t := opts.Tree
	if t == nil {
		t = tree.New()
	}
	now := clock()
	serverID := cfg.MyID
	if serverID == 0 {
		serverID = 1 // standalone ZooKeeper uses server id 1 for session ids
	}
	s := &Server{
		cfg:          cfg,
		log:          log,
		refused:      newRefusals(log),
		persist:      p,
		fsys:         fsys,
		now:          clock,
		ticks:        opts.Ticks,
		maxBuffer:    cfg.JuteMaxBuffer,
		started:      now,
		serverID:     serverID,
		tree:         t,
		watches:      watch.NewManager(),
		sessions:     session.NewTable(int64(cfg.TickTime), serverID, now.UnixMilli()),
		sessionConns: map[int64]*conn{},
		touched:      map[int64]int32{},
		conns:        map[*conn]struct{}{},
		connsByIP:    map[string]int{},
		applyCh:      make(chan []committed, 256),
		driverDone:   make(chan struct{}),
		stopping:     make(chan struct{}),
		applyDone:    make(chan struct{}),
	}
	s.containerInterval = opts.ContainerCheckInterval
	if s.containerInterval <= 0 {
		s.containerInterval = time.Minute
	}
	if s.maxBuffer <= 0 {
		s.maxBuffer = 0xfffff
	}
	s.lastContainerCheck = now
	s.outstandingLimit = int64(cfg.GlobalOutstandingLimit)
	if s.outstandingLimit <= 0 {
		s.outstandingLimit = config.DefaultGlobalOutstandingLimit
	}
	s.throttleCond = sync.NewCond(&s.throttleMu)
	s.readPauseBytes = 1 << 20
	s.maxQueuedBytes = 16<<20 + 2*s.maxBuffer
	s.applied.Store(t.LastZxid())
	epoch := func(e *int64) int64 {
		if e == nil {
			return -1
		}
		return *e
	}
	for id, to := range opts.Sessions {
		s.sessions.Add(id, to, now.UnixMilli())
	}
	s.stats.reset()
	s.metrics = opts.Metrics
	if s.metrics == nil {
		s.metrics = admin.NewMetrics()
	}
	s.adm = admin.New(adminSource{s}, admin.Options{Config: cfg, Version: VersionBanner(), Metrics: s.metrics})
	// Standalone (no Ensemble) is an ensemble of one on the same driver.
	if err := s.startReplicated(opts.Ensemble, epoch(opts.CurrentEpoch), epoch(opts.AcceptedEpoch), epoch(opts.CurrentEpochTmp), opts.SnapshotZxid); err != nil {
		if errors.Is(err, zab.ErrEpochBehind) || errors.Is(err, zab.ErrAcceptedBehind) {
			return nil, fmt.Errorf("%w (the epoch files in %s disagree with the transaction log)", err, cfg.DataDir)
		}
		return nil, err
	}
	return s, nil
}

// Start runs the pipeline and background tasks; Serve accepts connections.
func (s *Server) Start() {
	s.launched.Store(true)
	go s.applyLoop()
	if s.snap != nil {
		s.wg.Add(1)
		go s.snapshotLoop()
	}
	// Serving starts and stops with the role (RoleChanged). A standalone
	// peer leads from its creation: it serves at once, not from whenever
	// its driver first runs.
	if s.ens.standalone {
		s.serving.Store(true)
	}
	go s.ens.run()
}

// Serve accepts client connections on l until Close.
func (s *Server) Serve(l net.Listener) error {
	s.connMu.Lock()
	s.listeners = append(s.listeners, l)
	s.connMu.Unlock()
	for {
		nc, err := l.Accept()
		if err != nil {
			select {
			case <-s.stopping:
				return ErrStopped
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.accept(nc)
	}
}

// Close stops the server: listeners, connections, pipeline, persister.
func (s *Server) Close() error {
	s.stopOnce.Do(func() {
		s.serving.Store(false)
		close(s.stopping)
		s.throttleMu.Lock()
		s.throttleCond.Broadcast()
		s.throttleMu.Unlock()
		s.connMu.Lock()
		for _, l := range s.listeners {
			l.Close()
		}
		for c := range s.conns {
			c.close()
		}
		s.connMu.Unlock()
		if !s.launched.Load() {
			// Opened but never started (the client port could not be
			// bound, say): no loop runs that would stop the replica.
			s.ens.rep.Close()
			close(s.driverDone)
			close(s.applyDone)
		}
		<-s.driverDone
		<-s.applyDone
		s.wg.Wait()
		s.refused.stop()
	})
	return s.persist.Close()
}

// waitOutstanding holds a connection's reader while globalOutstandingLimit
// requests are in the server, as ZooKeeper stops reading from its clients
// then; false when the server stops meanwhile.
func (s *Server) waitOutstanding() bool {
	if s.requests.Load() < s.outstandingLimit {
		return true
	}
	s.throttleMu.Lock()
	defer s.throttleMu.Unlock()
	// Counted before the check, so that requestDone cannot miss us.
	s.throttleWaiters.Add(1)
	defer s.throttleWaiters.Add(-1)
	for s.requests.Load() >= s.outstandingLimit {
		select {
		case <-s.stopping:
			return false
		default:
		}
		s.throttleCond.Wait()
	}
	return true
}

// requestDone counts a queued request out and wakes throttled readers.
func (s *Server) requestDone() {
	if s.requests.Add(-1) < s.outstandingLimit && s.throttleWaiters.Load() > 0 {
		s.throttleMu.Lock()
		s.throttleCond.Broadcast()
		s.throttleMu.Unlock()
	}
}

// closeClients closes every client connection (the server stopped
// serving: its clients fail over to another server).
func (s *Server) closeClients() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.conns {
		c.close()
	}
}

// Done is closed when the server stops (Close or a fatal error).
func (s *Server) Done() <-chan struct{} { return s.stopping }

// Err is the fatal error that stopped the server, if any.
func (s *Server) Err() error {
	if e, ok := s.fatalErr.Load().(error); ok {
		return e
	}
	return nil
}

// fatal stops the server because it can no longer keep its promises
// (a failed fsync): acknowledging anything more would be a lie.
func (s *Server) fatal(format string, args ...any) {
	err := fmt.Errorf(format, args...)
	s.fatalErr.CompareAndSwap(nil, err)
	s.metrics.UnrecoverableErrors.Add(1)
	s.log.Error("fatal: stopping the server", "err", err)
	go s.Close()
}

// Tree returns the tree for callers that hold no other lock (tests, tools).
func (s *Server) withTree(fn func(t *tree.Tree)) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	fn(s.tree)
}

// LastZxid is the last applied zxid.
func (s *Server) LastZxid() int64 {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.lastZxidLocked()
}

// lastZxidLocked is the zxid the server shows and answers with
// (ZooKeeper's getDataTreeLastProcessedZxid): the tree's last txn, or a
// new leader's epoch start before the epoch's first txn. Called with
// dbMu held.
func (s *Server) lastZxidLocked() int64 {
	return max(s.tree.LastZxid(), s.epochZxid.Load())
}

// expire is the closeSession request for an expired session (on the
// driver, which proposes it). Its log line waits for the close to be
// applied, to say how many ephemerals it removed.
func (s *Server) expire(id int64, now time.Time) *request {
	s.sessMu.Lock()
	timeout, _ := s.sessions.Get(id)
	s.sessMu.Unlock()
	return &request{session: id, op: proto.OpCloseSession, start: now, done: func(r *request) {
		if r.err == proto.OK && s.log.Enabled(context.Background(), slog.LevelInfo) {
			removed := 0
			if r.txn != nil {
				if b, ok := r.txn.Body.(*txn.CloseSession); ok {
					removed = len(b.Paths)
				}
			}
			s.log.Info("session expired", "session", hexID(id), "timeout_ms", timeout, "ephemerals_removed", removed)
		}
		s.closeSessionDone(r)
	}}
}

// closeSessionDone closes the connection that owned a closed session.
func (s *Server) closeSessionDone(r *request) {
	s.sessMu.Lock()
	c := s.sessionConns[r.session]
	delete(s.sessionConns, r.session)
	s.sessMu.Unlock()
	if c != nil && c != r.conn {
		c.close()
	}
}

// deliverEvent sends a tree event to every watcher it triggers.
// Caller holds dbMu.
//
// As in ZooKeeper 3.9.2+, a watcher whose connection may not
// READ the znode does not get the event.
func (s *Server) deliverEvent(ev tree.Event, zxid int64) {
	triggered := s.watches.Trigger(ev.Path, ev.Type)
	s.countWatchers(ev.Type, len(triggered))
	for _, d := range triggered {
		c, ok := d.Client.(*conn)
		if !ok {
			continue
		}
		if ev.ACL != nil && !acl.Check(ev.ACL, proto.PermRead, c.authIDs()) {
			continue
		}
		c.sendEvent(d.Type, d.Path, zxid)
	}
}

func hexID(id int64) string  { return fmt.Sprintf("0x%x", uint64(id)) }
func hexZxid(z int64) string { return fmt.Sprintf("0x%x", uint64(z)) }
