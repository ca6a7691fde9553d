package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/watch"
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
	Config    *config.Config
	Logger    *slog.Logger
	Persister Persister  // nil = in memory
	Tree      *tree.Tree // initial tree (recovered); nil = empty
	// Sessions recovered from disk (id -> timeout ms).
	Sessions map[int64]int32
	// ContainerCheckInterval is how often empty containers and expired TTL
	// nodes are looked for (ZooKeeper's znode.container.checkIntervalMs,
	// default one minute).
	ContainerCheckInterval time.Duration
}

// Server is one zkd server.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	persist   Persister
	maxBuffer int
	started   time.Time
	serverID  int64

	containerInterval time.Duration

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

	// proposeMu serializes submit: zxid order is persist order.
	proposeMu  sync.Mutex
	proposeEnc *jute.Encoder
	inPipeline atomic.Int64 // submitted, not yet applied

	prepMu           sync.Mutex
	prep             prepState
	lastZxidPrepared int64

	sessMu       sync.Mutex
	sessions     *session.Table
	sessionConns map[int64]*conn

	connMu    sync.Mutex
	conns     map[*conn]struct{}
	connsByIP map[string]int

	applyCh   chan *request
	stopping  chan struct{}
	applyDone chan struct{}
	stopOnce  sync.Once
	listeners []net.Listener
	wg        sync.WaitGroup
	serving   atomic.Bool
	fatalErr  atomic.Value

	stats serverStats
	snap  *snapshotter // nil when not durable

	traceMask atomic.Int64
	digestMu  sync.Mutex
	digestLog []digestEntry // the hash 4lw: digests at zxids divisible by 128
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
	p := opts.Persister
	if p == nil {
		p = MemoryPersister{}
	}
	t := opts.Tree
	if t == nil {
		t = tree.New()
	}
	now := time.Now()
	serverID := cfg.MyID
	if serverID == 0 {
		serverID = 1 // standalone ZooKeeper uses server id 1 for session ids
	}
	s := &Server{
		cfg:          cfg,
		log:          log,
		persist:      p,
		maxBuffer:    cfg.JuteMaxBuffer,
		started:      now,
		serverID:     serverID,
		tree:         t,
		watches:      watch.NewManager(),
		prep:         newPrepState(),
		sessions:     session.NewTable(int64(cfg.TickTime), serverID, now.UnixMilli()),
		sessionConns: map[int64]*conn{},
		conns:        map[*conn]struct{}{},
		connsByIP:    map[string]int{},
		proposeEnc:   jute.NewEncoder(make([]byte, 0, 4096)),
		applyCh:      make(chan *request, 8192),
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
	s.lastZxidPrepared = t.LastZxid()
	for id, to := range opts.Sessions {
		s.sessions.Add(id, to, now.UnixMilli())
	}
	s.stats.reset()
	s.traceMask.Store(defaultTraceMask)
	return s, nil
}

// Start runs the pipeline and background tasks; Serve accepts connections.
func (s *Server) Start() {
	go s.applyLoop()
	s.wg.Add(1)
	go s.tickLoop()
	if s.snap != nil {
		s.wg.Add(1)
		go s.snapshotLoop()
	}
	s.serving.Store(true)
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
		s.connMu.Lock()
		for _, l := range s.listeners {
			l.Close()
		}
		for c := range s.conns {
			c.close()
		}
		s.connMu.Unlock()
		// A submit that began before stopping finishes; later ones see it.
		s.proposeMu.Lock()
		s.proposeMu.Unlock()
		<-s.applyDone
		s.wg.Wait()
	})
	return s.persist.Close()
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
	return s.tree.LastZxid()
}

// tickLoop expires sessions and removes empty containers and expired TTL nodes.
func (s *Server) tickLoop() {
	defer s.wg.Done()
	tick := time.Duration(s.cfg.TickTime) * time.Millisecond
	if tick <= 0 {
		tick = 2 * time.Second
	}
	sessionTicker := time.NewTicker(tick / 2)
	defer sessionTicker.Stop()
	// ContainerManager runs every minute by default
	// (znode.container.checkIntervalMs = 60000).
	containerTicker := time.NewTicker(s.containerInterval)
	defer containerTicker.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case now := <-sessionTicker.C:
			s.expireSessions(now)
		case now := <-containerTicker.C:
			s.checkContainers(now)
		}
	}
}

func (s *Server) expireSessions(now time.Time) {
	s.sessMu.Lock()
	expired := s.sessions.Expired(now.UnixMilli())
	s.sessMu.Unlock()
	for _, id := range expired {
		s.log.Info("session expired", "session", hexID(id))
		s.submit(&request{session: id, op: proto.OpCloseSession, start: now, done: s.closeSessionDone})
	}
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

func (s *Server) checkContainers(now time.Time) {
	var paths []string
	s.dbMu.RLock()
	paths = append(paths, s.tree.Containers()...)
	if s.cfg.ExtendedTypesEnabled {
		paths = append(paths, s.tree.ExpiredTTLs(now.UnixMilli())...)
	}
	s.dbMu.RUnlock()
	for _, p := range paths {
		s.submit(&request{op: proto.OpDeleteContainer, body: &proto.PathRequest{Path: p}, start: now})
	}
}

// deliverEvent sends a tree event to every watcher it triggers.
// Caller holds dbMu.
//
// As in ZooKeeper 3.9.2+, a watcher whose connection may not
// READ the znode does not get the event.
func (s *Server) deliverEvent(ev tree.Event, zxid int64) {
	for _, d := range s.watches.Trigger(ev.Path, ev.Type) {
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
