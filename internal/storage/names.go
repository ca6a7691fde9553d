package storage

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// VersionDir is the subdirectory of dataDir and dataLogDir that holds
// ZooKeeper's version 2 files.
const VersionDir = "version-2"

const (
	logPrefix      = "log"
	snapshotPrefix = "snapshot"
	tmpSuffix      = ".tmp"
	brokenSuffix   = ".broken"
)

// Snapshot compression methods, as zookeeper.snapshot.compression.method
// spells them; the empty string means uncompressed.
const (
	CompressionNone   = ""
	CompressionGzip   = "gz"
	CompressionSnappy = "snappy"
)

// LogInfo names one transaction log file.
type LogInfo struct {
	Zxid int64 // zxid of the first txn in the file (from its name)
	Path string
}

// SnapshotInfo names one snapshot file.
type SnapshotInfo struct {
	Zxid        int64 // last zxid applied when the snapshot started (from its name)
	Path        string
	Compression string // CompressionNone, CompressionGzip or CompressionSnappy
	// Size is the file's length in bytes; set by WriteSnapshot only.
	Size int64
}

// LogName is the file name of a log whose first txn is zxid: "log." and
// lowercase hex without leading zeros, like Java's Long.toHexString.
func LogName(zxid int64) string { return logPrefix + "." + strconv.FormatUint(uint64(zxid), 16) }

// SnapshotName is the file name of a snapshot, with the compression suffix.
func SnapshotName(zxid int64, compression string) string {
	name := snapshotPrefix + "." + strconv.FormatUint(uint64(zxid), 16)
	if compression != CompressionNone {
		name += "." + compression
	}
	return name
}

// parseName splits "<prefix>.<hex>[.<ext>...]" and returns the zxid and the
// extensions. ZooKeeper parses the hex with Long.parseLong(s, 16); zkd only
// accepts plain hex digits.
func parseName(name, prefix string) (int64, []string, bool) {
	parts := strings.Split(name, ".")
	if len(parts) < 2 || parts[0] != prefix || parts[1] == "" || len(parts[1]) > 16 {
		return 0, nil, false
	}
	for _, c := range parts[1] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return 0, nil, false
		}
	}
	z, err := strconv.ParseUint(parts[1], 16, 64)
	if err != nil || z > 1<<63-1 {
		return 0, nil, false
	}
	return int64(z), parts[2:], true
}

// parseLogName reports the start zxid of a "log.<hex>" file name.
func parseLogName(name string) (int64, bool) {
	z, ext, ok := parseName(name, logPrefix)
	return z, ok && len(ext) == 0
}

// parseSnapshotName reports the zxid and compression of a snapshot file name;
// temporary and broken snapshots do not count.
func parseSnapshotName(name string) (int64, string, bool) {
	z, ext, ok := parseName(name, snapshotPrefix)
	if !ok {
		return 0, "", false
	}
	switch {
	case len(ext) == 0:
		return z, CompressionNone, true
	case len(ext) == 1 && (ext[0] == CompressionGzip || ext[0] == CompressionSnappy):
		return z, ext[0], true
	}
	return 0, "", false
}

func readDirIfExists(fsys FS, dir string) ([]string, error) {
	names, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return names, err
}

// ListLogs lists the transaction logs under dataLogDir/version-2, oldest
// first. A missing directory is an empty list.
func ListLogs(fsys FS, dataLogDir string) ([]LogInfo, error) {
	dir := filepath.Join(dataLogDir, VersionDir)
	names, err := readDirIfExists(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []LogInfo
	for _, n := range names {
		if z, ok := parseLogName(n); ok {
			out = append(out, LogInfo{Zxid: z, Path: filepath.Join(dir, n)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zxid < out[j].Zxid })
	return out, nil
}

// ListSnapshots lists the snapshots under dataDir/version-2, oldest first,
// without checking their contents. Temporary (.tmp) and quarantined
// (.broken) files are not listed.
func ListSnapshots(fsys FS, dataDir string) ([]SnapshotInfo, error) {
	dir := filepath.Join(dataDir, VersionDir)
	names, err := readDirIfExists(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []SnapshotInfo
	for _, n := range names {
		if z, c, ok := parseSnapshotName(n); ok {
			out = append(out, SnapshotInfo{Zxid: z, Path: filepath.Join(dir, n), Compression: c})
		}
	}
	// Two files for one zxid (say snapshot.5 and snapshot.5.gz) keep a stable order.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Zxid < out[j].Zxid })
	return out, nil
}

// ensureDir creates dir if needed and makes each new directory's entry
// durable by syncing its parent.
// EnsureDir creates dir and its missing parents durably: each created
// directory's entry is synced in its parent, so that a crash right after
// cannot lose a directory whose files were synced.
func EnsureDir(fsys FS, dir string) error { return ensureDir(fsys, dir) }

func ensureDir(fsys FS, dir string) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		info, err := fsys.Stat(d)
		if err == nil {
			if !info.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: d, Err: errors.New("not a directory")}
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := fsys.SyncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}
