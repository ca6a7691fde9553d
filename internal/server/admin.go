package server

import (
	"cmp"
	"net"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/zab"
)

// VersionBanner is the "version, built on date" text of srvr, stat, envi and mntr.
func VersionBanner() string { return Version + ", built on " + BuildDate }

// Admin is the server's admin surface: four-letter words, AdminServer
// commands and metrics.
func (s *Server) Admin() *admin.Admin { return s.adm }

// Mode is the server state zkServer.sh status and srvr print.
func (s *Server) Mode() string {
	return s.ens.mode()
}

// runFourLetterWord answers a four-letter word and closes the connection.
func (s *Server) runFourLetterWord(c *conn, word string) {
	defer c.nc.Close()
	// stmk reads 8 more bytes; a client that never sends them is dropped.
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if out := s.adm.FourLetter(word, c.br); len(out) > 0 {
		c.nc.Write(out)
	}
}

// countWatchers records how many watchers one event triggered, as
// ZooKeeper's WatchManager does for each event type.
func (s *Server) countWatchers(typ proto.EventType, n int) {
	if n == 0 {
		return
	}
	m := s.metrics
	switch typ {
	case proto.EventNodeCreated:
		m.NodeCreatedWatchers.Observe(int64(n))
	case proto.EventNodeDeleted:
		m.NodeDeletedWatchers.Observe(int64(n))
	case proto.EventNodeDataChanged:
		m.NodeChangedWatchers.Observe(int64(n))
	case proto.EventNodeChildrenChanged:
		m.NodeChildrenWatchers.Observe(int64(n))
	}
}

// adminSource is what the server tells package admin; each method copies
// under the server's locks.
type adminSource struct{ s *Server }

var (
	_ admin.Source  = adminSource{}
	_ admin.Browser = adminSource{}
)

func (a adminSource) Serving() bool { return a.s.serving.Load() }

func (a adminSource) Server() admin.Server {
	s := a.s
	st := admin.Server{Mode: s.Mode(), Started: s.started}
	st.MinLatency, st.AvgLatency, st.MaxLatency = s.stats.latency()
	st.PacketsReceived, st.PacketsSent = s.stats.received.Load(), s.stats.sent.Load()
	st.AliveConnections = s.connCount()
	st.Outstanding = s.outstanding()
	st.LastResponseSize, st.MinResponseSize, st.MaxResponseSize = s.stats.responseSizes()
	st.AuthFailed = s.stats.authFail.Load()
	st.TxnCount = s.stats.txns.Load()
	s.withTree(func(t *treeT) {
		st.LastZxid = max(t.LastZxid(), s.epochZxid.Load())
		st.NodeCount = t.NodeCount()
		st.ApproximateDataSize = t.ApproximateDataSize()
		for _, n := range t.EphemeralSessions() {
			st.EphemeralsCount += n
		}
	})
	st.WatchCount = s.watches.WatchCount()
	s.sessMu.Lock()
	st.GlobalSessions = s.sessions.Len()
	s.sessMu.Unlock()
	return st
}

func (a adminSource) Connections() []admin.Connection {
	conns := a.s.connList()
	out := make([]admin.Connection, len(conns))
	for i, c := range conns {
		out[i] = c.adminView()
	}
	return out
}

func (c *conn) adminView() admin.Connection {
	cs := &c.stats
	cs.mu.Lock()
	defer cs.mu.Unlock()
	v := admin.Connection{
		Remote: c.remote, Queued: cs.outstanding, Received: cs.packetsRecv, Sent: cs.packetsSent,
		SessionID: cs.sessionID, LastOp: cs.lastOp, Established: cs.establ, Timeout: cs.timeout,
		LastCxid: cs.lastCxid, LastZxid: cs.lastZxid, LastResponse: cs.lastResp, LastLatency: cs.lastLat,
		MinLatency: cs.minLat, MaxLatency: cs.maxLat, TotalLatency: cs.totalLat, Count: cs.count,
	}
	if cs.sessionID != 0 {
		v.InterestOps = 1 // OP_READ: the connection is being read from
	}
	return v
}

