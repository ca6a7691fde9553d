package proto

import "github.com/zkd/zkd/internal/jute"

// ID is an ACL identity (scheme, id).
type ID struct {
	Scheme string
	ID     string
}

// Encode writes the Id record.
func (r *ID) Encode(e *jute.Encoder) { e.String(r.Scheme); e.String(r.ID) }

// Decode reads the Id record.
func (r *ID) Decode(d *jute.Decoder) { r.Scheme = d.String(); r.ID = d.String() }

// ACL is one access-control entry.
type ACL struct {
	Perms int32
	ID    ID
}

// Encode writes the ACL record.
func (r *ACL) Encode(e *jute.Encoder) { e.Int(r.Perms); r.ID.Encode(e) }

// Decode reads the ACL record.
func (r *ACL) Decode(d *jute.Decoder) { r.Perms = d.Int(); r.ID.Decode(d) }

// EncodeACLs writes a vector<ACL>; nil is written as a null vector.
func EncodeACLs(e *jute.Encoder, acls []ACL) {
	if acls == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(acls)))
	for i := range acls {
		acls[i].Encode(e)
	}
}

// DecodeACLs reads a vector<ACL>.
func DecodeACLs(d *jute.Decoder) []ACL {
	n := d.VectorLen(12)
	if n < 0 {
		return nil
	}
	out := make([]ACL, n)
	for i := range out {
		out[i].Decode(d)
	}
	return out
}

// OpenACLUnsafe is world:anyone with every permission.
var OpenACLUnsafe = []ACL{{Perms: PermAll, ID: ID{Scheme: "world", ID: "anyone"}}}

// ReadACLUnsafe is world:anyone with READ only.
var ReadACLUnsafe = []ACL{{Perms: PermRead, ID: ID{Scheme: "world", ID: "anyone"}}}

// Stat is the znode metadata a client sees (68 bytes).
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// Encode writes the Stat record.
func (r *Stat) Encode(e *jute.Encoder) {
	e.Long(r.Czxid)
	e.Long(r.Mzxid)
	e.Long(r.Ctime)
	e.Long(r.Mtime)
	e.Int(r.Version)
	e.Int(r.Cversion)
	e.Int(r.Aversion)
	e.Long(r.EphemeralOwner)
	e.Int(r.DataLength)
	e.Int(r.NumChildren)
	e.Long(r.Pzxid)
}

// Decode reads the Stat record.
func (r *Stat) Decode(d *jute.Decoder) {
	r.Czxid = d.Long()
	r.Mzxid = d.Long()
	r.Ctime = d.Long()
	r.Mtime = d.Long()
	r.Version = d.Int()
	r.Cversion = d.Int()
	r.Aversion = d.Int()
	r.EphemeralOwner = d.Long()
	r.DataLength = d.Int()
	r.NumChildren = d.Int()
	r.Pzxid = d.Long()
}

// StatPersisted is the znode metadata as snapshots store it (60 bytes).
// Cversion here counts child creates only; EphemeralOwner holds the special
// container and TTL values.
type StatPersisted struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	Pzxid          int64
}

// Encode writes the StatPersisted record.
func (r *StatPersisted) Encode(e *jute.Encoder) {
	e.Long(r.Czxid)
	e.Long(r.Mzxid)
	e.Long(r.Ctime)
	e.Long(r.Mtime)
	e.Int(r.Version)
	e.Int(r.Cversion)
	e.Int(r.Aversion)
	e.Long(r.EphemeralOwner)
	e.Long(r.Pzxid)
}

// Decode reads the StatPersisted record.
func (r *StatPersisted) Decode(d *jute.Decoder) {
	r.Czxid = d.Long()
	r.Mzxid = d.Long()
	r.Ctime = d.Long()
	r.Mtime = d.Long()
	r.Version = d.Int()
	r.Cversion = d.Int()
	r.Aversion = d.Int()
	r.EphemeralOwner = d.Long()
	r.Pzxid = d.Long()
}

// ConnectRequest is the first frame of a client connection.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	// HasReadOnly is false for clients (before 3.4) that omit the readOnly byte;
	// they must get a ConnectResponse without it.
	HasReadOnly bool
}

// Encode writes the ConnectRequest.
func (r *ConnectRequest) Encode(e *jute.Encoder) {
	e.Int(r.ProtocolVersion)
	e.Long(r.LastZxidSeen)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

// Decode reads the ConnectRequest; the readOnly byte is optional.
func (r *ConnectRequest) Decode(d *jute.Decoder) {
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.Err() == nil && d.Remaining() > 0 {
		r.ReadOnly = d.Bool()
		r.HasReadOnly = true
	}
}

// ConnectResponse answers a ConnectRequest.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	// OmitReadOnly leaves the readOnly byte out, for old clients.
	OmitReadOnly bool
}

// Encode writes the ConnectResponse.
func (r *ConnectResponse) Encode(e *jute.Encoder) {
	e.Int(r.ProtocolVersion)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if !r.OmitReadOnly {
		e.Bool(r.ReadOnly)
	}
}

