package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/recovery"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

var (
	// errTargetNotEmpty means restore's target already holds ZooKeeper files.
	errTargetNotEmpty = errors.New("restore: the target already holds ZooKeeper files (use --force to replace them)")
	// errTargetIsSource means restore's target is one of its source directories.
	errTargetIsSource = errors.New("restore: the target is a source directory")
	// errEmptySource means the source has neither a snapshot nor a log.
	errEmptySource = errors.New("restore: the source holds no snapshot and no transaction log")
	// errRestoreMismatch means the written snapshot does not load back to the recovered tree.
	errRestoreMismatch = errors.New("restore: the written snapshot does not load back to the same data")
)

type restoreFlags struct {
	from, fromLog string
	to, toLog     string
	force         bool
	compression   string
	maxEntry      int
	progress      bool
}

func restoreCommand() *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:     "restore --from APACHE_DATA_DIR [--from-log DIR] --to ZKD_DATA_DIR [--to-log DIR]",
		Aliases: []string{"import"},
		Short:   "Import an Apache ZooKeeper data directory: recover it and write one fresh snapshot into a new data directory",
		Long: `Import the data of an Apache ZooKeeper (3.5+) server: the source dataDir
(and dataLogDir, --from-log, when the logs live elsewhere) is recovered the
way zkd serve recovers its own (newest valid snapshot, then the logs after
it), checked (the tree digest against the nodes), and written as a single
snapshot, snapshot.<last zxid>, into the target's version-2 directory.
Nothing else is written: zkd, or Apache ZooKeeper, starts from it with
dataDir set to the target.

The source is only read. Repairs recovery would make there (cutting a torn
log tail, moving a broken snapshot aside) are made in memory and reported.
The snapshot written is read back and compared with the recovered data,
znode by znode, before the command succeeds.

The target's version-2 directories must hold no ZooKeeper files (other
files, such as myid, may be there); --force deletes the snapshots, logs
and epoch files found there first.

Since zkd reads and writes Apache ZooKeeper's file format, zkd serve can
also start directly on an Apache data directory: point dataDir (and
dataLogDir) in zoo.cfg at it. restore is for starting from a copy, with
the history compacted into one snapshot.

Example:
  zkd snapshot restore --from /var/lib/zookeeper --from-log /var/log/zookeeper --to /var/lib/zkd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	cmd.Flags().StringVar(&f.from, "from", "", "source dataDir (the directory that holds version-2)")
	cmd.Flags().StringVar(&f.fromLog, "from-log", "", "source dataLogDir (default: --from)")
	cmd.Flags().StringVar(&f.to, "to", "", "target dataDir")
	cmd.Flags().StringVar(&f.toLog, "to-log", "", "target dataLogDir, checked to hold no logs (default: --to)")
	cmd.Flags().BoolVar(&f.force, "force", false, "delete ZooKeeper files already in the target first")
	cmd.Flags().StringVar(&f.compression, "compression", "", "compress the snapshot: gz or snappy (zookeeper.snapshot.compression.method)")
	cmd.Flags().IntVar(&f.maxEntry, "jute-maxbuffer", config.DefaultJuteMaxBuffer, "largest entry accepted, as jute.maxbuffer")
	cmd.Flags().BoolVar(&f.progress, "progress", false, "print progress on stderr even when it is not a terminal")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// checkSourceDir checks that dir is a ZooKeeper data directory (holding version-2).
func checkSourceDir(flag, dir string) error {
	clean := filepath.Clean(dir)
	if filepath.Base(clean) == storage.VersionDir {
		return fmt.Errorf("restore: %s %s is a version-2 directory; give the directory that holds it (%s)", flag, dir, filepath.Dir(clean))
	}
	info, err := os.Stat(filepath.Join(dir, storage.VersionDir))
	if err != nil || !info.IsDir() {
		return fmt.Errorf("restore: %s %s: %w", flag, dir, errNotDataDir)
	}
	return nil
}

// sameDir reports whether two paths name the same existing directory.
func sameDir(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}

// zkFilesIn lists the files of dir/version-2 that a ZooKeeper server
// reads or writes: snapshots, logs, epoch files and their .tmp/.broken.
func zkFilesIn(dir string) ([]string, error) {
	vdir := filepath.Join(dir, storage.VersionDir)
	entries, err := os.ReadDir(vdir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "snapshot.") || strings.HasPrefix(n, "log.") ||
			strings.HasPrefix(n, storage.CurrentEpochFile) || strings.HasPrefix(n, storage.AcceptedEpochFile) {
			out = append(out, filepath.Join(vdir, n))
		}
	}
	return out, nil
}

// recoveryDirs names dataDir and dataLogDir for recovery.Read, with the
// server's default jute.maxbuffer unless maxEntry is set.
func recoveryDirs(dataDir, dataLogDir string, maxEntry int) recovery.Dirs {
	if maxEntry <= 0 {
		maxEntry = config.Default().JuteMaxBuffer
	}
	return recovery.Dirs{DataDir: dataDir, DataLogDir: dataLogDir, MaxEntrySize: maxEntry}
}

// warnCounter counts warnings passing through to a handler.
type warnCounter struct {
	slog.Handler
	warns *atomic.Int64
}

func (w warnCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.warns.Add(1)
	}
	return w.Handler.Handle(ctx, r)
}
func (w warnCounter) WithAttrs(a []slog.Attr) slog.Handler {
	return warnCounter{w.Handler.WithAttrs(a), w.warns}
}
func (w warnCounter) WithGroup(n string) slog.Handler {
	return warnCounter{w.Handler.WithGroup(n), w.warns}
}

func runRestore(out, stderr io.Writer, f restoreFlags) error {
	var err error
	if f.fromLog == "" {
		f.fromLog = f.from
	}
	if f.toLog == "" {
		f.toLog = f.to
	}
	for _, p := range []*string{&f.from, &f.fromLog, &f.to, &f.toLog} {
		if *p, err = filepath.Abs(*p); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	switch f.compression {
	case storage.CompressionNone, storage.CompressionGzip, storage.CompressionSnappy:
	default:
		return fmt.Errorf("restore: --compression %q: want gz or snappy", f.compression)
	}
	if err := checkSourceDir("--from", f.from); err != nil {
		return err
	}
	if err := checkSourceDir("--from-log", f.fromLog); err != nil {
		return err
	}
	for _, t := range []string{f.to, f.toLog} {
		for _, s := range []string{f.from, f.fromLog} {
			if t == s || sameDir(t, s) {
				return fmt.Errorf("%w: %s", errTargetIsSource, t)
			}
		}
	}
	snaps, err := storage.ListSnapshots(storage.OSFS{}, f.from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	logs, err := storage.ListLogs(storage.OSFS{}, f.fromLog)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if len(snaps) == 0 && len(logs) == 0 {
		return fmt.Errorf("%w: %s, %s", errEmptySource, filepath.Join(f.from, storage.VersionDir), filepath.Join(f.fromLog, storage.VersionDir))
	}

	// The target must not hold files a server would read along with ours.
	var existing []string
	for _, d := range slices.Compact([]string{f.to, f.toLog}) {
		files, err := zkFilesIn(d)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		existing = append(existing, files...)
	}
	if len(existing) > 0 && !f.force {
		return fmt.Errorf("%w: %s", errTargetNotEmpty, strings.Join(existing, ", "))
	}
	// Read the source as zkd serve would, without changing it.
	var read atomic.Int64
	src := readOnlyFS{read: &read}
	var phase atomic.Value
	phase.Store("recovering the source")
	var written atomic.Int64
	p := startProgress(out, stderr, f.progress, func() string {
		return fmt.Sprintf("restore: %s: read %s, wrote %s", phase.Load(), mib(read.Load()), mib(written.Load()))
	})
	defer p.finish()
	var warns atomic.Int64
	log := slog.New(warnCounter{slog.NewTextHandler(stderr, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}), &warns})
	rec, err := recovery.Read(src, recoveryDirs(f.from, f.fromLog, f.maxEntry), log)
	if err != nil {
		return corruptExit(fmt.Errorf("restore: recovering %s: %w", f.from, err))
	}
	for _, r := range rec.Repairs {
		fmt.Fprintf(out, "note: a server starting on the source would %s; restore left the source as it is\n", r)
	}
	t := rec.Tree
	zxid := t.LastZxid()
	loaded := "no snapshot"
	if len(snaps) > 0 {
		loaded = "loaded snapshot " + hexID(rec.SnapshotZxid)
	}
	fmt.Fprintf(out, "source: %s (logs in %s): %s, replayed %s; last zxid %s\n",
		f.from, f.fromLog, loaded, plural(rec.Replayed, "txn"), hexID(zxid))

	// Check the recovered tree before writing it.
	phase.Store("checking the tree")
	if got := t.RecomputeDigest(); got != t.Digest() {
		return fmt.Errorf("restore: the recovered tree is inconsistent: digest of its nodes %d, kept digest %d", got, t.Digest())
	}
	orphans := 0
	for session, n := range t.EphemeralSessions() {
		if _, ok := rec.Sessions[session]; !ok {
			orphans += n
		}
	}
	if orphans > 0 {
		fmt.Fprintf(out, "note: %d ephemeral znodes belong to sessions that are not open; the server deletes them when it starts, as ZooKeeper does\n", orphans)
	}
	if warns.Load() > 0 {
		fmt.Fprintf(out, "note: recovery logged %s (on stderr)\n", plural(int(warns.Load()), "warning"))
	}

	// Write the snapshot, then read it back through recovery.Read. The
	// target is cleared only now, when there is something to replace it.
	phase.Store("writing the snapshot")
	for _, path := range existing {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		fmt.Fprintf(out, "removed %s (--force)\n", path)
	}
	if err := os.MkdirAll(f.to, 0o755); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(f.toLog, 0o755); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	snap := storage.Snapshot{Zxid: zxid, Sessions: rec.Sessions,
		Digest: &storage.ZxidDigest{Zxid: zxid, Version: txn.DigestVersion, Digest: t.Digest()}}
	info, err := storage.WriteSnapshot(storage.OSFS{}, f.to, snap, func(e *jute.Encoder, flush func([]byte) error) error {
		return t.SerializeStream(e, func(b []byte) error {
			written.Add(int64(len(b)))
			return flush(b)
		})
	}, storage.SnapshotOptions{Compression: f.compression, MaxEntrySize: f.maxEntry})
	if err != nil {
		return fmt.Errorf("restore: writing the snapshot into %s: %w", f.to, err)
	}
	phase.Store("verifying the snapshot written")
	back, err := recovery.Read(readOnlyFS{}, recoveryDirs(f.to, f.toLog, f.maxEntry), nil)
	if err == nil {
		err = compareRecovered(rec, back)
	}
	if err != nil {
		_ = os.Remove(info.Path)
		return fmt.Errorf("%w: %v (removed %s)", errRestoreMismatch, err, info.Path)
	}
	size := int64(0)
	if st, err := os.Stat(info.Path); err == nil {
		size = st.Size()
	}
	phase.Store("done")
	fmt.Fprintf(out, "restored %s and %s, last zxid %s, digest %d\n", plural(znodeCount(t), "znode"), plural(len(rec.Sessions), "session"), hexID(zxid), t.Digest())
	fmt.Fprintf(out, "wrote %s (%d bytes), verified znode by znode\n", info.Path, size)
	start := "dataDir=" + f.to
	if f.toLog != f.to {
		start += " dataLogDir=" + f.toLog
	}
	fmt.Fprintf(out, "start zkd (or Apache ZooKeeper) with %s\n", start)
	return nil
}

// compareRecovered reports the first difference between two recovered
// data directories: last zxid, sessions, digest, then znode by znode.
func compareRecovered(want, got *recovery.State) error {
	if w, g := want.Tree.LastZxid(), got.Tree.LastZxid(); w != g {
		return fmt.Errorf("last zxid %s, want %s", hexID(g), hexID(w))
	}
	if !maps.Equal(want.Sessions, got.Sessions) {
		return fmt.Errorf("sessions %v, want %v", got.Sessions, want.Sessions)
	}
	if w, g := want.Tree.Digest(), got.Tree.Digest(); w != g {
		return fmt.Errorf("digest %d, want %d", g, w)
	}
	return diffTrees(want.Tree, got.Tree)
}

// diffTrees reports the first znode that differs between two trees (path,
// data, ACL, stat, children), or nil when they hold the same znodes.
func diffTrees(want, got *tree.Tree) error {
	var diff error
	want.Walk("/", func(path string, w *tree.Node) bool {
		g := got.Get(path)
		switch {
		case g == nil:
			diff = fmt.Errorf("znode %s is missing", path)
		case !bytes.Equal(w.Data, g.Data):
			diff = fmt.Errorf("znode %s: data %q, want %q", path, g.Data, w.Data)
		case !slices.Equal(w.ACL, g.ACL):
			diff = fmt.Errorf("znode %s: acl %v, want %v", path, g.ACL, w.ACL)
		case w.Stat != g.Stat:
			diff = fmt.Errorf("znode %s: stat %+v, want %+v", path, g.Stat, w.Stat)
		case w.NumChildren() != g.NumChildren():
			diff = fmt.Errorf("znode %s: %d children, want %d", path, g.NumChildren(), w.NumChildren())
		}
		return diff == nil
	})
	if diff == nil && want.NodeCount() != got.NodeCount() {
		diff = fmt.Errorf("%d znodes, want %d", znodeCount(got), znodeCount(want))
	}
	return diff
}
