package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// digestWorkload is one deterministic run of writes: two sessions, creates
// of every mode, sets and setACLs, errors, a multi that succeeds and one
// that fails, a container emptied and a TTL node expired (both removed by
// the server's container check) and a closeSession that deletes two
// ephemerals. Every write waits for its reply, so the server logs the same
// txns in the same order each run; only times and session ids differ.
func digestWorkload(t *testing.T, addr string) {
	t.Helper()
	a := digestConnect(t, addr)
	b := digestConnect(t, addr)
	acl := zk.WorldACL(zk.PermAll)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s on %s: %v", what, addr, err)
		}
	}
	mustFail := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s on %s succeeded", what, addr)
		}
	}
	gone := func(path string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, _, err := a.Exists(path)
			must("exists "+path, err)
			if !ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still there on %s", path, addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_, err := a.Create("/app", []byte("v0"), 0, acl)
	must("create /app", err)
	for i := 0; i < 2; i++ {
		_, err = a.Create("/app/seq-", []byte{byte(i)}, zk.FlagSequence, acl)
		must("create sequential", err)
	}
	_, err = b.Create("/app/eph", []byte("e"), zk.FlagEphemeral, acl)
	must("create ephemeral", err)
	_, err = b.Create("/app/ephs-", nil, zk.FlagEphemeral|zk.FlagSequence, acl)
	must("create ephemeral sequential", err)
	_, err = a.Set("/app", []byte("v1"), 0)
	must("set /app", err)
	_, err = a.Set("/app", []byte("bad"), 7)
	mustFail("set with a wrong version", err)
	_, err = a.Create("/app", nil, 0, acl)
	mustFail("create of an existing node", err)
	_, err = a.SetACL("/app/seq-0000000000", zk.WorldACL(zk.PermRead|zk.PermAdmin), 0)
	must("setACL", err)
	_, err = a.Set("/", []byte("root"), -1)
	must("set /", err)
	_, err = a.Multi(&zk.CreateRequest{Path: "/m", Data: []byte("m"), Acl: acl},
		&zk.SetDataRequest{Path: "/m", Data: []byte("m2"), Version: 0},
		&zk.CreateRequest{Path: "/m/c", Acl: acl, Flags: zk.FlagSequence},
		&zk.CheckVersionRequest{Path: "/m", Version: 1})
	must("multi", err)
	_, err = a.Multi(&zk.CreateRequest{Path: "/m2", Acl: acl}, &zk.DeleteRequest{Path: "/nothing", Version: -1})
	mustFail("multi with a failing op", err)
	must("delete", a.Delete("/app/seq-0000000001", 0))
	mustFail("delete of a missing node", a.Delete("/nothing", -1))
	_, err = a.CreateContainer("/cont", nil, zk.FlagContainer, acl)
	must("create container", err)
	_, err = a.Create("/cont/child", nil, 0, acl)
	must("create in container", err)
	must("delete in container", a.Delete("/cont/child", -1))
	gone("/cont")
	_, err = a.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, acl, time.Millisecond)
	must("create TTL", err)
	gone("/ttl")
	b.Close()
	gone("/app/eph")
	gone("/app/ephs-0000000003")
	a.Close()
}

func digestConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no session on %s: state %v", addr, c.State())
		}
	}
	t.Cleanup(c.Close)
	return c
}

// readLogTxns reads the transaction logs of dataLogDir, entry bytes and
// decoded txns.
func readLogTxns(t *testing.T, dir string) ([][]byte, []*txn.Txn) {
	t.Helper()
	var raws [][]byte
	var txns []*txn.Txn
	if _, err := storage.ReadLog(storage.OSFS{}, dir, 0, storage.ReadOptions{}, func(zxid int64, entry []byte) error {
		tx, err := txn.Unmarshal(entry, 1<<21)
		if err != nil {
			return fmt.Errorf("0x%x: %w", zxid, err)
		}
		raws = append(raws, bytes.Clone(entry))
		txns = append(txns, tx)
		return nil
	}); err != nil {
		t.Fatalf("reading the log in %s: %v", dir, err)
	}
	return raws, txns
}

