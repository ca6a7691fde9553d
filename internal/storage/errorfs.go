package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
)

// ErrInjected is the error ErrorFS returns for an operation its Injector fails.
var ErrInjected = errors.New("storage: injected error")

// Op names a file system operation for error injection.
type Op int

// The operations ErrorFS can fail.
const (
	OpOpen Op = iota
	OpCreate
	OpRename
	OpRemove
	OpReadDir
	OpMkdirAll
	OpSyncDir
	OpStat
	OpWrite
	OpWriteAt
	OpReadAt
	OpSync
	OpTruncate
	OpClose
)

var opNames = [...]string{"open", "create", "rename", "remove", "readdir", "mkdirall", "syncdir", "stat",
	"write", "writeat", "readat", "sync", "truncate", "close"}

func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Injector decides whether an operation fails. It must be safe for
// concurrent use.
type Injector interface {
	MaybeError(op Op, path string) error
}

// ErrorFS wraps an FS and asks an Injector before every operation, like
// pebble's errorfs. A failed operation does nothing.
type ErrorFS struct {
	FS       FS
	Injector Injector
}

var _ FS = (*ErrorFS)(nil)

// NewErrorFS wraps fs.
func NewErrorFS(fs FS, inj Injector) *ErrorFS { return &ErrorFS{FS: fs, Injector: inj} }

func (e *ErrorFS) maybe(op Op, path string) error {
	if err := e.Injector.MaybeError(op, path); err != nil {
		return &fs.PathError{Op: op.String(), Path: path, Err: err}
	}
	return nil
}

// OpenFile opens a file.
func (e *ErrorFS) OpenFile(name string, flag int) (File, error) {
	if err := e.maybe(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.FS.OpenFile(name, flag)
	if err != nil {
		return nil, err
	}
	return &errorFile{fs: e, f: f, name: name}, nil
}

// Create creates or truncates a file.
func (e *ErrorFS) Create(name string) (File, error) {
	if err := e.maybe(OpCreate, name); err != nil {
		return nil, err
	}
	f, err := e.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{fs: e, f: f, name: name}, nil
}

// Rename renames a file.
func (e *ErrorFS) Rename(oldname, newname string) error {
	if err := e.maybe(OpRename, oldname); err != nil {
		return err
	}
	return e.FS.Rename(oldname, newname)
}

// Remove removes a file.
func (e *ErrorFS) Remove(name string) error {
	if err := e.maybe(OpRemove, name); err != nil {
		return err
	}
	return e.FS.Remove(name)
}

// ReadDir lists a directory.
func (e *ErrorFS) ReadDir(dir string) ([]string, error) {
	if err := e.maybe(OpReadDir, dir); err != nil {
		return nil, err
	}
	return e.FS.ReadDir(dir)
}

// MkdirAll creates directories.
func (e *ErrorFS) MkdirAll(dir string) error {
	if err := e.maybe(OpMkdirAll, dir); err != nil {
		return err
	}
	return e.FS.MkdirAll(dir)
}

// SyncDir syncs a directory.
func (e *ErrorFS) SyncDir(dir string) error {
	if err := e.maybe(OpSyncDir, dir); err != nil {
		return err
	}
	return e.FS.SyncDir(dir)
}

// Stat describes a file.
func (e *ErrorFS) Stat(name string) (fs.FileInfo, error) {
	if err := e.maybe(OpStat, name); err != nil {
		return nil, err
	}
	return e.FS.Stat(name)
}

type errorFile struct {
	fs   *ErrorFS
	f    File
	name string
}

func (f *errorFile) Write(p []byte) (int, error) {
	if err := f.fs.maybe(OpWrite, f.name); err != nil {
		return 0, err
	}
	return f.f.Write(p)
}

func (f *errorFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.maybe(OpWriteAt, f.name); err != nil {
		return 0, err
	}
	return f.f.WriteAt(p, off)
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.maybe(OpReadAt, f.name); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *errorFile) Sync() error {
	if err := f.fs.maybe(OpSync, f.name); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if err := f.fs.maybe(OpTruncate, f.name); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

// Close always closes the underlying file so that a failed Close does not
// leak it; the injected error is still reported.
func (f *errorFile) Close() error {
	injected := f.fs.maybe(OpClose, f.name)
	err := f.f.Close()
	if injected != nil {
		return injected
	}
	return err
}

// FailNth is an Injector that fails exactly the Nth (0-based) operation
// among those it counts, and lets every other one through. With no Ops it
// counts every operation. Sweeping N from 0 upwards until Count stays below
// N exercises every failure point of a workload (pebble's TestErrors idea).
type FailNth struct {
	N   int64
	Ops []Op

	mu    sync.Mutex
	count int64
	hit   bool
}

// MaybeError implements Injector.
func (f *FailNth) MaybeError(op Op, path string) error {
	if len(f.Ops) > 0 {
		counted := false
		for _, o := range f.Ops {
			if o == op {
				counted = true
				break
			}
		}
		if !counted {
			return nil
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.count
	f.count++
	if n == f.N {
		f.hit = true
		return fmt.Errorf("%w: %s %s (operation %d)", ErrInjected, op, path, n)
	}
	return nil
}

// Count is the number of counted operations seen so far.
func (f *FailNth) Count() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Hit reports whether the Nth operation happened (and was failed).
func (f *FailNth) Hit() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hit
}

// InjectorFunc adapts a function to an Injector.
type InjectorFunc func(op Op, path string) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op, path string) error { return f(op, path) }
