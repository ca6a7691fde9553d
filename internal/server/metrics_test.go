package server

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/config"
)

// What a dashboard charts must move when clients work: a durable server's
// fsyncs, snapshot and start-up, request latencies by kind, traffic and
// the watchers an event triggers.
func TestMetricsFollowTheWork(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(strings.NewReader(fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=2181\n", dir)), "test.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := admin.NewMetrics()
	s, err := OpenDurable(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOnLoopback(t, s)
	if m.DBInitTime.Values().Count != 1 || m.TxnsLoaded.Values().Count != 1 {
		t.Errorf("start-up: dbinittime %+v, startup_txns_loaded %+v; want one each", m.DBInitTime.Values(), m.TxnsLoaded.Values())
	}
	if m.SnapshotTime.Values().Count != 1 {
		t.Errorf("snapshottime %+v; want the snapshot.0 of a fresh data directory", m.SnapshotTime.Values())
	}
	if snap, ok := (adminSource{s}).LastSnapshot(); !ok || snap.Zxid != 0 {
		t.Errorf("last snapshot %+v %v; want snapshot.0", snap, ok)
	}

	c, _ := connect(t, addr)
	defer c.Close()
	if _, err := c.Create("/m", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, watch, err := c.GetW("/m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/m", []byte("y"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-watch:
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}
	if v := m.UpdateLatency.Values(); v.Count != 2 {
		t.Errorf("updatelatency counted %d writes, want 2 (create, set)", v.Count)
	}
	if v := m.ReadLatency.Values(); v.Count < 1 {
		t.Errorf("readlatency counted %d reads, want the getData", v.Count)
	}
	if v := m.FsyncTime.Values(); v.Count < 1 || m.SyncBatchSize.Values().Sum < 2 {
		t.Errorf("fsynctime %+v, sync_processor_batch_size %+v; want the two writes made durable", v, m.SyncBatchSize.Values())
	}
	if v := m.NodeChangedWatchers.Values(); v.Count != 1 || v.Sum != 1 {
		t.Errorf("node_changed_watch_count %+v, want one event with one watcher", v)
	}
	for _, ctr := range []*admin.Counter{m.ConnectionRequests, m.BytesReceived, m.ResponseBytes, m.WatchBytes, m.SyncQueued} {
		if ctr.Value() <= 0 {
			t.Errorf("%s = %d after a session's work", ctr.Name, ctr.Value())
		}
	}
	if m.ConnectionRequests.Value() != 1 {
		t.Errorf("connection_request_count = %d, want 1", m.ConnectionRequests.Value())
	}
}
