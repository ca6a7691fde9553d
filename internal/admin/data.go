package admin

import "time"

// Source is what the server tells the admin surface. Every method returns a
// copy taken under the server's own locks: renderings never reach into the
// server's state. The server implements it; tests implement it by hand.
type Source interface {
	// Serving is false before the server serves and after it stops (and, in
	// an ensemble, while it is LOOKING): most commands then refuse.
	Serving() bool
	Server() Server
	Connections() []Connection
	Sessions() Sessions
	WatchSummary() WatchSummary
	WatchesBySession() []SessionWatches
	WatchesByPath() []PathWatches
	Dirs() Dirs
	Ensemble() Ensemble
	// Digests are the tree digests logged at zxids divisible by 128 (hash).
	Digests() []Digest
	// LastSnapshot is the newest snapshot written or loaded; ok is false
	// when there is none (an in-memory server).
	LastSnapshot() (s Snapshot, ok bool)
	// ResetServerStats and ResetConnectionStats are srst and crst.
	ResetServerStats()
	ResetConnectionStats()
}

// Server holds the figures of srvr, stat, mntr, the server_stats and monitor
// commands and the Prometheus gauges (ZooKeeper's ServerStats and the
// gauges ZooKeeperServer registers).
type Server struct {
	// Mode is srvr's Mode and mntr's zk_server_state: standalone, leader,
	// follower, observer or read-only.
	Mode     string
	ReadOnly bool
	Started  time.Time
	// Request latency in ms since the last srst; MinLatency is 0 before any.
	MinLatency, MaxLatency int64
	AvgLatency             float64
	PacketsReceived        int64
	PacketsSent            int64
	AliveConnections       int
	// Outstanding is the number of writes submitted and not yet applied.
	Outstanding         int
	LastZxid            int64
	NodeCount           int
	EphemeralsCount     int
	ApproximateDataSize int64
	WatchCount          int
	GlobalSessions      int
	LocalSessions       int
	// Client response sizes in bytes; -1 before any reply.
	LastResponseSize, MinResponseSize, MaxResponseSize int
	AuthFailed                                         int64
	// TxnCount counts the transactions applied since start (zkd's own
	// mntr key zk_txn_count).
	TxnCount int64
	// FsyncThresholdExceeded counts fsyncs slower than
	// zookeeper.fsync.warningthresholdms.
	FsyncThresholdExceeded int64
}

// Connection is one client connection as cons and the connections command
// show it.
type Connection struct {
	Remote      string // host:port
	InterestOps int
	Queued      int64 // requests received and not yet answered
	Received    int64
	Sent        int64
	// SessionID is 0 until the handshake; the fields below it mean
	// something only once it is set.
	SessionID    int64
	LastOp       string // ZooKeeper's short op name: GETD, CREA, PING, NA...
	Established  time.Time
	Timeout      int32 // ms
	LastCxid     int32 // negative before any request with a positive xid
	LastZxid     int64
	LastResponse time.Time // zero before any reply
	LastLatency  int64     // ms
	MinLatency   int64     // ms, negative before any reply
	MaxLatency   int64
	TotalLatency int64 // ms, over Count replies
	Count        int64
}

// Sessions are dump's session expiry buckets, ephemerals and connections.
type Sessions struct {
	Buckets []SessionBucket // oldest first
	Total   int             // sessions tracked, closing ones included
	// Ephemerals lists, by session id, the ephemeral znodes of each session
	// that owns some.
	Ephemerals []SessionPaths
	// Connections is every client connection, and ConnectionExpiry the time
	// their (single) expiry bucket falls due.
	Connections      []Connection
	ConnectionExpiry time.Time
}

// SessionBucket is the sessions expiring at one time.
type SessionBucket struct {
	Expiry   time.Time
	Sessions []int64
}

// SessionPaths is one session with some of its paths.
type SessionPaths struct {
	Session int64
	Paths   []string
}

// SessionWatches is one session with the paths it watches (data and exist
// watches, as ZooKeeper's wchc lists them).
type SessionWatches = SessionPaths

// PathWatches is one watched path with the sessions watching it.
type PathWatches struct {
	Path     string
	Sessions []int64
}

