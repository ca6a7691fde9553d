package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

// rawSession is a bare client session for the phases that open thousands
// of them (idle sessions, the connection storm) or set a million watches:
// a connect, pings every third of the timeout, pipelined exists with
// watch=true and a closeSession, nothing else. go-zookeeper's Conn
// allocates 1.5 MiB at Connect whatever its options (and another 1.5 MiB
// per receive loop by default), so ten thousand of them would cost the
// load generator gigabytes of allocation and the CPU to clear them, on
// the cores the measured server runs on; this costs a socket, a 4 KiB
// reader and two goroutines.
type rawSession struct {
	conn    net.Conn
	id      int64
	timeout time.Duration

	wmu     sync.Mutex // frames are written whole, by the pinger and the caller
	nextXid int32      // guarded by wmu

	// Replies to exists: acked counts them, failed those with an error
	// other than ZNONODE (which still sets a watch), slots bounds the
	// requests in flight.
	acked  atomic.Int64
	failed atomic.Int64
	slots  chan struct{}

	closeXid atomic.Int32
	closed   chan struct{} // the closeSession reply came
	done     chan struct{} // the reader ended
	stopPing chan struct{}
	stopOnce sync.Once
}

// rawMaxFrame bounds a reply frame: jute.maxbuffer's default.
const rawMaxFrame = 0xfffff

// rawWatchWindow is how many exists requests a session keeps in flight.
const rawWatchWindow = 1024

var errRawRefused = errors.New("bench: the server granted no session")

// dialRawSession connects and waits for the server to grant a session,
// within the given time.
func dialRawSession(ctx context.Context, endpoint string, timeout, within time.Duration) (*rawSession, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", endpoint)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	req := proto.ConnectRequest{TimeOut: int32(timeout.Milliseconds()), Passwd: make([]byte, 16), HasReadOnly: true}
	if _, err := nc.Write(frame(jute.Marshal(&req))); err != nil {
		nc.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(nc, 4096)
	body, err := readFrame(r, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench: connect reply: %w", err)
	}
	var resp proto.ConnectResponse
	if err := jute.Unmarshal(body, rawMaxFrame, &resp); err != nil {
		nc.Close()
		return nil, err
	}
	if resp.SessionID == 0 || resp.TimeOut <= 0 {
		nc.Close()
		return nil, errRawRefused
	}
	_ = nc.SetDeadline(time.Time{})
	s := &rawSession{conn: nc, id: resp.SessionID, timeout: time.Duration(resp.TimeOut) * time.Millisecond,
		slots: make(chan struct{}, rawWatchWindow), closed: make(chan struct{}), done: make(chan struct{}),
		stopPing: make(chan struct{})}
	s.closeXid.Store(-100) // no xid is negative but the server's own
	go s.read(r)
	go s.ping()
	return s, nil
}

func frame(body []byte) []byte {
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	return append(out, body...)
}

func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(n[:]))
	if size < 0 || size > rawMaxFrame {
		return nil, fmt.Errorf("bench: reply frame of %d bytes", size)
	}
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// read takes every reply: pings' and notifications are dropped, exists'
// counted, closeSession's signalled.
func (s *rawSession) read(r *bufio.Reader) {
	defer close(s.done)
	var buf []byte
	for {
		var err error
		if buf, err = readFrame(r, buf); err != nil || len(buf) < 16 {
			return
		}
		xid := int32(binary.BigEndian.Uint32(buf))
		code := proto.Code(int32(binary.BigEndian.Uint32(buf[12:])))
		switch {
		case xid == s.closeXid.Load():
			close(s.closed)
			return
		case xid > 0:
			if code != proto.OK && code != proto.ErrNoNode {
				s.failed.Add(1)
			}
			s.acked.Add(1)
			<-s.slots
		}
	}
}

func (s *rawSession) ping() {
	t := time.NewTicker(s.timeout / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if s.send(pingXid, proto.OpPing, nil) != nil {
				return
			}
		case <-s.stopPing:
			return
		case <-s.done:
			return
		}
	}
}

// send writes one request frame; xid 0 takes the session's next.
func (s *rawSession) send(xid int32, op proto.OpCode, body jute.Record) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if xid == 0 {
		s.nextXid++
		xid = s.nextXid
	}
	e := jute.NewEncoder(make([]byte, 4, 64))
	(&proto.RequestHeader{Xid: xid, Type: op}).Encode(e)
	if body != nil {
		body.Encode(e)
	}
	b := e.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	_, err := s.conn.Write(b)
	return err
}

// watchAll sends exists with watch=true for every path, up to
// rawWatchWindow in flight, and waits for every reply.
func (s *rawSession) watchAll(ctx context.Context, paths []string) error {
	const batch = 128
	start := s.acked.Load()
	e := jute.NewEncoder(nil)
	for i := 0; i < len(paths); i += batch {
		e.Reset()
		s.wmu.Lock()
		for _, p := range paths[i:min(i+batch, len(paths))] {
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				s.wmu.Unlock()
				return ctx.Err()
			case <-s.done:
				s.wmu.Unlock()
				return fmt.Errorf("%w: connection closed while setting watches", ErrNoSession)
			}
			s.nextXid++
			off := e.Len()
			e.Int(0)
			(&proto.RequestHeader{Xid: s.nextXid, Type: proto.OpExists}).Encode(e)
			(&proto.PathWatchRequest{Path: p, Watch: true}).Encode(e)
			e.SetInt(off, int32(e.Len()-off-4))
		}
		_, err := s.conn.Write(e.Bytes())
		s.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	for s.acked.Load()-start < int64(len(paths)) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("%w: connection closed while setting watches", ErrNoSession)
		case <-time.After(time.Millisecond):
		}
	}
	if n := s.failed.Load(); n > 0 {
		return fmt.Errorf("bench: %d exists requests failed", n)
	}
	return nil
}

// close ends the session with closeSession, as a client that leaves does,
// so that the server frees it now rather than at its expiry.
func (s *rawSession) close() {
	s.stopOnce.Do(func() {
		close(s.stopPing)
		s.wmu.Lock()
		s.nextXid++
		xid := s.nextXid
		s.wmu.Unlock()
		s.closeXid.Store(xid)
		if s.send(xid, proto.OpCloseSession, nil) == nil {
			select {
			case <-s.closed:
			case <-s.done:
			case <-time.After(5 * time.Second):
			}
		}
		s.conn.Close()
		<-s.done
	})
}

// openRawSessions opens n sessions, at most parallel at a time.
func openRawSessions(ctx context.Context, endpoint string, n, parallel int, timeout time.Duration) ([]*rawSession, error) {
	return openParallel(n, parallel, func(int) (*rawSession, error) {
		return dialRawSession(ctx, endpoint, timeout, sessionEstablishTimeout)
	}, closeRawSessions)
}

func closeRawSessions(sessions []*rawSession) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, s := range sessions {
		if s == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.close()
		}()
	}
	wg.Wait()
}
