package drill

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestElectionPortBindRetry: with its election port held by another
// process, a server tries to bind it electionPortBindRetry times, a
// second apart, and then exits with an error, as Apache 3.8's does
// (QuorumCnxManager.Listener gives up and exits the JVM with 14,
// UNABLE_TO_BIND_QUORUM_PORT): a server that cannot take part in
// elections must not run on as if it could. The same steps with Apache
// are the reference.
func TestElectionPortBindRetry(t *testing.T) {
	for _, apache := range []bool{false, true} {
		name := "zkd"
		if apache {
			name = "apache"
		}
		t.Run(name, func(t *testing.T) {
			c := newMixedCluster(t, 3, 0, 500, map[int]bool{1: apache})
			c.appendConfig(1, "electionPortBindRetry=2\n")
			cfg := string(mustRead(t, filepath.Join(c.nodes[0].dir, "zoo.cfg")))
			m := regexp.MustCompile(`(?m)^server\.1=127\.0\.0\.1:\d+:(\d+)`).FindStringSubmatch(cfg)
			if m == nil {
				t.Fatalf("no server.1 line in\n%s", cfg)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+m[1])
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			start := time.Now()
			c.start(1)
			code, err := c.nodes[0].proc.WaitExit(60 * time.Second)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("the server with its election port taken still runs: %v", err)
			}
			c.nodes[0].proc = nil
			out, _ := os.ReadFile(filepath.Join(c.nodes[0].dir, "server.out"))
			t.Logf("exit code %d after %v", code, took.Round(100*time.Millisecond))
			if code == 0 {
				t.Errorf("exit code 0; want an error")
			}
			if !apache {
				if code != 14 {
					t.Errorf("exit code %d; Apache exits with 14 (UNABLE_TO_BIND_QUORUM_PORT)", code)
				}
				if !strings.Contains(string(out), m[1]) {
					t.Errorf("the log does not name the election port %s:\n%s", m[1], tail(string(out), 20))
				}
			}
			// Two tries a second apart: at least the second between them.
			if took < time.Second {
				t.Errorf("gave up after %v: two tries a second apart take a second", took)
			}
		})
	}
}

// TestClientPortTaken: a server whose client port another process holds
// exits with an error that names the port, standalone and in an ensemble,
// as Apache 3.8's does; before, zkd hung in its own shutdown. Apache is
// the reference for the exit code.
func TestClientPortTaken(t *testing.T) {
	for _, servers := range []int{1, 3} {
		codes := map[bool]int{}
		for _, apache := range []bool{true, false} {
			name := fmt.Sprintf("%d-servers/zkd", servers)
			if apache {
				name = fmt.Sprintf("%d-servers/apache", servers)
			}
			t.Run(name, func(t *testing.T) {
				c := newMixedCluster(t, servers, 0, 500, map[int]bool{1: apache})
				defer holdPort(t, c.nodes[0].client)()
				c.start(1)
				code, err := c.nodes[0].proc.WaitExit(60 * time.Second)
				if err != nil {
					t.Fatalf("the server with its client port taken still runs: %v", err)
				}
				c.nodes[0].proc = nil
				codes[apache] = code
				out, _ := os.ReadFile(filepath.Join(c.nodes[0].dir, "server.out"))
				t.Logf("exit code %d", code)
				if code == 0 {
					t.Errorf("exit code 0; want an error")
				}
				_, p, _ := net.SplitHostPort(c.nodes[0].client)
				if !strings.Contains(string(out), p) {
					t.Errorf("the log does not name the client port %s:\n%s", p, tail(string(out), 20))
				}
				if !apache && code != codes[true] {
					t.Errorf("exit code %d; Apache's is %d", code, codes[true])
				}
			})
		}
	}
}

// holdPort binds addr without listening and without SO_REUSEADDR: a
// server's bind of it fails, while a connection to it is refused, so
// launch's check that nothing answers there yet passes.
func holdPort(t *testing.T, addr string) (release func()) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		syscall.Close(fd)
		t.Fatalf("hold %s: %v", addr, err)
	}
	return func() { syscall.Close(fd) }
}
