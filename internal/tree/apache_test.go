package tree

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/adler32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// The files under testdata/apache were written by Apache ZooKeeper 3.8.0
// (Debian) driven by TestGenerateApacheFixture; observed.json is what that
// server reported after each operation.

const apacheDir = "testdata/apache"

// readTxnLog is a minimal reader for a ZooKeeper transaction log: a 16-byte
// FileHeader, then records of (long Adler32 of the entry, int length, entry,
// byte 0x42), ending at a zero length or the end of the file.
func readTxnLog(t testing.TB, name string) []*txn.Txn {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 16 || binary.BigEndian.Uint32(b) != 0x5A4B4C47 {
		t.Fatalf("%s: not a txn log", name)
	}
	var out []*txn.Txn
	off := 16
	for off+12 <= len(b) {
		sum := binary.BigEndian.Uint64(b[off:])
		n := int(int32(binary.BigEndian.Uint32(b[off+8:])))
		if n == 0 {
			break
		}
		if n < 0 || off+12+n+1 > len(b) || b[off+12+n] != 0x42 {
			t.Fatalf("%s: bad record at %d", name, off)
		}
		entry := b[off+12 : off+12+n]
		if uint64(adler32.Checksum(entry)) != sum {
			t.Fatalf("%s: checksum mismatch at %d", name, off)
		}
		tx, err := txn.Unmarshal(entry, jute.DefaultMaxBuffer)
		if err != nil {
			t.Fatalf("%s at %d: %v", name, off, err)
		}
		out = append(out, tx)
		off += 12 + n + 1
	}
	return out
}

// apacheSnapshot is a snapshot file cut into the parts this package cares about.
type apacheSnapshot struct {
	name       string
	zxid       int64  // from the file name
	file       []byte // whole file
	treeStart  int    // offset of the tree section
	treeEnd    int    // offset just past the "/" that ends it
	tree       *Tree
	digestZxid int64
	digest     int64
}

func readApacheSnapshot(t testing.TB, name string) *apacheSnapshot {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	z, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(name), "snapshot."), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	s := &apacheSnapshot{name: name, zxid: z, file: b}
	d := jute.NewDecoder(b, jute.DefaultMaxBuffer)
	if magic := d.Int(); magic != 0x5A4B534E {
		t.Fatalf("%s: magic %#x", name, magic)
	}
	d.Int()
	d.Long()
	sessions := d.Int()
	for i := int32(0); i < sessions; i++ {
		d.Long()
		d.Int()
	}
	s.treeStart = d.Offset()
	s.tree, err = Deserialize(d)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s.treeEnd = d.Offset()
	seal := d.Long()
	if uint64(adler32.Checksum(b[:s.treeEnd])) != uint64(seal) || d.String() != "/" {
		t.Fatalf("%s: bad seal after the tree", name)
	}
	s.digestZxid = d.Long()
	if v := d.Int(); v != 2 {
		t.Fatalf("%s: digest version %d", name, v)
	}
	s.digest = d.Long()
	if d.Err() != nil {
		t.Fatalf("%s: %v", name, d.Err())
	}
	return s
}

func apacheFiles(t testing.TB, prefix string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(apacheDir, prefix+"*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no %s files in %s", prefix, apacheDir)
	}
	zx := func(n string) int64 {
		z, _ := strconv.ParseInt(strings.TrimPrefix(filepath.Base(n), prefix), 16, 64)
		return z
	}
	sort.Slice(names, func(i, j int) bool { return zx(names[i]) < zx(names[j]) })
	return names
}

func apacheLog(t testing.TB) []*txn.Txn {
	var all []*txn.Txn
	for _, name := range apacheFiles(t, "log.") {
		all = append(all, readTxnLog(t, name)...)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Header.Zxid != all[i-1].Header.Zxid+1 {
			t.Fatalf("log gap between %#x and %#x", all[i-1].Header.Zxid, all[i].Header.Zxid)
		}
	}
	return all
}

