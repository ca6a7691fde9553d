package admin

import (
	"time"

	"github.com/zkd/zkd/internal/config"
)

// fakeSource is a server frozen in one state, the same for every rendering.
type fakeSource struct {
	serving             bool
	srv                 Server
	conns               []Connection
	resetSrv, resetConn int
}

var fakeEstablished = time.UnixMilli(1796599961754).UTC()

func newFake() *fakeSource {
	return &fakeSource{
		serving: true,
		srv: Server{Mode: "standalone", Started: time.Now().Add(-time.Minute), MinLatency: 0, AvgLatency: 4.33333, MaxLatency: 13,
			PacketsReceived: 6, PacketsSent: 7, AliveConnections: 1, Outstanding: 0, LastZxid: 0x103, NodeCount: 7,
			EphemeralsCount: 1, ApproximateDataSize: 52, WatchCount: 2, GlobalSessions: 1,
			LastResponseSize: 45, MinResponseSize: 23, MaxResponseSize: 93, AuthFailed: 2, TxnCount: 3},
		conns: []Connection{{Remote: "127.0.0.1:46580", InterestOps: 1, Received: 6, Sent: 7, SessionID: 0x1000a1b2c3d0000,
			LastOp: "GETC", Established: fakeEstablished, Timeout: 10000, LastCxid: 5, LastZxid: 3,
			LastResponse: fakeEstablished.Add(time.Second), LastLatency: 0, MinLatency: 0, MaxLatency: 13, TotalLatency: 26, Count: 6}},
	}
}

func (f *fakeSource) Serving() bool             { return f.serving }
func (f *fakeSource) Server() Server            { return f.srv }
func (f *fakeSource) Connections() []Connection { return f.conns }
func (f *fakeSource) Sessions() Sessions {
	return Sessions{
		Buckets:          []SessionBucket{{Expiry: time.UnixMilli(3832000).UTC(), Sessions: []int64{0x1000a1b2c3d0000}}},
		Total:            1,
		Ephemerals:       []SessionPaths{{Session: 0x1000a1b2c3d0000, Paths: []string{"/e1"}}},
		Connections:      f.conns,
		ConnectionExpiry: time.UnixMilli(3834000).UTC(),
	}
}
func (f *fakeSource) WatchSummary() WatchSummary {
	return WatchSummary{Connections: 1, Paths: 2, Total: 2}
}
func (f *fakeSource) WatchesBySession() []SessionWatches {
	return []SessionWatches{{Session: 0x1000a1b2c3d0000, Paths: []string{"/e1", "/p1"}}}
}
func (f *fakeSource) WatchesByPath() []PathWatches {
	return []PathWatches{{Path: "/e1", Sessions: []int64{0x1000a1b2c3d0000}}, {Path: "/p1", Sessions: []int64{0x1000a1b2c3d0000}}}
}
func (f *fakeSource) Dirs() Dirs {
	return Dirs{DataDir: "/d/version-2", LogDir: "/l/version-2", DataSize: 457, LogSize: 67109337}
}
func (f *fakeSource) Ensemble() Ensemble {
	return Ensemble{State: "standalone", LastZxid: f.srv.LastZxid, Epoch: f.srv.LastZxid >> 32, LeaderID: -1}
}
func (f *fakeSource) Digests() []Digest { return []Digest{{Zxid: 0x80, Digest: 1371985504}} }
func (f *fakeSource) LastSnapshot() (Snapshot, bool) {
	return Snapshot{Zxid: 0x100, Time: time.Unix(1796599936, 0)}, true
}
func (f *fakeSource) ResetServerStats()     { f.resetSrv++ }
func (f *fakeSource) ResetConnectionStats() { f.resetConn++ }

// newTestAdmin renders f with every four-letter word allowed.
func newTestAdmin(f *fakeSource, zooCfg string) *Admin {
	cfg, err := config.Parse(stringsReader("dataDir=/d\ndataLogDir=/l\n4lw.commands.whitelist=*\n"+zooCfg), "", nil)
	if err != nil {
		panic(err)
	}
	return New(f, Options{Config: cfg, Version: "3.9.3-zkd-0.1.0, built on 11/26/2026 00:00 GMT"})
}
