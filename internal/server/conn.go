package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/session"
)

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	ip     string
	remote string
	br     *bufio.Reader

	// Set once by the handshake, before any request is read.
	sessionID int64
	timeout   int32
	oldClient bool

	authMu sync.Mutex
	ids    []proto.ID

	outMu    sync.Mutex
	out      [][]byte
	spare    [][]byte   // the writer's last batch, reused for the next queue (guarded by outMu)
	outBytes int        // bytes in out (guarded by outMu)
	drained  *sync.Cond // on outMu: out shrank, or the connection closed
	writing  bool       // a goroutine is writing to the socket (guarded by outMu)
	writerUp bool       // a writer goroutine runs (guarded by outMu)
	closed   bool
	closeCh  chan struct{}

	// fifo holds requests whose replies must leave in order: writes in the
	// pipeline and the reads queued behind them.
	fifoMu sync.Mutex
	fifo   []*request

	stats connStats
}

func (s *Server) accept(nc net.Conn) {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		host = nc.RemoteAddr().String()
	}
	s.connMu.Lock()
	if max := s.cfg.MaxClientCnxns; max > 0 && s.connsByIP[host] >= max {
		s.connMu.Unlock()
		s.refused.refuse(slog.LevelWarn, host, nc.RemoteAddr().String(), "too many connections from this address (maxClientCnxns)",
			slog.Int("maxClientCnxns", max))
		nc.Close()
		return
	}
	select {
	case <-s.stopping:
		s.connMu.Unlock()
		nc.Close()
		return
	default:
	}
	c := &conn{
		s:       s,
		nc:      nc,
		ip:      host,
		remote:  nc.RemoteAddr().String(),
		br:      bufio.NewReaderSize(nc, 64*1024),
		closeCh: make(chan struct{}),
		ids:     []proto.ID{ipID(host)},
	}
	c.drained = sync.NewCond(&c.outMu)
	c.stats.init()
	s.conns[c] = struct{}{}
	s.connsByIP[host]++
	s.connMu.Unlock()
	go c.readLoop()
}

// close shuts the socket; the reader notices and cleans up.
func (c *conn) close() {
	c.outMu.Lock()
	if !c.closed {
		c.closed = true
		close(c.closeCh)
	}
	c.drained.Broadcast()
	c.outMu.Unlock()
	c.nc.Close()
}

// closeAfterFlush closes once everything queued has been written.
func (c *conn) closeAfterFlush() {
	c.enqueue(nil)
}

// cleanup runs when the reader stops: what is queued (a last error reply,
// say) is still written, then the socket closes; a client that does not
// read gets a few seconds.
func (c *conn) cleanup() {
	c.closeAfterFlush()
	time.AfterFunc(5*time.Second, c.close)
	s := c.s
	s.watches.RemoveClient(c)
	s.connMu.Lock()
	delete(s.conns, c)
	if s.connsByIP[c.ip]--; s.connsByIP[c.ip] <= 0 {
		delete(s.connsByIP, c.ip)
	}
	s.connMu.Unlock()
	if c.sessionID != 0 {
		s.sessMu.Lock()
		if s.sessionConns[c.sessionID] == c {
			delete(s.sessionConns, c.sessionID)
		}
		s.sessMu.Unlock()
	}
}

var errFrameLength = errors.New("server: frame length out of bounds")

// minFrameBuffer is the smallest request buffer a connection allocates.
const minFrameBuffer = 256

// frameLengthError is errFrameLength with the length the client announced.
type frameLengthError struct{ n int32 }

func (e frameLengthError) Error() string { return errFrameLength.Error() }
func (e frameLengthError) Unwrap() error { return errFrameLength }

// How much of a refused frame's body is read and dropped before closing, and
// for how long: a client still writing the body then completes its write and
// sees the connection close, as with ZooKeeper, instead of a reset mid-write.
const (
	refusedFrameDrain     = 4 << 20
	refusedFrameDrainTime = time.Second
)

// readFrame reads one length-prefixed frame.
func (c *conn) readFrame(buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return nil, err
	}
	return c.readBody(int32(binary.BigEndian.Uint32(hdr[:])), buf)
}

