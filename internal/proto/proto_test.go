package proto

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/zkd/zkd/internal/jute"
)

// Bytes observed on the wire between Apache ZooKeeper 3.8's Java client and
// server (shared/protocol/client.md): a ConnectRequest with readOnly is 45
// bytes, a ConnectResponse 37.
func TestConnectSizes(t *testing.T) {
	req := ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}
	if n := len(jute.Marshal(&req)); n != 45 {
		t.Fatalf("ConnectRequest is %d bytes, want 45", n)
	}
	req.HasReadOnly = false
	b := jute.Marshal(&req)
	if len(b) != 44 {
		t.Fatalf("old ConnectRequest is %d bytes, want 44", len(b))
	}
	var back ConnectRequest
	if err := jute.Unmarshal(b, 0, &back); err != nil || back.HasReadOnly {
		t.Fatalf("old client request decoded as %+v (%v)", back, err)
	}
	resp := ConnectResponse{TimeOut: 30000, SessionID: 0x1000005, Passwd: make([]byte, 16)}
	if n := len(jute.Marshal(&resp)); n != 37 {
		t.Fatalf("ConnectResponse is %d bytes, want 37", n)
	}
	resp.OmitReadOnly = true
	if n := len(jute.Marshal(&resp)); n != 36 {
		t.Fatalf("old ConnectResponse is %d bytes, want 36", n)
	}
}

func TestStatIs68Bytes(t *testing.T) {
	if n := len(jute.Marshal(&StatResponse{})); n != 68 {
		t.Fatalf("Stat is %d bytes", n)
	}
	if n := len(jute.Marshal(&StatPersisted{})); n != 60 {
		t.Fatalf("StatPersisted is %d bytes", n)
	}
}

// A multi request as the Java client writes it: create /a, delete /b, end.
func TestMultiRequestBytes(t *testing.T) {
	mr := MultiRequest{Ops: []MultiOp{
		{Type: OpCreate, Create: &CreateRequest{Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe}},
		{Type: OpDelete, Version: &PathVersionRequest{Path: "/b", Version: -1}},
	}}
	got := hex.EncodeToString(jute.Marshal(&mr))
	want := "" +
		"00000001" + "00" + "ffffffff" + // MultiHeader{create, false, -1}
		"000000022f61" + "0000000178" + "00000001" + "0000001f" + "00000005776f726c64" + "00000006616e796f6e65" + "00000000" +
		"00000002" + "00" + "ffffffff" + "000000022f62" + "ffffffff" +
		"ffffffff" + "01" + "ffffffff"
	if got != want {
		t.Fatalf("multi bytes\n got %s\nwant %s", got, want)
	}
	var back MultiRequest
	if err := jute.Unmarshal(jute.Marshal(&mr), 0, &back); err != nil || len(back.Ops) != 2 || back.Ops[1].Path() != "/b" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestMultiResponseRoundTrip(t *testing.T) {
	in := MultiResponse{Results: []OpResult{
		{Type: OpCreate, Path: "/a"},
		{Type: OpCreate2, Path: "/b", Stat: Stat{Czxid: 5, NumChildren: 1}},
		{Type: OpDelete},
		{Type: OpSetData, Stat: Stat{Version: 3}},
		{Type: OpCheck},
		{Type: OpError, Err: ErrNoNode},
		{Type: OpGetData, Data: []byte("d"), Stat: Stat{DataLength: 1}},
		{Type: OpGetChildren, Children: []string{"x", "y"}},
	}}
	var out MultiResponse
	if err := jute.Unmarshal(jute.Marshal(&in), 0, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != len(in.Results) {
		t.Fatalf("got %d results", len(out.Results))
	}
	for i := range in.Results {
		a, b := in.Results[i], out.Results[i]
		if a.Type != b.Type || a.Err != b.Err || a.Path != b.Path || a.Stat != b.Stat || !bytes.Equal(a.Data, b.Data) || len(a.Children) != len(b.Children) {
			t.Fatalf("result %d: %+v != %+v", i, b, a)
		}
	}
}

func TestMultiRejectsUnknownOp(t *testing.T) {
	e := jute.NewEncoder(nil)
	(&MultiHeader{Type: OpGetACL, Err: -1}).Encode(e)
	var mr MultiRequest
	if err := jute.Unmarshal(e.Bytes(), 0, &mr); err == nil {
		t.Fatal("getACL inside multi decoded")
	}
}

// requestRecords lists an empty record for every request body, so that the
// fuzzer reaches every decoder.
func requestRecords() []jute.Record {
	return []jute.Record{
		&ConnectRequest{}, &ConnectResponse{}, &RequestHeader{}, &ReplyHeader{}, &WatcherEvent{},
		&CreateRequest{}, &CreateTTLRequest{}, &PathVersionRequest{}, &PathWatchRequest{}, &PathRequest{},
		&SetDataRequest{}, &SetACLRequest{}, &ReconfigRequest{}, &PathTypeRequest{}, &AuthPacket{},
		&SetWatches{}, &SetWatches{Version2: true}, &MultiRequest{}, &MultiResponse{}, &StatResponse{},
		&Create2Response{}, &GetDataResponse{}, &GetACLResponse{}, &ChildrenResponse{WithStat: true},
		&IntResponse{}, &WhoAmIResponse{}, &StatPersisted{},
	}
}

func FuzzDecodeRecords(f *testing.F) {
	for _, r := range requestRecords() {
		f.Add(jute.Marshal(r))
	}
	f.Add(jute.Marshal(&MultiRequest{Ops: []MultiOp{{Type: OpCheck, Version: &PathVersionRequest{Path: "/x"}}}}))
	f.Add(jute.Marshal(&SetWatches{RelativeZxid: 9, DataWatches: []string{"/a"}, Version2: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range requestRecords() {
			d := jute.NewDecoder(b, 1<<16)
			r.Decode(d)
			if d.Err() == nil {
				// What decodes must encode back to a decodable record.
				again := jute.Marshal(r)
				d2 := jute.NewDecoder(again, 1<<20)
				r.Decode(d2)
				if d2.Err() != nil {
					t.Fatalf("%T re-decode: %v", r, d2.Err())
				}
			}
		}
	})
}
