package tree

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"

	"pgregory.net/rapid"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// model is a deliberately naive data tree: a map from full path to znode,
// children found by scanning, ZooKeeper's rules written out one by one. The
// property test applies the same random txns to it and to Tree.
type model struct {
	nodes map[string]*mnode
	// eph mirrors DataTree.ephemerals: a session's set lives until its
	// closeSession, even when empty (but not across a snapshot load).
	eph  map[int64]map[string]bool
	size int64 // expected ApproximateDataSize
	zxid int64
}

type mnode struct {
	data []byte
	acl  []proto.ACL
	st   proto.StatPersisted
}

func newModel() *model {
	m := &model{nodes: map[string]*mnode{}, eph: map[int64]map[string]bool{}}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		m.nodes[p] = &mnode{data: []byte{}, acl: proto.OpenACLUnsafe}
	}
	m.nodes["/zookeeper/config"].acl = proto.ReadACLUnsafe
	m.nodes["/zookeeper/config"].st.Aversion = -1
	m.size = 44
	return m
}

func (m *model) clone() *model {
	c := &model{nodes: map[string]*mnode{}, eph: map[int64]map[string]bool{}, size: m.size, zxid: m.zxid}
	for p, n := range m.nodes {
		cp := *n
		c.nodes[p] = &cp
	}
	for s, set := range m.eph {
		c.eph[s] = map[string]bool{}
		for p := range set {
			c.eph[s][p] = true
		}
	}
	return c
}

// utf16Len is Java's String.length().
func utf16Len(s string) int64 { return int64(len(utf16.Encode([]rune(s)))) }

func mparent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

func (m *model) children(p string) []string {
	var out []string
	for q := range m.nodes {
		if q != "/" && mparent(q) == p {
			out = append(out, q[strings.LastIndexByte(q, '/')+1:])
		}
	}
	sort.Strings(out)
	return out
}