func (c *conn) readBody(n int32, buf []byte) ([]byte, error) {
	if n < 0 || int(n) > c.s.maxBuffer {
		return nil, frameLengthError{n}
	}
	if cap(buf) < int(n) {
		// Grown by doubling from a small start: an idle session's pings
		// need a few bytes, not a page.
		buf = make([]byte, n, max(int(n), 2*cap(buf), minFrameBuffer))
	}
	buf = buf[:n]
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func (c *conn) readLoop() {
	defer c.cleanup()
	// The first four bytes are a length or a four-letter word.
	c.nc.SetReadDeadline(time.Now().Add(time.Duration(c.s.cfg.TickTime*c.s.cfg.InitLimit+10000) * time.Millisecond))
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return
	}
	if word := string(hdr[:]); admin.IsFourLetterWord(word) {
		c.s.runFourLetterWord(c, word)
		return
	}
	frame, err := c.readBody(int32(binary.BigEndian.Uint32(hdr[:])), nil)
	if err != nil {
		c.logClose("reading connect request", err)
		c.drainRefusedFrame(err)
		return
	}
	if !c.handshake(frame) {
		return
	}
	c.nc.SetReadDeadline(time.Time{})
	var buf []byte
	for {
		frame, err := c.readFrame(buf)
		if err != nil {
			c.logClose("reading request", err)
			c.drainRefusedFrame(err)
			return
		}
		if !c.handle(frame) {
			return
		}
		// Backpressure: a client that does not read its replies is not
		// read from either, and nobody reads while the server is full.
		if !c.waitDrained() || !c.s.waitOutstanding() {
			return
		}
		if cap(frame) <= 64*1024 {
			buf = frame[:0]
		} else {
			buf = nil
		}
	}
}

// drainRefusedFrame reads and drops the body of a frame refused for its
// length (up to refusedFrameDrain bytes or refusedFrameDrainTime).
func (c *conn) drainRefusedFrame(err error) {
	var fe frameLengthError
	if !errors.As(err, &fe) || fe.n <= 0 {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(refusedFrameDrainTime))
	io.CopyN(io.Discard, c.br, min(int64(fe.n), refusedFrameDrain))
}

func (c *conn) logClose(what string, err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return
	case errors.Is(err, errFrameLength):
		var fe frameLengthError
		errors.As(err, &fe)
		c.s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "packet length out of bounds (jute.maxbuffer)",
			slog.Int64("length", int64(fe.n)), slog.Int("jute.maxbuffer", c.s.maxBuffer))
	default:
		c.s.log.Debug("connection closed", "remote", c.remote, "while", what, "err", err)
	}
}

