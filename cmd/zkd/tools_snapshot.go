package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
)

// errNoSnapshots means a directory given to snapshot verify holds no snapshots.
var errNoSnapshots = errors.New("no snapshot files (snapshot.<zxid>)")

// loadSnapshotFile reads and verifies one snapshot file (checksums, seals,
// tree body) the way recovery does, and builds its tree.
func loadSnapshotFile(path string, maxEntry int) (storage.Snapshot, *tree.Tree, error) {
	info, err := os.Stat(path)
	if err != nil {
		return storage.Snapshot{}, nil, err
	}
	if info.IsDir() {
		return storage.Snapshot{}, nil, fmt.Errorf("%s is a directory; give a snapshot.<zxid> file", path)
	}
	var t *tree.Tree
	snap, err := storage.ReadSnapshot(storage.OSFS{}, path, storage.SnapshotOptions{MaxEntrySize: maxEntry},
		func(d *jute.Decoder) error {
			var err error
			t, err = tree.Deserialize(d)
			return err
		})
	if err != nil {
		return snap, nil, err
	}
	return snap, t, nil
}

// snapshotNameZxid parses the zxid out of "snapshot.<hex>[.gz|.snappy][.broken]".
func snapshotNameZxid(path string) (int64, bool) {
	parts := strings.Split(filepath.Base(path), ".")
	if len(parts) < 2 || parts[0] != "snapshot" {
		return 0, false
	}
	z, err := strconv.ParseUint(parts[1], 16, 63)
	return int64(z), err == nil
}

// snapshotCompressionName says how a snapshot file is compressed, from its
// name as ZooKeeper decides it.
func snapshotCompressionName(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), ".broken")
	switch {
	case strings.HasSuffix(name, "."+storage.CompressionGzip):
		return "gzip"
	case strings.HasSuffix(name, "."+storage.CompressionSnappy):
		return "snappy"
	}
	return "none"
}

type snapDigestView struct {
	Zxid     string `json:"zxid"`
	Version  int32  `json:"version"`
	Digest   int64  `json:"digest"`
	Computed int64  `json:"computed"` // over the nodes in the file
	Matches  bool   `json:"matches"`
}

type snapHeaderView struct {
	Record      string          `json:"record"` // "snapshot"
	File        string          `json:"file"`
	Size        int64           `json:"size"`
	Compression string          `json:"compression"`
	Zxid        string          `json:"zxid,omitempty"` // from the file name
	Sessions    int             `json:"sessions"`
	Nodes       int             `json:"nodes"`
	Digest      *snapDigestView `json:"digest,omitempty"`
	// LastProcessedZxid is ZooKeeper 3.9's trailing section.
	LastProcessedZxid string `json:"lastProcessedZxid,omitempty"`
}

type sessionView struct {
	Record     string `json:"record"` // "session"
	ID         string `json:"id"`
	Timeout    int32  `json:"timeout"` // ms
	Ephemerals int    `json:"ephemerals"`
}

type nodeView struct {
	Record         string    `json:"record"` // "node"
	Path           string    `json:"path"`
	Czxid          string    `json:"czxid"`
	Mzxid          string    `json:"mzxid"`
	Pzxid          string    `json:"pzxid"`
	Ctime          string    `json:"ctime"`
	CtimeMs        int64     `json:"ctimeMs"`
	Mtime          string    `json:"mtime"`
	MtimeMs        int64     `json:"mtimeMs"`
	Version        int32     `json:"version"`
	Cversion       int32     `json:"cversion"` // as stored: child creates only
	Aversion       int32     `json:"aversion"`
	EphemeralOwner string    `json:"ephemeralOwner"`
	Kind           string    `json:"kind"` // persistent, ephemeral, container, ttl
	TTL            *int64    `json:"ttl,omitempty"`
	DataLength     int       `json:"dataLength"`
	NumChildren    int       `json:"numChildren"`
	ACL            []aclView `json:"acl"`
	Data           *string   `json:"data,omitempty"`
	DataEncoding   string    `json:"dataEncoding,omitempty"`

	rawData []byte
}

var kindNames = map[tree.Kind]string{tree.Persistent: "persistent", tree.Ephemeral: "ephemeral", tree.Container: "container", tree.TTL: "ttl"}