func (m *model) paths() []string {
	var out []string
	for p := range m.nodes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (m *model) digest() int64 {
	var sum int64
	for p, n := range m.nodes {
		if strings.HasPrefix(p, "/zookeeper/") {
			continue
		}
		var b bytes.Buffer
		if p != "/" {
			b.WriteString(p)
		}
		b.Write(n.data)
		s := n.st
		for _, v := range []any{s.Czxid, s.Mzxid, s.Pzxid, s.Ctime, s.Mtime, s.Version, s.Cversion, s.Aversion, s.EphemeralOwner} {
			_ = binary.Write(&b, binary.BigEndian, v)
		}
		sum += int64(crc32.ChecksumIEEE(b.Bytes()))
	}
	return sum
}

// The model's versions of DataTree's operations; each returns the error code.

func (m *model) create(p string, data []byte, acl []proto.ACL, owner int64, pcv int32, typ proto.OpCode, zxid, time int64) proto.Code {
	if acl == nil {
		acl = proto.OpenACLUnsafe
	}
	par := m.nodes[mparent(p)]
	if par == nil {
		return proto.ErrNoNode
	}
	if n := m.nodes[p]; n != nil {
		n.acl = acl
		if typ == proto.OpCreate {
			if pcv == -1 {
				pcv = par.st.Cversion + 1
			}
			if pcv > par.st.Cversion {
				par.st.Cversion, par.st.Pzxid = pcv, zxid
			}
		}
		return proto.ErrNodeExists
	}
	if pcv == -1 {
		pcv = par.st.Cversion + 1
	}
	if pcv > par.st.Cversion {
		par.st.Cversion, par.st.Pzxid = pcv, zxid
	}
	m.nodes[p] = &mnode{data: data, acl: acl, st: proto.StatPersisted{
		Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: time, Mtime: time, EphemeralOwner: owner}}
	m.size += utf16Len(p) + int64(len(data))
	if OwnerKind(owner) == Ephemeral {
		if m.eph[owner] == nil {
			m.eph[owner] = map[string]bool{}
		}
		m.eph[owner][p] = true
	}
	return proto.OK
}

func (m *model) delete(p string, zxid int64) proto.Code {
	par := m.nodes[mparent(p)]
	if par == nil {
		return proto.ErrNoNode
	}
	if zxid > par.st.Pzxid {
		par.st.Pzxid = zxid
	}
	n := m.nodes[p]
	if n == nil {
		return proto.ErrNoNode
	}
	delete(m.nodes, p)
	m.size -= utf16Len(p) + int64(len(n.data))
	if set := m.eph[n.st.EphemeralOwner]; set != nil {
		delete(set, p)
	}
	return proto.OK
}

func (m *model) setData(p string, data []byte, version int32, zxid, time int64) proto.Code {
	n := m.nodes[p]
	if n == nil {
		return proto.ErrNoNode
	}
	m.size += int64(len(data) - len(n.data))
	n.data, n.st.Version, n.st.Mzxid, n.st.Mtime = data, version, zxid, time
	return proto.OK
}

func (m *model) setACL(p string, acl []proto.ACL, version int32) proto.Code {
	n := m.nodes[p]
	if n == nil {
		return proto.ErrNoNode
	}
	if acl == nil {
		acl = proto.OpenACLUnsafe
	}
	n.acl, n.st.Aversion = acl, version
	return proto.OK
}

func (m *model) closeSession(s int64, paths []string, hasPaths bool, zxid int64) {
	local := m.eph[s]
	delete(m.eph, s)
	if hasPaths {
		for _, p := range paths {
			m.delete(p, zxid)
			delete(local, p)
		}
	}
	var rest []string
	for p := range local {
		rest = append(rest, p)
	}
	sort.Strings(rest)
	for _, p := range rest {
		m.delete(p, zxid)
	}
}

// reload is what loading a snapshot does to the model.
func (m *model) reload() {
	for s, set := range m.eph {
		if len(set) == 0 {
			delete(m.eph, s)
		}
	}
	m.size = 0
	for p, n := range m.nodes {
		if p == "/" {
			m.size += 1 + 2*int64(len(n.data))
		} else {
			m.size += utf16Len(p) + int64(len(n.data))
		}
	}
}

var (
	modelACLs = [][]proto.ACL{
		nil,
		proto.OpenACLUnsafe,
		proto.ReadACLUnsafe,
		{{Perms: proto.PermAll, ID: proto.ID{Scheme: "digest", ID: "u:x"}}},
		{{Perms: proto.PermRead, ID: proto.ID{Scheme: "world", ID: "anyone"}}, {Perms: proto.PermAll, ID: proto.ID{Scheme: "ip", ID: "127.0.0.1"}}},
		{},
	}
	modelNames = []string{"a", "b", "c", "zz", "lock-0000000001", "ü"}
)

// drawOp draws a txn against m and applies it to m. allowReplay allows what
// only replays over fuzzy snapshots produce (creating an existing znode,
// deleting a missing one, parent cversions at or below the current one) and
// setACL; without it the op is one a multi can hold.
func drawOp(t *rapid.T, m *model, zxid, time int64, client int64, allowReplay bool) txn.Op {
	paths := m.paths()
	switch rapid.IntRange(0, 9).Draw(t, "kind") {
	case 0, 1, 2, 3: // create
		parent := rapid.SampledFrom(paths).Draw(t, "parent")
		// Quota bookkeeping is checked against Apache instead; ephemerals
		// cannot have children (the server refuses with -108).
		if strings.HasPrefix(parent, "/zookeeper/quota") || OwnerKind(m.nodes[parent].st.EphemeralOwner) == Ephemeral {
			parent = "/"
		}
		name := rapid.SampledFrom(modelNames).Draw(t, "name")
		p := strings.TrimSuffix(parent, "/") + "/" + name
		if !allowReplay && m.nodes[p] != nil {
			p += "x"
			if m.nodes[p] != nil {
				return txn.Op{Type: proto.OpCheck, Body: &txn.CheckVersion{Path: p, Version: 1}}
			}
		}
		data := rapid.SampledFrom([][]byte{nil, {}, []byte("d"), bytes.Repeat([]byte{7}, 40)}).Draw(t, "data")
		acl := rapid.SampledFrom(modelACLs).Draw(t, "acl")
		pcv := int32(-1)
		if allowReplay && rapid.Bool().Draw(t, "explicit pcv") {
			if par := m.nodes[mparent(p)]; par != nil {
				pcv = par.st.Cversion + int32(rapid.IntRange(-1, 2).Draw(t, "pcv delta"))
			}
		}
		var op txn.Op
		var owner int64
		switch rapid.IntRange(0, 4).Draw(t, "mode") {
		case 0:
			op = txn.Op{Type: proto.OpCreate, Body: &txn.Create{Path: p, Data: data, ACL: acl, ParentCVersion: pcv}}
		case 1:
			op = txn.Op{Type: proto.OpCreate2, Body: &txn.Create{Path: p, Data: data, ACL: acl, Ephemeral: true, ParentCVersion: pcv}}
			owner = client
		case 2:
			op = txn.Op{Type: proto.OpCreateContainer, Body: &txn.CreateContainer{Path: p, Data: data, ACL: acl, ParentCVersion: pcv}}
			owner = ContainerOwner
		case 3:
			ttl := rapid.Int64Range(1, 5000).Draw(t, "ttl")
			op = txn.Op{Type: proto.OpCreateTTL, Body: &txn.CreateTTL{Path: p, Data: data, ACL: acl, ParentCVersion: pcv, TTL: ttl}}
			owner, _ = TTLOwner(ttl)
		default:
			op = txn.Op{Type: proto.OpCreate, Body: &txn.Create{Path: p, Data: data, ACL: acl, ParentCVersion: pcv}}
		}
		m.create(p, data, acl, owner, pcv, op.Type, zxid, time)
		return op
	case 4, 5: // delete a leaf, or (replaying) a missing child
		var leaves []string
		for _, p := range paths {
			if p != "/" && !strings.HasPrefix(p, "/zookeeper") && len(m.children(p)) == 0 {
				leaves = append(leaves, p)
			}
		}
		if allowReplay {
			leaves = append(leaves, "/missing", "/a/missing")
		}
		if len(leaves) == 0 {
			return txn.Op{Type: proto.OpCheck, Body: &txn.CheckVersion{Path: "/", Version: 1}}
		}
		p := rapid.SampledFrom(leaves).Draw(t, "leaf")
		m.delete(p, zxid)
		typ := rapid.SampledFrom([]proto.OpCode{proto.OpDelete, proto.OpDeleteContainer}).Draw(t, "delete type")
		return txn.Op{Type: typ, Body: &txn.Delete{Path: p}}
	case 6, 7:
		p := rapid.SampledFrom(paths).Draw(t, "setData path")
		data := rapid.SampledFrom([][]byte{nil, []byte("x"), []byte("longer value")}).Draw(t, "new data")
		v := m.nodes[p].st.Version + 1
		m.setData(p, data, v, zxid, time)
		return txn.Op{Type: proto.OpSetData, Body: &txn.SetData{Path: p, Data: data, Version: v}}
	case 8:
		p := rapid.SampledFrom(paths).Draw(t, "setACL path")
		if !allowReplay { // multi cannot hold setACL
			return txn.Op{Type: proto.OpCheck, Body: &txn.CheckVersion{Path: p, Version: m.nodes[p].st.Version + 1}}
		}
		acl := rapid.SampledFrom(modelACLs).Draw(t, "new acl")
		v := m.nodes[p].st.Aversion + 1
		m.setACL(p, acl, v)
		return txn.Op{Type: proto.OpSetACL, Body: &txn.SetACL{Path: p, ACL: acl, Version: v}}
	default:
		p := rapid.SampledFrom(paths).Draw(t, "check path")
		return txn.Op{Type: proto.OpCheck, Body: &txn.CheckVersion{Path: p, Version: m.nodes[p].st.Version + 1}}
	}
}

type treeMachine struct {
	tr *Tree
	m  *model
}

func (s *treeMachine) next() (zxid, time int64) {
	s.m.zxid++
	return s.m.zxid, 1_000_000 + s.m.zxid*10
}

func (s *treeMachine) apply(t *rapid.T, tx *txn.Txn, wantErr proto.Code) Result {
	r := s.tr.Apply(tx)
	if r.Err != wantErr {
		t.Fatalf("%s at %#x: err %v, model %v", tx.Header.Type, tx.Header.Zxid, r.Err, wantErr)
	}
	return r
}

func (s *treeMachine) single(t *rapid.T) {
	zxid, time := s.next()
	client := rapid.Int64Range(1, 3).Draw(t, "client")
	before := s.m.clone()
	op := drawOp(t, s.m, zxid, time, client, true)
	// Recompute the expected error on the untouched copy.
	want := expectedErr(before, op, zxid, time, client)
	r := s.apply(t, &txn.Txn{Header: txn.Header{ClientID: client, Zxid: zxid, Time: time, Type: op.Type}, Body: op.Body}, want)
	if want == proto.OK && r.Stat != nil {
		path := r.Path
		if got, exp := *r.Stat, s.tr.Get(path).ClientStat(); op.Type != proto.OpSetData && op.Type != proto.OpSetACL && got != exp {
			t.Fatalf("result stat %+v, node now %+v", got, exp)
		}
	}
}

// expectedErr replays op on a copy of the model to get its error code.
func expectedErr(m *model, op txn.Op, zxid, time, client int64) proto.Code {
	switch b := op.Body.(type) {
	case *txn.Create:
		var owner int64
		if b.Ephemeral {
			owner = client
		}
		return m.create(b.Path, b.Data, b.ACL, owner, b.ParentCVersion, op.Type, zxid, time)
	case *txn.CreateContainer:
		return m.create(b.Path, b.Data, b.ACL, ContainerOwner, b.ParentCVersion, op.Type, zxid, time)
	case *txn.CreateTTL:
		o, _ := TTLOwner(b.TTL)
		return m.create(b.Path, b.Data, b.ACL, o, b.ParentCVersion, op.Type, zxid, time)
	case *txn.Delete:
		return m.delete(b.Path, zxid)
	case *txn.SetData:
		return m.setData(b.Path, b.Data, b.Version, zxid, time)
	case *txn.SetACL:
		return m.setACL(b.Path, b.ACL, b.Version)
	}
	return proto.OK
}

func (s *treeMachine) multi(t *rapid.T) {
	zxid, time := s.next()
	client := rapid.Int64Range(1, 3).Draw(t, "client")
	n := rapid.IntRange(1, 4).Draw(t, "ops")
	fail := rapid.Bool().Draw(t, "failed multi")
	trial := s.m.clone()
	var ops []txn.Op
	for i := 0; i < n; i++ {
		ops = append(ops, drawOp(t, trial, zxid, time, client, false))
	}
	failAt := -1
	if fail {
		failAt = rapid.IntRange(0, n-1).Draw(t, "fail at")
		ops[failAt] = txn.Op{Type: proto.OpError, Body: &txn.Error{Err: proto.ErrBadVersion}}
		for i := failAt + 1; i < n; i++ {
			ops[i] = txn.Op{Type: proto.OpError, Body: &txn.Error{Err: proto.ErrRuntimeInconsistency}}
		}
	} else {
		s.m = trial
	}
	want := proto.OK
	if fail {
		want = proto.ErrBadVersion
	}
	r := s.apply(t, &txn.Txn{Header: txn.Header{ClientID: client, Zxid: zxid, Time: time, Type: proto.OpMulti},
		Body: &txn.Multi{Ops: ops}}, want)
	if len(r.Multi) != n {
		t.Fatalf("%d sub-results for %d ops", len(r.Multi), n)
	}
	for i, sub := range r.Multi {
		switch {
		case !fail:
			if sub.Err != proto.OK || sub.Type != ops[i].Type {
				t.Fatalf("sub %d: %s %v", i, sub.Type, sub.Err)
			}
		case i < failAt:
			if sub.Type != proto.OpError || sub.Err != proto.OK {
				t.Fatalf("sub %d before failure: %s %v", i, sub.Type, sub.Err)
			}
		case i == failAt:
			if sub.Err != proto.ErrBadVersion {
				t.Fatalf("failing sub %d: %v", i, sub.Err)
			}
		default:
			if sub.Err != proto.ErrRuntimeInconsistency {
				t.Fatalf("sub %d after failure: %v", i, sub.Err)
			}
		}
	}
	if fail && len(r.Events) != 0 {
		t.Fatalf("failed multi fired %v", r.Events)
	}
}

func (s *treeMachine) closeSession(t *rapid.T) {
	zxid, _ := s.next()
	session := rapid.Int64Range(1, 3).Draw(t, "session")
	var paths []string
	for p := range s.m.eph[session] {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	hasPaths := rapid.Bool().Draw(t, "paths in txn")
	if !hasPaths {
		paths = nil
	}
	before := len(s.m.eph[session])
	s.m.closeSession(session, paths, hasPaths, zxid)
	r := s.apply(t, &txn.Txn{Header: txn.Header{ClientID: session, Zxid: zxid, Type: proto.OpCloseSession},
		Body: &txn.CloseSession{Paths: paths, HasPaths: hasPaths}}, proto.OK)
	deleted := 0
	for _, e := range r.Events {
		if e.Type == proto.EventNodeDeleted {
			deleted++
		}
	}
	if deleted != before {
		t.Fatalf("closeSession deleted %d znodes, session had %d", deleted, before)
	}
}

func (s *treeMachine) other(t *rapid.T) {
	zxid, _ := s.next()
	switch rapid.IntRange(0, 2).Draw(t, "other") {
	case 0:
		s.apply(t, &txn.Txn{Header: txn.Header{ClientID: 9, Zxid: zxid, Type: proto.OpCreateSession},
			Body: &txn.CreateSession{TimeOut: 3000}}, proto.OK)
	case 1:
		s.apply(t, &txn.Txn{Header: txn.Header{ClientID: 9, Zxid: zxid, Type: proto.OpError},
			Body: &txn.Error{Err: proto.ErrNodeExists}}, proto.ErrNodeExists)
	default:
		r := s.apply(t, &txn.Txn{Header: txn.Header{Zxid: zxid, Type: proto.OpSetACL},
			Body: &txn.SetACL{Path: "/nope", Version: 1}}, proto.ErrNoNode)
		if r.Stat != nil {
			t.Fatal("stat on failed setACL")
		}
	}
}

// reload writes a snapshot, loads it back and carries on with the loaded tree.
func (s *treeMachine) reload(t *rapid.T) {
	b1 := serializeTree(s.tr)
	t2, err := Deserialize(jute.NewDecoder(b1, 0))
	if err != nil {
		t.Fatal(err)
	}
	t2.SetLastZxid(s.tr.LastZxid())
	b2 := serializeTree(t2)
	// Sibling order may change once (Java sets start small again), then it is stable.
	t3, err := Deserialize(jute.NewDecoder(b2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if b3 := serializeTree(t3); !bytes.Equal(b2, b3) {
		t.Fatal("snapshot of a loaded snapshot is not stable")
	}
	if !sameRecords(b1, b2) {
		t.Fatal("reloaded tree holds different znodes")
	}
	s.tr = t2
	s.m.reload()
}

// sameRecords compares two tree sections as sets of znode records. The data
// of quota stats znodes is left out: loading a snapshot recounts them.
func sameRecords(a, b []byte) bool {
	recs := func(x []byte) []string {
		d := jute.NewDecoder(x, 0)
		n := d.Int()
		for i := int32(0); i < n; i++ {
			d.Long()
			proto.DecodeACLs(d)
		}
		var out []string
		for {
			p := d.String()
			if p == "/" || d.Err() != nil {
				break
			}
			data := d.Buffer()
			start := d.Offset()
			d.Long()
			var st proto.StatPersisted
			st.Decode(d)
			if !strings.HasSuffix(p, "/"+statNode) {
				p += "\x00" + string(data)
			}
			out = append(out, p+"\x00"+string(x[start:d.Offset()]))
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(recs(a), recs(b))
}

func (s *treeMachine) check(t *rapid.T) {
	tr, m := s.tr, s.m
	count := 0
	tr.Walk("/", func(p string, n *Node) bool {
		count++
		mn := m.nodes[p]
		if mn == nil {
			t.Fatalf("tree has %s, model does not", p)
		}
		if n.Stat != mn.st {
			t.Fatalf("%s: stat %+v, model %+v", p, n.Stat, mn.st)
		}
		if !bytes.Equal(n.Data, mn.data) || (n.Data == nil) != (mn.data == nil) {
			t.Fatalf("%s: data %q, model %q", p, n.Data, mn.data)
		}
		if !slices.Equal(n.ACL, mn.acl) {
			t.Fatalf("%s: acl %v, model %v", p, n.ACL, mn.acl)
		}
		kids := m.children(p)
		if got := tr.Children(p); !slices.Equal(got, kids) && !(len(got) == 0 && len(kids) == 0) {
			t.Fatalf("%s: children %v, model %v", p, got, kids)
		}
		cs := n.ClientStat()
		if cs.NumChildren != int32(len(kids)) || cs.Cversion != mn.st.Cversion*2-int32(len(kids)) || cs.DataLength != int32(len(mn.data)) {
			t.Fatalf("%s: client stat %+v", p, cs)
		}
		if k := OwnerKind(mn.st.EphemeralOwner); (k == Ephemeral) != (cs.EphemeralOwner != 0) {
			t.Fatalf("%s: client ephemeralOwner %#x for owner %#x", p, cs.EphemeralOwner, mn.st.EphemeralOwner)
		}
		return true
	})
	if count != len(m.nodes) || tr.NodeCount() != count+1 || tr.CountDescendants("/") != count-1 {
		t.Fatalf("tree has %d znodes (NodeCount %d), model %d", count, tr.NodeCount(), len(m.nodes))
	}
	if d := m.digest(); tr.Digest() != d || tr.RecomputeDigest() != d {
		t.Fatalf("digest %d (recomputed %d), model %d", tr.Digest(), tr.RecomputeDigest(), d)
	}
	if tr.ApproximateDataSize() != m.size {
		t.Fatalf("approximate data size %d, model %d", tr.ApproximateDataSize(), m.size)
	}
	sessions := tr.EphemeralSessions()
	if len(sessions) != len(m.eph) {
		t.Fatalf("sessions with ephemerals %v, model %v", sessions, m.eph)
	}
	total := 0
	for sess, set := range m.eph {
		var want []string
		for p := range set {
			want = append(want, p)
		}
		sort.Strings(want)
		if got := tr.Ephemerals(sess); !slices.Equal(got, want) || sessions[sess] != len(want) {
			t.Fatalf("Ephemerals(%d) = %v, model %v", sess, got, want)
		}
		total += len(want)
	}
	if tr.EphemeralCount() != total {
		t.Fatalf("EphemeralCount %d, model %d", tr.EphemeralCount(), total)
	}
	var containers, ttls []string
	now := 1_000_000 + m.zxid*10
	for _, p := range m.paths() {
		n := m.nodes[p]
		empty := len(m.children(p)) == 0
		switch OwnerKind(n.st.EphemeralOwner) {
		case Container:
			if empty && n.st.Cversion > 0 {
				containers = append(containers, p)
			}
		case TTL:
			if empty && now-n.st.Mtime > OwnerTTL(n.st.EphemeralOwner) {
				ttls = append(ttls, p)
			}
		}
	}
	if got := tr.Containers(); !slices.Equal(got, containers) {
		t.Fatalf("Containers %v, model %v", got, containers)
	}
	if got := tr.ExpiredTTLs(now); !slices.Equal(got, ttls) {
		t.Fatalf("ExpiredTTLs %v, model %v", got, ttls)
	}
	if tr.LastZxid() != m.zxid {
		t.Fatalf("LastZxid %d, model %d", tr.LastZxid(), m.zxid)
	}
}

// Random txn sequences (including fuzzy-snapshot replays, failed multis,
// session closes and snapshot reloads) leave Tree and the naive model in the
// same state: stats, data, ACLs, children, ephemerals, containers, TTLs,
// sizes and digest, the incremental digest equal to one computed from scratch.
func TestTreeMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &treeMachine{tr: New(), m: newModel()}
		t.Repeat(map[string]func(*rapid.T){
			"single":       s.single,
			"multi":        s.multi,
			"closeSession": s.closeSession,
			"other":        s.other,
			"reload":       s.reload,
			"":             s.check,
		})
	})
}
