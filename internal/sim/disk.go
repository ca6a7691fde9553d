package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/zab"
)

// dataDir is every simulated server's data directory (each has its own FS).
const dataDir = "/data"

// snapName is the simulation's snapshot file: the applied entries,
// written whole and atomically (storage's snapshot format needs a tree,
// which the simulation does not keep).
var snapName = filepath.Join(dataDir, storage.VersionDir, "sim.snapshot")

// disk is one server's storage: zkd's transaction log and epoch files on
// storage's crashable MemFS. Appends are written at once but fsynced later
// (the fsync "runs" for a few ticks); a crash keeps what was synced and,
// at random, a prefix of the written bytes after it, cut anywhere: a torn
// last record, or unsynced records that made it.
type disk struct {
	mem *storage.MemFS
	fs  *delayFS
	log *storage.Log
}

// delayFS passes through to MemFS, except that while deferring, a log
// file's Sync only marks how much of it the fsync covers: the simulation
// completes it later (completeSyncs), and a crash before then keeps what
// earlier fsyncs covered and tears the rest.
type delayFS struct {
	*storage.MemFS
	deferring bool
	// pending are writes to log files since their last real Sync, in
	// order; durable is how many of their bytes completed fsyncs cover;
	// marks are the deferred fsyncs' extents, not yet handed out.
	pending map[string][]write
	durable map[string]int
	marks   map[string]int
}

// pendingBytes is how many bytes were written to name since its last
// real Sync.
func (d *delayFS) pendingBytes(name string) int {
	n := 0
	for _, w := range d.pending[name] {
		n += len(w.data)
	}
	return n
}

type write struct {
	off  int64
	data []byte
}

func isLog(name string) bool { return strings.HasPrefix(filepath.Base(name), "log.") }

func (d *delayFS) OpenFile(name string, flag int) (storage.File, error) {
	f, err := d.MemFS.OpenFile(name, flag)
	if err != nil || !isLog(name) {
		return f, err
	}
	return &delayFile{File: f, fs: d, name: name}, nil
}

func (d *delayFS) Create(name string) (storage.File, error) {
	if isLog(name) {
		panic("sim: the log creates its files with OpenFile")
	}
	return d.MemFS.Create(name)
}

func (d *delayFS) Remove(name string) error {
	d.forget(name)
	return d.MemFS.Remove(name)
}

func (d *delayFS) forget(name string) {
	delete(d.pending, name)
	delete(d.durable, name)
	delete(d.marks, name)
}

type delayFile struct {
	storage.File
	fs   *delayFS
	name string
}

func (f *delayFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.pending[f.name] = append(f.fs.pending[f.name], write{off, bytes.Clone(p)})
	return f.File.WriteAt(p, off)
}

func (f *delayFile) Write(p []byte) (int, error) {
	panic("sim: the log writes with WriteAt only")
}

func (f *delayFile) Truncate(size int64) error {
	// Only the log's TRUNC cuts a file, and it syncs the cut at once.
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	f.fs.forget(f.name)
	return f.File.Sync()
}

func (f *delayFile) Sync() error {
	if f.fs.deferring {
		f.fs.marks[f.name] = f.fs.pendingBytes(f.name)
		return nil
	}
	f.fs.forget(f.name)
	return f.File.Sync()
}

func newDisk() *disk {
	mem := storage.NewMemFS()
	return &disk{mem: mem}
}

// open mounts the disk after a boot: the log is recovered (its torn tail
// cut, as zkd's recovery does).
func (d *disk) open() error {
	d.fs = &delayFS{MemFS: d.mem, pending: map[string][]write{}, durable: map[string]int{}, marks: map[string]int{}}
	l, err := storage.OpenLog(d.fs, dataDir, storage.LogOptions{PreAllocSize: -1})
	if err != nil {
		return err
	}
	d.log = l
	return nil
}

// crash loses the machine: what a power failure leaves of each log file
// is its synced bytes and, by rng, a prefix of the writes after them.
func (d *disk) crash(rng *rand.Rand) (torn string) {
	clone := d.mem.CrashClone()
	paths := make([]string, 0, len(d.fs.pending))
	for p := range d.fs.pending {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		ws := d.fs.pending[p]
		total := 0
		for _, w := range ws {
			total += len(w.data)
		}
		keep := d.fs.durable[p]
		if total == keep {
			if keep == 0 {
				continue
			}
		} else {
			switch r := rng.IntN(4); {
			case r == 0:
				keep += rng.IntN(total - keep + 1) // torn anywhere
			case r == 1:
				keep = total // all of it made it
			}
		}
		if keep == 0 {
			continue
		}
		f, err := clone.OpenFile(p, os.O_RDWR)
		if err != nil {
			continue // its directory entry was never synced
		}
		left := keep
		for _, w := range ws {
			n := min(left, len(w.data))
			if n == 0 {
				break
			}
			f.WriteAt(w.data[:n], w.off)
			left -= n
		}
		f.Sync()
		f.Close()
		if extra := keep - d.fs.durable[p]; extra > 0 {
			torn += fmt.Sprintf(" %s kept %d of %d unsynced bytes", filepath.Base(p), extra, total-d.fs.durable[p])
		}
	}
	d.mem = clone
	d.log = nil
	return torn
}

