package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

var ErrNoSession = errors.New("bench: no session established")

// quietLogger drops go-zookeeper's connection chatter; failures that matter
// surface as request errors, which runs count and sample.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

var openACL = zk.WorldACL(zk.PermAll)

// sessionEstablishTimeout bounds how long a run waits for its sessions.
const sessionEstablishTimeout = 30 * time.Second

// bufferedConn reads through a buffer. go-zookeeper reads each reply's
// length and body with two reads of the socket; through the buffer one read
// usually brings both, which saves the load generator a system call per
// request on whichever server it measures.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func dialBuffered(network, address string, timeout time.Duration) (net.Conn, error) {
	nc, err := net.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: nc, r: bufio.NewReaderSize(nc, 16*1024)}, nil
}

// hostRetryPause is how long a session waits after it tried every server
// in its list without getting a session, before it starts over.
const hostRetryPause = 5 * time.Millisecond

// hostList is a go-zookeeper host provider that tries the servers in the
// order it was made with (go-zookeeper shuffles the list it passes to
// Init), starting over from its current server after a failure and pausing
// hostRetryPause after a whole round without a session. go-zookeeper's
// default provider pauses a whole second there, which would swamp the
// failover time it measures and leave sessions where chance puts them.
type hostList struct {
	mu      sync.Mutex
	servers []string
	next    int // index of the server Next returns
	failed  int // consecutive servers tried without a session
}

func newHostList(servers []string) *hostList {
	return &hostList{servers: append([]string(nil), servers...)}
}

func (h *hostList) Init(servers []string) error {
	if len(h.servers) == 0 || len(servers) != len(h.servers) {
		return ErrNoSession
	}
	return nil
}

func (h *hostList) Len() int { return len(h.servers) }

// Next never reports a retry start, which would make go-zookeeper sleep a
// second; it pauses itself instead.
func (h *hostList) Next() (string, bool) {
	h.mu.Lock()
	pause := h.failed >= len(h.servers)
	if pause {
		h.failed = 0
	}
	server := h.servers[h.next]
	h.next = (h.next + 1) % len(h.servers)
	h.failed++
	h.mu.Unlock()
	if pause {
		time.Sleep(hostRetryPause)
	}
	return server, false
}

// Connected: the server Next returned last granted the session, so a
// reconnect tries it first.
func (h *hostList) Connected() {
	h.mu.Lock()
	h.next = (h.next + len(h.servers) - 1) % len(h.servers)
	h.failed = 0
	h.mu.Unlock()
}

// rotate is endpoints starting at the i-th (mod the count): session i of a
// run starts on server i, so that sessions spread evenly over an
// ensemble, as clients given the same list in random orders do on
// average.
func rotate(endpoints []string, i int) []string {
	n := len(endpoints)
	out := make([]string, n)
	for j := range endpoints {
		out[j] = endpoints[(i+j)%n]
	}
	return out
}

// openSession connects to the endpoints in their order (see hostList) and
// waits until a server has granted a session, so that session setup never
// falls inside a timed interval.
func openSession(ctx context.Context, endpoints []string, timeout, establishWithin time.Duration) (*zk.Conn, error) {
	conn, events, err := zk.Connect(endpoints, timeout, zk.WithLogger(quietLogger{}), zk.WithLogInfo(false),
		zk.WithDialer(dialBuffered), zk.WithHostProvider(newHostList(endpoints)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoSession, err)
	}
	deadline := time.NewTimer(establishWithin)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil, fmt.Errorf("%w with %v: connection closed", ErrNoSession, endpoints)
			}
			switch ev.State {
			case zk.StateHasSession:
				return conn, nil
			case zk.StateExpired, zk.StateAuthFailed:
				conn.Close()
				return nil, fmt.Errorf("%w with %v: %v", ErrNoSession, endpoints, ev.State)
			}
		case <-deadline.C:
			conn.Close()
			return nil, fmt.Errorf("%w with %v within %v", ErrNoSession, endpoints, establishWithin)
		case <-ctx.Done():
			conn.Close()
			return nil, ctx.Err()
		}
	}
}

// openSessions opens n sessions, a few at a time so that a server is not
// hit by a connection storm that has nothing to do with the workload;
// session i starts on endpoint i mod len(endpoints).
func openSessions(ctx context.Context, endpoints []string, n int, timeout time.Duration) ([]*zk.Conn, error) {
	return openParallel(n, 8, func(i int) (*zk.Conn, error) {
		return openSession(ctx, rotate(endpoints, i), timeout, sessionEstablishTimeout)
	}, closeSessions)
}

// openParallel opens n sessions, at most parallel at a time; when any
// fails, the ones opened are closed and the errors returned.
func openParallel[T any](n, parallel int, open func(i int) (T, error), closeAll func([]T)) ([]T, error) {
	out := make([]T, n)
	errs := make([]error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = open(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(out)
		return nil, err
	}
	return out, nil
}

func closeSessions(conns []*zk.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
		}()
	}
	wg.Wait()
}

// forEachIndex calls fn for every index in [0, n), spread over the sessions
// with perConn requests in flight on each, and returns the first error.
func forEachIndex(ctx context.Context, conns []*zk.Conn, perConn, n int, fn func(conn *zk.Conn, i int) error) error {
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	for _, conn := range conns {
		for range perConn {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !failed.Load() && ctx.Err() == nil {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					if err := fn(conn, i); err != nil {
						errOnce.Do(func() { firstErr = err })
						failed.Store(true)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// ensurePath creates each missing znode along path with empty data.
func ensurePath(conn *zk.Conn, path string) error {
	for i := 1; i <= len(path); i++ {
		if i != len(path) && path[i] != '/' {
			continue
		}
		_, err := conn.Create(path[:i], nil, 0, openACL)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("bench: create %s: %w", path[:i], err)
		}
	}
	return nil
}
