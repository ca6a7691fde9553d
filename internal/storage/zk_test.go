package storage

// Tests against files written by Apache ZooKeeper 3.8.0 (testdata/zk38, made
// by a standalone server with snapCount=8 and a few zkCli/kazoo writes; the
// logs' preallocated zeros were cut off) and, when java is installed, tests
// that Apache's own tools read the files zkd writes.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

const zkTestdata = "testdata/zk38"

// treeBody is a DataTree body parsed just enough to find its end.
type treeBody struct {
	acls  int
	paths []string
	start int // offset of the body in the snapshot
	raw   []byte
}

// parseTreeBody consumes an ACL cache, nodes and the "/" end marker, as
// ZooKeeper's DataTree.deserialize does.
func parseTreeBody(d *jute.Decoder, whole []byte, body *treeBody) error {
	body.start = d.Offset()
	body.acls = int(d.Int())
	for i := 0; i < body.acls && d.Err() == nil; i++ {
		d.Long()
		n := d.VectorLen(12)
		for range n {
			d.Int()
			_, _ = d.String(), d.String() // Id scheme and id
		}
	}
	for d.Err() == nil {
		path := d.String()
		if path == "/" {
			break
		}
		body.paths = append(body.paths, path)
		d.Buffer()
		d.Long()
		for range 4 {
			d.Long() // czxid, mzxid, ctime, mtime
		}
		d.Int() // version
		d.Int() // cversion
		d.Int() // aversion
		d.Long()
		d.Long() // ephemeralOwner, pzxid
	}
	if d.Err() != nil {
		return d.Err()
	}
	if whole != nil {
		body.raw = bytes.Clone(whole[body.start:d.Offset()])
	}
	return nil
}

