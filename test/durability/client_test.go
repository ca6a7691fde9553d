package durability

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// client is a go-zookeeper session whose reconnects can be cut off, so
// that a session can be left alive on the server side (its client gone)
// while a new server starts on the same port.
type client struct {
	*zk.Conn
	blocked atomic.Bool
}

// dial connects to addr and waits until the session is established.
func dial(addr string, sessionTimeout time.Duration) (*client, error) {
	c := &client{}
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		if c.blocked.Load() {
			return nil, fmt.Errorf("dialing %s is blocked by the test", address)
		}
		return net.DialTimeout(network, address, timeout)
	}
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout,
		zk.WithLogger(quietLogger{}), zk.WithLogInfo(false), zk.WithDialer(dialer))
	if err != nil {
		return nil, err
	}
	c.Conn = conn
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events {
					}
				}()
				return c, nil
			}
			if ev.State == zk.StateAuthFailed || ev.State == zk.StateExpired {
				conn.Close()
				return nil, fmt.Errorf("connect %s: %v", addr, ev.State)
			}
		case <-deadline:
			conn.Close()
			return nil, fmt.Errorf("connect %s: no session after 15s", addr)
		}
	}
}

// mustDial is dial that fails the test; the session is closed at cleanup.
func mustDial(t testing.TB, addr string, sessionTimeout time.Duration) *client {
	t.Helper()
	c, err := dial(addr, sessionTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// block stops the client from reconnecting. Call it before the server it
// is connected to stops, so that the session cannot reach the next one.
func (c *client) block() { c.blocked.Store(true) }

// abandon drops a blocked client once its server has stopped, without a
// closeSession: the data directory keeps the session (and its ephemerals)
// until a server expires it.
func (c *client) abandon() {
	c.block()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if s := c.State(); s != zk.StateHasSession && s != zk.StateConnected {
			break
		}
	}
	c.Conn.Close()
}