// handshake processes the ConnectRequest: a new session goes through the
// pipeline as a createSession txn; a reconnect is checked against the
// session table and its password.
func (c *conn) handshake(frame []byte) bool {
	s := c.s
	s.metrics.ConnectionRequests.Add(1)
	// ZooKeeper counts the ConnectRequest as a packet received, on the
	// connection and on the server, as it counts the response as sent.
	c.stats.received()
	s.stats.packetReceived()
	var req proto.ConnectRequest
	d := jute.NewDecoder(frame, s.maxBuffer)
	req.Decode(d)
	if d.Err() != nil {
		s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "malformed connect request", slog.Any("err", d.Err()))
		return false
	}
	c.oldClient = !req.HasReadOnly
	if !s.serving.Load() {
		// An ensemble member that is looking or syncing: the client tries
		// another server, as ZooKeeper's "not currently serving" close.
		s.refused.refuse(slog.LevelDebug, c.ip, c.remote, "this server is not serving (looking for a leader or syncing)")
		return false
	}
	if last := s.LastZxid(); req.LastZxidSeen > last {
		s.refused.refuse(slog.LevelInfo, c.ip, c.remote, "the client has seen a zxid this server has not",
			slog.Any("client_zxid", hexValue(req.LastZxidSeen)), slog.Any("server_zxid", hexValue(last)))
		return false
	}
	timeout := session.NegotiateTimeout(req.TimeOut, int32(s.cfg.MinSessionTimeout), int32(s.cfg.MaxSessionTimeout))
	if req.SessionID == 0 {
		// The session enters the table when its createSession is applied.
		s.sessMu.Lock()
		id := s.sessions.NextID()
		s.sessMu.Unlock()
		done := make(chan *request, 1)
		s.submit(&request{session: id, op: proto.OpCreateSession, timeout: timeout, start: time.Now(),
			done: func(r *request) { done <- r }})
		select {
		case r := <-done:
			if r.err != proto.OK {
				return false
			}
		case <-s.stopping:
			return false
		}
		c.sessionID, c.timeout = id, timeout
		s.log.Debug("session established", "session", hexValue(id), "timeout", timeout, "remote", c.remote)
	} else {
		valid, answered := c.revalidate(req.SessionID, req.Passwd, timeout)
		if !answered {
			// The leader went away before it answered: this server stops
			// serving, and the client tries another (as ZooKeeper's
			// learner closes the connections whose REVALIDATE is pending).
			s.log.Debug("closing reconnect: the session could not be revalidated", "session", hexID(req.SessionID), "remote", c.remote)
			return false
		}
		var old *conn
		if valid {
			s.sessMu.Lock()
			old = s.sessionConns[req.SessionID]
			s.sessMu.Unlock()
		}
		if !valid {
			s.refused.refuse(slog.LevelInfo, c.ip, c.remote, "reconnect to an expired session or with a wrong password",
				slog.Any("session", hexValue(req.SessionID)))
			c.sendConnectResponse(&proto.ConnectResponse{Passwd: make([]byte, 16)})
			c.closeAfterFlush()
			return false
		}
		if old != nil && old != c {
			old.close()
		}
		c.sessionID, c.timeout = req.SessionID, timeout
	}
	s.sessMu.Lock()
	if !s.ens.standalone {
		s.touched[c.sessionID] = c.timeout
	}
	s.sessionConns[c.sessionID] = c
	s.sessMu.Unlock()
	c.stats.established(c.sessionID, c.timeout)
	c.sendConnectResponse(&proto.ConnectResponse{TimeOut: c.timeout, SessionID: c.sessionID,
		Passwd: session.Password(c.sessionID)})
	return true
}

// revalidate checks a reconnecting session: its password here, its
// liveness in the session table of the server that owns expiry. A
// standalone server and a leader look in their own table; a learner asks
// the leader with REVALIDATE, as ZooKeeper's Learner.validateSession does,
// since only the leader knows whether the session expired (and a session
// created through another learner may not be applied here yet). answered
// is false when no answer came: the connection closed or the leader went
// away.
func (c *conn) revalidate(id int64, passwd []byte, timeout int32) (valid, answered bool) {
	s := c.s
	if !bytes.Equal(passwd, session.Password(id)) {
		return false, true
	}
	if s.ens.standalone {
		s.sessMu.Lock()
		defer s.sessMu.Unlock()
		_, known := s.sessions.Get(id)
		return known && s.sessions.Touch(id, s.now().UnixMilli()), true
	}
	select {
	case valid, answered = <-s.ens.revalidate(id, timeout):
	case <-c.closeCh:
	case <-s.stopping:
	}
	return valid, answered
}

func (c *conn) sendConnectResponse(resp *proto.ConnectResponse) {
	resp.OmitReadOnly = c.oldClient
	e := jute.NewEncoder(make([]byte, 4, 64))
	resp.Encode(e)
	b := e.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.enqueue(b)
}

// authIDs returns the connection's ids (ip first, then what auth added).
func (c *conn) authIDs() []proto.ID {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.ids
}

// enqueue queues a frame for the writer; nil means "close after what is
// queued". It never blocks (the apply step calls it): a connection whose
// queue outgrows maxQueuedBytes, because its client reads neither replies
// nor notifications, is closed.
func (c *conn) enqueue(frame []byte) {
	if c.queue(frame) {
		go c.writeLoop()
	}
}

// needWriterLocked says, with outMu held, whether the caller must start a
// writer (go c.writeLoop()): frames wait and nobody writes. A writer runs
// only while there is something to write, so an idle connection costs one
// goroutine (its reader), not two. One writer at a time, taking the queue
// in order, keeps replies in order.
func (c *conn) needWriterLocked() bool {
	start := !c.writerUp && !c.writing && !c.closed && len(c.out) > 0
	c.writerUp = c.writerUp || start
	return start
}