func viewNode(path string, n *tree.Node, withData bool) nodeView {
	s := n.Stat
	v := nodeView{
		Record: "node", Path: path,
		Czxid: hexID(s.Czxid), Mzxid: hexID(s.Mzxid), Pzxid: hexID(s.Pzxid),
		Ctime: formatMs(s.Ctime), CtimeMs: s.Ctime, Mtime: formatMs(s.Mtime), MtimeMs: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: hexID(s.EphemeralOwner), Kind: kindNames[tree.OwnerKind(s.EphemeralOwner)],
		DataLength: len(n.Data), NumChildren: n.NumChildren(), ACL: viewACL(n.ACL),
	}
	if tree.OwnerKind(s.EphemeralOwner) == tree.TTL {
		v.TTL = ptr(tree.OwnerTTL(s.EphemeralOwner))
	}
	if withData {
		d, enc := viewData(n.Data)
		v.Data, v.DataEncoding, v.rawData = &d, enc, n.Data
	}
	return v
}

func (v *nodeView) text(maxData int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n  czxid=%s mzxid=%s pzxid=%s ctime=%s mtime=%s\n", displayPath(v.Path), v.Czxid, v.Mzxid, v.Pzxid, v.Ctime, v.Mtime)
	fmt.Fprintf(&b, "  version=%d cversion=%d aversion=%d ephemeralOwner=%s (%s", v.Version, v.Cversion, v.Aversion, v.EphemeralOwner, v.Kind)
	if v.TTL != nil {
		fmt.Fprintf(&b, " %dms", *v.TTL)
	}
	fmt.Fprintf(&b, ") dataLength=%d numChildren=%d\n", v.DataLength, v.NumChildren)
	acl := make([]string, len(v.ACL))
	for i, a := range v.ACL {
		acl[i] = a.String()
	}
	fmt.Fprintf(&b, "  acl=[%s]", strings.Join(acl, ","))
	if v.Data != nil {
		fmt.Fprintf(&b, "\n  data=%s", textData(v.rawData, maxData))
	}
	return b.String()
}

type snapSummaryView struct {
	Record     string `json:"record"` // "summary"
	Nodes      int    `json:"nodes"`
	Ephemerals int    `json:"ephemerals"`
	Containers int    `json:"containers"`
	TTLs       int    `json:"ttls"`
	DataBytes  int64  `json:"dataBytes"`
	Sessions   int    `json:"sessions"`
}

// viewSnapshotHeader describes a loaded snapshot file.
func viewSnapshotHeader(path string, snap storage.Snapshot, t *tree.Tree) snapHeaderView {
	h := snapHeaderView{Record: "snapshot", File: path, Compression: snapshotCompressionName(path),
		Sessions: len(snap.Sessions), Nodes: znodeCount(t)}
	if info, err := os.Stat(path); err == nil {
		h.Size = info.Size()
	}
	if z, ok := snapshotNameZxid(path); ok {
		h.Zxid = hexID(z)
	}
	if d := snap.Digest; d != nil {
		h.Digest = &snapDigestView{Zxid: hexID(d.Zxid), Version: d.Version, Digest: d.Digest, Computed: t.Digest(), Matches: d.Digest == t.Digest()}
	}
	if snap.LastProcessedZxid != 0 {
		h.LastProcessedZxid = hexID(snap.LastProcessedZxid)
	}
	return h
}

// digestText explains a snapshot's recorded digest against the nodes.
func (h *snapHeaderView) digestText() string {
	d := h.Digest
	if d == nil {
		return "none recorded (digest.enabled=false when it was written)"
	}
	if d.Zxid == hexID(0) && d.Digest == 0 {
		return "none recorded yet (the snapshot precedes the first txn)"
	}
	s := fmt.Sprintf("%d at zxid %s (version %d); computed from the nodes: %d", d.Digest, d.Zxid, d.Version, d.Computed)
	if d.Matches {
		return s + ", matches"
	}
	return s + ", differs (expected when writes went on while the snapshot was taken: replaying the log after it converges)"
}

type snapshotDumpFlags struct {
	json     bool
	data     bool
	maxData  int
	progress bool
	maxEntry int
}

