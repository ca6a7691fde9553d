package txn

import (
	"reflect"
	"testing"

	"github.com/zkd/zkd/internal/proto"
)

func sampleTxns() []*Txn {
	h := func(typ proto.OpCode) Header {
		return Header{ClientID: 0x1000005, Cxid: 7, Zxid: 0x100000002, Time: 1700000000000, Type: typ}
	}
	acl := proto.OpenACLUnsafe
	return []*Txn{
		{Header: h(proto.OpCreateSession), Body: &CreateSession{TimeOut: 30000}},
		{Header: h(proto.OpCloseSession), Body: &CloseSession{Paths: []string{"/e"}, HasPaths: true}, Digest: &Digest{Version: 2, TreeDigest: 42}},
		{Header: h(proto.OpError), Body: &Error{Err: proto.ErrNoNode}},
		{Header: h(proto.OpCreate), Body: &Create{Path: "/a", Data: []byte("x"), ACL: acl, Ephemeral: true, ParentCVersion: 3}, Digest: &Digest{Version: 2, TreeDigest: -5}},
		{Header: h(proto.OpCreate2), Body: &Create{Path: "/b", ACL: acl, ParentCVersion: 1}},
		{Header: h(proto.OpCreateContainer), Body: &CreateContainer{Path: "/c", Data: []byte{}, ACL: acl, ParentCVersion: 2}},
		{Header: h(proto.OpCreateTTL), Body: &CreateTTL{Path: "/t", ACL: acl, ParentCVersion: 2, TTL: 60000}},
		{Header: h(proto.OpDelete), Body: &Delete{Path: "/a"}},
		{Header: h(proto.OpSetData), Body: &SetData{Path: "/a", Data: []byte("y"), Version: 4}},
		{Header: h(proto.OpSetACL), Body: &SetACL{Path: "/a", ACL: acl, Version: 1}},
		{Header: h(proto.OpMulti), Body: &Multi{Ops: []Op{
			{Type: proto.OpCreate, Body: &Create{Path: "/m", ACL: acl, ParentCVersion: 1}},
			{Type: proto.OpCheck, Body: &CheckVersion{Path: "/m", Version: 1}},
			{Type: proto.OpError, Body: &Error{Err: proto.ErrRuntimeInconsistency}},
		}}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, in := range sampleTxns() {
		out, err := Unmarshal(Marshal(in), 0)
		if err != nil {
			t.Fatalf("%s: %v", in.Header.Type, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("%s: round trip\n got %#v\nwant %#v", in.Header.Type, out, in)
		}
	}
}

// Old logs (before ZOOKEEPER-3145) have closeSession without a body, and
// CreateTxnV0 without parentCVersion.
func TestOldLayouts(t *testing.T) {
	in := &Txn{Header: Header{Zxid: 1, Type: proto.OpCloseSession}, Body: &CloseSession{}}
	out, err := Unmarshal(Marshal(in), 0)
	if err != nil || out.Body.(*CloseSession).HasPaths {
		t.Fatalf("closeSession without body: %+v %v", out, err)
	}
	full := Marshal(&Txn{Header: Header{Type: proto.OpCreate}, Body: &Create{Path: "/v0", ACL: proto.OpenACLUnsafe, ParentCVersion: 9}})
	v0 := full[:len(full)-4]
	out, err = Unmarshal(v0, 0)
	if err != nil || out.Body.(*Create).ParentCVersion != -1 {
		t.Fatalf("CreateTxnV0: %+v %v", out, err)
	}
}

// closeSession without a body but with a digest, as ZooKeeper writes it with
// zookeeper.closeSessionTxn.enabled=false.
func TestCloseSessionWithoutBodyWithDigest(t *testing.T) {
	in := &Txn{Header: Header{Zxid: 3, Type: proto.OpCloseSession}, Body: &CloseSession{}, Digest: &Digest{Version: 2, TreeDigest: 77}}
	out, err := Unmarshal(Marshal(in), 0)
	if err != nil || out.Body.(*CloseSession).HasPaths || out.Digest == nil || out.Digest.TreeDigest != 77 {
		t.Fatalf("got %+v %v", out, err)
	}
}

func TestNestedMultiRefused(t *testing.T) {
	in := &Txn{Header: Header{Type: proto.OpMulti}, Body: &Multi{Ops: []Op{{Type: proto.OpMulti, Body: &Multi{}}}}}
	if _, err := Unmarshal(Marshal(in), 0); err == nil {
		t.Fatal("nested multi decoded")
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, t := range sampleTxns() {
		f.Add(Marshal(t))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := Unmarshal(b, 1<<16)
		if err != nil {
			return
		}
		again, err := Unmarshal(Marshal(tx), 1<<20)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", tx.Header.Type, err)
		}
		if again.Header != tx.Header {
			t.Fatalf("header changed: %+v -> %+v", tx.Header, again.Header)
		}
	})
}
