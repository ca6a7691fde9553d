package durability

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The varied tree one server writes and the other must serve identically.

const (
	treeRoot      = "/v"
	digestUser    = "alice"
	digestPass    = "secret"
	liveSessionMs = 4000 // within [2, 20] ticks of tickTime=500
)

var (
	worldAll  = zk.WorldACL(zk.PermAll)
	worldRead = zk.WorldACL(zk.PermRead)
	aliceAll  = zk.DigestACL(zk.PermAll, digestUser, digestPass)
	// aliceWorld: alice may do anything, everyone may read.
	aliceWorld = append(zk.DigestACL(zk.PermAll, digestUser, digestPass), zk.WorldACL(zk.PermRead)...)
)

// dialAlice connects and authenticates as the digest user.
func dialAlice(t testing.TB, addr string) *client {
	t.Helper()
	c := mustDial(t, addr, readerSession)
	if err := c.AddAuth("digest", []byte(digestUser+":"+digestPass)); err != nil {
		t.Fatalf("addauth digest %s: %v", digestUser, err)
	}
	return c
}

// treeWriter runs a list of writes and fails the test at the first
// unexpected result.
type treeWriter struct {
	t *testing.T
	c *client
}

func (w treeWriter) create(path string, data []byte, flags int32, acl []zk.ACL) string {
	w.t.Helper()
	got, err := w.c.Create(path, data, flags, acl)
	if err != nil {
		w.t.Fatalf("create %s: %v", path, err)
	}
	return got
}

func (w treeWriter) set(path string, data []byte) {
	w.t.Helper()
	if _, err := w.c.Set(path, data, -1); err != nil {
		w.t.Fatalf("setData %s: %v", path, err)
	}
}

func (w treeWriter) setACL(path string, acl []zk.ACL, version int32) {
	w.t.Helper()
	if _, err := w.c.SetACL(path, acl, version); err != nil {
		w.t.Fatalf("setACL %s: %v", path, err)
	}
}

func (w treeWriter) delete(path string) {
	w.t.Helper()
	if err := w.c.Delete(path, -1); err != nil {
		w.t.Fatalf("delete %s: %v", path, err)
	}
}