// appendSync writes entries and starts their fsync, returning what it
// covers; completeSync ends it.
func (d *disk) appendSync(es []zab.Entry) (map[string]int, error) {
	for _, e := range es {
		if err := d.log.Append(e.Zxid, e.Data); err != nil {
			return nil, err
		}
	}
	d.fs.deferring = true
	err := d.log.Sync()
	d.fs.deferring = false
	marks := d.fs.marks
	d.fs.marks = map[string]int{}
	return marks, err
}

// completeSync: the fsync that covered marks is done. Writes after it are
// still at risk.
func (d *disk) completeSync(marks map[string]int) error {
	for name, n := range marks {
		if _, ok := d.fs.pending[name]; !ok {
			continue // synced or removed since
		}
		d.fs.durable[name] = max(d.fs.durable[name], n)
		if d.fs.durable[name] < d.fs.pendingBytes(name) {
			continue
		}
		// All of it is durable: hand it to MemFS and forget the writes.
		f, err := d.mem.OpenFile(name, os.O_RDWR)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		d.fs.forget(name)
	}
	return nil
}

// truncate cuts the log after zxid (a TRUNC), durably.
func (d *disk) truncate(zxid int64) error {
	logs, err := storage.ListLogs(d.fs, dataDir)
	if err != nil {
		return err
	}
	if len(logs) > 0 && logs[0].Zxid > zxid {
		// Everything logged is above the cut (the log starts after a
		// snapshot at zxid): the files go.
		return d.dropLogs()
	}
	return d.log.Truncate(zxid)
}

// dropLogs removes every log file, durably, and reopens the log.
func (d *disk) dropLogs() error {
	if err := d.log.Close(); err != nil {
		return err
	}
	logs, err := storage.ListLogs(d.fs, dataDir)
	if err != nil {
		return err
	}
	for _, l := range logs {
		if err := d.fs.Remove(l.Path); err != nil {
			return err
		}
	}
	if err := d.fs.SyncDir(filepath.Join(dataDir, storage.VersionDir)); err != nil {
		return err
	}
	return d.open()
}

// installSnapshot replaces the state and the log with a leader's snapshot.
func (d *disk) installSnapshot(zxid int64, state []applied) error {
	if err := writeAtomic(d.fs, snapName, encodeSnapshot(zxid, state)); err != nil {
		return err
	}
	return d.dropLogs()
}

func (d *disk) writeEpoch(name string, epoch int64) error {
	return storage.WriteEpoch(d.fs, dataDir, name, epoch)
}

// recovered is what a booting server finds on its disk.
type recovered struct {
	snapZxid        int64
	snapState       []applied
	log             []zab.Entry
	current, accept int64
	currentTmp      int64
	lastZxid        int64
}

func (d *disk) recover() (recovered, error) {
	r := recovered{current: -1, accept: -1, currentTmp: -1}
	if data, err := readAll(d.fs, snapName); err == nil {
		r.snapZxid, r.snapState = decodeSnapshot(data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	r.lastZxid = r.snapZxid
	_, err := storage.ReadLog(d.fs, dataDir, r.snapZxid, storage.ReadOptions{}, func(zxid int64, entry []byte) error {
		r.log = append(r.log, zab.Entry{Type: zab.EntryTxn, Zxid: zxid, Data: bytes.Clone(entry)})
		r.lastZxid = zxid
		return nil
	})
	if err != nil {
		return r, err
	}
	for _, e := range []struct {
		name string
		to   *int64
	}{{storage.CurrentEpochFile, &r.current}, {storage.AcceptedEpochFile, &r.accept}, {storage.CurrentEpochFile + ".tmp", &r.currentTmp}} {
		v, err := storage.ReadEpoch(d.fs, dataDir, e.name)
		switch {
		case err == nil:
			*e.to = v
		case !errors.Is(err, fs.ErrNotExist):
			return r, err
		}
	}
	return r, nil
}

func writeAtomic(fsys storage.FS, name string, data []byte) error {
	if err := fsys.MkdirAll(filepath.Dir(name)); err != nil {
		return err
	}
	tmp := name + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		return err
	}
	return fsys.SyncDir(filepath.Dir(name))
}

func readAll(fsys storage.FS, name string) ([]byte, error) {
	info, err := fsys.Stat(name)
	if err != nil {
		return nil, err
	}
	f, err := fsys.OpenFile(name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, info.Size())
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		return nil, err
	}
	return b, nil
}

func encodeSnapshot(zxid int64, st []applied) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(zxid))
	for _, e := range st {
		b = binary.BigEndian.AppendUint64(b, uint64(e.zxid))
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.data)))
		b = append(b, e.data...)
	}
	return b
}

func decodeSnapshot(b []byte) (int64, []applied) {
	zxid := int64(binary.BigEndian.Uint64(b))
	b = b[8:]
	var st []applied
	for len(b) > 0 {
		z := int64(binary.BigEndian.Uint64(b))
		n := binary.BigEndian.Uint32(b[8:])
		st = append(st, applied{zxid: z, data: string(b[12 : 12+n])})
		b = b[12+n:]
	}
	return zxid, st
}
