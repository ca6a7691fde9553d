package quorum

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/zab"
)

// Electorate is the election port of one server (QuorumCnxManager): one
// connection per pair of servers, the larger sid's surviving; it carries
// notifications to and from the driver and decides nothing.
type Electorate struct {
	self    int64
	address string // this server's election address, as announced
	peers   func(sid int64) (string, bool)
	config  func() string
	log     *slog.Logger
	timeout time.Duration

	ln      net.Listener
	in      chan zab.Notification
	closing chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	trouble map[int64]string // the last dial problem per sid, logged once per change
	conns   map[int64]*electionConn
	pending map[int64][]byte // the latest frame for a sid with no connection
	dialing map[int64]bool
}

type electionConn struct {
	sid  int64
	nc   net.Conn
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func (c *electionConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// ElectorateConfig configures an Electorate.
type ElectorateConfig struct {
	ID int64
	// Listen is the address to listen on; Address the one announced in
	// the initial message (host:port of server.ID's election port).
	Listen, Address string
	// Peers gives a server's election address; it is asked again on
	// every dial, so that a name that resolves differently is followed.
	Peers func(sid int64) (string, bool)
	// Config gives the quorum config text sent with each notification.
	Config func() string
	// Timeout bounds a dial and the wait for an initial message (cnxTimeout).
	Timeout time.Duration
	// BindTries is how many times binding Listen is tried, BindWait apart
	// (default 1s), before ListenElection gives up: electionPortBindRetry
	// (0: Apache's default, 3; negative: no limit). A port still held by a server stopping is common in
	// restarts; a port held for good is a configuration error.
	BindTries int
	BindWait  time.Duration
	Logger    *slog.Logger
}

// ListenElection starts the election port.
func ListenElection(cfg ElectorateConfig) (*Electorate, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := listenRetrying(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Config == nil {
		cfg.Config = func() string { return "" }
	}
	e := &Electorate{self: cfg.ID, address: cfg.Address, peers: cfg.Peers, config: cfg.Config, log: cfg.Logger,
		timeout: cfg.Timeout, ln: ln, in: make(chan zab.Notification, 256), closing: make(chan struct{}),
		conns: map[int64]*electionConn{}, pending: map[int64][]byte{}, dialing: map[int64]bool{}, trouble: map[int64]string{}}
	e.wg.Add(1)
	go e.acceptLoop()
	return e, nil
}

// ErrCannotBind: the election port could not be bound in
// electionPortBindRetry tries. The server cannot take part in elections;
// Apache's exits (code 14, UNABLE_TO_BIND_QUORUM_PORT).
var ErrCannotBind = errors.New("cannot bind the election port")

// listenRetrying binds the election port, trying cfg.BindTries times, as
// Apache's election Listener does.
func listenRetrying(cfg ElectorateConfig) (net.Listener, error) {
	wait := cfg.BindWait
	if wait <= 0 {
		wait = time.Second
	}
	if cfg.BindTries == 0 {
		cfg.BindTries = 3
	}
	for try := 1; ; try++ {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err == nil {
			return ln, nil
		}
		if cfg.BindTries > 0 && try >= cfg.BindTries {
			return nil, fmt.Errorf("%w: %w (tried %d times, %v apart; electionPortBindRetry sets how many)", ErrCannotBind, err, try, wait)
		}
		cfg.Logger.Warn("election: cannot bind the election port; trying again", "addr", cfg.Listen, "try", try, "of", cfg.BindTries, "err", err)
		time.Sleep(wait)
	}
}

// Addr is the address the election port listens on.
func (e *Electorate) Addr() net.Addr { return e.ln.Addr() }

// Incoming delivers the notifications received, From set to the sender.
func (e *Electorate) Incoming() <-chan zab.Notification { return e.in }

// Close stops the port and every connection.
func (e *Electorate) Close() {
	select {
	case <-e.closing:
		return
	default:
	}
	close(e.closing)
	e.ln.Close()
	e.mu.Lock()
	for _, c := range e.conns {
		c.close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// Send queues a notification for n.To; only the latest one waits while
// there is no connection (FLE sends again anyway).
func (e *Electorate) Send(n zab.Notification) {
	payload, err := EncodeNotification(Notification{Notification: n, Config: e.config()})
	if err != nil {
		e.log.Error("election: cannot encode notification", "to", n.To, "err", err)
		return
	}
	frame, err := AppendFrame(nil, payload)
	if err != nil {
		e.log.Error("election: notification too large", "to", n.To, "err", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.conns[n.To]; c != nil {
		select {
		case c.out <- frame:
		default:
			// The queue holds older notifications: keep the newest.
			select {
			case <-c.out:
			default:
			}
			select {
			case c.out <- frame:
			default:
			}
		}
		return
	}
	e.pending[n.To] = frame
	if !e.dialing[n.To] {
		e.dialing[n.To] = true
		e.wg.Add(1)
		go e.dial(n.To)
	}
}

func (e *Electorate) dial(sid int64) {
	defer e.wg.Done()
	defer func() {
		e.mu.Lock()
		delete(e.dialing, sid)
		e.mu.Unlock()
	}()
	addr, ok := e.peers(sid)
	if !ok {
		e.note(sid, "no address for this server in the config")
		return
	}
	// The name is resolved again on every dial: a pod's address changes.
	nc, err := net.DialTimeout("tcp", addr, e.timeout)
	if err != nil {
		e.note(sid, fmt.Sprintf("cannot connect to %s: %v", addr, err))
		return
	}
	e.note(sid, "")
	im, err := EncodeInitialMessage(InitialMessage{ProtocolVersion: ProtocolV1, SID: e.self, Address: e.address})
	if err == nil {
		nc.SetWriteDeadline(time.Now().Add(e.timeout))
		_, err = nc.Write(im)
		nc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		nc.Close()
		return
	}
	if sid > e.self {
		// The larger sid keeps only the connection it dials: it closes
		// this one and dials back.
		nc.Close()
		return
	}
	e.register(sid, nc)
}

// note logs a dial problem once per change (a name that does not resolve
// yet is retried on every resend, never fatal), and its end.
func (e *Electorate) note(sid int64, problem string) {
	e.mu.Lock()
	old := e.trouble[sid]
	e.trouble[sid] = problem
	e.mu.Unlock()
	switch {
	case problem == old:
	case problem == "":
		e.log.Info("election: connected", "sid", sid)
	default:
		e.log.Warn("election: server unreachable; retrying", "sid", sid, "problem", problem)
	}
}

func (e *Electorate) acceptLoop() {
	defer e.wg.Done()
	for {
		nc, err := e.ln.Accept()
		if err != nil {
			select {
			case <-e.closing:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		e.wg.Add(1)
		go e.accepted(nc)
	}
}

func (e *Electorate) accepted(nc net.Conn) {
	defer e.wg.Done()
	nc.SetReadDeadline(time.Now().Add(e.timeout))
	im, err := ReadInitialMessage(nc)
	nc.SetReadDeadline(time.Time{})
	if err != nil {
		e.log.Warn("election: bad initial message", "remote", nc.RemoteAddr().String(), "err", err)
		nc.Close()
		return
	}
	switch {
	case im.SID == e.self:
		e.log.Error("election: a connection from a server with this server's own id", "remote", nc.RemoteAddr().String())
		nc.Close()
	case im.SID < e.self:
		// Only the larger sid's connection survives: dial back.
		nc.Close()
		e.mu.Lock()
		start := !e.dialing[im.SID] && e.conns[im.SID] == nil
		if start {
			e.dialing[im.SID] = true
		}
		e.mu.Unlock()
		if start {
			e.wg.Add(1)
			go e.dial(im.SID)
		}
	default:
		e.register(im.SID, nc)
	}
}

// register makes nc the connection to sid, replacing an older one.
func (e *Electorate) register(sid int64, nc net.Conn) {
	c := &electionConn{sid: sid, nc: nc, out: make(chan []byte, 1), done: make(chan struct{})}
	e.mu.Lock()
	select {
	case <-e.closing:
		e.mu.Unlock()
		nc.Close()
		return
	default:
	}
	if old := e.conns[sid]; old != nil {
		old.close()
	}
	e.conns[sid] = c
	if f, ok := e.pending[sid]; ok {
		delete(e.pending, sid)
		c.out <- f
	}
	e.mu.Unlock()
	e.wg.Add(2)
	go e.writeLoop(c)
	go e.readLoop(c)
}

func (e *Electorate) drop(c *electionConn) {
	c.close()
	e.mu.Lock()
	if e.conns[c.sid] == c {
		delete(e.conns, c.sid)
	}
	e.mu.Unlock()
}

func (e *Electorate) writeLoop(c *electionConn) {
	defer e.wg.Done()
	defer e.drop(c)
	for {
		select {
		case f := <-c.out:
			c.nc.SetWriteDeadline(time.Now().Add(e.timeout))
			if _, err := c.nc.Write(f); err != nil {
				return
			}
		case <-c.done:
			return
		case <-e.closing:
			return
		}
	}
}

func (e *Electorate) readLoop(c *electionConn) {
	defer e.wg.Done()
	defer e.drop(c)
	r := bufio.NewReader(c.nc)
	for {
		payload, err := ReadFrame(r)
		if err != nil {
			return
		}
		n, err := DecodeNotification(payload)
		if err != nil {
			e.log.Warn("election: skipping a notification", "sid", c.sid, "err", err)
			continue
		}
		n.From, n.To = c.sid, e.self
		select {
		case e.in <- n.Notification:
		case <-e.closing:
			return
		}
	}
}