// wantErr runs a write that must fail with want (it still becomes an
// error txn in the log).
func (w treeWriter) wantErr(what string, want error, err error) {
	w.t.Helper()
	if !errors.Is(err, want) {
		w.t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// writeVariedTree writes the tree under treeRoot through addr and returns
// the live session holding ephemerals, and their paths.
func writeVariedTree(t *testing.T, addr string) (*client, []string) {
	t.Helper()
	w := treeWriter{t, dialAlice(t, addr)}
	defer w.c.Close()

	w.create(treeRoot, []byte("varied tree"), 0, worldAll)
	path := treeRoot + "/nested"
	w.create(path, nil, 0, worldAll)
	for _, part := range []string{"a", "b", "c", "d", "e"} {
		path += "/" + part
		w.create(path, []byte("depth "+part), 0, worldAll)
	}
	binary := make([]byte, 1024)
	for i := range binary {
		binary[i] = byte(i)
	}
	w.create(treeRoot+"/binary", binary, 0, worldAll)
	w.create(treeRoot+"/empty", []byte{}, 0, worldAll)
	w.create(treeRoot+"/nil", nil, 0, worldAll)
	w.create(treeRoot+"/big", bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16), 0, worldAll)
	w.create(treeRoot+"/unicode-ünïcødé-日本", []byte("ü"), 0, worldAll)

	w.create(treeRoot+"/secret", []byte("only alice"), 0, aliceAll)
	w.create(treeRoot+"/mixed", []byte("alice writes, the world reads"), 0, aliceWorld)
	w.create(treeRoot+"/readonly", []byte("read only"), 0, worldRead)
	w.create(treeRoot+"/auth", []byte("auth scheme becomes digest"), 0, zk.AuthACL(zk.PermAll))
	w.create(treeRoot+"/secret/child", []byte("child of secret"), 0, aliceAll)

	w.create(treeRoot+"/seq", nil, 0, worldAll)
	for i := range 5 {
		w.create(treeRoot+"/seq/item-", []byte{byte(i)}, zk.FlagSequence, worldAll)
	}

	if _, err := w.c.CreateContainer(treeRoot+"/container", []byte("container"), zk.FlagContainer, worldAll); err != nil {
		t.Fatalf("create container: %v", err)
	}
	w.create(treeRoot+"/container/child", []byte("keeps the container"), 0, worldAll)
	if _, err := w.c.CreateTTL(treeRoot+"/ttl", []byte("ttl 1h"), zk.FlagTTL, worldAll, time.Hour); err != nil {
		t.Fatalf("create TTL node: %v", err)
	}
	if _, err := w.c.CreateTTL(treeRoot+"/ttlseq-", []byte("ttl seq"), zk.FlagPersistentSequentialWithTTL, worldAll, 2*time.Hour); err != nil {
		t.Fatalf("create sequential TTL node: %v", err)
	}

	w.create(treeRoot+"/gone", nil, 0, worldAll)
	w.create(treeRoot+"/gone/x", nil, 0, worldAll)
	w.create(treeRoot+"/gone/x/y", []byte("deleted"), 0, worldAll)
	w.delete(treeRoot + "/gone/x/y")
	w.delete(treeRoot + "/gone/x")
	w.delete(treeRoot + "/gone")
	w.create(treeRoot+"/halfgone", nil, 0, worldAll)
	w.create(treeRoot+"/halfgone/kept", nil, 0, worldAll)
	w.create(treeRoot+"/halfgone/removed", nil, 0, worldAll)
	w.delete(treeRoot + "/halfgone/removed")

	w.create(treeRoot+"/versions", []byte("v0"), 0, worldAll)
	for i := 1; i <= 3; i++ {
		w.set(treeRoot+"/versions", fmt.Appendf(nil, "v%d", i))
	}
	w.setACL(treeRoot+"/versions", aliceWorld, 0)
	w.setACL(treeRoot+"/versions", worldAll, 1)

	if _, err := w.c.Multi(
		&zk.CreateRequest{Path: treeRoot + "/multi", Data: []byte("multi"), Acl: worldAll},
		&zk.CreateRequest{Path: treeRoot + "/multi/a", Data: []byte("a"), Acl: worldAll},
		&zk.CreateRequest{Path: treeRoot + "/multi/b", Data: []byte("b"), Acl: aliceAll},
		&zk.SetDataRequest{Path: treeRoot + "/versions", Data: []byte("v4 in a multi"), Version: 3},
		&zk.DeleteRequest{Path: treeRoot + "/multi/a", Version: 0},
		&zk.CheckVersionRequest{Path: treeRoot, Version: 0},
	); err != nil {
		t.Fatalf("multi: %v", err)
	}
	_, err := w.c.Multi(
		&zk.CreateRequest{Path: treeRoot + "/failed", Data: []byte("never"), Acl: worldAll},
		&zk.CheckVersionRequest{Path: treeRoot, Version: 99})
	w.wantErr("multi with a failing check", zk.ErrBadVersion, err)
	_, err = w.c.Create(treeRoot, nil, 0, worldAll)
	w.wantErr("create of an existing node", zk.ErrNodeExists, err)
	_, err = w.c.Set(treeRoot+"/versions", nil, 0)
	w.wantErr("setData with a stale version", zk.ErrBadVersion, err)

	// A session that closes: its ephemeral goes with the closeSession txn.
	closed := mustDial(t, addr, 4*time.Second)
	if _, err := closed.Create(treeRoot+"/eph-closed", []byte("gone on close"), zk.FlagEphemeral, worldAll); err != nil {
		t.Fatalf("create ephemeral: %v", err)
	}
	closed.Close()

	live, err := dial(addr, liveSessionMs*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(live.Close)
	ephemerals := []string{treeRoot + "/eph-live"}
	if _, err := live.Create(ephemerals[0], []byte("kept until the session expires"), zk.FlagEphemeral, worldAll); err != nil {
		t.Fatalf("create ephemeral: %v", err)
	}
	seqEph, err := live.Create(treeRoot+"/seq/eph-", []byte("ephemeral sequential"), zk.FlagEphemeralSequential, worldAll)
	if err != nil {
		t.Fatalf("create ephemeral sequential: %v", err)
	}
	ephemerals = append(ephemerals, seqEph)
	return live, ephemerals
}

// writeMoreTree changes the tree further (the second hop of a round trip)
// and returns a new live session with its ephemerals.
func writeMoreTree(t *testing.T, addr string) (*client, []string) {
	t.Helper()
	w := treeWriter{t, dialAlice(t, addr)}
	defer w.c.Close()
	w.create(treeRoot+"/second", []byte("written by the second server"), 0, aliceWorld)
	for i := range 3 {
		w.create(treeRoot+"/second/item-", []byte{byte(i)}, zk.FlagSequence, worldAll)
	}
	w.create(treeRoot+"/seq/item-", []byte("after the hand-over"), zk.FlagSequence, worldAll)
	w.set(treeRoot+"/versions", []byte("v5 on the second server"))
	w.setACL(treeRoot+"/secret", aliceWorld, 0)
	w.delete(treeRoot + "/nested/a/b/c/d/e")
	w.set(treeRoot+"/nil", []byte("no longer nil"))
	w.set(treeRoot+"/binary", nil)

	live, err := dial(addr, liveSessionMs*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(live.Close)
	eph := treeRoot + "/eph-second"
	if _, err := live.Create(eph, nil, zk.FlagEphemeral, worldAll); err != nil {
		t.Fatalf("create ephemeral: %v", err)
	}
	return live, []string{eph}
}

// nodeDump is everything a client can read about one znode.
type nodeDump struct {
	Data     []byte
	DataNil  bool
	Stat     zk.Stat
	ACL      []zk.ACL
	Children []string
}

// dumpTree reads every node from the root, /zookeeper included; reads of
// different nodes run concurrently (pipelined on the one session).
func dumpTree(t *testing.T, c *client) map[string]nodeDump {
	t.Helper()
	var (
		mu       sync.Mutex
		tree     = map[string]nodeDump{}
		firstErr error
		wg       sync.WaitGroup
		inFlight = make(chan struct{}, 16)
	)
	var visit func(path string)
	visit = func(path string) {
		defer wg.Done()
		inFlight <- struct{}{}
		n, err := readNode(c, path)
		<-inFlight
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		tree[path] = n
		for _, name := range n.Children {
			wg.Add(1)
			go visit(strings.TrimSuffix(path, "/") + "/" + name)
		}
	}
	wg.Add(1)
	go visit("/")
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return tree
}

func readNode(c *client, path string) (nodeDump, error) {
	data, st, err := c.Get(path)
	if err != nil {
		return nodeDump{}, fmt.Errorf("get %s: %w", path, err)
	}
	acl, _, err := c.GetACL(path)
	if err != nil {
		return nodeDump{}, fmt.Errorf("getACL %s: %w", path, err)
	}
	children, _, err := c.Children(path)
	if err != nil {
		return nodeDump{}, fmt.Errorf("children of %s: %w", path, err)
	}
	slices.Sort(children)
	return nodeDump{Data: data, DataNil: data == nil, Stat: *st, ACL: acl, Children: children}, nil
}

// diffTrees lists every difference between two dumps.
func diffTrees(want, got map[string]nodeDump) []string {
	var diffs []string
	for path, w := range want {
		g, ok := got[path]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing", path))
			continue
		}
		if !bytes.Equal(w.Data, g.Data) || w.DataNil != g.DataNil {
			diffs = append(diffs, fmt.Sprintf("%s: data %s, want %s", path, showData(g), showData(w)))
		}
		if w.Stat != g.Stat {
			diffs = append(diffs, fmt.Sprintf("%s: stat %s, want %s", path, statDiff(g.Stat, w.Stat), statDiff(w.Stat, g.Stat)))
		}
		if !reflect.DeepEqual(w.ACL, g.ACL) {
			diffs = append(diffs, fmt.Sprintf("%s: ACL %v, want %v", path, g.ACL, w.ACL))
		}
		if !slices.Equal(w.Children, g.Children) {
			diffs = append(diffs, fmt.Sprintf("%s: children %q, want %q", path, g.Children, w.Children))
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: not expected", path))
		}
	}
	slices.Sort(diffs)
	return diffs
}

func showData(n nodeDump) string {
	if n.DataNil {
		return "nil"
	}
	if len(n.Data) > 40 {
		return fmt.Sprintf("%d bytes %q...", len(n.Data), n.Data[:40])
	}
	return fmt.Sprintf("%q", n.Data)
}

// statDiff shows the fields of a that differ from b.
func statDiff(a, b zk.Stat) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var fields []string
	for i := range va.NumField() {
		if va.Field(i).Interface() != vb.Field(i).Interface() {
			fields = append(fields, fmt.Sprintf("%s=%v", va.Type().Field(i).Name, va.Field(i).Interface()))
		}
	}
	return "{" + strings.Join(fields, " ") + "}"
}

// requireSameTree fails the test unless got equals want.
func requireSameTree(t *testing.T, what string, want, got map[string]nodeDump) {
	t.Helper()
	if diffs := diffTrees(want, got); len(diffs) > 0 {
		t.Fatalf("%s: %d differences:\n%s", what, len(diffs), strings.Join(diffs, "\n"))
	}
}
