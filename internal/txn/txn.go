package txn

import (
	"errors"
	"fmt"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

var (
	// ErrUnknownType means an entry carries a txn type this package cannot decode.
	ErrUnknownType = errors.New("txn: unknown txn type")
	// ErrNestedMulti means a multi txn holds another multi.
	ErrNestedMulti = errors.New("txn: multi inside multi")
)

// DigestVersion is the TxnDigest/tree digest version ZooKeeper 3.6+ writes.
const DigestVersion = 2

// Header is ZooKeeper's TxnHeader (32 bytes).
type Header struct {
	ClientID int64 // session id, 0 for server-generated txns
	Cxid     int32 // client xid
	Zxid     int64
	Time     int64 // leader wall clock, ms since the epoch
	Type     proto.OpCode
}

// Encode writes the header.
func (h *Header) Encode(e *jute.Encoder) {
	e.Long(h.ClientID)
	e.Int(h.Cxid)
	e.Long(h.Zxid)
	e.Long(h.Time)
	e.Int(int32(h.Type))
}

// Decode reads the header.
func (h *Header) Decode(d *jute.Decoder) {
	h.ClientID = d.Long()
	h.Cxid = d.Int()
	h.Zxid = d.Long()
	h.Time = d.Long()
	h.Type = proto.OpCode(d.Int())
}

// Body is a txn body record.
type Body interface {
	jute.Record
}

// CreateSession is CreateSessionTxn.
type CreateSession struct{ TimeOut int32 }

// CloseSession is CloseSessionTxn; Paths lists the ephemerals to delete.
// Old logs omit the body: HasPaths is false then.
type CloseSession struct {
	Paths    []string
	HasPaths bool
}

// Error is ErrorTxn, written for a failed write.
type Error struct{ Err proto.Code }

// Create is CreateTxn (types create and create2). ParentCVersion is the
// parent's new stored cversion (-1 in the old V0 layout).
type Create struct {
	Path           string
	Data           []byte
	ACL            []proto.ACL
	Ephemeral      bool
	ParentCVersion int32
}

// CreateContainer is CreateContainerTxn.
type CreateContainer struct {
	Path           string
	Data           []byte
	ACL            []proto.ACL
	ParentCVersion int32
}

// CreateTTL is CreateTTLTxn.
type CreateTTL struct {
	Path           string
	Data           []byte
	ACL            []proto.ACL
	ParentCVersion int32
	TTL            int64
}

// Delete is DeleteTxn (types delete and deleteContainer).
type Delete struct{ Path string }

// SetData is SetDataTxn (also reconfig); Version is the node's new version.
type SetData struct {
	Path    string
	Data    []byte
	Version int32
}

// SetACL is SetACLTxn; Version is the node's new aversion.
type SetACL struct {
	Path    string
	ACL     []proto.ACL
	Version int32
}

// CheckVersion is CheckVersionTxn, only inside a multi.
type CheckVersion struct {
	Path    string
	Version int32
}

// Op is one sub-txn of a multi.
type Op struct {
	Type proto.OpCode
	Body Body
}

// Multi is MultiTxn.
type Multi struct{ Ops []Op }

// Digest is TxnDigest: the whole-tree digest expected after applying the txn.
type Digest struct {
	Version    int32
	TreeDigest int64
}

func (b *CreateSession) Encode(e *jute.Encoder) { e.Int(b.TimeOut) }
func (b *CreateSession) Decode(d *jute.Decoder) { b.TimeOut = d.Int() }

func (b *CloseSession) Encode(e *jute.Encoder) {
	if b.HasPaths {
		e.Strings(b.Paths)
	}
}

// Decode reads CloseSessionTxn. ZooKeeper leaves the body out when
// zookeeper.closeSessionTxn.enabled=false or in old logs; what remains is
// then nothing or just the 12-byte TxnDigest (version 2 first), which no
// real path list can look like (two empty paths).
func (b *CloseSession) Decode(d *jute.Decoder) {
	if d.Remaining() == 0 || d.Remaining() == 12 && d.PeekInt() == DigestVersion {
		return
	}
	b.Paths = d.Strings()
	b.HasPaths = true
}

func (b *Error) Encode(e *jute.Encoder) { e.Int(int32(b.Err)) }
func (b *Error) Decode(d *jute.Decoder) { b.Err = proto.Code(d.Int()) }

func (b *Create) Encode(e *jute.Encoder) {
	e.String(b.Path)
	e.Buffer(b.Data)
	proto.EncodeACLs(e, b.ACL)
	e.Bool(b.Ephemeral)
	e.Int(b.ParentCVersion)
}

// Decode reads CreateTxn, accepting the V0 layout without parentCVersion.
func (b *Create) Decode(d *jute.Decoder) {
	b.Path = d.String()
	b.Data = d.Buffer()
	b.ACL = proto.DecodeACLs(d)
	b.Ephemeral = d.Bool()
	b.ParentCVersion = -1
	if d.Err() == nil && d.Remaining() >= 4 {
		b.ParentCVersion = d.Int()
	}
}

func (b *CreateContainer) Encode(e *jute.Encoder) {
	e.String(b.Path)
	e.Buffer(b.Data)
	proto.EncodeACLs(e, b.ACL)
	e.Int(b.ParentCVersion)
}
func (b *CreateContainer) Decode(d *jute.Decoder) {
	b.Path = d.String()
	b.Data = d.Buffer()
	b.ACL = proto.DecodeACLs(d)
	b.ParentCVersion = d.Int()
}

func (b *CreateTTL) Encode(e *jute.Encoder) {
	e.String(b.Path)
	e.Buffer(b.Data)
	proto.EncodeACLs(e, b.ACL)
	e.Int(b.ParentCVersion)
	e.Long(b.TTL)
}
func (b *CreateTTL) Decode(d *jute.Decoder) {
	b.Path = d.String()
	b.Data = d.Buffer()
	b.ACL = proto.DecodeACLs(d)
	b.ParentCVersion = d.Int()
	b.TTL = d.Long()
}

func (b *Delete) Encode(e *jute.Encoder) { e.String(b.Path) }
func (b *Delete) Decode(d *jute.Decoder) { b.Path = d.String() }

func (b *SetData) Encode(e *jute.Encoder) { e.String(b.Path); e.Buffer(b.Data); e.Int(b.Version) }
func (b *SetData) Decode(d *jute.Decoder) {
	b.Path = d.String()
	b.Data = d.Buffer()
	b.Version = d.Int()
}

func (b *SetACL) Encode(e *jute.Encoder) {
	e.String(b.Path)
	proto.EncodeACLs(e, b.ACL)
	e.Int(b.Version)
}
func (b *SetACL) Decode(d *jute.Decoder) {
	b.Path = d.String()
	b.ACL = proto.DecodeACLs(d)
	b.Version = d.Int()
}

func (b *CheckVersion) Encode(e *jute.Encoder) { e.String(b.Path); e.Int(b.Version) }
func (b *CheckVersion) Decode(d *jute.Decoder) { b.Path = d.String(); b.Version = d.Int() }

func (b *Multi) Encode(e *jute.Encoder) {
	e.Int(int32(len(b.Ops)))
	var sub jute.Encoder
	for _, op := range b.Ops {
		e.Int(int32(op.Type))
		sub.Reset()
		if op.Body != nil {
			op.Body.Encode(&sub)
		}
		e.Buffer(sub.Bytes())
	}
}

func (b *Multi) Decode(d *jute.Decoder) {
	n := d.VectorLen(8)
	if n < 0 {
		return
	}
	b.Ops = make([]Op, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		typ := proto.OpCode(d.Int())
		data := d.Buffer()
		if d.Err() != nil {
			return
		}
		if typ == proto.OpMulti {
			d.Fail(ErrNestedMulti)
			return
		}
		body, err := decodeBody(typ, data, d.Max())
		if err != nil {
			d.Fail(err)
			return
		}
		b.Ops = append(b.Ops, Op{Type: typ, Body: body})
	}
}

func (g *Digest) Encode(e *jute.Encoder) { e.Int(g.Version); e.Long(g.TreeDigest) }
func (g *Digest) Decode(d *jute.Decoder) { g.Version = d.Int(); g.TreeDigest = d.Long() }

// NewBody returns an empty body for a txn type, or nil for types with no body.
func NewBody(typ proto.OpCode) (Body, error) {
	switch typ {
	case proto.OpCreateSession:
		return &CreateSession{}, nil
	case proto.OpCloseSession:
		return &CloseSession{}, nil
	case proto.OpError:
		return &Error{}, nil
	case proto.OpCreate, proto.OpCreate2:
		return &Create{}, nil
	case proto.OpCreateContainer:
		return &CreateContainer{}, nil
	case proto.OpCreateTTL:
		return &CreateTTL{}, nil
	case proto.OpDelete, proto.OpDeleteContainer:
		return &Delete{}, nil
	case proto.OpSetData, proto.OpReconfig:
		return &SetData{}, nil
	case proto.OpSetACL:
		return &SetACL{}, nil
	case proto.OpCheck:
		return &CheckVersion{}, nil
	case proto.OpMulti:
		return &Multi{}, nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownType, int32(typ))
}

func decodeBody(typ proto.OpCode, data []byte, max int) (Body, error) {
	body, err := NewBody(typ)
	if err != nil {
		return nil, err
	}
	d := jute.NewDecoder(data, max)
	body.Decode(d)
	if d.Err() != nil {
		return nil, fmt.Errorf("txn: %s body: %w", typ, d.Err())
	}
	return body, nil
}

// Txn is a whole log entry.
type Txn struct {
	Header Header
	Body   Body
	Digest *Digest // nil when the entry carries none
}

// Encode appends the entry bytes (header, body, digest).
func (t *Txn) Encode(e *jute.Encoder) {
	t.Header.Encode(e)
	if t.Body != nil {
		t.Body.Encode(e)
	}
	if t.Digest != nil {
		t.Digest.Encode(e)
	}
}

// Marshal returns the entry bytes.
func Marshal(t *Txn) []byte {
	e := jute.NewEncoder(make([]byte, 0, 128))
	t.Encode(e)
	return e.Bytes()
}

// Unmarshal decodes an entry. max bounds buffer and string lengths.
func Unmarshal(b []byte, max int) (*Txn, error) {
	d := jute.NewDecoder(b, max)
	t := &Txn{}
	t.Header.Decode(d)
	if d.Err() != nil {
		return nil, fmt.Errorf("txn: header: %w", d.Err())
	}
	body, err := NewBody(t.Header.Type)
	if err != nil {
		return nil, err
	}
	body.Decode(d)
	if d.Err() != nil {
		return nil, fmt.Errorf("txn: %s body: %w", t.Header.Type, d.Err())
	}
	t.Body = body
	// A digest follows when there are bytes left; its absence (EOF) means none.
	if d.Remaining() >= 12 {
		g := &Digest{}
		g.Decode(d)
		t.Digest = g
	}
	return t, nil
}
