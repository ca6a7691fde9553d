package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/recovery"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
)

// Ports for the Apache ZooKeeper servers these tests start (25810-25819 are
// this package's).
const (
	apachePort        = 25810
	apacheRestorePort = 25811
)

const zkCliScript = "/usr/share/zookeeper/bin/zkCli.sh"

// apacheJVM takes a snapshot every 5-10 txns, so that the data dir has several.
var apacheJVM = launch.Apache{JVMFlags: []string{"-Dzookeeper.snapCount=10"}}

// requireApache fails (never skips) when Apache ZooKeeper is not installed:
// the tools' compatibility claims rest on this test.
func requireApache(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper (a JVM): slow; runs without -short")
	}
	const install = "install the Debian package zookeeper (apt-get install zookeeper), which brings Apache ZooKeeper 3.8 and a Java runtime"
	if err := apacheJVM.Check(); err != nil {
		t.Fatalf("%v: %s", err, install)
	}
	if _, err := os.Stat(zkCliScript); err != nil {
		t.Fatalf("%s not found: %s", zkCliScript, install)
	}
}

// startApache runs ZooKeeperServerMain on a zoo.cfg written into dir and
// waits until it serves; it is stopped when the test ends, if not before.
func startApache(t *testing.T, dir, dataDir, dataLogDir string, port int) *launch.Process {
	t.Helper()
	cfg := filepath.Join(dir, fmt.Sprintf("zoo-%d.cfg", port))
	conf := fmt.Sprintf("tickTime=2000\ndataDir=%s\ndataLogDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=ruok,srvr\nadmin.enableServer=false\n", dataDir, dataLogDir, port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := launch.StartServing(launch.Options{
		Name:      "apache",
		Argv:      apacheJVM.Argv(cfg),
		Dir:       dir,
		Addr:      launch.Loopback(port),
		LogPath:   filepath.Join(dir, fmt.Sprintf("apache-%d.log", port)),
		StopGrace: 20 * time.Second,
	}, 60*time.Second)
	if err != nil {
		t.Fatalf("Apache ZooKeeper did not start on port %d: %v", port, err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// waitSnapshotsComplete waits until every snapshot in dataDir reads whole
// and their number has held still for a moment.
func waitSnapshotsComplete(t *testing.T, dataDir string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	stableSince, lastCount := time.Now(), -1
	for {
		snaps, err := storage.ListSnapshots(storage.OSFS{}, dataDir)
		if err != nil {
			t.Fatal(err)
		}
		whole := true
		for _, s := range snaps {
			if _, err := storage.ReadSnapshot(storage.OSFS{}, s.Path, storage.SnapshotOptions{}, func(d *jute.Decoder) error {
				_, err := tree.Deserialize(d)
				return err
			}); err != nil {
				whole = false
			}
		}
		if len(snaps) != lastCount || !whole {
			stableSince, lastCount = time.Now(), len(snaps)
		}
		if whole && time.Since(stableSince) >= 300*time.Millisecond {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Apache's snapshots in %s are not all complete after 15 s", dataDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func connectZK(t *testing.T, port int) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", port)}, 30*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events {
					}
				}()
				return c
			}
		case <-timeout:
			t.Fatalf("no session with the server on port %d", port)
		}
	}
}

func zkCli(t *testing.T, port int, args ...string) {
	t.Helper()
	// A fresh Apache server can drop the first connection while it is still
	// starting (seen as ConnectionLoss on a loaded machine); creates that
	// already happened fail as NodeExists, which is fine here.
	for attempt := 1; ; attempt++ {
		cmd := exec.Command(zkCliScript, append([]string{"-server", fmt.Sprintf("127.0.0.1:%d", port)}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		if attempt < 4 && strings.Contains(string(out), "ConnectionLoss") {
			time.Sleep(time.Second)
			continue
		}
		if attempt > 1 && strings.Contains(string(out), "Node already exists") {
			return
		}
		t.Fatalf("zkCli.sh %v: %v\n%s", args, err, out)
	}
}

// TestToolsOnApacheDataDir runs every tool on a data directory written by
// Apache ZooKeeper 3.8 (Debian's package): dump and verify its logs and
// snapshots, purge a copy, import it, and start Apache on the import.
func TestToolsOnApacheDataDir(t *testing.T) {
	requireApache(t)
	dir := t.TempDir()
	dataDir, dataLogDir := filepath.Join(dir, "data"), filepath.Join(dir, "datalog")
	srv := startApache(t, dir, dataDir, dataLogDir, apachePort)

	zkCli(t, apachePort, "create", "/x", "y")
	zkCli(t, apachePort, "create", "/x/child", "from zkCli")
	c := connectZK(t, apachePort)
	session := c.SessionID()
	acl := zk.WorldACL(zk.PermAll)
	mustCreate := func(path string, data []byte, flags int32) {
		if _, err := c.Create(path, data, flags, acl); err != nil {
			t.Fatalf("create %s: %v", path, err)
		}
	}
	mustCreate("/app", []byte("hello"), 0)
	mustCreate("/app/bin", []byte{0x00, 0x01, 0xfe, 0xff}, 0)
	for i := range 12 {
		mustCreate(fmt.Sprintf("/app/n-%02d", i), []byte(fmt.Sprint(i)), 0)
	}
	if _, err := c.Set("/app", []byte("hello again"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(&zk.CreateRequest{Path: "/app/m", Data: []byte("multi"), Acl: acl}, &zk.SetDataRequest{Path: "/x", Data: []byte("y2"), Version: 0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/app/n-00", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetACL("/app/bin", zk.WorldACL(zk.PermRead), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/app/missing/child", nil, 0, acl); err == nil {
		t.Fatal("create under a missing parent succeeded")
	}
	mustCreate("/app/eph", []byte("mine"), zk.FlagEphemeral)
	// Apache snapshots every snapCount transactions on a thread of its own,
	// which a stop can cut short, leaving a torn newest snapshot (Apache's
	// recovery then falls back to an older one). This test reads complete
	// files, so it waits for the snapshot in progress to be written.
	waitSnapshotsComplete(t, dataDir)
	// The session stays open: Apache stops with it (and its ephemeral) alive.
	srv.Stop()
	c.Close()

	// log dump and verify: every log of the data directory.
	logs, err := storage.ListLogs(storage.OSFS{}, dataLogDir)
	if err != nil || len(logs) < 2 {
		t.Fatalf("Apache wrote logs %v (%v); want several (snapCount=10)", logs, err)
	}
	var allText, allJSON strings.Builder
	for _, l := range logs {
		out, _, err := runTool(t, "log", "dump", l.Path)
		if err != nil {
			t.Fatalf("log dump %s: %v\n%s", l.Path, err, out)
		}
		allText.WriteString(out)
		last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
		if !strings.Contains(last, "zero padding (preallocated, unused) from offset") || !strings.HasSuffix(strings.TrimSpace(last), " to 67108880") {
			t.Errorf("%s: Apache preallocates 64 MiB; end line %q", l.Path, last)
		}
		out, _, err = runTool(t, "log", "dump", "--json", l.Path)
		if err != nil {
			t.Fatal(err)
		}
		jsonLines(t, out)
		allJSON.WriteString(out)
	}
	for _, want := range []string{
		`type=create path="/x" data="y" acl=[world:anyone:cdrwa] ephemeral=false`,
		`type=create path="/x/child" data="from zkCli"`,
		`type=create path="/app/bin" data=hex:0001feff`,
		`type=setData path="/app" data="hello again" version=1`,
		"type=multi ops=2",
		`    op[1] type=setData path="/x" data="y2" version=1`,
		`type=delete path="/app/n-00"`,
		`type=setACL path="/app/bin" acl=[world:anyone:r] version=1`,
		`type=error err=-101(NoNode)`,
		fmt.Sprintf(`session=0x%x cxid=`, uint64(session)),
		`type=create path="/app/eph" data="mine" acl=[world:anyone:cdrwa] ephemeral=true`,
	} {
		if !strings.Contains(allText.String(), want) {
			t.Errorf("log dumps lack %q:\n%s", want, allText.String())
		}
	}
	if out, _, err := runTool(t, "log", "verify", dataLogDir); err != nil || strings.Count(out, ": ok, ") != len(logs) {
		t.Errorf("log verify: %v\n%s", err, out)
	}

	// snapshot dump and verify.
	snaps, err := storage.ListSnapshots(storage.OSFS{}, dataDir)
	if err != nil || len(snaps) < 2 {
		t.Fatalf("Apache wrote snapshots %v (%v)", snaps, err)
	}
	if out, _, err := runTool(t, "snapshot", "verify", dataDir); err != nil || strings.Count(out, ": ok, ") != len(snaps) {
		t.Errorf("snapshot verify: %v\n%s", err, out)
	}
	newest := snaps[len(snaps)-1].Path
	out, _, err := runTool(t, "snapshot", "dump", "--data", newest)
	if err != nil || !strings.Contains(out, "/x\n") || !strings.Contains(out, "/zookeeper/config\n") {
		t.Errorf("snapshot dump %s: %v\n%s", newest, err, out)
	}
	out, _, err = runTool(t, "snapshot", "dump", "--json", newest)
	if err != nil {
		t.Fatal(err)
	}
	if recs := jsonLines(t, out); recs[0]["record"] != "snapshot" || recs[len(recs)-1]["record"] != "summary" {
		t.Errorf("snapshot dump --json: %v ... %v", recs[0], recs[len(recs)-1])
	}

	// restore, compared znode by znode with the source recovered in memory.
	before := dirContents(t, dir)
	dst := filepath.Join(dir, "zkd")
	out, _, err = runTool(t, "snapshot", "restore", "--from", dataDir, "--from-log", dataLogDir, "--to", dst)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	t.Logf("Apache wrote %d logs and %d snapshots; restore said:\n%s", len(logs), len(snaps), out)
	if after := dirContents(t, dir); len(after) != len(before)+1 {
		t.Errorf("restore changed more than its target: %d files before, %d after", len(before), len(after))
	}
	want, err := recoverSource(dataDir, dataLogDir)
	if err != nil {
		t.Fatal(err)
	}
	got := recoverDir(t, dst, dst)
	if err := compareRecovered(want, got); err != nil {
		t.Fatalf("restored data differs from Apache's: %v", err)
	}
	if !strings.Contains(out, fmt.Sprintf("restored %d znodes", znodeCount(got.Tree))) || !strings.Contains(out, "last zxid "+hexID(got.Tree.LastZxid())) {
		t.Errorf("restore output:\n%s", out)
	}
	if n := got.Tree.Get("/x"); n == nil || string(n.Data) != "y2" {
		t.Errorf("/x: %+v", n)
	}
	if n := got.Tree.Get("/app/eph"); n == nil || n.Stat.EphemeralOwner != session {
		t.Errorf("/app/eph: %+v (session %#x)", n, session)
	}
	if _, ok := got.Sessions[session]; !ok {
		t.Errorf("session %#x not restored: %v", session, got.Sessions)
	}

	// Purge a copy, keeping 3 snapshots: what is left still recovers to the same data.
	purged := filepath.Join(dir, "purged")
	copyDir(t, dataDir, filepath.Join(purged, "data"))
	copyDir(t, dataLogDir, filepath.Join(purged, "datalog"))
	if out, _, err := runTool(t, "purge", "--dataDir", filepath.Join(purged, "data"), "--dataLogDir", filepath.Join(purged, "datalog"), "-n", "3"); err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	if left, _ := storage.ListSnapshots(storage.OSFS{}, filepath.Join(purged, "data")); len(left) != min(3, len(snaps)) {
		t.Errorf("%d snapshots left after purge -n 3 of %d", len(left), len(snaps))
	}
	if err := compareRecovered(want, recoverDir(t, filepath.Join(purged, "data"), filepath.Join(purged, "datalog"))); err != nil {
		t.Errorf("purged copy recovers differently: %v", err)
	}

	// Apache ZooKeeper starts from the import and serves the same data.
	srv2 := startApache(t, dir, dst, dst, apacheRestorePort)
	defer srv2.Stop()
	c2 := connectZK(t, apacheRestorePort)
	defer c2.Close()
	for path, data := range map[string][]byte{"/x": []byte("y2"), "/x/child": []byte("from zkCli"), "/app/bin": {0x00, 0x01, 0xfe, 0xff}, "/app/n-11": []byte("11")} {
		got, _, err := c2.Get(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("Apache on the import: get %s = %q, %v; want %q", path, got, err, data)
		}
	}
	if ok, _, err := c2.Exists("/app/n-00"); err != nil || ok {
		t.Errorf("Apache on the import: /app/n-00 exists=%v err=%v; it was deleted", ok, err)
	}
}

// recoverSource recovers a data directory without changing it.
func recoverSource(dataDir, dataLogDir string) (*recovery.State, error) {
	return recovery.Read(readOnlyFS{}, recoveryDirs(dataDir, dataLogDir, 0), nil)
}
