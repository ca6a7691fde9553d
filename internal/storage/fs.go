package storage

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// ErrUnsupportedFlag means OpenFile was given a flag this package's file
// systems do not implement (O_APPEND, O_SYNC, ...).
var ErrUnsupportedFlag = errors.New("storage: unsupported open flag")

// FS is the file system the storage layer runs on. Implementations: OSFS for
// real disks, MemFS for crash tests, ErrorFS to inject failures.
//
// Durability contract (what MemFS enforces): file data survives a crash only
// after File.Sync; a created, renamed or removed directory entry survives a
// crash only after SyncDir on its directory.
type FS interface {
	// OpenFile opens name with os.O_RDONLY, os.O_RDWR or os.O_WRONLY, combined
	// with any of os.O_CREATE, os.O_EXCL and os.O_TRUNC.
	OpenFile(name string, flag int) (File, error)
	// Create creates or truncates name for reading and writing.
	Create(name string) (File, error)
	// Rename atomically replaces newname with oldname.
	Rename(oldname, newname string) error
	// Remove deletes a file or an empty directory.
	Remove(name string) error
	// ReadDir lists the names in dir, sorted.
	ReadDir(dir string) ([]string, error)
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string) error
	// SyncDir makes the directory's entries durable.
	SyncDir(dir string) error
	// Stat describes name; a missing file yields an error matching fs.ErrNotExist.
	Stat(name string) (fs.FileInfo, error)
}

// File is an open file. Write writes at the file's own offset (which starts
// at 0); WriteAt and ReadAt use explicit offsets and leave it unchanged.
type File interface {
	io.Writer
	io.WriterAt
	io.ReaderAt
	io.Closer
	// Sync makes the file's data durable (fdatasync where available).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
}

// OSFS is the operating system's file system.
type OSFS struct{}

var (
	_ FS   = OSFS{}
	_ File = (*osFile)(nil)
)

const supportedFlags = os.O_RDONLY | os.O_RDWR | os.O_WRONLY | os.O_CREATE | os.O_EXCL | os.O_TRUNC

func checkFlag(flag int) error {
	if flag&^supportedFlags != 0 {
		return ErrUnsupportedFlag
	}
	return nil
}

// OpenFile opens a file; see FS.
func (OSFS) OpenFile(name string, flag int) (File, error) {
	if err := checkFlag(flag); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f, err := os.OpenFile(name, flag, 0o644)
	if err != nil {
		return nil, err
	}
	return &osFile{f}, nil
}

// Create creates or truncates a file.
func (o OSFS) Create(name string) (File, error) {
	return o.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
}

// Rename renames a file.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Remove removes a file or empty directory.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// ReadDir lists a directory's names, sorted.
func (OSFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll creates a directory and its parents.
func (OSFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// SyncDir fsyncs a directory.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

// Stat describes a file.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

type osFile struct{ f *os.File }

// StartWriteback starts writing [off, off+n) back, waiting for it when
// wait is set (see startWriteback).
func (o *osFile) StartWriteback(off, n int64, wait bool) error {
	return startWriteback(o.f, off, n, wait)
}

// writebacker is a File that can start its writeback early; OSFS's files
// can.
type writebacker interface {
	StartWriteback(off, n int64, wait bool) error
}

// seekData is lseek(SEEK_DATA): the offset of the first data at or after
// off, skipping holes.
const seekData = 3

// nextData returns the first offset at or after off that may hold data,
// skipping the holes of a sparse file (a preallocated log tail), so that
// checking a 64 MiB zero tail does not read it. ok is false when the file
// system cannot tell. The file offset is restored: Write uses it.
func (o *osFile) nextData(off int64) (next int64, ok bool) {
	cur, err := o.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false
	}
	defer o.f.Seek(cur, io.SeekStart)
	n, err := o.f.Seek(off, seekData)
	if errors.Is(err, syscall.ENXIO) {
		// No data at or after off: the rest is one hole.
		return math.MaxInt64, true
	}
	if err != nil {
		return 0, false
	}
	return n, true
}

func (o *osFile) Write(p []byte) (int, error)              { return o.f.Write(p) }
func (o *osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }
func (o *osFile) ReadAt(p []byte, off int64) (int, error)  { return o.f.ReadAt(p, off) }
func (o *osFile) Close() error                             { return o.f.Close() }
func (o *osFile) Truncate(size int64) error                { return o.f.Truncate(size) }
func (o *osFile) Sync() error                              { return datasync(o.f) }