func loadObserved(t testing.TB) genFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(apacheDir, "observed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx genFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

func serializeTree(tr *Tree) []byte {
	e := jute.NewEncoder(nil)
	tr.Serialize(e)
	return e.Bytes()
}

// Every snapshot Apache wrote loads, and writes back byte for byte: same
// ACL ids in the same order, same znode order.
func TestApacheSnapshotRoundTrip(t *testing.T) {
	for _, name := range apacheFiles(t, "snapshot.") {
		s := readApacheSnapshot(t, name)
		got := serializeTree(s.tree)
		if want := s.file[s.treeStart:s.treeEnd]; !sameTreeSection(t, got, want) {
			t.Errorf("%s: re-serialized tree differs (got %d bytes, want %d)", name, len(got), len(want))
			continue
		}
		if s.tree.RecomputeDigest() != s.tree.Digest() {
			t.Errorf("%s: incremental digest %d != recomputed %d", name, s.tree.Digest(), s.tree.RecomputeDigest())
		}
	}
}

// The snapshot written at restart is not fuzzy: its recorded digest is the
// digest of the tree it holds.
func TestApacheFinalSnapshotDigest(t *testing.T) {
	names := apacheFiles(t, "snapshot.")
	s := readApacheSnapshot(t, names[len(names)-1])
	if s.digestZxid != s.zxid {
		t.Fatalf("digest recorded for %#x, snapshot is %#x", s.digestZxid, s.zxid)
	}
	if s.tree.Digest() != s.digest {
		t.Fatalf("digest %d, Apache recorded %d", s.tree.Digest(), s.digest)
	}
}

var goZKErrors = map[string]proto.Code{
	"zk: node already exists": proto.ErrNodeExists,
	"zk: node has children":   proto.ErrNotEmpty,
	"zk: version conflict":    proto.ErrBadVersion,
	"zk: node does not exist": proto.ErrNoNode,
	"zk: not authenticated":   proto.ErrNoAuth,
	"invalid arguments":       proto.ErrBadArguments,
}

// Replaying Apache's log from a fresh tree reproduces, txn by txn, the
// digest Apache logged, the server's view after every client operation
// (stats, data, ACLs, children, mntr counters), and finally the snapshot
// Apache wrote of the result, byte for byte.
func TestApacheLogReplay(t *testing.T) {
	log := apacheLog(t)
	fx := loadObserved(t)
	snaps := map[int64]*apacheSnapshot{}
	for _, name := range apacheFiles(t, "snapshot.") {
		s := readApacheSnapshot(t, name)
		snaps[s.zxid] = s
	}
	checkpoints := map[int64][]checkpoint{}
	for _, c := range fx.Checkpoints {
		checkpoints[c.Zxid] = append(checkpoints[c.Zxid], c)
	}
	ops := map[int64][]opRecord{}
	for _, o := range fx.Ops {
		ops[o.Zxid] = append(ops[o.Zxid], o)
	}

	tr := New()
	if s := snaps[0]; s == nil || !bytes.Equal(serializeTree(tr), s.file[s.treeStart:s.treeEnd]) {
		t.Fatal("New() does not serialize like Apache's snapshot.0")
	}
	// A fuzzy snapshot named Z holds the tree after some txn >= Z.
	pending := map[int64]*apacheSnapshot{}
	for z, s := range snaps {
		if z > 0 {
			pending[z] = s
		}
	}
	checked := 0
	for _, tx := range log {
		z := tx.Header.Zxid
		res := tr.Apply(tx)
		if tr.LastZxid() != z {
			t.Fatalf("LastZxid %#x after %#x", tr.LastZxid(), z)
		}
		if tx.Digest != nil && tx.Digest.TreeDigest != tr.Digest() {
			t.Fatalf("after %#x (%s): digest %d, Apache logged %d", z, tx.Header.Type, tr.Digest(), tx.Digest.TreeDigest)
		}
		if got := tr.RecomputeDigest(); got != tr.Digest() {
			t.Fatalf("after %#x: incremental digest %d != recomputed %d", z, tr.Digest(), got)
		}
		if tx.Header.Type == proto.OpError && tx.Digest != nil {
			t.Errorf("%#x: error txn carries a digest", z)
		}
		for _, o := range ops[z] {
			checkOp(t, o, res)
		}
		for _, c := range checkpoints[z] {
			compareCheckpoint(t, tr, c)
			checked++
		}
		b := serializeTree(tr)
		for sz, s := range pending {
			if sz <= z && sameTreeSection(t, b, s.file[s.treeStart:s.treeEnd]) {
				delete(pending, sz)
			}
		}
	}
	final := snaps[tr.LastZxid()]
	if final == nil {
		t.Fatalf("no snapshot for the last zxid %#x", tr.LastZxid())
	}
	if !bytes.Equal(serializeTree(tr), final.file[final.treeStart:final.treeEnd]) {
		t.Errorf("replayed tree does not serialize like Apache's %s", final.name)
	}
	if tr.Digest() != final.digest {
		t.Errorf("replayed digest %d, Apache's final snapshot %d", tr.Digest(), final.digest)
	}
	if checked != len(fx.Checkpoints) {
		t.Errorf("checked %d of %d checkpoints", checked, len(fx.Checkpoints))
	}
	for z := range pending {
		t.Errorf("snapshot.%x matches no replayed state", z)
	}
}

func checkOp(t *testing.T, o opRecord, res Result) {
	t.Helper()
	if o.Err != "" && res.Type != proto.OpMulti {
		want, ok := goZKErrors[o.Err]
		if !ok {
			t.Fatalf("%s: unmapped client error %q", o.Op, o.Err)
		}
		if res.Type != proto.OpError || res.Err != want {
			t.Errorf("%s: result %s/%v, Apache answered %v", o.Op, res.Type, res.Err, want)
		}
		return
	}
	if o.Stat != nil && o.Err == "" {
		if res.Stat == nil || *statJSON2(res.Stat) != *o.Stat {
			t.Errorf("%s: Stat %+v, Apache returned %+v", o.Op, res.Stat, *o.Stat)
		}
	}
	if o.Path != "" && res.Type != proto.OpMulti && res.Path != o.Path {
		t.Errorf("%s: path %q, Apache returned %q", o.Op, res.Path, o.Path)
	}
	if res.Type == proto.OpMulti {
		for i, s := range o.Stats {
			if i >= len(res.Multi) {
				t.Errorf("%s: %d sub-results", o.Op, len(res.Multi))
				break
			}
			if s != nil && (res.Multi[i].Stat == nil || *statJSON2(res.Multi[i].Stat) != *s) {
				t.Errorf("%s op %d: Stat %+v, Apache returned %+v", o.Op, i, res.Multi[i].Stat, *s)
			}
		}
	}
}

func statJSON2(s *proto.Stat) *jsonStat {
	return &jsonStat{s.Czxid, s.Mzxid, s.Ctime, s.Mtime, s.Version, s.Cversion, s.Aversion,
		s.EphemeralOwner, s.DataLength, s.NumChildren, s.Pzxid}
}

func compareCheckpoint(t *testing.T, tr *Tree, c checkpoint) {
	t.Helper()
	var got []string
	tr.Walk("/", func(p string, n *Node) bool {
		got = append(got, p)
		return true
	})
	var want []string
	for _, n := range c.Nodes {
		want = append(want, n.Path)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after %q (%#x): znodes\n%v\nApache had\n%v", c.Op, c.Zxid, got, want)
	}
	for _, w := range c.Nodes {
		n := tr.Get(w.Path)
		st := n.ClientStat()
		if *statJSON2(&st) != w.Stat {
			t.Errorf("after %q: %s Stat %+v, Apache %+v", c.Op, w.Path, *statJSON2(&st), w.Stat)
		}
		if !bytes.Equal(n.Data, w.Data) || (n.Data == nil) != w.IsNil {
			t.Errorf("after %q: %s data %q, Apache %q (nil %v)", c.Op, w.Path, n.Data, w.Data, w.IsNil)
		}
		var acl []jsonACL
		for _, a := range n.ACL {
			acl = append(acl, jsonACL{a.Perms, a.ID.Scheme, a.ID.ID})
		}
		if len(acl) != len(w.ACL) {
			t.Errorf("after %q: %s ACL %v, Apache %v", c.Op, w.Path, acl, w.ACL)
		} else {
			for i := range acl {
				if acl[i] != w.ACL[i] {
					t.Errorf("after %q: %s ACL %v, Apache %v", c.Op, w.Path, acl, w.ACL)
				}
			}
		}
		if kids := tr.Children(w.Path); strings.Join(kids, "/") != strings.Join(w.Children, "/") {
			t.Errorf("after %q: %s children %v, Apache %v", c.Op, w.Path, kids, w.Children)
		}
	}
	if got := int64(tr.NodeCount()); got != c.Mntr["zk_znode_count"] {
		t.Errorf("after %q: NodeCount %d, Apache zk_znode_count %d", c.Op, got, c.Mntr["zk_znode_count"])
	}
	if got := tr.ApproximateDataSize(); got != c.Mntr["zk_approximate_data_size"] {
		t.Errorf("after %q: ApproximateDataSize %d, Apache %d", c.Op, got, c.Mntr["zk_approximate_data_size"])
	}
	if got := int64(tr.EphemeralCount()); got != c.Mntr["zk_ephemerals_count"] {
		t.Errorf("after %q: EphemeralCount %d, Apache %d", c.Op, got, c.Mntr["zk_ephemerals_count"])
	}
	// Ephemerals per session, as the Stats show them.
	owners := map[int64][]string{}
	for _, w := range c.Nodes {
		if w.Stat.EphemeralOwner != 0 {
			owners[w.Stat.EphemeralOwner] = append(owners[w.Stat.EphemeralOwner], w.Path)
		}
	}
	for s, paths := range owners {
		sort.Strings(paths)
		if got := tr.Ephemerals(s); strings.Join(got, ",") != strings.Join(paths, ",") {
			t.Errorf("after %q: Ephemerals(%#x) = %v, want %v", c.Op, s, got, paths)
		}
	}
}

// rawZnode is one znode record of a tree section.
type rawZnode struct {
	path string
	rest []byte // data, acl id and stat, as encoded
	data []byte
}

func parseTreeSection(t *testing.T, b []byte) (acls []byte, nodes []rawZnode) {
	t.Helper()
	d := jute.NewDecoder(b, jute.DefaultMaxBuffer)
	n := d.Int()
	for i := int32(0); i < n; i++ {
		d.Long()
		proto.DecodeACLs(d)
	}
	acls = b[:d.Offset()]
	for {
		p := d.String()
		if p == "/" || d.Err() != nil {
			break
		}
		start := d.Offset()
		data := d.Buffer()
		d.Long()
		var st proto.StatPersisted
		st.Decode(d)
		nodes = append(nodes, rawZnode{p, b[start:d.Offset()], data})
	}
	if d.Err() != nil || d.Remaining() != 0 {
		t.Fatalf("bad tree section: %v", d.Err())
	}
	return acls, nodes
}

// sameTreeSection compares two tree sections byte for byte, except that the
// data of quota stats znodes may differ: ZooKeeper recounts them when it
// loads a snapshot, and a fuzzy snapshot can catch one before createNode
// recounted it.
func sameTreeSection(t *testing.T, a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	aclA, nodesA := parseTreeSection(t, a)
	aclB, nodesB := parseTreeSection(t, b)
	if !bytes.Equal(aclA, aclB) || len(nodesA) != len(nodesB) {
		return false
	}
	for i := range nodesA {
		x, y := nodesA[i], nodesB[i]
		if x.path != y.path {
			return false
		}
		if bytes.Equal(x.rest, y.rest) {
			continue
		}
		if !strings.HasSuffix(x.path, "/"+statNode) ||
			!bytes.Equal(x.rest[4+len(x.data):], y.rest[4+len(y.data):]) {
			return false
		}
	}
	return true
}
