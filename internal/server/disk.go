package server

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/ensemble"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/recovery"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/txn"
	"github.com/zkd/zkd/internal/zab"
)

// DiskLog is the durable persist step: entries go to the transaction log
// through group commit, and complete only after their fsync.
type DiskLog struct {
	fsys      storage.FS
	dataDir   string
	txnLog    *storage.Log
	committer *storage.Committer
	// metrics is set before the first Append (OpenDurable); nil records nothing.
	metrics *admin.Metrics
}

var _ Log = (*DiskLog)(nil)

// OpenDiskLog opens the transaction log for appending.
func OpenDiskLog(fsys storage.FS, cfg *config.Config, log *slog.Logger) (*DiskLog, error) {
	l, err := storage.OpenLog(fsys, cfg.DataLogDir, storage.LogOptions{
		PreAllocSize: cfg.PreAllocSize,
		NoSync:       !cfg.ForceSync,
		MaxEntrySize: cfg.JuteMaxBuffer,
		Logger:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the transaction log in %s: %w", cfg.DataLogDir, err)
	}
	p := &DiskLog{fsys: fsys, dataDir: cfg.DataDir, txnLog: l}
	p.committer = storage.NewCommitter(l, storage.CommitterOptions{Logger: log, OnSync: func(records int, took time.Duration) {
		if m := p.metrics; m != nil {
			m.FsyncTime.Observe(took.Milliseconds())
			m.SyncBatchSize.Observe(int64(records))
		}
	}})
	return p, nil
}

// Append queues the entry for group commit; done runs after its fsync, in
// order. It blocks while the committer's queue is full.
func (p *DiskLog) Append(zxid int64, entry []byte, done func(error)) {
	if p.metrics != nil {
		p.metrics.SyncQueued.Add(1)
	}
	if err := p.committer.Submit(zxid, entry, done); err != nil {
		done(err)
	}
}

// WriteEpochs writes the epoch files durably, accepted first, as
// ZooKeeper's Learner and Leader do (acceptedEpoch before currentEpoch).
func (p *DiskLog) WriteEpochs(accepted, current int64) error {
	if accepted >= 0 {
		if err := storage.WriteEpoch(p.fsys, p.dataDir, storage.AcceptedEpochFile, accepted); err != nil {
			return fmt.Errorf("writing %s: %w", storage.AcceptedEpochFile, err)
		}
	}
	if current >= 0 {
		if err := storage.WriteEpoch(p.fsys, p.dataDir, storage.CurrentEpochFile, current); err != nil {
			return fmt.Errorf("writing %s: %w", storage.CurrentEpochFile, err)
		}
	}
	return nil
}

// Durable is true.
// Truncate removes every entry above zxid, in order with the appends
// around it (a learner's TRUNC); the caller reloads the state after.
func (p *DiskLog) Truncate(zxid int64) error { return p.committer.Truncate(zxid) }

// The replicated ensemble's driver persists through the same log.
var _ ensemble.Log = (*DiskLog)(nil)

func (p *DiskLog) Durable() bool { return true }

// Roll starts a new log file for the entries appended after it.
func (p *DiskLog) Roll() error { return p.committer.Roll() }

// Stats reports group commit figures.
func (p *DiskLog) Stats() storage.CommitStats { return p.committer.Stats() }

// Close flushes what is queued and closes the log.
func (p *DiskLog) Close() error {
	err := p.committer.Close()
	if cerr := p.txnLog.Close(); err == nil {
		err = cerr
	}
	return err
}

// snapshotter takes snapshots: the tree is serialized under the tree's read
// lock into memory (no I/O under the lock), then written, fsynced and
// renamed in the background while writes go on.
type snapshotter struct {
	fsys    storage.FS
	cfg     *config.Config
	log     *slog.Logger
	roll    func() error
	trigger chan struct{}
	// threshold is the number of txns after which the next snapshot starts:
	// snapCount/2 + rand[0, snapCount/2), as ZooKeeper randomises it so that
	// the servers of an ensemble do not all snapshot at once.
	threshold int
	since     int
}

func newSnapshotter(fsys storage.FS, cfg *config.Config, log *slog.Logger, roll func() error) *snapshotter {
	sn := &snapshotter{fsys: fsys, cfg: cfg, log: log, roll: roll, trigger: make(chan struct{}, 1)}
	sn.resetThreshold()
	return sn
}

func (sn *snapshotter) resetThreshold() {
	half := max(sn.cfg.SnapCount/2, 1)
	sn.threshold = half + rand.IntN(half)
	sn.since = 0
}

// applied counts one applied txn; it asks for a snapshot when due. It runs
// on the apply goroutine and never blocks.
func (sn *snapshotter) applied() {
	sn.since++
	if sn.since >= sn.threshold {
		sn.resetThreshold()
		select {
		case sn.trigger <- struct{}{}:
		default:
			sn.log.Warn("snapshot still in progress; skipping this one")
		}
	}
}

// take writes a fuzzy snapshot, as ZooKeeper does: the file is named after
// the last applied zxid when it begins, and the tree is encoded with the
// apply step held off (applyMu) only in slices of about a millisecond;
// between them, and while each encoded chunk is written, the apply step
// catches up. Replaying the
// log from the file's zxid repairs what changed meanwhile, and the digest
// written after the tree is the one of the last txn applied before the end,
// which recovery checks when its replay gets there. Reads go on throughout;
// the fsync and rename happen after the last slice.
func (sn *snapshotter) take(s *Server) error {
	start := time.Now()
	if sn.roll != nil {
		if err := sn.roll(); err != nil {
			return err
		}
	}
	// The sessions and the zxid the file is named after are taken together
	// under applyMu: a session is in the table exactly when its
	// createSession is applied. The tree is taken later, fuzzily; replaying
	// the log from zxid repairs both.
	s.applyMu.Lock()
	s.sessMu.Lock()
	sessions := s.sessions.Snapshot()
	s.sessMu.Unlock()
	zxid := s.tree.LastZxid()
	s.applyMu.Unlock()
	snap := storage.Snapshot{Zxid: zxid, Sessions: sessions}
	if sn.cfg.DigestEnabled {
		snap.Digest = &storage.ZxidDigest{Version: txn.DigestVersion}
	}
	var held, longest time.Duration
	var znodes int
	var slice time.Time
	endSlice := func() {
		d := time.Since(slice)
		held += d
		longest = max(longest, d)
	}
	pause := func(work func()) {
		endSlice()
		s.applyMu.Unlock()
		work()
		s.catchUpApplies()
		s.applyMu.Lock()
		slice = time.Now()
	}
	info, err := storage.WriteSnapshot(sn.fsys, sn.cfg.DataDir, snap,
		func(e *jute.Encoder, flush func([]byte) error) error {
			s.applyMu.Lock()
			slice = time.Now()
			defer s.applyMu.Unlock()
			// Chunks are checksummed, compressed and written with the
			// apply step free to run: applyMu is never held across I/O.
			unlockedFlush := func(b []byte) error {
				var err error
				pause(func() { err = flush(b) })
				return err
			}
			err := s.tree.SerializeFuzzy(e, unlockedFlush, pause)
			znodes = s.tree.NodeCount()
			if snap.Digest != nil {
				// written after the tree: the state the replay must reach at that zxid
				snap.Digest.Zxid, snap.Digest.Digest = s.tree.LastZxid(), s.tree.Digest()
			}
			endSlice()
			return err
		},
		storage.SnapshotOptions{Compression: sn.cfg.SnapshotCompression, MaxEntrySize: sn.cfg.JuteMaxBuffer, Logger: sn.log})
	if err != nil {
		return fmt.Errorf("writing snapshot 0x%x: %w", uint64(zxid), err)
	}
	took := time.Since(start)
	s.metrics.SnapshotTime.Observe(took.Milliseconds())
	s.lastSnap.Store(admin.Snapshot{Zxid: zxid, Time: time.Now()})
	if sn.log.Enabled(context.Background(), slog.LevelInfo) {
		sn.log.Info("snapshot taken", "file", info.Path, "zxid", hexZxid(zxid), "znodes", znodes, "bytes", info.Size,
			"ms", took.Milliseconds(), "applies_held", held.Round(time.Millisecond).String(),
			"longest_hold", longest.Round(time.Microsecond).String())
	}
	return nil
}

// maxCatchUp bounds a snapshot's pause: a steady stream of writes must not
// hold the snapshot off for ever.
const maxCatchUp = 20 * time.Millisecond

// catchUpApplies waits (briefly) for the apply step to drain what queued
// while a snapshot slice held it off.
func (s *Server) catchUpApplies() {
	deadline := time.Now().Add(maxCatchUp)
	for i := 0; len(s.applyCh) > 0 && time.Now().Before(deadline); i++ {
		if i < 16 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// snapshotLoop takes the snapshots the apply loop asks for, and purges old
// files when autopurge is on.
func (s *Server) snapshotLoop() {
	defer s.wg.Done()
	var purge <-chan time.Time
	if h := s.cfg.AutopurgePurgeInterval; h > 0 {
		tk := time.NewTicker(time.Duration(h) * time.Hour)
		defer tk.Stop()
		purge = tk.C
	}
	for {
		select {
		case <-s.stopping:
			return
		case <-s.snap.trigger:
			if err := s.snap.take(s); err != nil {
				s.fatal("%v", err)
				return
			}
		case <-purge:
			s.purge()
		}
	}
}

func (s *Server) purge() {
	removed, err := storage.Purge(s.snap.fsys, s.cfg.DataDir, s.cfg.DataLogDir, s.cfg.AutopurgeSnapRetainCount)
	if err != nil {
		s.log.Warn("autopurge failed", "err", err)
		return
	}
	s.log.Info("autopurge done", "removed", len(removed), "retain", s.cfg.AutopurgeSnapRetainCount)
}

// recoveryDirs names the directories cfg's server recovers from.
func recoveryDirs(cfg *config.Config) recovery.Dirs {
	return recovery.Dirs{DataDir: cfg.DataDir, DataLogDir: cfg.DataLogDir, MaxEntrySize: cfg.JuteMaxBuffer}
}

// refuseEnsembleData stops a standalone start on data an ensemble member
// wrote: its last zxid or its epoch files are past epoch 0, where a
// standalone server stays (Apache's never writes the files and continues
// the log's zxids). Served alone, the data would become an ensemble of
// its own, with writes its old peers never see — a server that lost its
// server.N lines (an unset SERVERS in a container, say) must not do that.
func refuseEnsembleData(cfg *config.Config, rec *recovery.State) error {
	epoch := zab.EpochOf(rec.Tree.LastZxid())
	for _, e := range []*int64{rec.CurrentEpoch, rec.AcceptedEpoch} {
		if e != nil {
			epoch = max(epoch, *e)
		}
	}
	if epoch == 0 {
		return nil
	}
	return fmt.Errorf("the data in %s was written by an ensemble member (epoch %d, last zxid 0x%x), but this config is standalone: "+
		"served alone it would diverge from the ensemble's other servers. If this server is a member, give it the server.N lines "+
		"(or MYID/SERVERS, ZOO_MY_ID/ZOO_SERVERS); to serve this data standalone on purpose, set zkd.standalone.fromEnsembleData=true",
		cfg.DataDir, epoch, uint64(rec.Tree.LastZxid()))
}

// OpenDurable recovers the data directory and returns a server whose
// writes are logged and fsynced before they are acknowledged, with
// snapshots every snapCount txns and autopurge as configured.
func OpenDurable(cfg *config.Config, log *slog.Logger, opts Options) (*Server, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = storage.OSFS{}
	}
	for _, d := range []string{cfg.DataDir, cfg.DataLogDir} {
		if err := storage.EnsureDir(fsys, d); err != nil {
			return nil, fmt.Errorf("data directory %s: %w (set dataDir/dataLogDir in zoo.cfg to a writable directory)", d, err)
		}
	}
	if opts.Metrics == nil {
		opts.Metrics = admin.NewMetrics()
	}
	loadStart := time.Now()
	rec, err := recovery.Read(fsys, recoveryDirs(cfg), log)
	if err != nil {
		return nil, err
	}
	if opts.Ensemble == nil && !cfg.StandaloneFromEnsembleData {
		if err := refuseEnsembleData(cfg, rec); err != nil {
			return nil, err
		}
	}
	opts.Metrics.DBInitTime.Observe(time.Since(loadStart).Milliseconds())
	opts.Metrics.TxnsLoaded.Observe(int64(rec.Replayed))
	opts.Metrics.DigestMismatches.Add(int64(rec.DigestMismatches))
	if err := recovery.Repair(fsys, rec, log); err != nil {
		return nil, err
	}
	p, err := OpenDiskLog(fsys, cfg, log)
	if err != nil {
		return nil, err
	}
	p.metrics = opts.Metrics
	opts.Config, opts.Logger, opts.Log, opts.FS = cfg, log, p, fsys
	opts.Tree, opts.Sessions = rec.Tree, rec.Sessions
	opts.CurrentEpoch, opts.AcceptedEpoch, opts.CurrentEpochTmp = rec.CurrentEpoch, rec.AcceptedEpoch, rec.CurrentEpochTmp
	opts.SnapshotZxid = rec.SnapshotZxid
	s, err := New(opts)
	if err != nil {
		p.Close()
		return nil, err
	}
	s.snap = newSnapshotter(fsys, cfg, log, p.Roll)
	if rec.HadSnapshot {
		// The file's own time is not kept; the load time stands in for it.
		s.lastSnap.Store(admin.Snapshot{Zxid: rec.SnapshotZxid, Time: loadStart})
	}
	// Apache ZooKeeper refuses a data directory with logs but no snapshot,
	// so a fresh directory gets snapshot.0 before the first write, as
	// ZooKeeper writes it. After a replay the snapshot is taken in the
	// background, so that a restart serves as soon as the log is replayed;
	// but not in an ensemble, where the log's tail may hold txns that were
	// never committed: the leader may TRUNC them, and a snapshot holding
	// them could not be cut (Apache's learners take none at start either).
	switch {
	case !rec.HadSnapshot && rec.Replayed == 0:
		if err := newSnapshotter(fsys, cfg, log, nil).take(s); err != nil {
			p.Close()
			return nil, err
		}
	case rec.Replayed > 0 && opts.Ensemble == nil:
		s.snap.trigger <- struct{}{}
	}
	return s, nil
}
