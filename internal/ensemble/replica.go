// Package ensemble runs a zab.Peer on ZooKeeper's election and quorum
// ports: one driver goroutine steps the peer with notifications, quorum
// packets, log completions and ticks, and carries out each Ready (epoch
// files and appends through a Log, committed entries to Apply, packets on
// the learner or leader connections, notifications through the
// Electorate). It decides nothing itself; the server plugs in its log and
// its apply step.
package ensemble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/quorum"
	"github.com/zkd/zkd/internal/zab"
)

// Log is where the replica's entries go. Append must not block on the
// disk: done runs once the entry is durable (or failed), on any goroutine.
type Log interface {
	Append(zxid int64, entry []byte, done func(error))
	WriteEpochs(accepted, current int64) error
	// Truncate removes every entry after zxid (a TRUNC).
	Truncate(zxid int64) error
}

// Member is a server's two quorum addresses.
type Member struct {
	Quorum, Election string
	Observer         bool
}

// Config configures a Replica.
type Config struct {
	Peer    zab.PeerConfig
	Members map[int64]Member
	// QuorumConfig is the text sent with notifications and NEWLEADER.
	QuorumConfig string
	// ListenAll listens on every address for this server's two ports
	// (quorumListenOnAllIPs: its own name may be a Service's address).
	ListenAll bool
	// ElectionTimeout bounds an election connection's dial and initial
	// message (cnxTimeout); ElectionBindTries is electionPortBindRetry.
	ElectionTimeout   time.Duration
	ElectionBindTries int
	Log               Log
	// Apply receives committed entries in zxid order, on the driver.
	Apply func([]zab.Entry)
	// Reload is called after a TRUNC: the state must be rebuilt from the
	// log as it now is.
	Reload func(zxid int64) error
	// Snapshot serializes the state after every entry handed to Apply (a
	// leader sends it after SNAP): sessions and tree as a snapshot file
	// holds them, and the zxid of the last entry applied.
	Snapshot func() (zxid int64, db []byte, err error)
	// Install replaces the state and the log with a snapshot from the
	// leader, durably (zxid 0 and no data: discard everything).
	Install func(zxid int64, db []byte) error
	// Host is the server around the replica, for what the quorum port
	// carries besides zab: clients' writes, syncs and session liveness.
	// Nil: none (a replica that only replicates, as in tests).
	Host Host
	// Tick is the duration of one zab tick.
	Tick time.Duration
	// Ticks, when set, drives the ticks instead of a ticker every Tick
	// (tests with a fake clock).
	Ticks  <-chan time.Time
	Logger *slog.Logger
}

// Host is told what the quorum port carries for clients. Every method runs
// on the replica's driver, where the host may use the peer and SendPacket.
type Host interface {
	// Request: this server leads and a learner forwarded a client request
	// with the client's auth ids.
	Request(p *zab.Peer, from int64, req quorum.Request, auth []quorum.ID)
	// Synced: the leader answered this learner's oldest forwarded sync.
	Synced(p *zab.Peer)
	// Touches: a learner's PING answer, the sessions its clients kept alive.
	Touches(from int64, ts []quorum.Touch)
	// PendingTouches: what this learner's next PING answer carries.
	PendingTouches() []quorum.Touch
	// Revalidate: learner from asks whether a reconnecting session lives.
	Revalidate(from, session int64, timeout int32) bool
	// Revalidated: the leader's answer to this learner's REVALIDATE.
	Revalidated(session int64, valid bool)
	// LearnerGone: this leader lost the learner's connection (or the
	// learner registered again on a new one).
	LearnerGone(sid int64)
	// RoleChanged runs after the peer changed role or started or stopped
	// serving, before any message of the new role is sent.
	RoleChanged(p *zab.Peer)
	// Tick runs on every tick of the driver.
	Tick(p *zab.Peer)
}

// maxDrain is how many queued host calls (proposals, forwarded requests)
// one turn of the driver runs before it carries out their Ready: enough
// to batch under load, few enough that the log starts on the first early.
const maxDrain = 256

