package quorum

import (
	"net"
	"strings"
	"testing"
	"time"
)

// The election port is tried electionPortBindRetry times, a second (here
// BindWait) apart: a port freed meanwhile is taken, one held for good ends
// in an error that names the setting.
func TestElectionPortBindRetry(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := held.Addr().String()
	start := time.Now()
	_, err = ListenElection(ElectorateConfig{ID: 1, Listen: addr, Address: addr, BindTries: 3, BindWait: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "tried 3 times") || !strings.Contains(err.Error(), "electionPortBindRetry") {
		t.Fatalf("bind of a held port: %v, want an error after 3 tries naming electionPortBindRetry", err)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("gave up after %v: 3 tries 50ms apart take 100ms", took)
	}

	go func() {
		time.Sleep(120 * time.Millisecond)
		held.Close()
	}()
	e, err := ListenElection(ElectorateConfig{ID: 1, Listen: addr, Address: addr, BindTries: -1, BindWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("with no limit, a port freed after 120ms: %v", err)
	}
	e.Close()
}
