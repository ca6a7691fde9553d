package drill

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
