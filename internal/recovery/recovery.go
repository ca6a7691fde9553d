// Package recovery reads a ZooKeeper data directory back into a tree, its
// sessions and its epochs, in two steps as etcd's WAL does (ReadAll, then
// Repair): Read changes no file and says which repairs the directory
// needs (a torn log tail to cut, a newest log without records to remove,
// a broken snapshot to move aside); Repair makes them. A server reads and
// repairs before it writes; the file tools only read, and report what a
// server would repair.
package recovery

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// Dirs names the directories to read, as zoo.cfg's dataDir and dataLogDir,
// and the largest record accepted (jute.maxbuffer).
type Dirs struct {
	DataDir, DataLogDir string
	MaxEntrySize        int
}

// State is what a data directory holds.
type State struct {
	Tree     *tree.Tree
	Sessions map[int64]int32
	// SnapshotZxid is the zxid of the snapshot loaded (0 for none).
	SnapshotZxid int64
	// HadSnapshot is false when the directory held no snapshot.
	HadSnapshot bool
	// Replayed counts the log txns applied after the snapshot.
	Replayed int
	// DigestMismatches counts the replayed txns (past a fuzzy snapshot's
	// reach) whose TxnDigest differed from the tree's digest after them,
	// which ZooKeeper counts in digest_mismatches_count at start-up too.
	DigestMismatches int
	// The epoch files (nil when missing), which zab checks against the log.
	CurrentEpoch, AcceptedEpoch, CurrentEpochTmp *int64
	// Repairs the directory needs before it is written to again.
	Repairs []storage.Repair
}

// Read loads the newest valid snapshot under DataDir and replays the
// transaction log after it, tolerating a torn tail as ZooKeeper does,
// without changing any file. A data directory with neither snapshot nor
// log gives an empty tree.
func Read(fsys storage.FS, dirs Dirs, log *slog.Logger) (*State, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	for _, d := range []string{dirs.DataDir, dirs.DataLogDir} {
		info, err := fsys.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("data directory %s: %w (create it or set dataDir/dataLogDir in zoo.cfg)", d, err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("data directory %s is not a directory (check dataDir/dataLogDir in zoo.cfg)", d)
		}
	}
	maxEntry := dirs.MaxEntrySize
	var t *tree.Tree
	snap, info, repairs, err := storage.FindNewestSnapshot(fsys, dirs.DataDir, storage.SnapshotOptions{MaxEntrySize: maxEntry, Logger: log},
		func(d *jute.Decoder) error {
			var err error
			t, err = tree.Deserialize(d)
			return err
		})
	hadSnapshot := err == nil
	switch {
	case errors.Is(err, storage.ErrNoSnapshot):
		t = tree.New()
		snap.Sessions = map[int64]int32{}
	case err != nil:
		return nil, fmt.Errorf("loading snapshot: %w", err)
	default:
		t.SetLastZxid(snap.Zxid)
		log.Info("snapshot loaded", "path", info.Path, "zxid", hexZxid(snap.Zxid), "nodes", t.NodeCount(),
			"sessions", len(snap.Sessions), "took", time.Since(start).Round(time.Millisecond).String())
	}
	readOpts := storage.ReadOptions{MaxEntrySize: maxEntry, Logger: log}
	_, logRepairs, err := storage.CheckLog(fsys, dirs.DataLogDir, readOpts)
	if err != nil {
		return nil, fmt.Errorf("checking the transaction log: %w", err)
	}
	sessions := snap.Sessions
	if sessions == nil {
		sessions = map[int64]int32{}
	}
	st := &State{Tree: t, Sessions: sessions, SnapshotZxid: snap.Zxid, HadSnapshot: hadSnapshot,
		Repairs: append(repairs, logRepairs...)}
	for _, f := range []struct {
		name string
		to   **int64
	}{{storage.CurrentEpochFile, &st.CurrentEpoch}, {storage.AcceptedEpochFile, &st.AcceptedEpoch},
		{storage.CurrentEpochFile + ".tmp", &st.CurrentEpochTmp}} {
		e, err := storage.ReadEpoch(fsys, dirs.DataDir, f.name)
		switch {
		case err == nil:
			*f.to = &e
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("reading %s: %w (fix or remove the file)", f.name, err)
		}
	}
	digestMismatches := 0
	// ZooKeeper's snapshots are fuzzy: serialized while txns go on applying,
	// they may hold txns up to their digest's zxid. Replaying those cannot
	// reproduce their recorded digests, so, like DataTree.compareDigest,
	// compare only after that zxid.
	fuzzyUntil := snap.Zxid
	if snap.Digest != nil && snap.Digest.Zxid > fuzzyUntil {
		fuzzyUntil = snap.Digest.Zxid
	}
	_, err = storage.ReadLog(fsys, dirs.DataLogDir, snap.Zxid, readOpts, func(zxid int64, entry []byte) error {
		tx, err := txn.Unmarshal(entry, maxEntry+max(1024, maxEntry))
		if err != nil {
			return fmt.Errorf("txn 0x%x: %w", uint64(zxid), err)
		}
		t.Apply(tx)
		switch b := tx.Body.(type) {
		case *txn.CreateSession:
			sessions[tx.Header.ClientID] = b.TimeOut
		case *txn.CloseSession:
			delete(sessions, tx.Header.ClientID)
		}
		if tx.Digest != nil && zxid > fuzzyUntil && tx.Digest.TreeDigest != t.Digest() {
			digestMismatches++
		}
		// As DataTree.compareSnapshotDigests: a snapshot's digest is checked
		// when the replay reaches its zxid. A snapshot's digest at its own
		// zxid is never checked: ZooKeeper's fuzzy snapshots can hold part
		// of the next txn under that digest.
		if d := snap.Digest; d != nil && d.Digest != 0 && zxid == d.Zxid && d.Zxid > snap.Zxid && d.Digest != t.Digest() {
			log.Warn("tree digest differs from the snapshot's digest at its zxid", "snapshot", info.Path,
				"zxid", hexZxid(zxid), "recorded", d.Digest, "computed", t.Digest())
		}
		st.Replayed++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replaying the transaction log: %w", err)
	}
	st.DigestMismatches = digestMismatches
	if digestMismatches > 0 {
		log.Warn("tree digest differs from the digest recorded in logged txns", "txns", digestMismatches)
	}
	// Loading left its read window, the replay's buffers and what garbage
	// the tree's build made; hand that memory back now rather than when
	// the scavenger gets to it.
	debug.FreeOSMemory()
	log.Info("data recovered", "last_zxid", hexZxid(t.LastZxid()), "replayed_txns", st.Replayed,
		"nodes", t.NodeCount(), "sessions", len(sessions), "took", time.Since(start).Round(time.Millisecond).String())
	return st, nil
}

// Repair makes the repairs Read found, each durable before the next.
func Repair(fsys storage.FS, st *State, log *slog.Logger) error {
	if err := storage.ApplyRepairs(fsys, st.Repairs, log); err != nil {
		return err
	}
	st.Repairs = nil
	return nil
}

func hexZxid(z int64) string { return fmt.Sprintf("0x%x", uint64(z)) }
