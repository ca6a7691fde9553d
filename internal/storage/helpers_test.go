package storage

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// entry builds a realistic log entry: a create txn with a digest.
func entry(zxid int64) []byte {
	return txn.Marshal(&txn.Txn{
		Header: txn.Header{ClientID: 0x1000009b9920000, Cxid: int32(zxid), Zxid: zxid, Time: 1795704848893, Type: proto.OpCreate},
		Body: &txn.Create{Path: fmt.Sprintf("/node-%d", zxid), Data: []byte("some data"),
			ACL: []proto.ACL{{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}}, ParentCVersion: int32(zxid)},
		Digest: &txn.Digest{Version: txn.DigestVersion, TreeDigest: zxid * 7919},
	})
}

type logged struct {
	zxid  int64
	entry []byte
}

func readAll(t testing.TB, fsys FS, dir string, from int64) ([]logged, int64, error) {
	t.Helper()
	var out []logged
	last, err := ReadLog(fsys, dir, from, ReadOptions{}, func(z int64, e []byte) error {
		out = append(out, logged{z, bytes.Clone(e)})
		return nil
	})
	return out, last, err
}

func zxids(recs []logged) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.zxid
	}
	return out
}

func fileBytes(t testing.TB, fsys FS, path string) []byte {
	t.Helper()
	f, err := fsys.OpenFile(path, os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := fsys.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, info.Size())
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, fsys FS, path string, data []byte) {
	t.Helper()
	if err := fsys.MkdirAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// testLogger collects log lines so tests can assert on warnings.
type testLogger struct{ buf bytes.Buffer }

func (l *testLogger) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// appendAll appends entries for zxids and syncs.
func appendAll(t testing.TB, l *Log, zs ...int64) {
	t.Helper()
	for _, z := range zs {
		if err := l.Append(z, entry(z)); err != nil {
			t.Fatalf("append %#x: %v", z, err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

func seq(from, to int64) []int64 {
	var out []int64
	for z := from; z <= to; z++ {
		out = append(out, z)
	}
	return out
}