// Replica is one running server of an ensemble.
type Replica struct {
	cfg  Config
	log  *slog.Logger
	peer *zab.Peer
	el   *quorum.Electorate
	ln   net.Listener // the quorum port (accepts while leading)

	packets chan inPacket
	// durable is the log's durable end, set by its completions (on the
	// log's goroutine, which must never block on the driver) and read by
	// the loop when wake fires.
	durable   atomic.Int64
	wake      chan struct{}
	proposals chan proposal
	work      chan func(*zab.Peer)
	status    chan chan Status
	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}

	gen     uint64
	serving bool                  // what the host was last told
	conns   map[int64]*packetConn // by peer sid, of the current generation
	pending map[*packetConn]bool  // accepted, not yet registered
	// early are accepted learners' registrations that came while this
	// server was looking, replayed if it leads.
	early     map[*packetConn]inPacket
	replayDue bool
	deferred  []deferredPacket // the host's, sent after the current Ready's messages
	mu        sync.Mutex       // guards pending (accept goroutine)

	// lookingSince is when the driver saw the peer start LOOKING;
	// loggedRound the last election round it logged (zab.Round.N).
	lookingSince time.Time
	loggedRound  int64
}

// Status is what the replica shows.
type Status struct {
	Role                                 zab.Role
	Leader                               int64
	Serving                              bool
	CurrentEpoch, AcceptedEpoch          int64
	LastLogged, Committed, ElectionRound int64
}

type deferredPacket struct {
	sid int64
	pkt quorum.QuorumPacket
}

type inPacket struct {
	conn *packetConn
	pkt  quorum.QuorumPacket
	err  error
}

type proposal struct {
	build func(zxid int64) []byte
	reply chan proposeResult
}

type proposeResult struct {
	zxid int64
	err  error
}

// Start opens the two ports and starts the driver. A standalone peer
// (cfg.Peer.Standalone) opens no port: it is an ensemble of one, driven
// the same way.
func Start(cfg Config) (*Replica, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 50 * time.Millisecond
	}
	me, ok := cfg.Members[cfg.Peer.ID]
	if !ok && !cfg.Peer.Standalone {
		return nil, fmt.Errorf("ensemble: server %d is not a member", cfg.Peer.ID)
	}
	peer, err := zab.NewPeer(cfg.Peer)
	if err != nil {
		return nil, err
	}
	if cfg.Peer.Standalone {
		r := newReplica(cfg, peer, nil, nil)
		go r.run()
		return r, nil
	}
	quorumListen, electionListen := me.Quorum, me.Election
	if cfg.ListenAll {
		quorumListen, electionListen = allAddresses(me.Quorum), allAddresses(me.Election)
	}
	ln, err := net.Listen("tcp", quorumListen)
	if err != nil {
		return nil, fmt.Errorf("ensemble: quorum port: %w", err)
	}
	el, err := quorum.ListenElection(quorum.ElectorateConfig{ID: cfg.Peer.ID, Listen: electionListen, Address: me.Election,
		Peers: func(sid int64) (string, bool) {
			m, ok := cfg.Members[sid]
			return m.Election, ok
		},
		Config: func() string { return cfg.QuorumConfig }, Timeout: cfg.ElectionTimeout, BindTries: cfg.ElectionBindTries,
		Logger: cfg.Logger})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("ensemble: election port: %w", err)
	}
	r := newReplica(cfg, peer, el, ln)
	go r.acceptLoop()
	go r.run()
	return r, nil
}

func newReplica(cfg Config, peer *zab.Peer, el *quorum.Electorate, ln net.Listener) *Replica {
	return &Replica{cfg: cfg, log: cfg.Logger.With("myid", cfg.Peer.ID), peer: peer, el: el, ln: ln,
		packets: make(chan inPacket, 1024), wake: make(chan struct{}, 1), proposals: make(chan proposal), work: make(chan func(*zab.Peer), 1024),
		status: make(chan chan Status), stop: make(chan struct{}), done: make(chan struct{}),
		conns: map[int64]*packetConn{}, pending: map[*packetConn]bool{}, early: map[*packetConn]inPacket{}}
}

// allAddresses is host:port's port on every address.
func allAddresses(hostport string) string {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return net.JoinHostPort("", port)
}

// Close stops the replica.
func (r *Replica) Close() {
	r.halt()
	<-r.done
}

// Done is closed when the replica has stopped (Close, or a failed write
// of its log or epoch files).
func (r *Replica) Done() <-chan struct{} { return r.done }

func (r *Replica) halt() { r.stopOnce.Do(func() { close(r.stop) }) }

// Status returns the replica's state.
func (r *Replica) Status() Status {
	ch := make(chan Status, 1)
	select {
	case r.status <- ch:
		return <-ch
	case <-r.done:
		return Status{Role: zab.Looking, Leader: -1}
	}
}