func snapshotDumpCommand() *cobra.Command {
	var f snapshotDumpFlags
	cmd := &cobra.Command{
		Use:   "dump FILE",
		Short: "Print a snapshot's header, sessions and znodes (like Apache's SnapshotFormatter, but readable)",
		Long: `Print a ZooKeeper snapshot file (snapshot.<zxid>, also .gz and .snappy;
written by zkd or Apache ZooKeeper): its zxid, digest (and whether it
matches the nodes), the sessions with their timeouts and ephemeral counts,
then every znode in path order with its stored stat (cversion as stored,
which counts child creates only), ACL as scheme:id:perms, and with --data
its data (a quoted string, or hex:... when binary; cut after --max-data
bytes in text output). A summary line ends it.

With --json every line is one JSON object: "snapshot", one "session" each,
one "node" each, then "summary".

The file's checksums are checked first: a corrupt snapshot ends the
command with exit status 2 and a message naming the file and the offset.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshotDump(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f)
		},
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "one JSON object per line")
	cmd.Flags().BoolVar(&f.data, "data", false, "print each znode's data")
	cmd.Flags().IntVar(&f.maxData, "max-data", defaultMaxData, "in text output, cut data after this many bytes (0: never)")
	cmd.Flags().BoolVar(&f.progress, "progress", false, "print progress on stderr even when it is not a terminal")
	cmd.Flags().IntVar(&f.maxEntry, "jute-maxbuffer", config.DefaultJuteMaxBuffer, "largest data or path accepted, as jute.maxbuffer")
	return cmd
}

func runSnapshotDump(stdout, stderr io.Writer, path string, f snapshotDumpFlags) error {
	var phase atomic.Value
	phase.Store("reading and checking the file")
	var written atomic.Int64
	p := startProgress(stdout, stderr, f.progress, func() string {
		return fmt.Sprintf("snapshot dump %s: %s, %d nodes printed", filepath.Base(path), phase.Load(), written.Load())
	})
	defer p.finish()
	snap, t, err := loadSnapshotFile(path, f.maxEntry)
	if err != nil {
		return corruptExit(fmt.Errorf("snapshot dump: %w", err))
	}
	phase.Store("printing")
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	emit := func(v any, text string) error {
		if f.json {
			return jsonLine(out, v)
		}
		_, err := fmt.Fprintln(out, text)
		return err
	}

	h := viewSnapshotHeader(path, snap, t)
	head := fmt.Sprintf("file %s: snapshot, format version 2, %d bytes, compression %s\n", h.File, h.Size, h.Compression)
	if h.Zxid != "" {
		head += fmt.Sprintf("zxid: %s (from the file name: the last txn applied when the snapshot started)\n", h.Zxid)
	} else {
		head += "zxid: unknown (the file is not named snapshot.<zxid>)\n"
	}
	head += "digest: " + h.digestText()
	if h.LastProcessedZxid != "" {
		head += "\nlastProcessedZxid: " + h.LastProcessedZxid
	}
	head += fmt.Sprintf("\nsessions: %d", h.Sessions)
	if err := emit(&h, head); err != nil {
		return err
	}
	ids := make([]int64, 0, len(snap.Sessions))
	for id := range snap.Sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	owned := t.EphemeralSessions()
	for _, id := range ids {
		v := sessionView{Record: "session", ID: hexID(id), Timeout: snap.Sessions[id], Ephemerals: owned[id]}
		if err := emit(&v, fmt.Sprintf("  session %s timeout=%dms ephemerals=%d", v.ID, v.Timeout, v.Ephemerals)); err != nil {
			return err
		}
	}
	if !f.json {
		fmt.Fprintf(out, "nodes: %d\n", znodeCount(t))
	}
	sum := snapSummaryView{Record: "summary", Sessions: len(snap.Sessions)}
	t.Walk("/", func(path string, n *tree.Node) bool {
		sum.Nodes++
		sum.DataBytes += int64(len(n.Data))
		switch tree.OwnerKind(n.Stat.EphemeralOwner) {
		case tree.Ephemeral:
			sum.Ephemerals++
		case tree.Container:
			sum.Containers++
		case tree.TTL:
			sum.TTLs++
		}
		v := viewNode(path, n, f.data)
		if err = emit(&v, v.text(f.maxData)); err != nil {
			return false
		}
		written.Add(1)
		return true
	})
	if err != nil {
		return err
	}
	return emit(&sum, fmt.Sprintf("summary: %s (%d ephemeral, %d container, %d TTL), %d data bytes, %s",
		plural(sum.Nodes, "node"), sum.Ephemerals, sum.Containers, sum.TTLs, sum.DataBytes, plural(sum.Sessions, "session")))
}

type snapshotVerifyFlags struct {
	maxEntry int
	progress bool
}

func snapshotVerifyCommand() *cobra.Command {
	var f snapshotVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify FILE|DIR...",
		Short: "Check snapshots: completeness, checksums (seals), tree structure, digest",
		Long: `Check snapshot files as recovery loads them: the trailing seal, every
Adler32 seal, the header, sessions and tree body (parents before children,
ACL references), and compare the recorded digest with one computed from
the nodes (a difference is reported but is not an error: a snapshot taken
while writes went on may hold txns after its digest). A DIR is a dataDir
(or its version-2); all its snapshots are checked.

Exit status 2 when a file is corrupt; the message names the file and the offset.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshotVerify(cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	cmd.Flags().IntVar(&f.maxEntry, "jute-maxbuffer", config.DefaultJuteMaxBuffer, "largest data or path accepted, as jute.maxbuffer")
	cmd.Flags().BoolVar(&f.progress, "progress", false, "print progress on stderr even when it is not a terminal")
	return cmd
}

func expandSnapshotArgs(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("snapshot verify: %w", err)
		}
		if !info.IsDir() {
			files = append(files, a)
			continue
		}
		dataDir := a
		if abs, err := filepath.Abs(a); err == nil && filepath.Base(abs) == storage.VersionDir {
			dataDir = filepath.Dir(abs)
		}
		snaps, err := storage.ListSnapshots(storage.OSFS{}, dataDir)
		if err != nil {
			return nil, fmt.Errorf("snapshot verify: %w", err)
		}
		if len(snaps) == 0 {
			return nil, fmt.Errorf("snapshot verify: %w in %s", errNoSnapshots, filepath.Join(dataDir, storage.VersionDir))
		}
		for _, s := range snaps {
			files = append(files, s.Path)
		}
	}
	return files, nil
}

