package recovery

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

const dir = "/data"

var dirs = Dirs{DataDir: dir, DataLogDir: dir, MaxEntrySize: jute.DefaultMaxBuffer}

// history writes n creates after a session, with a snapshot after every
// snapEvery of them, into a fresh in-memory data directory, as a server would.
func history(t *testing.T, n, snapEvery int) *storage.MemFS {
	t.Helper()
	fsys := storage.NewMemFS()
	l, err := storage.OpenLog(fsys, dir, storage.LogOptions{PreAllocSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	tr := tree.New()
	sessions := map[int64]int32{}
	add := func(zxid int64, tx *txn.Txn) {
		tx.Header.Zxid = zxid
		tr.Apply(tx)
		if err := l.Append(zxid, txn.Marshal(tx)); err != nil {
			t.Fatal(err)
		}
	}
	add(1, &txn.Txn{Header: txn.Header{ClientID: 7, Type: proto.OpCreateSession}, Body: &txn.CreateSession{TimeOut: 30000}})
	sessions[7] = 30000
	for i := 1; i <= n; i++ {
		add(int64(i+1), &txn.Txn{Header: txn.Header{ClientID: 7, Cxid: int32(i), Type: proto.OpCreate},
			Body: &txn.Create{Path: fmt.Sprintf("/n%d", i), Data: []byte("v"), ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "world", ID: "anyone"}}}}})
		if i%snapEvery == 0 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			snap := storage.Snapshot{Zxid: tr.LastZxid(), Sessions: sessions}
			if _, err := storage.WriteSnapshot(fsys, dir, snap, tr.SerializeStream, storage.SnapshotOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fsys
}

// readOnly fails every operation that could change a file.
func readOnly(fsys storage.FS) storage.FS {
	return storage.NewErrorFS(fsys, storage.InjectorFunc(func(op storage.Op, path string) error {
		switch op {
		case storage.OpCreate, storage.OpRename, storage.OpRemove, storage.OpMkdirAll, storage.OpWrite,
			storage.OpWriteAt, storage.OpTruncate, storage.OpSync, storage.OpSyncDir:
			return fmt.Errorf("read-only: %v %s", op, path)
		}
		return nil
	}))
}

func newestLog(t *testing.T, fsys storage.FS) string {
	logs, err := storage.ListLogs(fsys, dir)
	if err != nil || len(logs) == 0 {
		t.Fatalf("logs: %v %v", logs, err)
	}
	return logs[len(logs)-1].Path
}

func TestReadChangesNothingAndRepairChangesNoContent(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, fsys *storage.MemFS)
		want   []storage.RepairKind
		nodes  int // /n* znodes recovered
	}{
		{"clean", func(*testing.T, *storage.MemFS) {}, nil, 10},
		{"torn tail", func(t *testing.T, fsys *storage.MemFS) {
			// half a record after the last one: a write the crash cut short
			f, err := fsys.OpenFile(newestLog(t, fsys), os.O_RDWR)
			if err != nil {
				t.Fatal(err)
			}
			info, _ := fsys.Stat(newestLog(t, fsys))
			rec := []byte{0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 60, 1, 2, 3}
			if _, err := f.WriteAt(rec, info.Size()); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}, []storage.RepairKind{storage.TruncateLog}, 10},
		{"newest log without records", func(t *testing.T, fsys *storage.MemFS) {
			f, err := fsys.Create(filepath.Join(dir, storage.VersionDir, storage.LogName(100)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}, []storage.RepairKind{storage.RemoveLog}, 10},
		{"broken newest snapshot", func(t *testing.T, fsys *storage.MemFS) {
			snaps, _ := storage.ListSnapshots(fsys, dir)
			path := snaps[len(snaps)-1].Path
			f, err := fsys.OpenFile(path, os.O_RDWR)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{0xff, 0xff, 0xff}, 30)
			f.Close()
		}, []storage.RepairKind{storage.MoveSnapshotAside}, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := history(t, 10, 4)
			c.damage(t, fsys)
			st, err := Read(readOnly(fsys), dirs, nil)
			if err != nil {
				t.Fatalf("read-only Read: %v", err)
			}
			var kinds []storage.RepairKind
			for _, r := range st.Repairs {
				kinds = append(kinds, r.Kind)
			}
			if !slices.Equal(kinds, c.want) {
				t.Fatalf("repairs %v, want kinds %v", st.Repairs, c.want)
			}
			if got := st.Tree.LastZxid(); got != 11 {
				t.Errorf("last zxid %#x, want 0xb", got)
			}
			for i := 1; i <= c.nodes; i++ {
				if st.Tree.Get(fmt.Sprintf("/n%d", i)) == nil {
					t.Errorf("/n%d missing", i)
				}
			}
			if st.Sessions[7] != 30000 {
				t.Errorf("sessions %v", st.Sessions)
			}
			if err := Repair(fsys, st, nil); err != nil {
				t.Fatal(err)
			}
			again, err := Read(readOnly(fsys), dirs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Repairs) != 0 {
				t.Errorf("repairs left after Repair: %v", again.Repairs)
			}
			if again.Tree.Digest() != st.Tree.Digest() || again.Tree.LastZxid() != st.Tree.LastZxid() {
				t.Errorf("repaired directory reads differently")
			}
		})
	}
}
