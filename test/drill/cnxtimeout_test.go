package drill

import (
	"net"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestElectionWithBlackHoledPeer: an ensemble whose third member's
// election address swallows connection attempts (a pod whose address is
// gone: SYNs go unanswered, nothing is refused) still elects its two
// live servers, each dial to the dead one given up after cnxTimeout.
// Apache's WorkerSender dials synchronously, so each notification round
// waits out cnxTimeout; zkd must elect no later than Apache does with the
// same config. Apache is the reference.
func TestElectionWithBlackHoledPeer(t *testing.T) {
	took := map[bool]time.Duration{}
	for _, apache := range []bool{true, false} {
		t.Run(impl(apache), func(t *testing.T) {
			c := newMixedCluster(t, 3, 0, 200, map[int]bool{1: apache, 2: apache})
			for id := 1; id <= 2; id++ {
				c.appendConfig(id, "cnxTimeout=1000\n")
			}
			cfg := string(mustRead(t, filepath.Join(c.nodes[0].dir, "zoo.cfg")))
			m := regexp.MustCompile(`(?m)^server\.3=127\.0\.0\.1:\d+:(\d+)`).FindStringSubmatch(cfg)
			if m == nil {
				t.Fatalf("no server.3 line in\n%s", cfg)
			}
			blackHole(t, "127.0.0.1:"+m[1])
			start := time.Now()
			c.start(1)
			c.start(2)
			leader, modes := c.waitRoles(60 * time.Second)
			took[apache] = time.Since(start)
			t.Logf("%s: leader %d, modes %v, %v after the start", impl(apache), leader, modes, took[apache].Round(10*time.Millisecond))
			if leader != 2 {
				t.Errorf("leader %d; with equal histories the higher myid (2) wins", leader)
			}
			// Server 1 gives its dial to server 3 up after cnxTimeout (1 s)
			// and says so; the default (5 s) would be later.
			log := filepath.Join(c.nodes[0].dir, "server.out")
			timedOut := regexp.MustCompile(`election: server unreachable; retrying.*sid=3.*i/o timeout`)
			if apache {
				timedOut = regexp.MustCompile(`Cannot open channel to 3 at election address .*\n.*(?i:timed out)`)
			}
			var seen time.Duration
			for deadline := start.Add(30 * time.Second); seen == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if timedOut.Match(mustRead(t, log)) {
					seen = time.Since(start)
				}
			}
			t.Logf("%s: server 1 logged its dial to server 3 timed out %v after the start", impl(apache), seen.Round(10*time.Millisecond))
			switch {
			case seen == 0:
				t.Errorf("server 1 never logged that its dial to the black-holed server 3 timed out:\n%s", tail(string(mustRead(t, log)), 30))
			case !apache && (seen < time.Second || seen > 4*time.Second):
				t.Errorf("zkd's dial to server 3 timed out %v after the start; cnxTimeout=1000 makes it 1 s after the dial", seen)
			}
		})
	}
	if a, z := took[true], took[false]; a > 0 && z > 0 && z > a+2*time.Second {
		t.Errorf("zkd elected %v after the start, Apache %v: zkd waits longer on the black-holed peer", z, a)
	}
}

// blackHole holds addr with a listener whose accept queue is full, so that
// the kernel drops further SYNs: a dial neither connects nor is refused
// until its own timeout, as towards an address nobody answers.
func blackHole(t *testing.T, addr string) {
	t.Helper()
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	sa := &syscall.SockaddrInet4{Port: tcp.Port}
	copy(sa.Addr[:], tcp.IP.To4())
	if err := syscall.Bind(fd, sa); err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	// Fill the queue (it holds backlog+1) until a dial hangs.
	for i := 0; i < 16; i++ {
		nc, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return
			}
			t.Fatalf("filling the accept queue of %s: %v", addr, err)
		}
		t.Cleanup(func() { nc.Close() })
	}
	t.Fatalf("%s still accepts after 16 connections: not a black hole", addr)
}