// Decode reads the ConnectResponse; the readOnly byte is optional.
func (r *ConnectResponse) Decode(d *jute.Decoder) {
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.Err() == nil && d.Remaining() > 0 {
		r.ReadOnly = d.Bool()
	} else {
		r.OmitReadOnly = true
	}
}

// RequestHeader starts every client frame after the connect.
type RequestHeader struct {
	Xid  int32
	Type OpCode
}

// Encode writes the RequestHeader.
func (r *RequestHeader) Encode(e *jute.Encoder) { e.Int(r.Xid); e.Int(int32(r.Type)) }

// Decode reads the RequestHeader.
func (r *RequestHeader) Decode(d *jute.Decoder) { r.Xid = d.Int(); r.Type = OpCode(d.Int()) }

// ReplyHeader starts every server frame after the connect.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  Code
}

// Encode writes the ReplyHeader.
func (r *ReplyHeader) Encode(e *jute.Encoder) { e.Int(r.Xid); e.Long(r.Zxid); e.Int(int32(r.Err)) }

// Decode reads the ReplyHeader.
func (r *ReplyHeader) Decode(d *jute.Decoder) {
	r.Xid = d.Int()
	r.Zxid = d.Long()
	r.Err = Code(d.Int())
}

// WatcherEvent is the body of a notification (xid -1).
type WatcherEvent struct {
	Type  EventType
	State int32
	Path  string
}

// Encode writes the WatcherEvent.
func (r *WatcherEvent) Encode(e *jute.Encoder) {
	e.Int(int32(r.Type))
	e.Int(r.State)
	e.String(r.Path)
}

// Decode reads the WatcherEvent.
func (r *WatcherEvent) Decode(d *jute.Decoder) {
	r.Type = EventType(d.Int())
	r.State = d.Int()
	r.Path = d.String()
}

// CreateRequest is the body of create, create2 and createContainer.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
}

// Encode writes the CreateRequest.
func (r *CreateRequest) Encode(e *jute.Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.Flags)
}

// Decode reads the CreateRequest.
func (r *CreateRequest) Decode(d *jute.Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Flags = d.Int()
}

// CreateTTLRequest is the body of createTTL.
type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

// Encode writes the CreateTTLRequest.
func (r *CreateTTLRequest) Encode(e *jute.Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.Flags)
	e.Long(r.TTL)
}

// Decode reads the CreateTTLRequest.
func (r *CreateTTLRequest) Decode(d *jute.Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Flags = d.Int()
	r.TTL = d.Long()
}

// PathVersionRequest is the body of delete and check (CheckVersionRequest).
type PathVersionRequest struct {
	Path    string
	Version int32
}

// Encode writes the record.
func (r *PathVersionRequest) Encode(e *jute.Encoder) { e.String(r.Path); e.Int(r.Version) }

// Decode reads the record.
func (r *PathVersionRequest) Decode(d *jute.Decoder) { r.Path = d.String(); r.Version = d.Int() }

// PathWatchRequest is the body of exists, getData, getChildren and getChildren2.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

// Encode writes the record.
func (r *PathWatchRequest) Encode(e *jute.Encoder) { e.String(r.Path); e.Bool(r.Watch) }

// Decode reads the record.
func (r *PathWatchRequest) Decode(d *jute.Decoder) { r.Path = d.String(); r.Watch = d.Bool() }

// PathRequest is the body of getACL, sync, getEphemerals and getAllChildrenNumber,
// and the response of create and sync.
type PathRequest struct {
	Path string
}

// Encode writes the record.
func (r *PathRequest) Encode(e *jute.Encoder) { e.String(r.Path) }

// Decode reads the record.
func (r *PathRequest) Decode(d *jute.Decoder) { r.Path = d.String() }

// SetDataRequest is the body of setData.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

// Encode writes the record.
func (r *SetDataRequest) Encode(e *jute.Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	e.Int(r.Version)
}

// Decode reads the record.
func (r *SetDataRequest) Decode(d *jute.Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.Version = d.Int()
}

// SetACLRequest is the body of setACL.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

// Encode writes the record.
func (r *SetACLRequest) Encode(e *jute.Encoder) {
	e.String(r.Path)
	EncodeACLs(e, r.ACL)
	e.Int(r.Version)
}

// Decode reads the record.
func (r *SetACLRequest) Decode(d *jute.Decoder) {
	r.Path = d.String()
	r.ACL = DecodeACLs(d)
	r.Version = d.Int()
}

// ReconfigRequest is the body of reconfig.
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

// Encode writes the record.
func (r *ReconfigRequest) Encode(e *jute.Encoder) {
	e.String(r.JoiningServers)
	e.String(r.LeavingServers)
	e.String(r.NewMembers)
	e.Long(r.CurConfigID)
}

// Decode reads the record.
func (r *ReconfigRequest) Decode(d *jute.Decoder) {
	r.JoiningServers = d.String()
	r.LeavingServers = d.String()
	r.NewMembers = d.String()
	r.CurConfigID = d.Long()
}