// The same workload on Debian's Apache ZooKeeper 3.8 standalone and on
// zkd, and the TxnDigests in both logs txn by txn.
//
// The digests cannot be compared as numbers: a znode's digest term hashes
// its stat, whose czxid, mzxid, pzxid, ctime, mtime and ephemeralOwner come
// from the txn header (zxid, the leader's clock, the session id), and those
// differ between the two runs. What is compared, at each position i of the
// two logs:
//   - zkd's txn i, moved to Apache's coordinates (Apache's zxid, time and
//     session id in its header, everything else zkd's), applied after zkd's
//     txns 0..i-1 moved the same way, gives a tree whose digest is
//     Apache's TxnDigest i; with that digest the entry is then byte for
//     byte Apache's entry i. So zkd logs the same txn bodies and Apache's
//     digest follows from them by zkd's own tree;
//   - zkd's own TxnDigest i is the digest of the tree after zkd's own txns
//     0..i (as logged, zkd's coordinates): the prep step predicted what the
//     tree then became;
//   - a txn carries a digest in zkd's log exactly when it does in Apache's
//     (error txns carry none).
//
// Together: zkd's prep writes, for the txns it logs, the digest Apache
// would write for them, computed the same way from the same fields.
func TestTxnDigestsMatchApache(t *testing.T) {
	apache := launch.Apache{JVMFlags: []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dznode.container.checkIntervalMs=100"}}
	if err := apache.Check(); err != nil {
		t.Fatalf("%v: install the Debian package zookeeper (apt-get install zookeeper)", err)
	}
	// Apache.
	adir := t.TempDir()
	aaddr := fmt.Sprintf("127.0.0.1:%d", mustPort(t))
	host, port, _ := strings.Cut(aaddr, ":")
	cfgText := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=%s\nextendedTypesEnabled=true\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\n", filepath.Join(adir, "data"), port, host)
	if err := os.WriteFile(filepath.Join(adir, "zoo.cfg"), []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	ap, err := launch.StartServing(launch.Options{Name: "apache", Argv: apache.Argv(filepath.Join(adir, "zoo.cfg")),
		Dir: adir, Addr: aaddr, LogPath: filepath.Join(adir, "server.out")}, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ap.Kill() })
	digestWorkload(t, aaddr)
	if err := ap.Stop(); err != nil {
		t.Logf("stopping Apache: %v", err)
	}

	// zkd.
	zdir := t.TempDir()
	zcfg, err := config.Parse(strings.NewReader(fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=2181\nextendedTypesEnabled=true\n", zdir)),
		"test.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := OpenDurable(zcfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{ContainerCheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	zaddr := serveOnLoopback(t, srv)
	digestWorkload(t, zaddr)
	if got := srv.metrics.DigestMismatches.Value(); got != 0 {
		t.Errorf("zkd counted %d digest mismatches applying its own txns", got)
	}
	srv.Close()

	araw, atx := readLogTxns(t, filepath.Join(adir, "data"))
	_, ztx := readLogTxns(t, zdir)
	if len(atx) != len(ztx) {
		for i := range max(len(atx), len(ztx)) {
			var a, z string
			if i < len(atx) {
				a = atx[i].Header.Type.String()
			}
			if i < len(ztx) {
				z = ztx[i].Header.Type.String()
			}
			t.Logf("%3d apache %-16s zkd %s", i, a, z)
		}
		t.Fatalf("Apache logged %d txns, zkd %d", len(atx), len(ztx))
	}
	own, moved := tree.New(), tree.New()
	types := map[string]int{}
	for i := range atx {
		a, z := atx[i], ztx[i]
		types[a.Header.Type.String()]++
		if a.Header.Type != z.Header.Type || (a.Digest == nil) != (z.Digest == nil) {
			t.Fatalf("txn %d: Apache %s (digest %v), zkd %s (digest %v)", i, a.Header.Type, a.Digest, z.Header.Type, z.Digest)
		}
		own.Apply(z)
		if z.Digest != nil && z.Digest.TreeDigest != own.RecomputeDigest() {
			t.Errorf("txn %d (%s, zkd 0x%x): zkd logged digest %d, its tree after it is %d", i, z.Header.Type,
				z.Header.Zxid, z.Digest.TreeDigest, own.RecomputeDigest())
		}
		m := *z
		m.Header.Zxid, m.Header.Time, m.Header.ClientID, m.Header.Cxid = a.Header.Zxid, a.Header.Time, a.Header.ClientID, a.Header.Cxid
		if cs, ok := m.Body.(*txn.CloseSession); ok {
			// Apache lists the paths in its HashSet's order, zkd sorted;
			// applying them is the same either way.
			if ac, ok := a.Body.(*txn.CloseSession); ok && slices.Equal(slices.Sorted(slices.Values(ac.Paths)), cs.Paths) {
				if !slices.Equal(ac.Paths, cs.Paths) {
					t.Logf("txn %d: Apache lists the closed session's ephemerals as %v, zkd as %v", i, ac.Paths, cs.Paths)
				}
				m.Body = &txn.CloseSession{Paths: ac.Paths, HasPaths: cs.HasPaths}
			}
		}
		moved.Apply(&m)
		if m.Digest != nil {
			m.Digest = &txn.Digest{Version: m.Digest.Version, TreeDigest: moved.RecomputeDigest()}
			if m.Digest.TreeDigest != a.Digest.TreeDigest {
				t.Errorf("txn %d (%s): zkd's txn in Apache's zxid/time/session gives digest %d, Apache logged %d",
					i, a.Header.Type, m.Digest.TreeDigest, a.Digest.TreeDigest)
			}
		}
		e := jute.NewEncoder(nil)
		m.Encode(e)
		if !bytes.Equal(e.Bytes(), araw[i]) {
			t.Errorf("txn %d (%s): zkd's entry in Apache's coordinates\n%x\nApache's\n%x", i, a.Header.Type, e.Bytes(), araw[i])
		}
	}
	t.Logf("%d txns compared: %v", len(atx), types)
	for _, op := range []proto.OpCode{proto.OpCreateSession, proto.OpCreate, proto.OpCreateContainer, proto.OpCreateTTL,
		proto.OpDelete, proto.OpDeleteContainer, proto.OpSetData, proto.OpSetACL, proto.OpMulti, proto.OpError, proto.OpCloseSession} {
		if types[op.String()] == 0 {
			t.Errorf("the workload logged no %s txn", op)
		}
	}
}
