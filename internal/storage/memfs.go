package storage

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory FS for tests that can simulate a machine crash, in
// the spirit of pebble's vfs.MemFS with CrashClone.
//
// It tracks two states: what the running program sees, and what a crash
// would leave behind. File contents move to the crash state on File.Sync;
// directory entries (create, rename, remove) move there on SyncDir of their
// directory. CrashClone returns a new MemFS holding only the crash state.
type MemFS struct {
	mu   sync.Mutex
	root *memNode
}

var (
	_ FS   = (*MemFS)(nil)
	_ File = (*memFile)(nil)
)

type memNode struct {
	isDir bool
	// files
	data   []byte
	synced []byte
	// directories
	children       map[string]*memNode
	syncedChildren map[string]*memNode
}

func newMemDir() *memNode {
	return &memNode{isDir: true, children: map[string]*memNode{}, syncedChildren: map[string]*memNode{}}
}

// NewMemFS returns an empty in-memory file system whose root "/" exists.
func NewMemFS() *MemFS { return &MemFS{root: newMemDir()} }

// CrashClone returns the file system as a crash now would leave it: unsynced
// file data and unsynced directory entries are gone.
func (m *MemFS) CrashClone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &MemFS{root: cloneSynced(m.root)}
}

func cloneSynced(n *memNode) *memNode {
	if !n.isDir {
		return &memNode{data: cloneBytes(n.synced), synced: cloneBytes(n.synced)}
	}
	c := newMemDir()
	for name, child := range n.syncedChildren {
		cc := cloneSynced(child)
		c.children[name] = cc
		c.syncedChildren[name] = cc
	}
	return c
}

func cloneBytes(b []byte) []byte { return append([]byte(nil), b...) }

func splitPath(name string) []string {
	name = path.Clean("/" + name)
	if name == "/" {
		return nil
	}
	return strings.Split(name[1:], "/")
}

// lookupDir returns the directory holding the last element of name, and
// that element.
func (m *MemFS) lookupParent(op, name string) (*memNode, string, error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	dir := m.root
	for _, p := range parts[:len(parts)-1] {
		next, ok := dir.children[p]
		if !ok {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if !next.isDir {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: errors.New("not a directory")}
		}
		dir = next
	}
	return dir, parts[len(parts)-1], nil
}

func (m *MemFS) lookup(op, name string) (*memNode, error) {
	if len(splitPath(name)) == 0 {
		return m.root, nil
	}
	dir, base, err := m.lookupParent(op, name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// OpenFile opens a file; see FS.
func (m *MemFS) OpenFile(name string, flag int) (File, error) {
	if err := checkFlag(flag); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupParent("open", name)
	if err != nil {
		return nil, err
	}
	n, exists := dir.children[base]
	switch {
	case exists && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case exists && n.isDir:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	case !exists && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !exists:
		n = &memNode{}
		dir.children[base] = n
	}
	writable := flag&(os.O_RDWR|os.O_WRONLY) != 0
	if flag&os.O_TRUNC != 0 && writable {
		n.data = n.data[:0]
	}
	return &memFile{fs: m, node: n, name: name, readable: flag&os.O_WRONLY == 0, writable: writable}, nil
}

// Create creates or truncates a file.
func (m *MemFS) Create(name string) (File, error) {
	return m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
}

// Rename moves oldname to newname, replacing a file there.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	odir, obase, err := m.lookupParent("rename", oldname)
	if err != nil {
		return err
	}
	n, ok := odir.children[obase]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	ndir, nbase, err := m.lookupParent("rename", newname)
	if err != nil {
		return err
	}
	if old, ok := ndir.children[nbase]; ok && old.isDir {
		return &fs.PathError{Op: "rename", Path: newname, Err: errors.New("is a directory")}
	}
	delete(odir.children, obase)
	ndir.children[nbase] = n
	return nil
}

// Remove deletes a file or an empty directory.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupParent("remove", name)
	if err != nil {
		return err
	}
	n, ok := dir.children[base]
	if !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.isDir && len(n.children) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
	}
	delete(dir.children, base)
	return nil
}

// ReadDir lists a directory's names, sorted.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("readdir", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: errors.New("not a directory")}
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll creates a directory and its parents.
func (m *MemFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, p := range splitPath(dir) {
		next, ok := n.children[p]
		if !ok {
			next = newMemDir()
			n.children[p] = next
		} else if !next.isDir {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: errors.New("not a directory")}
		}
		n = next
	}
	return nil
}

// SyncDir makes the directory's current entries the ones a crash keeps.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("syncdir", dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: errors.New("not a directory")}
	}
	n.syncedChildren = make(map[string]*memNode, len(n.children))
	for name, child := range n.children {
		n.syncedChildren[name] = child
	}
	return nil
}

// Stat describes a file or directory.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return memInfo{name: path.Base(path.Clean("/" + name)), size: int64(len(n.data)), dir: n.isDir}, nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

type memFile struct {
	fs       *MemFS
	node     *memNode
	name     string
	off      int64
	readable bool
	writable bool
	closed   bool
}

func (f *memFile) check(op string, write bool) error {
	switch {
	case f.closed:
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	case write && !f.writable, !write && !f.readable:
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrPermission}
	}
	return nil
}

func (f *memFile) writeAtLocked(p []byte, off int64) {
	end := off + int64(len(p))
	if end > int64(len(f.node.data)) {
		if end > int64(cap(f.node.data)) {
			grown := make([]byte, end, end+end/2)
			copy(grown, f.node.data)
			f.node.data = grown
		} else {
			old := len(f.node.data)
			f.node.data = f.node.data[:end]
			clear(f.node.data[old:])
		}
	}
	copy(f.node.data[off:], p)
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	f.writeAtLocked(p, f.off)
	f.off += int64(len(p))
	return len(p), nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("writeat", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: fs.ErrInvalid}
	}
	f.writeAtLocked(p, off)
	return len(p), nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("readat", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "sync", Path: f.name, Err: fs.ErrClosed}
	}
	f.node.synced = append(f.node.synced[:0], f.node.data...)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	if size <= int64(len(f.node.data)) {
		f.node.data = f.node.data[:size]
		return nil
	}
	f.writeAtLocked(make([]byte, size-int64(len(f.node.data))), int64(len(f.node.data)))
	return nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}