func runSnapshotVerify(out, stderr io.Writer, args []string, f snapshotVerifyFlags) error {
	files, err := expandSnapshotArgs(args)
	if err != nil {
		return err
	}
	var done atomic.Int64
	p := startProgress(out, stderr, f.progress, func() string {
		return fmt.Sprintf("snapshot verify: %d of %d files checked", done.Load(), len(files))
	})
	defer p.finish()
	bad := 0
	for _, path := range files {
		snap, t, err := loadSnapshotFile(path, f.maxEntry)
		done.Add(1)
		switch {
		case err != nil && errors.Is(err, storage.ErrCorrupt):
			bad++
			fmt.Fprintf(out, "%s: CORRUPT: %v\n", path, err)
			continue
		case err != nil:
			return fmt.Errorf("snapshot verify: %w", err)
		}
		h := viewSnapshotHeader(path, snap, t)
		fmt.Fprintf(out, "%s: ok, %s, %s; digest %s\n", path, plural(h.Nodes, "node"), plural(h.Sessions, "session"), h.digestText())
	}
	if bad > 0 {
		return &exitError{code: exitCorrupt, msg: fmt.Sprintf("snapshot verify: %d of %s corrupt", bad, plural(len(files), "file"))}
	}
	return nil
}

// displayPath is a znode path as the text dump shows it on its own line:
// as it is, or quoted if it holds characters ZooKeeper never allows in a
// path (control characters), which only a damaged file can contain.
func displayPath(p string) string {
	for _, r := range p {
		if !unicode.IsGraphic(r) && r != ' ' {
			return strconv.Quote(p)
		}
	}
	return p
}

// znodeCount is the number of znodes in t. tree.NodeCount is ZooKeeper's
// zk_znode_count, which counts the root twice.
func znodeCount(t *tree.Tree) int { return t.NodeCount() - 1 }