func (a adminSource) Sessions() admin.Sessions {
	s := a.s
	var out admin.Sessions
	s.sessMu.Lock()
	for _, b := range s.sessions.Buckets() {
		out.Buckets = append(out.Buckets, admin.SessionBucket{Expiry: time.UnixMilli(b.Expiry), Sessions: b.Sessions})
	}
	out.Total = s.sessions.Len()
	s.sessMu.Unlock()
	s.withTree(func(t *treeT) {
		ids := make([]int64, 0)
		for id := range t.EphemeralSessions() {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			out.Ephemerals = append(out.Ephemerals, admin.SessionPaths{Session: id, Paths: t.Ephemerals(id)})
		}
	})
	for _, c := range s.connList() {
		out.Connections = append(out.Connections, admin.Connection{Remote: c.remote, SessionID: c.sessionID})
	}
	out.ConnectionExpiry = time.Now().Add(time.Duration(s.cfg.TickTime) * time.Millisecond)
	return out
}

func (a adminSource) WatchSummary() admin.WatchSummary {
	conns, paths, total := a.s.watches.Stats()
	return admin.WatchSummary{Connections: conns, Paths: paths, Total: total}
}

func (a adminSource) WatchesBySession() []admin.SessionWatches {
	bySession := map[int64][]string{}
	for cl, paths := range a.s.watches.ByClient() {
		if c, ok := cl.(*conn); ok {
			bySession[c.sessionID] = append(bySession[c.sessionID], paths...)
		}
	}
	out := make([]admin.SessionWatches, 0, len(bySession))
	for id, paths := range bySession {
		sort.Strings(paths)
		out = append(out, admin.SessionWatches{Session: id, Paths: paths})
	}
	slices.SortFunc(out, func(x, y admin.SessionWatches) int { return cmp.Compare(x.Session, y.Session) })
	return out
}

func (a adminSource) WatchesByPath() []admin.PathWatches {
	byPath := a.s.watches.ByPath()
	out := make([]admin.PathWatches, 0, len(byPath))
	for p, clients := range byPath {
		pw := admin.PathWatches{Path: p}
		for _, cl := range clients {
			if c, ok := cl.(*conn); ok {
				pw.Sessions = append(pw.Sessions, c.sessionID)
			}
		}
		out = append(out, pw)
	}
	slices.SortFunc(out, func(x, y admin.PathWatches) int { return cmp.Compare(x.Path, y.Path) })
	return out
}

func (a adminSource) Dirs() admin.Dirs {
	s := a.s
	d := admin.Dirs{DataDir: s.snapDir(), LogDir: s.logDir()}
	d.DataSize, d.LogSize = s.dirSize(d.DataDir), s.dirSize(d.LogDir)
	return d
}

func (a adminSource) Ensemble() admin.Ensemble {
	s := a.s
	zxid := s.LastZxid()
	e := admin.Ensemble{ServerID: s.cfg.MyID, State: s.Mode(), LastZxid: zxid, Epoch: zxid >> 32, LeaderID: -1}
	if s.ens.standalone {
		return e
	}
	st := s.ens.status.Load()
	if st.serving {
		e.LeaderID = st.leader
	}
	e.PeerState = strings.ToLower(st.role.String())
	e.ZabState = "discovery"
	if st.serving {
		e.ZabState = "broadcast"
	}
	e.PeerState += " - " + e.ZabState
	e.Elections = s.ens.recentElections()
	if st.role == zab.Leading && st.serving {
		if f := s.ens.figures.Load(); f != nil {
			e.Learners, e.SyncedFollowers, e.SyncedObservers, e.PendingSyncs = f.Learners, f.SyncedFollowers, f.SyncedObservers, f.PendingSyncs
			e.SyncedNonVotingFollowers = f.SyncedNonVotingFollowers
		}
		e.LeaderUptime = s.now().Sub(st.since)
		e.LastProposalSize, e.MinProposalSize, e.MaxProposalSize = s.ens.proposalSizes.values()
	}
	e.QuorumSize = s.ens.voters
	for _, sv := range s.cfg.Servers {
		m := admin.Member{ID: sv.ID, QuorumAddress: net.JoinHostPort(sv.Host, strconv.Itoa(sv.QuorumPort)),
			ElectionAddress: net.JoinHostPort(sv.Host, strconv.Itoa(sv.ElectionPort)), Observer: sv.Observer}
		if sv.ClientPort != 0 {
			host := sv.ClientAddress
			if host == "" {
				host = sv.Host
			}
			m.ClientAddress = net.JoinHostPort(host, strconv.Itoa(sv.ClientPort))
		}
		if sv.ID == s.cfg.MyID {
			e.QuorumAddress, e.ElectionAddress, e.ClientAddress = m.QuorumAddress, m.ElectionAddress, m.ClientAddress
			e.Voting = !sv.Observer
		}
		if sv.ID == e.LeaderID {
			e.LeaderAddress = m.QuorumAddress
		}
		e.Members = append(e.Members, m)
	}
	return e
}

