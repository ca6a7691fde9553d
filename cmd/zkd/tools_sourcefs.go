package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/zkd/zkd/internal/storage"
)

// sourceFS is the source data directory as server.Recover sees it during
// an import. Reads go to the disk; the repairs recovery makes (cutting a
// torn log tail, removing a newest log without records, moving a broken
// snapshot aside as .broken) are recorded in memory only, so that the
// source is never changed, and reported. Creating or writing files fails.
type sourceFS struct {
	read atomic.Int64 // bytes read, for progress

	mu        sync.Mutex
	removed   map[string]bool
	truncated map[string]int64  // path -> size recovery cut the file to
	renamed   map[string]string // new path -> the path on disk
	changes   []string          // what recovery did, in words
}

var _ storage.FS = (*sourceFS)(nil)

func newSourceFS() *sourceFS {
	return &sourceFS{removed: map[string]bool{}, truncated: map[string]int64{}, renamed: map[string]string{}}
}

// Changes lists the repairs recovery made (and that were not applied).
func (s *sourceFS) Changes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.changes...)
}

// resolve returns the path on disk holding name, or false if it was removed.
// Caller holds mu.
func (s *sourceFS) resolve(name string) (string, bool) {
	name = filepath.Clean(name)
	if s.removed[name] {
		return "", false
	}
	if disk, ok := s.renamed[name]; ok {
		return disk, true
	}
	return name, true
}

func notExist(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist} }

func (s *sourceFS) OpenFile(name string, flag int) (storage.File, error) {
	if flag&(os.O_CREATE|os.O_TRUNC|os.O_EXCL|os.O_WRONLY) != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errReadOnly}
	}
	name = filepath.Clean(name)
	s.mu.Lock()
	disk, ok := s.resolve(name)
	size, cut := s.truncated[name]
	s.mu.Unlock()
	if !ok {
		return nil, notExist("open", name)
	}
	f, err := os.Open(disk)
	if err != nil {
		return nil, err
	}
	rf := &readOnlyFile{f: f, name: name, read: &s.read, size: -1}
	if cut {
		rf.size = size
	}
	rf.truncate = func(n int64) error {
		if rf.size >= 0 && n > rf.size {
			return &fs.PathError{Op: "truncate", Path: name, Err: errReadOnly}
		}
		rf.size = n
		s.mu.Lock()
		s.truncated[name] = n
		s.changes = append(s.changes, fmt.Sprintf("recovery cut %s to %d bytes (a torn tail); the source file was left as it is", name, n))
		s.mu.Unlock()
		return nil
	}
	return rf, nil
}

func (s *sourceFS) Create(name string) (storage.File, error) {
	return nil, &fs.PathError{Op: "create", Path: name, Err: errReadOnly}
}

func (s *sourceFS) Rename(oldname, newname string) error {
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	s.mu.Lock()
	defer s.mu.Unlock()
	disk, ok := s.resolve(oldname)
	if !ok {
		return notExist("rename", oldname)
	}
	if _, err := os.Stat(disk); err != nil {
		return err
	}
	s.renamed[newname] = disk
	delete(s.removed, newname)
	if size, cut := s.truncated[oldname]; cut {
		s.truncated[newname] = size
	}
	s.removed[oldname] = true
	delete(s.renamed, oldname)
	s.changes = append(s.changes, fmt.Sprintf("recovery moved %s aside as %s; the source file was left as it is", oldname, filepath.Base(newname)))
	return nil
}

func (s *sourceFS) Remove(name string) error {
	name = filepath.Clean(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	disk, ok := s.resolve(name)
	if !ok {
		return notExist("remove", name)
	}
	if _, err := os.Stat(disk); err != nil {
		return err
	}
	s.removed[name] = true
	delete(s.renamed, name)
	s.changes = append(s.changes, fmt.Sprintf("recovery removed %s (no records); the source file was left as it is", name))
	return nil
}

func (s *sourceFS) ReadDir(dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range entries {
		if !s.removed[filepath.Join(dir, e.Name())] {
			seen[e.Name()] = true
		}
	}
	for name := range s.renamed {
		if filepath.Dir(name) == dir {
			seen[filepath.Base(name)] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (s *sourceFS) MkdirAll(dir string) error {
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		return nil
	}
	return &fs.PathError{Op: "mkdir", Path: dir, Err: errReadOnly}
}

func (s *sourceFS) SyncDir(dir string) error { return nil }

func (s *sourceFS) Stat(name string) (fs.FileInfo, error) {
	name = filepath.Clean(name)
	s.mu.Lock()
	disk, ok := s.resolve(name)
	size, cut := s.truncated[name]
	s.mu.Unlock()
	if !ok {
		return nil, notExist("stat", name)
	}
	info, err := os.Stat(disk)
	if err != nil {
		return nil, err
	}
	if !cut && disk == name {
		return info, nil
	}
	if !cut {
		size = info.Size()
	}
	return shadowInfo{FileInfo: info, name: filepath.Base(name), size: size}, nil
}

// shadowInfo describes a file under the name and size recovery gave it.
type shadowInfo struct {
	fs.FileInfo
	name string
	size int64
}

func (i shadowInfo) Name() string { return i.name }
func (i shadowInfo) Size() int64  { return i.size }
