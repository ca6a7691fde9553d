package tree

// This file regenerates testdata/apache from a real Apache ZooKeeper 3.8
// (Debian's package). It runs only when ZKD_GEN_APACHE=1:
//
//	ZKD_GEN_APACHE=1 go test ./internal/tree -run TestGenerateApacheFixture -v
//
// It starts a standalone server on port 21990, drives it with go-zookeeper,
// records after every operation what the server reports (full tree dump with
// client Stats, ACLs, children; mntr counters; the stats returned by writes),
// stops it, restarts it once so that it writes a snapshot of the final tree,
// and copies the transaction logs (trimmed of their zero preallocation) and
// snapshots into testdata/apache.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
)

const genPort = 21990

type genFixture struct {
	Checkpoints []checkpoint `json:"checkpoints"`
	Ops         []opRecord   `json:"ops"`
}

// checkpoint is the server's view right after an operation.
type checkpoint struct {
	Op    string            `json:"op"`
	Zxid  int64             `json:"zxid"`
	Mntr  map[string]int64  `json:"mntr"`
	Nodes []checkpointNode  `json:"nodes"`
	Extra map[string]string `json:"extra,omitempty"`
}

type checkpointNode struct {
	Path     string    `json:"path"`
	Data     []byte    `json:"data"`
	ACL      []jsonACL `json:"acl"`
	Stat     jsonStat  `json:"stat"`
	Children []string  `json:"children"`
	IsNil    bool      `json:"isNil,omitempty"`
}