// Znode is the status page's view of one znode, with the permissions a
// client from remote without credentials has (getData, getChildren and
// getACL's checks).
func (a adminSource) Znode(path, remote string, maxData, maxChildren int) (admin.Znode, bool) {
	ids := []proto.ID{ipID(remote)}
	z := admin.Znode{Path: path}
	found := false
	a.s.withTree(func(t *treeT) {
		n := t.Get(path)
		if n == nil {
			return
		}
		found = true
		st := n.ClientStat()
		z.Stat = admin.ZnodeStat{Czxid: st.Czxid, Mzxid: st.Mzxid, Pzxid: st.Pzxid, Ctime: st.Ctime, Mtime: st.Mtime,
			Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion, EphemeralOwner: st.EphemeralOwner,
			DataLength: st.DataLength, NumChildren: st.NumChildren}
		z.Readable = acl.Check(n.ACL, proto.PermRead, ids)
		z.ACLReadable = acl.Check(n.ACL, proto.PermRead|proto.PermAdmin, ids)
		if z.ACLReadable {
			list := n.ACL
			if !acl.Check(n.ACL, proto.PermAdmin, ids) {
				list = acl.MaskDigests(list)
			}
			for _, e := range list {
				z.ACL = append(z.ACL, admin.ACL{Perms: e.Perms, Scheme: e.ID.Scheme, ID: e.ID.ID})
			}
		}
		if !z.Readable {
			return
		}
		z.Data = slices.Clone(n.Data[:min(len(n.Data), maxData)])
		if kids := t.Children(path); len(kids) > maxChildren {
			z.Children = slices.Clone(kids[:maxChildren])
		} else {
			z.Children = kids
		}
	})
	return z, found
}

func (a adminSource) Digests() []admin.Digest {
	s := a.s
	s.digestMu.Lock()
	defer s.digestMu.Unlock()
	out := make([]admin.Digest, len(s.digestLog))
	for i, d := range s.digestLog {
		out[i] = admin.Digest{Zxid: d.zxid, Digest: d.digest}
	}
	return out
}

func (a adminSource) LastSnapshot() (admin.Snapshot, bool) {
	if v, ok := a.s.lastSnap.Load().(admin.Snapshot); ok {
		return v, true
	}
	return admin.Snapshot{}, false
}

func (a adminSource) ResetServerStats() {
	a.s.stats.reset()
	a.s.ens.proposalSizes.reset() // as StatResetCommand on a leader
}

func (a adminSource) ResetConnectionStats() {
	for _, c := range a.s.connList() {
		c.stats.reset()
	}
}

// connList is every connection, oldest first.
func (s *Server) connList() []*conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].stats.establ.Before(out[j].stats.establ) })
	return out
}

func (s *Server) connCount() int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return len(s.conns)
}

func (s *Server) outstanding() int { return int(s.inPipeline.Load()) }

func (s *Server) snapDir() string { return filepath.Join(s.cfg.DataDir, "version-2") }
func (s *Server) logDir() string  { return filepath.Join(s.cfg.DataLogDir, "version-2") }

// dirSize sums the sizes of the files in dir, through the server's FS.
func (s *Server) dirSize(dir string) int64 {
	var n int64
	names, _ := s.fsys.ReadDir(dir)
	for _, name := range names {
		if info, err := s.fsys.Stat(filepath.Join(dir, name)); err == nil && !info.IsDir() {
			n += info.Size()
		}
	}
	return n
}