// PathTypeRequest is the body of checkWatches and removeWatches (type is a
// WatcherType) and of addWatch (type is a mode).
type PathTypeRequest struct {
	Path string
	Type int32
}

// Encode writes the record.
func (r *PathTypeRequest) Encode(e *jute.Encoder) { e.String(r.Path); e.Int(r.Type) }

// Decode reads the record.
func (r *PathTypeRequest) Decode(d *jute.Decoder) { r.Path = d.String(); r.Type = d.Int() }

// AuthPacket is the body of auth (xid -4).
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

// Encode writes the record.
func (r *AuthPacket) Encode(e *jute.Encoder) { e.Int(r.Type); e.String(r.Scheme); e.Buffer(r.Auth) }

// Decode reads the record.
func (r *AuthPacket) Decode(d *jute.Decoder) {
	r.Type = d.Int()
	r.Scheme = d.String()
	r.Auth = d.Buffer()
}

// SetWatches is the body of setWatches (101) and setWatches2 (105); the
// persistent lists exist only in setWatches2.
type SetWatches struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
	// Version2 selects the setWatches2 layout.
	Version2 bool
}

// Encode writes the record.
func (r *SetWatches) Encode(e *jute.Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
	if r.Version2 {
		e.Strings(r.PersistentWatches)
		e.Strings(r.PersistentRecursiveWatches)
	}
}

// Decode reads the record; set Version2 before calling for setWatches2.
func (r *SetWatches) Decode(d *jute.Decoder) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	if r.Version2 {
		r.PersistentWatches = d.Strings()
		r.PersistentRecursiveWatches = d.Strings()
	}
}

// StatResponse is the body of exists, setData and setACL replies.
type StatResponse struct {
	Stat Stat
}

// Encode writes the record.
func (r *StatResponse) Encode(e *jute.Encoder) { r.Stat.Encode(e) }

// Decode reads the record.
func (r *StatResponse) Decode(d *jute.Decoder) { r.Stat.Decode(d) }

// Create2Response is the body of create2, createContainer and createTTL replies.
type Create2Response struct {
	Path string
	Stat Stat
}

// Encode writes the record.
func (r *Create2Response) Encode(e *jute.Encoder) { e.String(r.Path); r.Stat.Encode(e) }

// Decode reads the record.
func (r *Create2Response) Decode(d *jute.Decoder) { r.Path = d.String(); r.Stat.Decode(d) }

// GetDataResponse is the body of getData and reconfig replies.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

// Encode writes the record.
func (r *GetDataResponse) Encode(e *jute.Encoder) { e.Buffer(r.Data); r.Stat.Encode(e) }

// Decode reads the record.
func (r *GetDataResponse) Decode(d *jute.Decoder) { r.Data = d.Buffer(); r.Stat.Decode(d) }

// GetACLResponse is the body of a getACL reply.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

// Encode writes the record.
func (r *GetACLResponse) Encode(e *jute.Encoder) { EncodeACLs(e, r.ACL); r.Stat.Encode(e) }

// Decode reads the record.
func (r *GetACLResponse) Decode(d *jute.Decoder) { r.ACL = DecodeACLs(d); r.Stat.Decode(d) }

// ChildrenResponse is the body of getChildren (WithStat false), getChildren2
// (WithStat true) and getEphemerals (WithStat false) replies.
type ChildrenResponse struct {
	Children []string
	Stat     Stat
	WithStat bool
}

// Encode writes the record.
func (r *ChildrenResponse) Encode(e *jute.Encoder) {
	e.Strings(r.Children)
	if r.WithStat {
		r.Stat.Encode(e)
	}
}

// Decode reads the record; set WithStat before calling for getChildren2.
func (r *ChildrenResponse) Decode(d *jute.Decoder) {
	r.Children = d.Strings()
	if r.WithStat {
		r.Stat.Decode(d)
	}
}

// IntResponse is the body of getAllChildrenNumber (the count) and addWatch
// (ErrorResponse, always 0) replies.
type IntResponse struct {
	Value int32
}

// Encode writes the record.
func (r *IntResponse) Encode(e *jute.Encoder) { e.Int(r.Value) }

// Decode reads the record.
func (r *IntResponse) Decode(d *jute.Decoder) { r.Value = d.Int() }

// ClientInfo is one identity in a whoAmI reply.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// WhoAmIResponse is the body of a whoAmI reply.
type WhoAmIResponse struct {
	ClientInfo []ClientInfo
}

// Encode writes the record.
func (r *WhoAmIResponse) Encode(e *jute.Encoder) {
	e.Int(int32(len(r.ClientInfo)))
	for _, c := range r.ClientInfo {
		e.String(c.AuthScheme)
		e.String(c.User)
	}
}

// Decode reads the record.
func (r *WhoAmIResponse) Decode(d *jute.Decoder) {
	n := d.VectorLen(8)
	if n < 0 {
		return
	}
	r.ClientInfo = make([]ClientInfo, n)
	for i := range r.ClientInfo {
		r.ClientInfo[i].AuthScheme = d.String()
		r.ClientInfo[i].User = d.String()
	}
}
