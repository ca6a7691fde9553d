package server

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/txn"
)

// corruptDigestOf makes the prepared txn that creates path carry a wrong
// TxnDigest, as a leader whose tree had diverged would send it.
func corruptDigestOf(t *testing.T, path string) {
	t.Helper()
	testHookPrepared = func(tx *txn.Txn) {
		if c, ok := tx.Body.(*txn.Create); ok && c.Path == path && tx.Digest != nil {
			tx.Digest.TreeDigest += 12345
		}
	}
	t.Cleanup(func() { testHookPrepared = nil })
}

// "On a mismatch it increments digest_mismatches_count and logs ... and
// goes on" (DataTree.compareDigest): a txn whose digest is not the tree's
// after it is counted in mntr once, logged as an ERROR with its zxid, the
// expected and the actual digest, and the server keeps serving; txns with
// right digests count nothing.
func TestDigestMismatchIsCountedAndLogged(t *testing.T) {
	corruptDigestOf(t, "/corrupt")
	cfg, err := config.Parse(strings.NewReader(fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=2181\n4lw.commands.whitelist=*\n", t.TempDir())),
		"test.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logBuf lockedBuffer
	s, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOnLoopback(t, s)
	c, _ := connect(t, addr)
	for _, p := range []string{"/a", "/corrupt", "/b"} {
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	if _, err := c.Set("/a", []byte("after"), -1); err != nil {
		t.Fatalf("a write after the mismatch: %v", err)
	}
	if got := mntrValues(t, addr)["zk_digest_mismatches_count"]; got != "1" {
		t.Errorf("zk_digest_mismatches_count = %q, want 1", got)
	}
	_, st, err := c.Get("/corrupt")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(logBuf.String(), "\n") {
		if strings.Contains(l, "digest mismatch") {
			lines = append(lines, l)
		}
	}
	want := fmt.Sprintf("zxid=0x%x", st.Czxid)
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], want) ||
		!strings.Contains(lines[0], "expected=") || !strings.Contains(lines[0], "actual=") {
		t.Errorf("want one ERROR line with %s, expected and actual; got %q", want, lines)
	}
}

// In an ensemble every member compares the leader's digests on apply: the
// followers (which decode the PROPOSAL) and the leader itself count the
// corrupted one, and nothing else.
func TestEnsembleMembersCountDigestMismatches(t *testing.T) {
	corruptDigestOf(t, "/corrupt")
	ms := startEnsemble(t, 3)
	waitModes(t, ms)
	for i, m := range ms {
		c := connectAll(t, m.client)
		p := fmt.Sprintf("/w%d", i)
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create through server %d: %v", m.id, err)
		}
		if _, err := c.Create(p+"/e", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("ephemeral through server %d: %v", m.id, err)
		}
		if i == 1 {
			if _, err := c.Create("/corrupt", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("create /corrupt through server %d: %v", m.id, err)
			}
		}
		if _, err := c.Multi(&zk.SetDataRequest{Path: p, Data: []byte("x"), Version: 0}, &zk.DeleteRequest{Path: "/none", Version: -1}); err == nil {
			t.Fatal("a multi with a failing op succeeded")
		}
		c.Close()
	}
	last := connectAll(t, ms[0].client)
	if _, err := last.Create("/last", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		deadline := time.Now().Add(10 * time.Second)
		for {
			kv := mntrValues(t, m.client)
			got := kv["zk_digest_mismatches_count"]
			if got == "1" {
				// Settled: /last is applied on m too.
				if ok, _, err := connectAll(t, m.client).Exists("/last"); err == nil && ok {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d (%s): zk_digest_mismatches_count = %q, want 1", m.id, kv["zk_server_state"], got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The count stays at 1: the trees agree, only one digest was wrong.
	for _, m := range ms {
		if got := m.srv.metrics.DigestMismatches.Value(); got != 1 {
			t.Errorf("server %d counted %d mismatches, want 1", m.id, got)
		}
	}
}

// The log keeps the digest as the leader sent it: replaying a logged txn
// whose digest is wrong at the next start counts it again, as ZooKeeper's
// start-up replay (fastForwardFromEdits) does.
func TestReplayCountsLoggedDigestMismatch(t *testing.T) {
	corruptDigestOf(t, "/corrupt")
	dir := t.TempDir()
	open := func() (*Server, string) {
		cfg, err := config.Parse(strings.NewReader(fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=2181\n4lw.commands.whitelist=*\n", dir)),
			"test.cfg", func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		s, err := OpenDurable(cfg, slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s, serveOnLoopback(t, s)
	}
	s, addr := open()
	c, _ := connect(t, addr)
	for _, p := range []string{"/a", "/corrupt", "/b"} {
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if got := mntrValues(t, addr)["zk_digest_mismatches_count"]; got != "1" {
		t.Errorf("first run: zk_digest_mismatches_count = %q, want 1", got)
	}
	s.Close()
	testHookPrepared = nil
	_, addr = open()
	if got := mntrValues(t, addr)["zk_digest_mismatches_count"]; got != "1" {
		t.Errorf("after the restart's replay: zk_digest_mismatches_count = %q, want 1", got)
	}
}