// Do runs fn on the driver with the peer (the host's proposals, forwarded
// requests and syncs) and carries out what it caused. It blocks while 1024
// are queued; false when the replica has stopped.
func (r *Replica) Do(fn func(p *zab.Peer)) bool {
	select {
	case r.work <- fn:
		return true
	case <-r.done:
		return false
	}
}

// SendPacket queues a packet to a peer's quorum connection of the current
// role (a learner's REQUEST to its leader, a leader's SYNC to a learner);
// only on the driver (in Do or a Host method). False when there is no
// such connection.
func (r *Replica) SendPacket(sid int64, pkt quorum.QuorumPacket) bool {
	if r.conns[sid] == nil {
		return false
	}
	r.deferred = append(r.deferred, deferredPacket{sid, pkt})
	return true
}

// Propose proposes a txn on the leader: build makes its log record for
// the zxid it gets (the record carries it). It returns the zxid.
func (r *Replica) Propose(build func(zxid int64) []byte) (int64, error) {
	p := proposal{build: build, reply: make(chan proposeResult, 1)}
	select {
	case r.proposals <- p:
		res := <-p.reply
		return res.zxid, res.err
	case <-r.done:
		return 0, errors.New("ensemble: stopped")
	}
}

func (r *Replica) run() {
	defer close(r.done)
	var notifications <-chan zab.Notification // none for a standalone peer
	if r.el != nil {
		defer r.el.Close()
		notifications = r.el.Incoming()
	}
	if r.ln != nil {
		defer r.ln.Close()
	}
	defer r.closeConns()
	defer r.closePending()
	ticks := r.cfg.Ticks
	if ticks == nil {
		tick := time.NewTicker(r.cfg.Tick)
		defer tick.Stop()
		ticks = tick.C
	}
	r.gen = r.peer.Generation()
	r.lookingSince = time.Now()
	r.carryOut()
	for {
		select {
		case <-r.stop:
			return
		case <-ticks:
			r.peer.Tick()
			if r.cfg.Host != nil {
				r.carryOut()
				r.cfg.Host.Tick(r.peer)
			}
		case fn := <-r.work:
			fn(r.peer)
			// Take what else is queued before carrying out: one Ready
			// then appends, sends and flushes many proposals at once
			// (not past a role change, as for packets below).
		drain:
			for range maxDrain - 1 {
				if r.peer.Generation() != r.gen {
					break
				}
				select {
				case fn = <-r.work:
					fn(r.peer)
				default:
					break drain
				}
			}
		case n := <-notifications:
			r.peer.StepNotification(n)
		case in := <-r.packets:
			r.stepPacket(in)
			// Step what else has arrived (a burst of ACKs, PROPOSALs and
			// COMMITs) before carrying out: one Ready, one flush per
			// connection. Not past a role change: the connections of the
			// old role are closed in carryOut, and their packets must not
			// reach the new one.
		drainPackets:
			for range maxDrain - 1 {
				if r.peer.Generation() != r.gen {
					break
				}
				select {
				case in = <-r.packets:
					r.stepPacket(in)
				default:
					break drainPackets
				}
			}
		case <-r.wake:
			if z := r.durable.Load(); z > r.peer.Persisted() && z <= r.peer.LastLogged() {
				r.peer.Step(zab.Message{Type: zab.MsgPersisted, Zxid: z})
			}
		case p := <-r.proposals:
			z, err := r.peer.NextZxid()
			if err == nil {
				err = r.peer.Propose(zab.Entry{Type: zab.EntryTxn, Zxid: z, Data: p.build(z)})
			}
			p.reply <- proposeResult{z, err}
		case ch := <-r.status:
			p := r.peer
			ch <- Status{Role: p.Role(), Leader: p.Leader(), Serving: p.Serving(), CurrentEpoch: p.CurrentEpoch(),
				AcceptedEpoch: p.AcceptedEpoch(), LastLogged: p.LastLogged(), Committed: p.Committed(),
				ElectionRound: p.Election().Clock()}
		}
		r.carryOut()
	}
}