// queue appends a frame to the connection's queue; true when the caller
// must start a writer for it (false too when the connection is closed, or
// closed now for a queue past maxQueuedBytes).
func (c *conn) queue(frame []byte) bool {
	c.outMu.Lock()
	if c.closed {
		c.outMu.Unlock()
		return false
	}
	if c.outBytes+len(frame) > c.s.maxQueuedBytes {
		queued := c.outBytes
		c.outMu.Unlock()
		c.s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "the client does not read what the server sends",
			slog.Any("session", hexValue(c.sessionID)), slog.Int("queued_bytes", queued))
		c.close()
		return false
	}
	c.out = append(c.out, frame)
	c.outBytes += len(frame)
	start := c.needWriterLocked()
	c.outMu.Unlock()
	return start
}

// writeLoop writes queued frames in batches, one writev per batch, until
// the queue is empty; it ends there (queue or wroteSignal starts the next).
func (c *conn) writeLoop() {
	for {
		c.outMu.Lock()
		if c.writing || len(c.out) == 0 || c.closed {
			// Nothing to write, or the reader is writing directly: its
			// wroteSignal starts a writer if frames queued meanwhile.
			c.writerUp = false
			c.outMu.Unlock()
			return
		}
		batch := c.out
		c.out, c.spare = c.spare[:0], nil
		c.writing = true
		c.outMu.Unlock()
		written := 0
		closeAfter := false
		bufs := make(net.Buffers, 0, len(batch))
		for _, f := range batch {
			if f == nil {
				closeAfter = true
				break
			}
			bufs = append(bufs, f)
			written += len(f)
		}
		if len(bufs) > 0 {
			c.stats.sent(len(bufs))
			if _, err := bufs.WriteTo(c.nc); err != nil {
				c.close()
				return
			}
		}
		if closeAfter {
			c.close()
			return
		}
		clear(batch)
		c.outMu.Lock()
		c.outBytes -= written
		c.writing = false
		c.spare = batch[:0]
		c.drained.Broadcast()
		c.outMu.Unlock()
	}
}

// wroteSignal ends the reader's direct write: it wakes a reader waiting for
// the queue to drain, and starts a writer if frames queued meanwhile.
func (c *conn) wroteSignal() {
	c.outMu.Lock()
	c.writing = false
	c.drained.Broadcast()
	start := c.needWriterLocked()
	c.outMu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// waitDrained holds the reader while more than readPauseBytes wait to be
// written to this client; false when the connection closed meanwhile.
func (c *conn) waitDrained() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	for c.outBytes > c.s.readPauseBytes && !c.closed {
		c.drained.Wait()
	}
	return !c.closed
}

// sendDirect writes a frame from the calling (reader) goroutine when nothing
// is queued or being written, which saves the hand-off to the writer for
// the common read reply; otherwise it queues the frame behind the others.
func (c *conn) sendDirect(frame []byte) {
	c.outMu.Lock()
	if c.closed || c.writing || len(c.out) > 0 {
		c.outMu.Unlock()
		c.enqueue(frame)
		return
	}
	c.writing = true
	c.outMu.Unlock()
	_, err := c.nc.Write(frame)
	c.stats.sent(1)
	if err != nil {
		c.close()
	}
	c.wroteSignal()
}

// reply frames a reply header and optional body.
func reply(xid int32, zxid int64, code proto.Code, body jute.Record) []byte {
	e := jute.NewEncoder(make([]byte, 4, 128))
	h := proto.ReplyHeader{Xid: xid, Zxid: zxid, Err: code}
	h.Encode(e)
	if body != nil && code == proto.OK {
		body.Encode(e)
	}
	b := e.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// sendEvent queues a watch notification. Called with dbMu held, so the event
// is queued before the reply of any read that sees the change.
func (c *conn) sendEvent(typ proto.EventType, path string, zxid int64) {
	ev := proto.WatcherEvent{Type: typ, State: proto.StateSyncConnected, Path: path}
	b := reply(proto.XidNotification, zxid, proto.OK, &ev)
	c.s.metrics.WatchBytes.Add(int64(len(b)))
	c.enqueue(b)
}

// ipID is the implicit ip identity of a client address, spelled as Java does.
func ipID(host string) proto.ID {
	if a, err := netip.ParseAddr(host); err == nil {
		return acl.IPID(a.Unmap())
	}
	return proto.ID{Scheme: "ip", ID: host}
}
