package storage

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
)

// A Repair is a change that a data directory needs before it is written
// again. Reading finds it without making it (FindNewestSnapshot, CheckLog:
// etcd's ReadAll), ApplyRepairs makes it (etcd's Repair), so that a reader
// that must not change the files, such as the file tools, can report what
// a server would repair and leave the directory as it is.
type Repair struct {
	Kind RepairKind
	Path string
	// Size is the length a TruncateLog repair cuts the file to.
	Size int64
	// Why says, in words, what reading found.
	Why string
}

// RepairKind says what a Repair does.
type RepairKind int

const (
	// MoveSnapshotAside renames a snapshot that fails to load to
	// "<name>.broken", as etcd's snapshotter does; ZooKeeper skips it the
	// same way but leaves it in place.
	MoveSnapshotAside RepairKind = iota + 1
	// TruncateLog cuts a torn tail off the newest log file.
	TruncateLog
	// RemoveLog removes a newest log file that holds no record.
	RemoveLog
)

func (r Repair) String() string {
	switch r.Kind {
	case MoveSnapshotAside:
		return fmt.Sprintf("move %s aside as %s (%s)", r.Path, filepath.Base(r.Path)+brokenSuffix, r.Why)
	case TruncateLog:
		return fmt.Sprintf("cut %s to %d bytes (%s)", r.Path, r.Size, r.Why)
	case RemoveLog:
		return fmt.Sprintf("remove %s (%s)", r.Path, r.Why)
	}
	return fmt.Sprintf("unknown repair %d of %s", r.Kind, r.Path)
}

// ApplyRepairs makes the repairs, in order, each one durable (file and
// directory synced) before the next. A snapshot that cannot be moved aside
// is only logged: the load already skipped it, and ZooKeeper leaves such
// files in place. A log repair that fails is returned: appending after a
// torn tail that is still there would hide the new records from a replay.
func ApplyRepairs(fsys FS, repairs []Repair, logger *slog.Logger) error {
	logger = orDiscard(logger)
	for _, r := range repairs {
		switch r.Kind {
		case MoveSnapshotAside:
			logger.Warn("storage: moving a snapshot that fails to load aside",
				"file", r.Path, "renamedTo", r.Path+brokenSuffix, "reason", r.Why)
			if err := fsys.Rename(r.Path, r.Path+brokenSuffix); err != nil {
				logger.Warn("storage: cannot rename broken snapshot", "file", r.Path, "err", err)
			} else if err := fsys.SyncDir(filepath.Dir(r.Path)); err != nil {
				logger.Warn("storage: cannot sync snapshot directory", "err", err)
			}
		case TruncateLog:
			dropped := int64(-1)
			if info, err := fsys.Stat(r.Path); err == nil {
				dropped = info.Size() - r.Size
			}
			logger.Warn("storage: truncating torn tail of transaction log", "file", r.Path,
				"offset", r.Size, "droppedBytes", dropped, "reason", r.Why)
			if err := truncateFile(fsys, r.Path, r.Size); err != nil {
				return fmt.Errorf("repairing %s: %w", r.Path, err)
			}
		case RemoveLog:
			logger.Warn("storage: removing log file without records", "file", r.Path)
			if err := fsys.Remove(r.Path); err != nil {
				return fmt.Errorf("repairing %s: %w", r.Path, err)
			}
			if err := fsys.SyncDir(filepath.Dir(r.Path)); err != nil {
				return fmt.Errorf("repairing %s: %w", r.Path, err)
			}
		default:
			return fmt.Errorf("repairing %s: unknown repair kind %d", r.Path, r.Kind)
		}
	}
	return nil
}

func truncateFile(fsys FS, path string, size int64) error {
	f, err := fsys.OpenFile(path, os.O_RDWR)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CheckLog reads the newest log file under dataLogDir/version-2 and says
// how to repair it, changing nothing: a torn tail is to be cut off; a
// newest file without records is to be removed, and then the next newest
// is examined. It returns the zxid of the last good record in the logs (0
// if none). Corruption is an error matching ErrCorrupt that names the file
// and offset; files other than the newest are not read.
func CheckLog(fsys FS, dataLogDir string, opts ReadOptions) (int64, []Repair, error) {
	maxLen := maxRecordLen(opts.MaxEntrySize)
	logs, err := ListLogs(fsys, dataLogDir)
	if err != nil {
		return 0, nil, err
	}
	var repairs []Repair
	for i := len(logs) - 1; i >= 0; i-- {
		path := logs[i].Path
		f, err := fsys.OpenFile(path, os.O_RDONLY)
		if err != nil {
			return 0, nil, err
		}
		info, err := fsys.Stat(path)
		if err != nil {
			f.Close()
			return 0, nil, err
		}
		size := info.Size()
		res, err := scanLog(f, path, size, maxLen, math.MinInt64, nil)
		f.Close()
		if err != nil {
			return 0, nil, err
		}
		if res.records == 0 {
			repairs = append(repairs, Repair{Kind: RemoveLog, Path: path, Why: "the newest log file holds no record"})
			continue
		}
		if res.tornAt >= 0 {
			repairs = append(repairs, Repair{Kind: TruncateLog, Path: path, Size: res.tornAt,
				Why: fmt.Sprintf("torn write at offset %d, %d bytes dropped, last zxid %#x", res.tornAt, size-res.tornAt, res.lastZxid)})
		}
		return res.lastZxid, repairs, nil
	}
	return 0, repairs, nil
}

// RecoverLog is CheckLog followed by ApplyRepairs.
func RecoverLog(fsys FS, dataLogDir string, opts ReadOptions) (int64, error) {
	last, repairs, err := CheckLog(fsys, dataLogDir, opts)
	if err != nil {
		return 0, err
	}
	return last, ApplyRepairs(fsys, repairs, opts.Logger)
}