// carryOut does what the peer's Ready says.
func (r *Replica) carryOut() {
	r.checkGeneration()
	for r.peer.HasReady() {
		rd := r.peer.Ready()
		if rd.Snapshot != nil {
			err := errors.New("this server cannot install snapshots")
			if r.cfg.Install != nil {
				err = r.cfg.Install(rd.Snapshot.Zxid, rd.Snapshot.Data)
			}
			if err != nil {
				r.log.Error("ensemble: installing the leader's snapshot failed; stopping", "zxid", rd.Snapshot.Zxid, "err", err)
				r.halt()
				return
			}
		}
		if rd.Truncate >= 0 {
			err := r.cfg.Log.Truncate(rd.Truncate)
			if err == nil && r.cfg.Reload != nil {
				err = r.cfg.Reload(rd.Truncate)
			}
			if err != nil {
				r.log.Error("ensemble: truncating the log failed; stopping", "zxid", rd.Truncate, "err", err)
				r.halt()
				return
			}
			// Completions of the entries cut have all run (the log
			// truncates in order): what was durable above the cut is gone.
			r.durable.Store(min(r.durable.Load(), rd.Truncate))
		}
		if rd.AcceptedEpoch >= 0 || rd.CurrentEpoch >= 0 {
			acc, cur := rd.AcceptedEpoch, rd.CurrentEpoch
			if acc < 0 {
				acc = r.peer.AcceptedEpoch()
			}
			if cur < 0 {
				cur = r.peer.CurrentEpoch()
			}
			if err := r.cfg.Log.WriteEpochs(acc, cur); err != nil {
				r.log.Error("ensemble: writing the epoch files failed; stopping", "err", err)
				r.halt()
				return
			}
		}
		for _, e := range rd.Entries {
			z := e.Zxid
			r.cfg.Log.Append(z, e.Data, func(err error) {
				if err != nil {
					// The entry may not be durable: nothing after it can
					// be acknowledged, and the server stops with the
					// replica.
					r.log.Error("ensemble: log append failed; stopping", "zxid", fmt.Sprintf("0x%x", uint64(z)), "err", err)
					r.halt()
					return
				}
				for {
					old := r.durable.Load()
					if z <= old || r.durable.CompareAndSwap(old, z) {
						break
					}
				}
				select {
				case r.wake <- struct{}{}:
				default:
				}
			})
		}
		if len(rd.Committed) > 0 && r.cfg.Apply != nil {
			r.cfg.Apply(rd.Committed)
		}
		r.peer.Advance()
		r.checkGeneration()
		for _, m := range rd.Messages {
			r.send(m)
		}
		if r.el != nil {
			for _, n := range rd.Notifications {
				r.el.Send(n)
			}
		}
	}
	r.flushDeferred()
	r.replayEarly()
}

// flushDeferred sends the host's packets after the messages of the
// Ready that caused them (a SYNC after the COMMITs before it).
func (r *Replica) flushDeferred() {
	for _, d := range r.deferred {
		if c := r.conns[d.sid]; c != nil {
			c.queue(outPacket{pkt: d.pkt})
		}
	}
	r.deferred = r.deferred[:0]
}

// checkGeneration closes the quorum connections of a role that ended,
// before any message of the new one is sent.
func (r *Replica) checkGeneration() {
	changed := false
	if g := r.peer.Generation(); g != r.gen {
		r.gen = g
		r.closeConns()
		changed = true
		if r.peer.Role() == zab.Looking {
			r.lookingSince = time.Now()
			r.log.Info("ensemble: looking for a leader", "epoch", r.peer.CurrentEpoch(),
				"zxid", fmt.Sprintf("0x%x", uint64(r.peer.LastLogged())))
		} else {
			r.logRound()
		}
	}
	if s := r.peer.Serving(); s != r.serving {
		r.serving = s
		changed = true
		if s {
			r.log.Debug("ensemble: serving", "state", r.peer.Role().String(), "leader", r.peer.Leader(),
				"epoch", r.peer.CurrentEpoch(), "zxid", fmt.Sprintf("0x%x", uint64(r.peer.LastLogged())))
		}
	}
	if changed && r.cfg.Host != nil {
		r.cfg.Host.RoleChanged(r.peer)
	}
	if changed && r.peer.Role() != zab.Looking && len(r.early) > 0 {
		r.replayDue = true
	}
}

// logRound logs, once, the election round that took the peer out of
// LOOKING: its round, the votes it counted and the outcome.
func (r *Replica) logRound() {
	rd, ok := r.peer.Election().LastRound()
	if !ok || rd.N == r.loggedRound {
		return
	}
	r.loggedRound = rd.N
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "election: round decided",
		slog.Int64("round", rd.ElectionEpoch),
		slog.Int64("leader", rd.Elected.Leader),
		slog.String("state", rd.State.String()),
		slog.String("leader_zxid", fmt.Sprintf("0x%x", uint64(rd.Elected.Zxid))),
		slog.Int64("leader_epoch", rd.Elected.PeerEpoch),
		slog.Int64("elapsed_ms", time.Since(r.lookingSince).Milliseconds()),
		slog.Attr{Key: "votes", Value: votesValue(rd.Votes)})
}