func readZKSnapshot(t *testing.T, fsys FS, path string) (Snapshot, *treeBody) {
	t.Helper()
	whole, err := decompress(fileBytes(t, fsys, path), snapshotCompression(path))
	if err != nil {
		t.Fatal(err)
	}
	body := &treeBody{}
	snap, err := ReadSnapshot(fsys, path, SnapshotOptions{}, func(d *jute.Decoder) error {
		return parseTreeBody(d, whole, body)
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return snap, body
}

func TestReadZooKeeperLogs(t *testing.T) {
	var got []*txn.Txn
	last, err := ReadLog(OSFS{}, zkTestdata, 0, ReadOptions{}, func(z int64, e []byte) error {
		tx, err := txn.Unmarshal(e, jute.DefaultMaxBuffer)
		if err != nil {
			return fmt.Errorf("zxid %#x: %w", z, err)
		}
		if tx.Header.Zxid != z {
			return fmt.Errorf("header zxid %#x != %#x", tx.Header.Zxid, z)
		}
		got = append(got, tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if last != 0x14 || len(got) != 0x14 {
		t.Fatalf("read %d txns up to %#x, want 20 up to 0x14", len(got), last)
	}
	// Spot checks of what the zkCli/kazoo session did.
	if c, ok := got[0x2-1].Body.(*txn.Create); !ok || c.Path != "/a" || string(c.Data) != "x" {
		t.Errorf("txn 2 = %#v, want create /a x", got[1].Body)
	}
	if got[0x11-1].Header.Type != proto.OpMulti || got[0x12-1].Header.Type != proto.OpMulti {
		t.Errorf("txns 0x11, 0x12 are %v %v, want multi", got[0x10].Header.Type, got[0x11].Header.Type)
	}
	if c, ok := got[0x13-1].Body.(*txn.Create); !ok || len(c.Data) != 3000 {
		t.Errorf("txn 0x13 = %T, want create /big of 3000 bytes", got[0x12].Body)
	}
	if got[0x14-1].Header.Type != proto.OpCloseSession {
		t.Errorf("txn 0x14 is %v, want closeSession", got[0x13].Header.Type)
	}
	for _, tx := range got {
		if tx.Header.Type != proto.OpError && tx.Digest == nil {
			t.Errorf("txn %#x (%v) has no digest", tx.Header.Zxid, tx.Header.Type)
		}
	}

	// Replay after snapshot.b starts in log.6 (the file holding 0xb).
	recs, _, err := readAll(t, OSFS{}, zkTestdata, 0xb)
	if err != nil || !slices.Equal(zxids(recs), seq(0xc, 0x14)) {
		t.Fatalf("from 0xb: %v %v", zxids(recs), err)
	}
}

// zkLogFiles returns the entries of each ZooKeeper log file.
func zkLogFiles(t *testing.T) (names []string, entries [][]logged) {
	logs, err := ListLogs(OSFS{}, zkTestdata)
	if err != nil || len(logs) != 4 {
		t.Fatalf("testdata logs: %v %v", logs, err)
	}
	for _, lf := range logs {
		var recs []logged
		_, err := readOneLog(OSFS{}, lf.Path, maxRecordLen(0), 0, func(z int64, e []byte, _ int64) error {
			recs = append(recs, logged{z, bytes.Clone(e)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(lf.Path))
		entries = append(entries, recs)
	}
	return names, entries
}

// writeLogs writes the given files' entries with zkd's Log, rolling between files.
func writeLogs(t *testing.T, fsys FS, dir string, files [][]logged) {
	l, err := OpenLog(fsys, dir, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, recs := range files {
		for _, r := range recs {
			if err := l.Append(r.zxid, r.entry); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLogWriterMatchesZooKeeperBytes(t *testing.T) {
	names, files := zkLogFiles(t)
	dir := t.TempDir()
	writeLogs(t, OSFS{}, dir, files)
	for _, name := range names {
		want := fileBytes(t, OSFS{}, filepath.Join(zkTestdata, VersionDir, name))
		path := filepath.Join(dir, VersionDir, name)
		info, err := os.Stat(path)
		if err != nil || info.Size() != 67108880 {
			t.Fatalf("%s: %v, want 67108880 bytes like ZooKeeper's", name, err)
		}
		got := make([]byte, len(want)+64<<10)
		f, _ := os.Open(path)
		f.ReadAt(got, 0)
		f.Close()
		if !bytes.Equal(got[:len(want)], want) {
			t.Errorf("%s: records differ from ZooKeeper's", name)
		}
		if !isZero(got[len(want):]) {
			t.Errorf("%s: preallocated tail is not zero", name)
		}
	}
}

func TestLoadZooKeeperSnapshots(t *testing.T) {
	fsys := copyDir(t, zkTestdata, "/zk")
	var body treeBody
	snap, info, err := LoadNewestSnapshot(fsys, "/zk", SnapshotOptions{}, func(d *jute.Decoder) error {
		body = treeBody{}
		return parseTreeBody(d, nil, &body)
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.Zxid != 0x13 || snap.Zxid != 0x13 {
		t.Fatalf("loaded %+v", info)
	}
	wantSessions := map[int64]int32{0x1000009e7880000: 10000, 0x1000009b9920000: 30000}
	if fmt.Sprint(snap.Sessions) != fmt.Sprint(wantSessions) {
		t.Errorf("sessions %v, want %v", snap.Sessions, wantSessions)
	}
	if snap.Digest == nil || snap.Digest.Version != 2 || snap.Digest.Zxid == 0 || snap.Digest.Digest == 0 {
		t.Errorf("digest %+v", snap.Digest)
	}
	for _, p := range []string{"", "/zookeeper", "/zookeeper/config", "/zookeeper/quota", "/a", "/a/b", "/big", "/cont", "/m1"} {
		if !slices.Contains(body.paths, p) {
			t.Errorf("node %q missing from %v", p, body.paths)
		}
	}
	// Every snapshot ZooKeeper wrote reads, compressed ones included.
	for _, p := range []string{"zk38/version-2/snapshot.0", "zk38/version-2/snapshot.4", "zk38/version-2/snapshot.b",
		"zk38/version-2/snapshot.f", "snapshot.14.gz", "snapshot.14.snappy"} {
		s, b := readZKSnapshot(t, OSFS{}, filepath.Join("testdata", p))
		if len(b.paths) < 4 || s.Digest == nil {
			t.Errorf("%s: %d nodes, digest %v", p, len(b.paths), s.Digest)
		}
	}
}

func TestSnapshotWriterMatchesZooKeeperBytes(t *testing.T) {
	for _, name := range []string{"snapshot.0", "snapshot.4", "snapshot.b", "snapshot.f"} {
		path := filepath.Join(zkTestdata, VersionDir, name)
		snap, body := readZKSnapshot(t, OSFS{}, path)
		if len(snap.Sessions) > 1 {
			t.Fatalf("%s: Java's HashMap order of %d sessions is not reproduced", name, len(snap.Sessions))
		}
		fsys := NewMemFS()
		info, err := WriteSnapshot(fsys, "/d", snap, func(e *jute.Encoder, _ func([]byte) error) error {
			e.Raw(body.raw)
			return nil
		}, SnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(info.Path) != name {
			t.Errorf("wrote %s, want %s", info.Path, name)
		}
		if got, want := fileBytes(t, fsys, info.Path), fileBytes(t, OSFS{}, path); !bytes.Equal(got, want) {
			t.Errorf("%s: bytes differ from ZooKeeper's\n got %x\nwant %x", name, got, want)
		}
	}
}

// copyDir copies a directory tree from the OS into a new MemFS under dst.
func copyDir(t *testing.T, src, dst string) *MemFS {
	t.Helper()
	fsys := NewMemFS()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		writeFile(t, fsys, filepath.Join(dst, rel), fileBytes(t, OSFS{}, p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/", dst, filepath.Join(dst, VersionDir)} {
		fsys.SyncDir(d)
	}
	return fsys
}

// zookeeperJava runs an Apache ZooKeeper class, skipping the test when
// java or the Debian zookeeper jars are missing.
func zookeeperJava(t *testing.T, class string, args ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs java")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed")
	}
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Skip("Apache ZooKeeper jars not installed")
	}
	cmd := exec.Command(java, append([]string{"-cp", "/usr/share/java/*", class}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", class, args, err, out)
	}
	return string(out)
}

func TestApacheReadsOurLog(t *testing.T) {
	_, files := zkLogFiles(t)
	// ZooKeeper's entries plus zkd-built ones of every size class.
	var ours []logged
	z := int64(0x15)
	for _, size := range []int{0, 1, 100, 5000, 70000} {
		e := txn.Marshal(&txn.Txn{
			Header: txn.Header{ClientID: 0x1000009e7880000, Cxid: 9, Zxid: z, Time: 1795704860525, Type: proto.OpSetData},
			Body:   &txn.SetData{Path: "/a", Data: bytes.Repeat([]byte{'q'}, size), Version: int32(z)},
			Digest: &txn.Digest{Version: 2, TreeDigest: 12345},
		})
		ours = append(ours, logged{z, e})
		z++
	}
	all := slices.Concat(files[0], files[1], files[2], files[3], ours)
	dir := t.TempDir()
	writeLogs(t, OSFS{}, dir, [][]logged{all})
	out := zookeeperJava(t, "org.apache.zookeeper.server.persistence.TxnLogToolkit", "-d", filepath.Join(dir, VersionDir, "log.1"))
	if !strings.Contains(out, fmt.Sprintf("EOF reached after %d txns.", len(all))) || strings.Contains(out, "CRC ERROR") {
		t.Fatalf("TxnLogToolkit output:\n%s", out)
	}
	if !strings.Contains(out, "zxid 0x19 setData /a,") {
		t.Fatalf("TxnLogToolkit does not show our setData:\n%s", out)
	}
}

func TestApacheReadsOurSnapshot(t *testing.T) {
	snap, body := readZKSnapshot(t, OSFS{}, filepath.Join(zkTestdata, VersionDir, "snapshot.13"))
	for _, compression := range []string{CompressionNone, CompressionGzip, CompressionSnappy} {
		dir := t.TempDir()
		snap.Zxid = 0x1234
		info, err := WriteSnapshot(OSFS{}, dir, snap, func(e *jute.Encoder, flush func([]byte) error) error {
			// Write in pieces through flush, as a streaming tree does, and
			// leave the last piece in e.
			for chunk := range slices.Chunk(body.raw, 100) {
				e.Raw(chunk)
				if e.Len() >= 300 {
					if err := flush(e.Bytes()); err != nil {
						return err
					}
					e.Reset()
				}
			}
			return nil
		}, SnapshotOptions{Compression: compression})
		if err != nil {
			t.Fatal(err)
		}
		out := zookeeperJava(t, "org.apache.zookeeper.server.SnapshotFormatter", info.Path)
		for _, want := range []string{"/big", "/cont", "0x1000009e7880000, 10000, 0", "Last zxid: 0x1234"} {
			if !strings.Contains(out, want) {
				t.Fatalf("%q: SnapshotFormatter output lacks %q:\n%s", compression, want, out)
			}
		}
		// And zkd reads it back.
		back, b2 := readZKSnapshot(t, OSFS{}, info.Path)
		if !bytes.Equal(b2.raw, body.raw) || back.Zxid != 0x1234 || *back.Digest != *snap.Digest {
			t.Fatalf("%q: round trip differs", compression)
		}
	}
}
