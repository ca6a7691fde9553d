package storage

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
)

// ErrNotNumber means an epoch or myid file does not start with a decimal number.
var ErrNotNumber = errors.New("storage: file does not hold a number")

// Names of the files that hold numbers.
const (
	CurrentEpochFile  = "currentEpoch"  // in dataDir/version-2
	AcceptedEpochFile = "acceptedEpoch" // in dataDir/version-2
	MyIDFile          = "myid"          // in dataDir
)

// ReadEpoch reads dataDir/version-2/<name> (CurrentEpochFile,
// AcceptedEpochFile, or CurrentEpochFile+".tmp" that a crash left behind).
// A missing file gives an error matching fs.ErrNotExist.
func ReadEpoch(fsys FS, dataDir, name string) (int64, error) {
	return readNumber(fsys, filepath.Join(dataDir, VersionDir, name))
}

// WriteEpoch writes epoch as decimal text without a newline to
// dataDir/version-2/<name>, atomically: "<name>.tmp" is written, fsynced
// and renamed over the file, and the directory is fsynced (ZooKeeper's
// AtomicFileWritingIdiom, plus the directory sync).
func WriteEpoch(fsys FS, dataDir, name string, epoch int64) error {
	dir := filepath.Join(dataDir, VersionDir)
	if err := ensureDir(fsys, dir); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(strconv.AppendInt(nil, epoch, 10))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err != nil {
		fsys.Remove(tmp)
		return err
	}
	return fsys.SyncDir(dir)
}

// ReadMyID reads dataDir/myid, the server id of a quorum member. A missing
// file (standalone) gives an error matching fs.ErrNotExist.
func ReadMyID(fsys FS, dataDir string) (int64, error) {
	return readNumber(fsys, filepath.Join(dataDir, MyIDFile))
}

// readNumber parses a file's first line as ZooKeeper does
// (BufferedReader.readLine then Long.parseLong): no trimming, an optional
// sign, decimal digits.
func readNumber(fsys FS, path string) (int64, error) {
	data, err := readWholeFile(fsys, path)
	if err != nil {
		return 0, err
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		data = data[:i]
	}
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s holds %q", ErrNotNumber, path, data)
	}
	return n, nil
}