// votesValue is a round's counted votes as a group keyed by sid:
// votes.2.leader=3 votes.2.zxid=0x100000004 … in text,
// "votes":{"2":{"leader":3,…}} in JSON.
func votesValue(votes []zab.CountedVote) slog.Value {
	attrs := make([]slog.Attr, 0, len(votes))
	for _, v := range votes {
		attrs = append(attrs, slog.Group(strconv.FormatInt(v.From, 10),
			slog.Int64("leader", v.Vote.Leader),
			slog.String("zxid", fmt.Sprintf("0x%x", uint64(v.Vote.Zxid))),
			slog.Int64("peer_epoch", v.Vote.PeerEpoch),
			slog.Int64("round", v.ElectionEpoch),
			slog.String("state", v.State.String())))
	}
	return slog.GroupValue(attrs...)
}

// replayEarly steps the registrations that waited for this server to
// lead (or closes them if it follows); after a Ready is carried out, so
// that what they cause comes after its messages.
func (r *Replica) replayEarly() {
	if !r.replayDue {
		return
	}
	r.replayDue = false
	early := r.early
	r.early = map[*packetConn]inPacket{}
	for c, in := range early {
		if r.peer.Role() == zab.Leading {
			r.stepPacket(in)
			r.carryOut()
		} else {
			c.close()
		}
	}
}

// closePending closes the accepted connections that never registered.
func (r *Replica) closePending() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.pending {
		c.close()
		delete(r.pending, c)
	}
	for c := range r.early {
		c.close()
		delete(r.early, c)
	}
}

func (r *Replica) closeConns() {
	for sid, c := range r.conns {
		c.close()
		delete(r.conns, sid)
	}
}

// send puts a message on the connection to its peer: a learner dials its
// leader for the first message of a generation; a leader answers on the
// connection the learner registered on.
func (r *Replica) send(m zab.Message) {
	if m.Type == zab.MsgDisconnected {
		if c := r.conns[m.To]; c != nil {
			c.close()
			delete(r.conns, m.To)
			r.learnerGone(m.To)
		}
		return
	}
	if (m.Type == zab.MsgFollowerInfo || m.Type == zab.MsgObserverInfo) && r.conns[m.To] != nil {
		// The peer registers again each tick until LEADERINFO comes; on a
		// connection that is still dialing or waiting for its leader the
		// first registration is enough, and an Apache leader drops a
		// learner that sends FOLLOWERINFO twice.
		return
	}
	if r.log.Enabled(context.Background(), slog.LevelDebug) {
		r.log.Debug("ensemble: out", "msg", m.String())
	}
	pkt, err := toPacket(r.cfg.Peer.ID, m)
	if err != nil {
		r.log.Error("ensemble: cannot send", "msg", m.String(), "err", err)
		return
	}
	out := outPacket{pkt: pkt}
	if m.Type == zab.MsgPing && r.peer.Role() != zab.Leading && r.cfg.Host != nil {
		out.pkt.Data = quorum.EncodeTouches(r.cfg.Host.PendingTouches())
	}
	if m.Type == zab.MsgSnap {
		// A learner that cannot have its SNAP must not get the NEWLEADER
		// behind it (an Apache learner exits on it): its connection goes.
		dropLearner := func() {
			if c := r.conns[m.To]; c != nil {
				c.close()
				delete(r.conns, m.To)
				r.learnerGone(m.To)
			}
		}
		if r.cfg.Snapshot == nil {
			r.log.Error("ensemble: a learner needs a snapshot and this server cannot serialize one", "sid", m.To)
			dropLearner()
			return
		}
		zxid, db, err := r.cfg.Snapshot()
		if err != nil {
			r.log.Error("ensemble: serializing a snapshot for a learner failed", "sid", m.To, "err", err)
			dropLearner()
			return
		}
		// The tree is at the leader's last commit; a new leader's SNAP
		// carries makeZxid(epoch, 0) past it, as Apache's does.
		out.pkt.Zxid, out.tail = max(zxid, m.Zxid), appendSnapStream(nil, db)
	}
	c := r.conns[m.To]
	if c == nil {
		if r.peer.Role() == zab.Leading {
			return // the learner is gone
		}
		member, ok := r.cfg.Members[m.To]
		if !ok {
			return
		}
		c = r.newConn(m.To, nil)
		r.conns[m.To] = c
		go c.dial(member.Quorum)
	}
	c.queue(out)
}