// WatchSummary is wchs.
type WatchSummary struct {
	Connections, Paths, Total int
}

// Dirs are the snapshot and log directories (the version-2 directories
// ZooKeeper reports) and the bytes their files hold.
type Dirs struct {
	DataDir, LogDir   string
	DataSize, LogSize int64
}

// Digest is one entry of the digest log.
type Digest struct {
	Zxid, Digest int64
}

// Snapshot describes the newest snapshot.
type Snapshot struct {
	Zxid int64
	Time time.Time
}

// Ensemble is this server's place in its ensemble. A standalone server is
// an ensemble of one: State "standalone", no peers.
type Ensemble struct {
	ServerID int64
	// State is ZooKeeper's server state: standalone, leader, follower or
	// observer; PeerState is mntr's zk_peer_state ("leading - broadcast"),
	// empty when standalone, and ZabState the zab phase alone (discovery,
	// synchronization, broadcast; empty when standalone).
	State, PeerState, ZabState string
	LastZxid                   int64
	// Epoch is the epoch of LastZxid.
	Epoch int64
	// LeaderID is -1 while no leader is known; LeaderAddress is its quorum
	// address.
	LeaderID      int64
	LeaderAddress string
	// Voting is whether this server votes (a participant in the current
	// configuration).
	Voting bool
	// Addresses of this server; empty when standalone.
	QuorumAddress, ElectionAddress, ClientAddress string
	// Members is the voting view: every server of the configuration.
	Members []Member
	// The leader's figures (zero elsewhere).
	QuorumSize, Learners, SyncedFollowers, SyncedNonVotingFollowers, SyncedObservers, PendingSyncs int
	LeaderUptime                                                                                   time.Duration
	// Proposal sizes in bytes since the last srst (the leader's
	// BufferStats): the last, smallest and largest; -1 before any.
	LastProposalSize, MinProposalSize, MaxProposalSize int64
	// Elections are the last few leader elections this server took part
	// in, oldest first (none when standalone).
	Elections []Election
}

// Election is one leader election, from this server's view.
type Election struct {
	// Start is when the server went LOOKING; Took how long until it had a
	// leader (following or leading).
	Start time.Time
	Took  time.Duration
	// LeaderID and Epoch are the winner and the epoch it established.
	LeaderID, Epoch int64
}

// Quorum reports whether the server is a member of an ensemble.
func (e Ensemble) Quorum() bool { return e.State != "" && e.State != "standalone" }

// Member is one server of the configuration.
type Member struct {
	ID              int64
	QuorumAddress   string // host:port
	ElectionAddress string
	ClientAddress   string // host:port, "" when not configured
	Observer        bool
}

// Browser is the Source extension the status page's read-only tree browser
// reads; a Source without it shows no tree.
type Browser interface {
	// Znode returns the znode at path as a client from host remote (an IP
	// address) holding no other credential would see it: the Stat always
	// (exists needs no permission), Data and Children only when the ACL
	// grants that client READ, the ACL only with READ or ADMIN and its
	// digests masked without ADMIN, as getData, getChildren and getACL
	// answer. Data is cut to maxData bytes and Children (sorted) to
	// maxChildren names. ok is false when there is no znode at path.
	Znode(path, remote string, maxData, maxChildren int) (z Znode, ok bool)
}

// Znode is one znode as the tree browser shows it.
type Znode struct {
	Path string
	// Readable is whether the client may read Data and Children;
	// ACLReadable whether it may read ACL.
	Readable, ACLReadable bool
	// Data is the first maxData bytes; Stat.DataLength is the whole length.
	Data []byte
	Stat ZnodeStat
	ACL  []ACL
	// Children are the first maxChildren names; Stat.NumChildren counts all.
	Children []string
}

// ZnodeStat is the Stat a client sees (times in ms since the epoch).
type ZnodeStat struct {
	Czxid, Mzxid, Pzxid         int64
	Ctime, Mtime                int64
	Version, Cversion, Aversion int32
	EphemeralOwner              int64
	DataLength, NumChildren     int32
}

// ACL is one ACL entry.
type ACL struct {
	Perms      int32
	Scheme, ID string
}
