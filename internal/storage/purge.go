package storage

import (
	"errors"
	"path/filepath"
)

// ErrRetainCount means Purge was asked to keep fewer than MinRetainCount snapshots.
var ErrRetainCount = errors.New("storage: must retain at least 3 snapshots")

// MinRetainCount is ZooKeeper's minimum autopurge.snapRetainCount.
const MinRetainCount = 3

// Purge deletes old snapshots and logs as ZooKeeper's PurgeTxnLog does: it
// keeps the newest retainCount snapshots that pass the quick validity check,
// and deletes every snapshot file (also .tmp and .broken ones) and every
// log whose name's zxid is below the oldest kept snapshot's, except the log
// that holds that snapshot's zxid (the newest log starting at or before
// it), which replay from it needs. It returns the deleted paths.
func Purge(fsys FS, dataDir, dataLogDir string, retainCount int) ([]string, error) {
	if retainCount < MinRetainCount {
		return nil, ErrRetainCount
	}
	snaps, err := ListSnapshots(fsys, dataDir)
	if err != nil {
		return nil, err
	}
	var oldestKept *SnapshotInfo
	kept := 0
	for i := len(snaps) - 1; i >= 0 && kept < retainCount; i-- {
		ok, err := quickSnapshotCheck(fsys, snaps[i])
		if err != nil {
			return nil, err
		}
		if ok {
			kept++
			oldestKept = &snaps[i]
		}
	}
	if oldestKept == nil {
		return nil, nil
	}
	least := oldestKept.Zxid
	logs, err := ListLogs(fsys, dataLogDir)
	if err != nil {
		return nil, err
	}
	neededLog := ""
	for _, lf := range logs {
		if lf.Zxid <= least {
			neededLog = lf.Path
		}
	}
	var removed []string
	remove := func(path string) error {
		if err := fsys.Remove(path); err != nil {
			return err
		}
		removed = append(removed, path)
		return nil
	}
	for _, lf := range logs {
		if lf.Zxid < least && lf.Path != neededLog {
			if err := remove(lf.Path); err != nil {
				return removed, err
			}
		}
	}
	snapDir := filepath.Join(dataDir, VersionDir)
	names, err := readDirIfExists(fsys, snapDir)
	if err != nil {
		return removed, err
	}
	for _, name := range names {
		if z, _, ok := parseName(name, snapshotPrefix); ok && z < least {
			if err := remove(filepath.Join(snapDir, name)); err != nil {
				return removed, err
			}
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	dirs := []string{snapDir}
	if logDir := filepath.Join(dataLogDir, VersionDir); logDir != snapDir {
		dirs = append(dirs, logDir)
	}
	for _, dir := range dirs {
		if err := fsys.SyncDir(dir); err != nil {
			return removed, err
		}
	}
	return removed, nil
}