type jsonACL struct {
	Perms  int32  `json:"perms"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

type jsonStat struct {
	Czxid          int64 `json:"czxid"`
	Mzxid          int64 `json:"mzxid"`
	Ctime          int64 `json:"ctime"`
	Mtime          int64 `json:"mtime"`
	Version        int32 `json:"version"`
	Cversion       int32 `json:"cversion"`
	Aversion       int32 `json:"aversion"`
	EphemeralOwner int64 `json:"ephemeralOwner"`
	DataLength     int32 `json:"dataLength"`
	NumChildren    int32 `json:"numChildren"`
	Pzxid          int64 `json:"pzxid"`
}

// opRecord is what one write returned to the client.
type opRecord struct {
	Op    string      `json:"op"`
	Zxid  int64       `json:"zxid"`
	Err   string      `json:"err,omitempty"`
	Stat  *jsonStat   `json:"stat,omitempty"`
	Path  string      `json:"path,omitempty"`
	Stats []*jsonStat `json:"stats,omitempty"` // multi: per op (nil where none)
}

func statJSON(s *zk.Stat) *jsonStat {
	if s == nil {
		return nil
	}
	return &jsonStat{s.Czxid, s.Mzxid, s.Ctime, s.Mtime, s.Version, s.Cversion, s.Aversion,
		s.EphemeralOwner, s.DataLength, s.NumChildren, s.Pzxid}
}

func fourLetter(t *testing.T, cmd string) string {
	t.Helper()
	out, _ := launch.FourLetterWord(launch.Loopback(genPort), cmd, 5*time.Second)
	return out
}

func serverZxid(t *testing.T) int64 {
	t.Helper()
	out := fourLetter(t, "srvr")
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Zxid: 0x"); ok {
			z, err := strconv.ParseInt(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return z
		}
	}
	t.Fatalf("no zxid in srvr output %q", out)
	return 0
}

func mntr(t *testing.T) map[string]int64 {
	t.Helper()
	out := fourLetter(t, "mntr")
	m := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		switch k {
		case "zk_znode_count", "zk_approximate_data_size", "zk_ephemerals_count":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			m[k] = n
		}
	}
	return m
}

func dumpTree(t *testing.T, c *zk.Conn) []checkpointNode {
	t.Helper()
	var out []checkpointNode
	var walk func(p string)
	walk = func(p string) {
		data, _, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, stat, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		sort.Strings(kids)
		n := checkpointNode{Path: p, Data: data, Stat: *statJSON(stat), Children: kids, IsNil: data == nil}
		for _, a := range acl {
			n.ACL = append(n.ACL, jsonACL{a.Perms, a.Scheme, a.ID})
		}
		out = append(out, n)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

type genLogger struct{ t *testing.T }

func (l genLogger) Printf(f string, a ...any) { l.t.Logf(f, a...) }

// genJVM runs Apache with TTL nodes, a container check every 300 ms and a
// snapshot every 15-30 txns.
var genJVM = launch.Apache{JVMFlags: []string{
	"-Dzookeeper.extendedTypesEnabled=true",
	"-Dznode.container.checkIntervalMs=300",
	"-Dzookeeper.snapCount=30",
}}

// startApache starts Apache on dir's data and waits until it serves; every
// start appends its log to dir/server.log. It is stopped when the test
// ends, if not before.
func startApache(t *testing.T, dir string) *launch.Process {
	t.Helper()
	if err := genJVM.Check(); err != nil {
		t.Fatalf("%v: install the Debian package zookeeper", err)
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\nmaxSessionTimeout=600000\n",
		filepath.Join(dir, "data"), genPort)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := launch.StartServing(launch.Options{
		Name:      "apache",
		Argv:      genJVM.Argv(cfg),
		Dir:       dir,
		Addr:      launch.Loopback(genPort),
		LogPath:   filepath.Join(dir, "server.log"),
		StopGrace: 20 * time.Second,
	}, 60*time.Second)
	if err != nil {
		t.Fatalf("apache zookeeper did not start: %v", err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

func TestGenerateApacheFixture(t *testing.T) {
	if os.Getenv("ZKD_GEN_APACHE") != "1" {
		t.Skip("set ZKD_GEN_APACHE=1 to regenerate testdata/apache from Apache ZooKeeper")
	}
	dir := t.TempDir()
	srv := startApache(t, dir)

	connect := func(timeout time.Duration) *zk.Conn {
		c, events, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", genPort)}, timeout,
			zk.WithLogger(genLogger{t}))
		if err != nil {
			t.Fatal(err)
		}
		for ev := range events {
			if ev.State == zk.StateHasSession {
				break
			}
		}
		go func() {
			for range events {
			}
		}()
		return c
	}

	var fx genFixture
	// The dumping session authenticates so that it can read digest-protected nodes.
	dumper := connect(30 * time.Second)
	if err := dumper.AddAuth("digest", []byte("user:pass")); err != nil {
		t.Fatal(err)
	}
	snap := func(op string) {
		fx.Checkpoints = append(fx.Checkpoints, checkpoint{Op: op, Zxid: serverZxid(t), Mntr: mntr(t), Nodes: dumpTree(t, dumper)})
	}
	record := func(op string, err error, stat *zk.Stat, path string) {
		r := opRecord{Op: op, Zxid: serverZxid(t), Stat: statJSON(stat), Path: path}
		if err != nil {
			r.Err = err.Error()
		}
		fx.Ops = append(fx.Ops, r)
		snap(op)
	}
	waitGone := func(c *zk.Conn, p string) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			ok, _, err := c.Exists(p)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s was never deleted", p)
	}
	open := zk.WorldACL(zk.PermAll)
	snap("start")

	a := connect(30 * time.Second)
	if err := a.AddAuth("digest", []byte("user:pass")); err != nil {
		t.Fatal(err)
	}
	snap("session a")
	b := connect(30 * time.Second)
	snap("session b")

	p, err := a.Create("/app", []byte("hello"), 0, open)
	record("create /app", err, nil, p)
	p, err = a.Create("/app/child1", nil, 0, open)
	record("create /app/child1 (null data)", err, nil, p)
	for i := 0; i < 3; i++ {
		p, err = a.Create("/app/seq-", []byte("s"), zk.FlagSequence, open)
		record("create sequential /app/seq-", err, nil, p)
	}
	p, err = b.Create("/app/eph1", []byte("e"), zk.FlagEphemeral, open)
	record("create ephemeral /app/eph1", err, nil, p)
	p, err = b.Create("/app/eseq-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	record("create ephemeral sequential /app/eseq-", err, nil, p)
	st, err := a.Set("/app", []byte("v2"), -1)
	record("set /app v2", err, st, "/app")
	st, err = a.Set("/app", []byte("v3"), 1)
	record("set /app v3 version 1", err, st, "/app")
	st, err = a.Set("/app", []byte(""), -1)
	record("set /app empty", err, st, "/app")
	st, err = a.SetACL("/app/child1", zk.DigestACL(zk.PermAll, "user", "pass"), -1)
	record("setACL /app/child1 digest", err, st, "/app/child1")
	st, err = a.SetACL("/app/child1", append(zk.DigestACL(zk.PermAll, "user", "pass"), zk.WorldACL(zk.PermRead)...), 1)
	record("setACL /app/child1 digest+read", err, st, "/app/child1")
	p, err = a.Create("/app/child1", nil, 0, open)
	record("create existing /app/child1", err, nil, p)
	err = a.Delete("/app", -1)
	record("delete non-empty /app", err, nil, "/app")
	st, err = a.Set("/app", []byte("x"), 99)
	record("set /app bad version", err, st, "/app")
	p, err = a.Create("/nope/x", nil, 0, open)
	record("create under missing parent", err, nil, p)
	err = a.Delete("/app/seq-0000000001", -1)
	record("delete /app/seq-0000000001", err, nil, "/app/seq-0000000001")
	p, err = a.Create("/app/seq-", []byte("s"), zk.FlagSequence, open)
	record("create sequential after delete", err, nil, p)

	// A multi that succeeds.
	res, err := a.Multi(
		&zk.CreateRequest{Path: "/m", Data: []byte("m"), Acl: open},
		&zk.CreateRequest{Path: "/m/a", Data: nil, Acl: open},
		&zk.SetDataRequest{Path: "/m", Data: []byte("mm"), Version: 0},
		&zk.CheckVersionRequest{Path: "/app", Version: 3},
		&zk.DeleteRequest{Path: "/m/a", Version: 0},
		&zk.CreateRequest{Path: "/m/s-", Data: nil, Acl: open, Flags: zk.FlagSequence},
	)
	rec := opRecord{Op: "multi ok", Zxid: serverZxid(t)}
	if err != nil {
		rec.Err = err.Error()
	}
	for _, r := range res {
		rec.Stats = append(rec.Stats, statJSON(r.Stat))
	}
	fx.Ops = append(fx.Ops, rec)
	snap("multi ok")

	// A multi that fails at its second op.
	res, err = a.Multi(
		&zk.CreateRequest{Path: "/m/b", Data: nil, Acl: open},
		&zk.CreateRequest{Path: "/app/child1", Data: nil, Acl: open},
		&zk.SetDataRequest{Path: "/m", Data: []byte("never"), Version: -1},
	)
	rec = opRecord{Op: "multi failed", Zxid: serverZxid(t)}
	if err != nil {
		rec.Err = err.Error()
	}
	for _, r := range res {
		var s string
		if r.Error != nil {
			s = r.Error.Error()
		}
		rec.Path += s + ";"
	}
	fx.Ops = append(fx.Ops, rec)
	snap("multi failed")

	// Containers: one that empties and is reaped, one that keeps a child.
	p, err = a.CreateContainer("/cont", []byte("c"), zk.FlagContainer, open)
	record("create container /cont", err, nil, p)
	p, err = a.Create("/cont/x", nil, 0, open)
	record("create /cont/x", err, nil, p)
	err = a.Delete("/cont/x", -1)
	record("delete /cont/x", err, nil, "/cont/x")
	waitGone(a, "/cont")
	snap("container /cont reaped")
	p, err = a.CreateContainer("/cont2", nil, zk.FlagContainer, open)
	record("create container /cont2", err, nil, p)
	p, err = a.Create("/cont2/x", nil, 0, open)
	record("create /cont2/x", err, nil, p)

	// TTL nodes: one expires, one stays.
	p, err = a.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, open, 200*time.Millisecond)
	record("create ttl /ttl 200ms", err, nil, p)
	waitGone(a, "/ttl")
	snap("ttl /ttl reaped")
	p, err = a.CreateTTL("/ttlkeep", nil, zk.FlagTTL, open, time.Hour)
	record("create ttl /ttlkeep 1h", err, nil, p)
	p, err = a.CreateTTL("/ttlkeep/s-", nil, zk.FlagPersistentSequentialWithTTL, open, 2*time.Hour)
	record("create ttl sequential /ttlkeep/s-", err, nil, p)

	// Non-ASCII names (UTF-16 lengths in approximate data size, Java string hashes).
	p, err = a.Create("/ünï", []byte("ü"), 0, open)
	record("create /ünï", err, nil, p)
	// ZooKeeper's path validation refuses surrogates, so no characters above U+FFFF.
	p, err = a.Create("/ünï/日本", nil, 0, open)
	record("create /ünï/日本", err, nil, p)
	p, err = a.Create("/ünï/\U0001F600", nil, 0, open)
	record("create /ünï/😀 (refused by the client library or the server)", err, nil, p)

	// Many siblings, deletes and re-creates: exercises the Java HashSet order of children in snapshots.
	p, err = a.Create("/many", nil, 0, open)
	record("create /many", err, nil, p)
	for i := 0; i < 40; i++ {
		_, err = a.Create(fmt.Sprintf("/many/c%d", i), []byte{byte(i)}, 0, open)
		if err != nil {
			t.Fatal(err)
		}
	}
	snap("create /many/c0..c39")
	for i := 5; i < 16; i++ {
		if err := a.Delete(fmt.Sprintf("/many/c%d", i), -1); err != nil {
			t.Fatal(err)
		}
	}
	snap("delete /many/c5..c15")
	for _, name := range []string{"c7", "zz", "Aa", "BB", "longer-child-name"} {
		if _, err := a.Create("/many/"+name, nil, 0, open); err != nil {
			t.Fatal(err)
		}
	}
	snap("recreate /many/c7 and add zz Aa BB longer-child-name")

	// Quota on /app, set up as zkCli setquota does, then writes inside it.
	for _, q := range []struct{ path, data string }{
		{"/zookeeper/quota/app", ""},
		{"/zookeeper/quota/app/zookeeper_limits", "count=100,bytes=-1"},
		{"/zookeeper/quota/app/zookeeper_stats", "count=0,bytes=0"},
	} {
		p, err = a.Create(q.path, []byte(q.data), 0, open)
		record("create "+q.path, err, nil, p)
	}
	p, err = a.Create("/app/q1", []byte("1234"), 0, open)
	record("create /app/q1 inside quota", err, nil, p)
	st, err = a.Set("/app/q1", []byte("12"), -1)
	record("set /app/q1 inside quota", err, st, "/app/q1")
	err = a.Delete("/app/q1", -1)
	record("delete /app/q1 inside quota", err, nil, "/app/q1")

	// Root: data and an explicit open ACL (which gets a real cache id, unlike the implicit -1).
	st, err = a.Set("/", []byte("rootdata"), -1)
	record("set / rootdata", err, st, "/")
	st, err = a.SetACL("/", open, -1)
	record("setACL / open", err, st, "/")
	p, err = a.Create("/deep", nil, 0, open)
	record("create /deep", err, nil, p)
	p, err = a.Create("/deep/a", nil, 0, open)
	record("create /deep/a", err, nil, p)
	p, err = a.Create("/deep/a/b", []byte("b"), 0, zk.WorldACL(zk.PermRead|zk.PermWrite))
	record("create /deep/a/b", err, nil, p)

	// Session b closes: its ephemerals go in the closeSession txn.
	b.Close()
	time.Sleep(300 * time.Millisecond)
	snap("session b closed")

	// Session c stays open across the shutdown, so its ephemeral is in the final snapshot.
	c := connect(120 * time.Second)
	snap("session c")
	p, err = c.Create("/app/eph-c", []byte("c"), zk.FlagEphemeral, open)
	record("create ephemeral /app/eph-c", err, nil, p)

	a.Close()
	time.Sleep(300 * time.Millisecond)
	snap("session a closed")
	dumper.Close()
	time.Sleep(300 * time.Millisecond)
	finalZxid := serverZxid(t)
	srv.Stop()

	// Restart: loading the database ends with a snapshot of the final tree.
	srv = startApache(t, dir)
	want := filepath.Join(dir, "data", "version-2", fmt.Sprintf("snapshot.%x", finalZxid))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(want); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart did not write %s", want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	srv.Stop()

	out := filepath.Join("testdata", "apache")
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(filepath.Join(dir, "data", "version-2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, "data", "version-2", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f.Name(), "log.") {
			b = b[:logEnd(t, b)]
		}
		if err := os.WriteFile(filepath.Join(out, f.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j, err := json.Marshal(fx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "observed.json"), j, 0o644); err != nil {
		t.Fatal(err)
	}
	srvLog, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	sc := bufio.NewScanner(bytes.NewReader(srvLog))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "ERROR") {
			t.Log(sc.Text())
		}
	}
	t.Logf("wrote %d files, final zxid %#x", len(files)+1, finalZxid)
}

// logEnd is the offset just past the last record of a transaction log: the
// rest is ZooKeeper's zero preallocation.
func logEnd(t *testing.T, b []byte) int {
	t.Helper()
	off := 16
	for off+12 <= len(b) {
		n := int(int32(uint32(b[off+8])<<24 | uint32(b[off+9])<<16 | uint32(b[off+10])<<8 | uint32(b[off+11])))
		if n <= 0 || off+12+n+1 > len(b) || b[off+12+n] != 0x42 {
			break
		}
		off += 12 + n + 1
	}
	return off
}
