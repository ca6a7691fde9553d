package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/recovery"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// apacheFixture is a data directory written by Apache ZooKeeper 3.8.0
// (internal/storage's test fixture): logs 1, 6, d, 10 and snapshots 0, 4,
// b, f, 13; after its last txn (0x14) Apache wrote testdata/snapshot.14.gz.
const apacheFixture = "../../internal/storage/testdata/zk38"

// runTool runs the zkd command line and returns its stdout and stderr.
func runTool(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := rootCommand()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// copyDir copies a directory tree (test fixtures are small).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dirContents maps each file under dir to its bytes.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			out[path] = string(b)
		}
		return nil
	})
	return out
}

var openACL = []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "world", ID: "anyone"}}}

// history writes a data directory the way a server does: every txn is
// applied to a tree, carries the tree digest after it, and is logged;
// snapshot() writes a snapshot of the tree and rolls the log.
type history struct {
	t        *testing.T
	dir      string
	tree     *tree.Tree
	log      *storage.Log
	sessions map[int64]int32
	zxid     int64
}

func newHistory(t *testing.T, dir string) *history {
	l, err := storage.OpenLog(storage.OSFS{}, dir, storage.LogOptions{PreAllocSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return &history{t: t, dir: dir, tree: tree.New(), log: l, sessions: map[int64]int32{}}
}

func (h *history) add(session int64, typ proto.OpCode, body txn.Body) {
	h.t.Helper()
	h.zxid++
	tx := &txn.Txn{Header: txn.Header{ClientID: session, Cxid: int32(h.zxid), Zxid: h.zxid, Time: 1795704848000 + h.zxid, Type: typ}, Body: body}
	h.tree.Apply(tx)
	switch b := body.(type) {
	case *txn.CreateSession:
		h.sessions[session] = b.TimeOut
	case *txn.CloseSession:
		delete(h.sessions, session)
	}
	if typ != proto.OpError {
		tx.Digest = &txn.Digest{Version: txn.DigestVersion, TreeDigest: h.tree.Digest()}
	}
	if err := h.log.Append(h.zxid, txn.Marshal(tx)); err != nil {
		h.t.Fatal(err)
	}
}

// cv is the parent's cversion after one more child create.
func (h *history) cv(path string) int32 {
	parent := filepath.Dir(path)
	return h.tree.Get(parent).Stat.Cversion + 1
}

func (h *history) create(session int64, path string, data []byte, ephemeral bool) {
	h.add(session, proto.OpCreate, &txn.Create{Path: path, Data: data, ACL: openACL, Ephemeral: ephemeral, ParentCVersion: h.cv(path)})
}

func (h *history) snapshot() {
	h.t.Helper()
	if err := h.log.Sync(); err != nil {
		h.t.Fatal(err)
	}
	snap := storage.Snapshot{Zxid: h.zxid, Sessions: maps.Clone(h.sessions),
		Digest: &storage.ZxidDigest{Zxid: h.zxid, Version: txn.DigestVersion, Digest: h.tree.Digest()}}
	if _, err := storage.WriteSnapshot(storage.OSFS{}, h.dir, snap, h.tree.SerializeStream, storage.SnapshotOptions{}); err != nil {
		h.t.Fatal(err)
	}
	if err := h.log.Roll(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *history) close() {
	h.t.Helper()
	if err := h.log.Sync(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.log.Close(); err != nil {
		h.t.Fatal(err)
	}
}

const (
	sessionA = int64(0x1000009b9920000)
	sessionB = int64(0x1000009b9920001)
)

// writeScenario writes every txn type zkd logs: sessions, creates (text,
// binary, ephemeral, container, TTL), setData, setACL, delete, a failed
// write, a multi, and a closeSession that deletes an ephemeral. With
// snapAt > 0 a snapshot is taken after that many txns.
func writeScenario(t *testing.T, dir string, snapAt int) *history {
	h := newHistory(t, dir)
	steps := []func(){
		func() { h.add(sessionA, proto.OpCreateSession, &txn.CreateSession{TimeOut: 30000}) },
		func() { h.create(sessionA, "/app", []byte("hello"), false) },
		func() { h.create(sessionA, "/app/bin", []byte{0x00, 0xff, 0x10}, false) },
		func() { h.create(sessionA, "/app/eph", []byte("e"), true) },
		func() {
			h.add(sessionA, proto.OpSetData, &txn.SetData{Path: "/app", Data: []byte("hello again"), Version: 1})
		},
		func() {
			h.add(sessionA, proto.OpMulti, &txn.Multi{Ops: []txn.Op{
				{Type: proto.OpCreate, Body: &txn.Create{Path: "/app/m", Data: []byte("m"), ACL: openACL, ParentCVersion: h.cv("/app/m")}},
				{Type: proto.OpCheck, Body: &txn.CheckVersion{Path: "/app", Version: 2}},
				{Type: proto.OpSetData, Body: &txn.SetData{Path: "/app/bin", Data: []byte("now text"), Version: 1}},
			}})
		},
		func() {
			h.add(sessionA, proto.OpSetACL, &txn.SetACL{Path: "/app/bin",
				ACL: []proto.ACL{{Perms: proto.PermRead, ID: proto.ID{Scheme: "world", ID: "anyone"}}}, Version: 1})
		},
		func() { h.add(sessionB, proto.OpCreateSession, &txn.CreateSession{TimeOut: 10000}) },
		func() { h.create(sessionB, "/gone", nil, false) },
		func() { h.add(sessionB, proto.OpDelete, &txn.Delete{Path: "/gone"}) },
		func() { h.add(sessionB, proto.OpError, &txn.Error{Err: proto.ErrNoNode}) },
		func() {
			h.add(sessionB, proto.OpCreateContainer, &txn.CreateContainer{Path: "/cont", Data: []byte{}, ACL: openACL, ParentCVersion: h.cv("/cont")})
		},
		func() {
			h.add(sessionB, proto.OpCreateTTL, &txn.CreateTTL{Path: "/ttl", Data: []byte("t"), ACL: openACL, ParentCVersion: h.cv("/ttl"), TTL: 60000})
		},
		func() { h.create(sessionB, "/app/eph2", []byte("e2"), true) },
		func() {
			h.add(sessionB, proto.OpCloseSession, &txn.CloseSession{Paths: []string{"/app/eph2"}, HasPaths: true})
		},
	}
	for i, step := range steps {
		step()
		if i+1 == snapAt {
			h.snapshot()
		}
	}
	h.close()
	return h
}

func logPath(t *testing.T, dataLogDir string, i int) string {
	t.Helper()
	logs, err := storage.ListLogs(storage.OSFS{}, dataLogDir)
	if err != nil || len(logs) <= i {
		t.Fatalf("logs in %s: %v %v", dataLogDir, logs, err)
	}
	return logs[i].Path
}

// lineIndex returns the index of the first line containing want, at or after from.
func lineIndex(lines []string, from int, want string) int {
	for i := from; i < len(lines); i++ {
		if strings.Contains(lines[i], want) {
			return i
		}
	}
	return -1
}

func TestLogDumpTextShowsEveryTxnType(t *testing.T) {
	dir := t.TempDir()
	writeScenario(t, dir, 0)
	path := logPath(t, dir, 0)
	out, _, err := runTool(t, "log", "dump", path)
	if err != nil {
		t.Fatalf("log dump: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// In order, as the txns were logged.
	want := []string{
		"file " + path + `: transaction log, magic "ZKLG", format version 2, dbid 0`,
		"zxid=0x1 time=2026-11-26T14:54:08.001Z (1795704848001ms) session=0x1000009b9920000 cxid=1 type=createSession timeout=30000ms digest=",
		`zxid=0x2 `, `type=create path="/app" data="hello" acl=[world:anyone:cdrwa] ephemeral=false parentCVersion=1 digest=`,
		`type=create path="/app/bin" data=hex:00ff10 `,
		`type=create path="/app/eph" data="e" acl=[world:anyone:cdrwa] ephemeral=true parentCVersion=2`,
		`type=setData path="/app" data="hello again" version=1`,
		`type=multi ops=3 digest=`,
		`    op[0] type=create path="/app/m" data="m"`,
		`    op[1] type=check path="/app" version=2`,
		`    op[2] type=setData path="/app/bin" data="now text" version=1`,
		`type=setACL path="/app/bin" acl=[world:anyone:r] version=1`,
		`session=0x1000009b9920001 cxid=8 type=createSession timeout=10000ms`,
		`type=create path="/gone" data=""`,
		`type=delete path="/gone"`,
		`type=error err=-101(NoNode) offset=`,
		`type=createContainer path="/cont" data="" acl=[world:anyone:cdrwa] parentCVersion=`,
		`type=createTTL path="/ttl" data="t" acl=[world:anyone:cdrwa] parentCVersion=4 ttl=60000ms`,
		`type=create path="/app/eph2"`,
		`zxid=0xf `, `type=closeSession paths=["/app/eph2"] digest=`,
		"end: 15 txns (zxid 0x1 to 0xf); zero padding (preallocated, unused) from offset ",
	}
	at := 0
	for _, w := range want {
		i := lineIndex(lines, at, w)
		if i < 0 {
			t.Fatalf("no line with %q at or after line %d:\n%s", w, at, out)
		}
		at = i
	}
	if strings.Contains(lines[lineIndex(lines, 0, "type=error")], "digest=") {
		t.Errorf("an error txn carries no digest:\n%s", out)
	}
	// The offsets are the records' real positions: the first at 16, each
	// next one after the previous record's 12-byte header, entry and 'B'.
	first := regexp.MustCompile(`offset=(\d+)$`).FindStringSubmatch(lines[1])
	if first == nil || first[1] != "16" {
		t.Errorf("first record offset: %q", lines[1])
	}
	end := regexp.MustCompile(`from offset (\d+) to (\d+)`).FindStringSubmatch(lines[len(lines)-1])
	info, _ := os.Stat(path)
	if end == nil || end[2] != strconv.FormatInt(info.Size(), 10) {
		t.Errorf("end line %q, file size %d", lines[len(lines)-1], info.Size())
	}
}

func TestLogDumpJSONParsesAndMatchesText(t *testing.T) {
	dir := t.TempDir()
	h := writeScenario(t, dir, 0)
	path := logPath(t, dir, 0)
	out, _, err := runTool(t, "log", "dump", "--json", path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 17 || recs[0]["record"] != "header" || recs[16]["record"] != "end" {
		t.Fatalf("want header, 15 txns, end; got %d records:\n%s", len(recs), out)
	}
	if recs[0]["magic"] != "ZKLG" || recs[0]["version"] != 2.0 {
		t.Errorf("header: %v", recs[0])
	}
	byZxid := map[string]map[string]any{}
	for _, r := range recs[1:16] {
		if r["record"] != "txn" {
			t.Fatalf("record %v", r)
		}
		byZxid[r["zxid"].(string)] = r
	}
	bin := byZxid["0x3"]
	if bin["path"] != "/app/bin" || bin["data"] != "00ff10" || bin["dataEncoding"] != "hex" {
		t.Errorf("binary create: %v", bin)
	}
	if hello := byZxid["0x2"]; hello["data"] != "hello" || hello["dataEncoding"] != "utf8" || hello["ephemeral"] != false {
		t.Errorf("text create: %v", hello)
	}
	multi := byZxid["0x6"]
	ops, _ := multi["ops"].([]any)
	if multi["type"] != "multi" || len(ops) != 3 || ops[1].(map[string]any)["type"] != "check" {
		t.Errorf("multi: %v", multi)
	}
	closing := byZxid["0xf"]
	if paths, _ := closing["paths"].([]any); len(paths) != 1 || paths[0] != "/app/eph2" {
		t.Errorf("closeSession: %v", closing)
	}
	digest, _ := closing["digest"].(map[string]any)
	if digest == nil || digest["treeDigest"] != float64(h.tree.Digest()) {
		t.Errorf("closeSession digest %v, tree digest %d", closing["digest"], h.tree.Digest())
	}
	if _, ok := byZxid["0xb"]["digest"]; ok || byZxid["0xb"]["errName"] != "NoNode" {
		t.Errorf("error txn: %v", byZxid["0xb"])
	}
	end := recs[16]
	if end["txns"] != 15.0 || end["tail"] != "padding" || end["firstZxid"] != "0x1" || end["lastZxid"] != "0xf" {
		t.Errorf("end: %v", end)
	}
}

// appendTornRecord writes the first half of a valid record after the last
// record of a log file, as a crash during an unsynced append leaves it.
func appendTornRecord(t *testing.T, path string, recordsEnd int64) {
	t.Helper()
	entry := txn.Marshal(&txn.Txn{
		Header: txn.Header{ClientID: sessionA, Cxid: 99, Zxid: 0x99, Time: 1795704849000, Type: proto.OpCreate},
		Body:   &txn.Create{Path: "/torn", Data: bytes.Repeat([]byte("x"), 100), ACL: openACL, ParentCVersion: 9},
	})
	rec := make([]byte, 12, 12+len(entry)+1)
	rec = append(append(rec, entry...), 'B')
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Checksum and length as written, then only half of the rest.
	copy(rec, []byte{0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78})
	rec[8], rec[9], rec[10], rec[11] = 0, 0, 0, byte(len(entry))
	if _, err := f.WriteAt(rec[:len(rec)/2], recordsEnd); err != nil {
		t.Fatal(err)
	}
}

// recordsEnd is the offset after a log's records, from log dump --json.
func recordsEnd(t *testing.T, path string) int64 {
	t.Helper()
	out, _, err := runTool(t, "log", "dump", "--json", path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var end logEndView
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &end); err != nil {
		t.Fatal(err)
	}
	return end.Offset
}

func TestLogDumpReportsTornTail(t *testing.T) {
	dir := t.TempDir()
	writeScenario(t, dir, 0)
	path := logPath(t, dir, 0)
	end := recordsEnd(t, path)
	appendTornRecord(t, path, end)
	out, _, err := runTool(t, "log", "dump", path)
	if err != nil {
		t.Fatalf("a torn tail is not corruption: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "end: 15 txns") || !strings.Contains(last, "torn tail at offset "+strconv.FormatInt(end, 10)) {
		t.Fatalf("last line %q", last)
	}
	out, _, err = runTool(t, "log", "verify", path)
	if err != nil || !strings.Contains(out, path+": ok, 15 txns") || !strings.Contains(out, "torn tail") {
		t.Fatalf("verify of a torn log: %v\n%s", err, out)
	}
}

func TestLogDumpStopsAtCorruptionNamingFileAndOffset(t *testing.T) {
	dir := t.TempDir()
	writeScenario(t, dir, 0)
	path := logPath(t, dir, 0)
	out, _, _ := runTool(t, "log", "dump", "--json", path)
	var third txnView
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[3]), &third); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	b[third.Offset+12+40] ^= 0x20 // a byte of the third record's body: its checksum no longer matches
	os.WriteFile(path, b, 0o644)

	out, _, err := runTool(t, "log", "dump", path)
	if exitCode(err) != exitCorrupt {
		t.Fatalf("exit %d (%v), want %d", exitCode(err), err, exitCorrupt)
	}
	want := path + ": corrupt at offset " + strconv.FormatInt(third.Offset, 10) + ": checksum"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if !strings.Contains(out, "zxid=0x2 ") || strings.Contains(out, "zxid=0x3 ") || strings.Contains(out, "end:") {
		t.Errorf("want the records before the corrupt one and no end line:\n%s", out)
	}

	out, _, err = runTool(t, "log", "verify", dir)
	if exitCode(err) != exitCorrupt || !strings.Contains(out, path+": CORRUPT: ") || !strings.Contains(out, want) {
		t.Errorf("verify: %v\n%s", err, out)
	}
}

func TestLogDumpErrors(t *testing.T) {
	dir := t.TempDir()
	notLog := filepath.Join(dir, "log.1")
	os.WriteFile(notLog, []byte("this is not a ZooKeeper transaction log at all"), 0o644)
	_, _, err := runTool(t, "log", "dump", notLog)
	if exitCode(err) != exitCorrupt || !strings.Contains(err.Error(), notLog+": corrupt at offset 0: magic") {
		t.Errorf("not a log: %v", err)
	}
	missing := filepath.Join(dir, "log.2")
	_, _, err = runTool(t, "log", "dump", missing)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	_, _, err = runTool(t, "log", "verify", dir+"/nothing-here")
	if err == nil || !strings.Contains(err.Error(), "nothing-here") {
		t.Errorf("missing dir: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	_, _, err = runTool(t, "log", "verify", empty)
	if !errors.Is(err, errNoLogs) {
		t.Errorf("dir without logs: %v", err)
	}
}

func TestLogDumpApacheFixture(t *testing.T) {
	out, _, err := runTool(t, "log", "dump", filepath.Join(apacheFixture, "version-2", "log.6"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`zxid=0x6 time=2026-11-26T14:54:08.925Z (1795704848925ms) session=0x1000009b9920000 cxid=5 type=create path="/eph" data="e" acl=[world:anyone:cdrwa] ephemeral=true parentCVersion=2 digest=13412889385(v2) offset=16`,
		`type=setACL path="/c" acl=[world:anyone:r] version=1`,
		`type=createContainer path="/cont"`,
		`type=error err=-110(NodeExists)`,
		"end: 7 txns (zxid 0x6 to 0xc); records end at end of file (offset 559)",
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want+" ") {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, _, err = runTool(t, "log", "verify", apacheFixture)
	if err != nil || strings.Count(out, ": ok, ") != 4 {
		t.Errorf("verify: %v\n%s", err, out)
	}
}

// jsonLines decodes one JSON object per line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

func TestSnapshotDumpApacheFixture(t *testing.T) {
	path := filepath.Join(apacheFixture, "version-2", "snapshot.13")
	out, _, err := runTool(t, "snapshot", "dump", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"zxid: 0x13 (from the file name",
		"digest: 23262884454 at zxid 0x13 (version 2); computed from the nodes: 23262884454, matches",
		"sessions: 2\n  session 0x1000009b9920000 timeout=30000ms ephemerals=1\n  session 0x1000009e7880000 timeout=10000ms ephemerals=0\n",
		"nodes: 14\n/\n",
		"/a/b\n  czxid=0x3 mzxid=0xd pzxid=0x3 ctime=2026-11-26T14:54:08.909Z mtime=2026-11-26T14:54:08.968Z\n  version=1 cversion=0 aversion=0 ephemeralOwner=0x0 (persistent) dataLength=5 numChildren=0\n  acl=[world:anyone:cdrwa]\n",
		"/c\n", "acl=[world:anyone:r]",
		"ephemeralOwner=0x8000000000000000 (container)",
		"ephemeralOwner=0x1000009b9920000 (ephemeral)",
		"summary: 14 nodes (1 ephemeral, 1 container, 0 TTL), 3012 data bytes, 2 sessions",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "data=") {
		t.Errorf("data printed without --data")
	}
	out, _, err = runTool(t, "snapshot", "dump", "--data", path)
	if err != nil || !strings.Contains(out, "/a/b\n") || !strings.Contains(out, `  data="world"`) ||
		!strings.Contains(out, `  data="`+strings.Repeat("z", defaultMaxData)+`"...(3000 bytes)`) {
		t.Errorf("--data: %v\n%s", err, out)
	}

	out, _, err = runTool(t, "snapshot", "dump", "--json", "--data", path)
	if err != nil {
		t.Fatal(err)
	}
	recs := jsonLines(t, out)
	if recs[0]["record"] != "snapshot" || recs[0]["nodes"] != 14.0 || recs[0]["zxid"] != "0x13" {
		t.Fatalf("header %v", recs[0])
	}
	nodes := 0
	for _, r := range recs {
		if r["record"] == "node" {
			nodes++
			if r["path"] == "/big" && len(r["data"].(string)) != 3000 {
				t.Errorf("JSON data is cut: %d bytes", len(r["data"].(string)))
			}
		}
	}
	if last := recs[len(recs)-1]; nodes != 14 || last["record"] != "summary" || last["ephemerals"] != 1.0 {
		t.Errorf("%d nodes, summary %v", nodes, last)
	}
}

// TestSnapshotDumpCompressed reads the gzip and snappy fixtures (Apache's
// snapshot.14 written with each compression method) to the same nodes.
func TestSnapshotDumpCompressed(t *testing.T) {
	var outs []string
	for _, name := range []string{"snapshot.14.gz", "snapshot.14.snappy"} {
		out, _, err := runTool(t, "snapshot", "dump", "--json", "--data", filepath.Join("../../internal/storage/testdata", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recs := jsonLines(t, out)
		if recs[0]["compression"] != map[string]string{"snapshot.14.gz": "gzip", "snapshot.14.snappy": "snappy"}[name] || recs[0]["nodes"] != 14.0 {
			t.Errorf("%s header %v", name, recs[0])
		}
		outs = append(outs, out[strings.Index(out, "\n"):])
	}
	if outs[0] != outs[1] {
		t.Errorf("gzip and snappy snapshots dump differently:\n%s\n%s", outs[0], outs[1])
	}
}

func TestSnapshotVerifyFindsCorruption(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, apacheFixture, dir)
	out, _, err := runTool(t, "snapshot", "verify", dir)
	if err != nil || strings.Count(out, ": ok, ") != 5 {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "version-2", "snapshot.b")
	b, _ := os.ReadFile(bad)
	b[len(b)/2] ^= 1
	os.WriteFile(bad, b, 0o644)
	out, _, err = runTool(t, "snapshot", "verify", dir)
	if exitCode(err) != exitCorrupt || !strings.Contains(out, bad+": CORRUPT: storage: "+bad+": corrupt at offset ") {
		t.Errorf("verify: %v\n%s", err, out)
	}
	if strings.Count(out, ": ok, ") != 4 {
		t.Errorf("the other snapshots are still checked:\n%s", out)
	}
	_, _, err = runTool(t, "snapshot", "dump", bad)
	if exitCode(err) != exitCorrupt || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "offset") {
		t.Errorf("dump: %v", err)
	}
}

// writeSnapshotAt writes a snapshot of an empty tree named for zxid.
func writeSnapshotAt(t *testing.T, dataDir string, zxid int64) {
	t.Helper()
	tr := tree.New()
	_, err := storage.WriteSnapshot(storage.OSFS{}, dataDir, storage.Snapshot{Zxid: zxid, Sessions: map[int64]int32{}},
		func(e *jute.Encoder, flush func([]byte) error) error { return tr.SerializeStream(e, flush) }, storage.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func touch(t *testing.T, path string, data string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, storage.VersionDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestPurgeKeepsNewestSnapshotsAndTheLogsTheyNeed checks PurgeTxnLog's rule:
// "keep the newest N snapshots and the logs they need" — with N=3 and
// snapshots 0, 10, 20, 30, 40 the oldest kept is 20; log.11 holds 0x20 so it
// stays, log.1 and snapshots 0 and 10 go. An incomplete snapshot does not
// count among the N.
func TestPurgeKeepsNewestSnapshotsAndTheLogsTheyNeed(t *testing.T) {
	dataDir, logDir := t.TempDir(), t.TempDir()
	for _, z := range []int64{0x0, 0x10, 0x20, 0x30, 0x40} {
		writeSnapshotAt(t, dataDir, z)
	}
	touch(t, filepath.Join(dataDir, "version-2", "snapshot.50"), "cut short by a crash")
	for _, z := range []string{"1", "11", "21", "31", "41"} {
		touch(t, filepath.Join(logDir, "version-2", "log."+z), "")
	}
	out, _, err := runTool(t, "purge", "--dataDir", dataDir, "--dataLogDir", logDir, "-n", "3")
	if err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	if got, want := names(t, dataDir), []string{"snapshot.20", "snapshot.30", "snapshot.40", "snapshot.50"}; !slices.Equal(got, want) {
		t.Errorf("snapshots left %v, want %v", got, want)
	}
	if got, want := names(t, logDir), []string{"log.11", "log.21", "log.31", "log.41"}; !slices.Equal(got, want) {
		t.Errorf("logs left %v, want %v", got, want)
	}
	for _, removed := range []string{
		filepath.Join(logDir, "version-2", "log.1"),
		filepath.Join(dataDir, "version-2", "snapshot.0"),
		filepath.Join(dataDir, "version-2", "snapshot.10"),
	} {
		if !strings.Contains(out, "removed "+removed+"\n") {
			t.Errorf("output does not name %s:\n%s", removed, out)
		}
	}
	if !strings.Contains(out, "removed 3 files; kept 4 snapshots and 4 logs") {
		t.Errorf("summary:\n%s", out)
	}
	out, _, err = runTool(t, "purge", "--dataDir", dataDir, "--dataLogDir", logDir, "-n", "3")
	if err != nil || !strings.HasPrefix(out, "nothing to remove") {
		t.Errorf("second purge: %v\n%s", err, out)
	}
}

func TestPurgeReadsConfigAndRefusesBadCounts(t *testing.T) {
	dir := t.TempDir()
	for z := int64(1); z <= 6; z++ {
		writeSnapshotAt(t, dir, z*0x10)
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	touch(t, cfg, "dataDir="+dir+"\nautopurge.snapRetainCount=4\n")
	// Without -n the config's autopurge.snapRetainCount applies.
	if out, _, err := runTool(t, "purge", "--config", cfg); err != nil || len(names(t, dir)) != 4 {
		t.Fatalf("purge --config: %v %v\n%s", err, names(t, dir), out)
	}
	if _, _, err := runTool(t, "purge", "--config", cfg, "-n", "3"); err != nil || len(names(t, dir)) != 3 {
		t.Fatalf("purge --config -n 3: %v %v", err, names(t, dir))
	}
	if _, _, err := runTool(t, "purge", "--dataDir", dir, "-n", "2"); err == nil || !strings.Contains(err.Error(), "at least 3") {
		t.Errorf("-n 2: %v", err)
	}
	if _, _, err := runTool(t, "purge", "-n", "3"); !errors.Is(err, errPurgeDirs) {
		t.Errorf("no directory: %v", err)
	}
	if _, _, err := runTool(t, "purge", "--dataDir", t.TempDir()); !errors.Is(err, errNotDataDir) {
		t.Errorf("not a data dir: %v", err)
	}
}

// recoverDir reads and repairs a data directory, as a server starting on
// it does.
func recoverDir(t *testing.T, dataDir, dataLogDir string) *recovery.State {
	t.Helper()
	rec, err := recovery.Read(storage.OSFS{}, recoveryDirs(dataDir, dataLogDir, 0), nil)
	if err == nil {
		err = recovery.Repair(storage.OSFS{}, rec, nil)
	}
	if err != nil {
		t.Fatalf("recover %s: %v", dataDir, err)
	}
	return rec
}

// TestRestoreApacheFixture imports Apache's data directory and checks that
// the snapshot written is byte for byte the one Apache itself wrote after
// the same txns (testdata/snapshot.14.gz), and that the source is unchanged.
func TestRestoreApacheFixture(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "zkd")
	copyDir(t, apacheFixture, src)
	before := dirContents(t, src)
	out, _, err := runTool(t, "snapshot", "restore", "--from", src, "--to", dst)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	for _, want := range []string{
		"loaded snapshot 0x13, replayed 1 txn; last zxid 0x14",
		"restored 14 znodes and 1 session, last zxid 0x14",
		"wrote " + filepath.Join(dst, "version-2", "snapshot.14"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := names(t, dst); !slices.Equal(got, []string{"snapshot.14"}) {
		t.Errorf("target holds %v, want only snapshot.14", got)
	}
	written, _ := os.ReadFile(filepath.Join(dst, "version-2", "snapshot.14"))
	gz, _ := os.Open("../../internal/storage/testdata/snapshot.14.gz")
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	apache, _ := io.ReadAll(zr)
	if !bytes.Equal(written, apache) {
		t.Errorf("restored snapshot (%d bytes) differs from Apache's snapshot.14 (%d bytes)", len(written), len(apache))
	}
	if after := dirContents(t, src); !maps.Equal(before, after) {
		t.Errorf("restore changed the source")
	}
	want, got := recoverDir(t, src, src), recoverDir(t, dst, dst)
	if err := compareRecovered(want, got); err != nil {
		t.Errorf("recovered target differs from the source: %v", err)
	}
	if got.Replayed != 0 || got.SnapshotZxid != 0x14 {
		t.Errorf("target recovered from snapshot %#x plus %d txns", got.SnapshotZxid, got.Replayed)
	}
}

// TestRestoreReplaysLogsAndLeavesTornSourceAlone: the source's newest log
// ends in a torn write that recovery would cut off; restore cuts it only in
// memory, says so, and the target holds the same znodes as the source
// recovered in place.
func TestRestoreReplaysLogsAndLeavesTornSourceAlone(t *testing.T) {
	srcData, srcLog := t.TempDir(), t.TempDir()
	writeScenarioInto(t, srcData, srcLog, 5)
	newest := logPath(t, srcLog, 1)
	appendTornRecord(t, newest, recordsEnd(t, newest))
	before := dirContents(t, srcData)
	for k, v := range dirContents(t, srcLog) {
		before[k] = v
	}

	dst, dstLog := t.TempDir(), t.TempDir()
	out, _, err := runTool(t, "snapshot", "restore", "--from", srcData, "--from-log", srcLog, "--to", dst, "--to-log", dstLog, "--compression", "gz")
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if !strings.Contains(out, "note: a server starting on the source would cut "+newest) || !strings.Contains(out, "loaded snapshot 0x5, replayed 10 txns; last zxid 0xf") {
		t.Errorf("output:\n%s", out)
	}
	if !strings.Contains(out, "start zkd (or Apache ZooKeeper) with dataDir="+dst+" dataLogDir="+dstLog) {
		t.Errorf("output:\n%s", out)
	}
	after := dirContents(t, srcData)
	for k, v := range dirContents(t, srcLog) {
		after[k] = v
	}
	if !maps.Equal(before, after) {
		t.Fatalf("restore changed the source")
	}
	if got := names(t, dst); !slices.Equal(got, []string{"snapshot.f.gz"}) {
		t.Errorf("target holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(dstLog, "version-2")); err == nil {
		t.Errorf("restore wrote into the target log directory")
	}
	got := recoverDir(t, dst, dstLog)
	want := recoverDir(t, srcData, srcLog) // this one repairs the source in place
	if err := compareRecovered(want, got); err != nil {
		t.Fatalf("target differs from the source: %v", err)
	}
	// Spot checks against what the scenario wrote.
	if n := got.Tree.Get("/app/bin"); n == nil || string(n.Data) != "now text" || n.ACL[0].Perms != proto.PermRead {
		t.Errorf("/app/bin: %+v", n)
	}
	if n := got.Tree.Get("/app/eph"); n == nil || n.Stat.EphemeralOwner != sessionA {
		t.Errorf("/app/eph: %+v", n)
	}
	if got.Tree.Get("/app/eph2") != nil || got.Tree.Get("/gone") != nil {
		t.Errorf("deleted znodes came back")
	}
	if !maps.Equal(got.Sessions, map[int64]int32{sessionA: 30000}) {
		t.Errorf("sessions %v", got.Sessions)
	}
}

// writeScenarioInto writes the scenario with snapshots in dataDir and logs
// in dataLogDir.
func writeScenarioInto(t *testing.T, dataDir, dataLogDir string, snapAt int) {
	t.Helper()
	if dataDir == dataLogDir {
		writeScenario(t, dataDir, snapAt)
		return
	}
	// writeScenario keeps both in one directory; move the snapshots over.
	writeScenario(t, dataLogDir, snapAt)
	snaps, err := storage.ListSnapshots(storage.OSFS{}, dataLogDir)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dataDir, "version-2"), 0o755)
	for _, s := range snaps {
		if err := os.Rename(s.Path, filepath.Join(dataDir, "version-2", filepath.Base(s.Path))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRestoreRefusesNonEmptyTargetUnlessForced(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeScenario(t, src, 0)
	touch(t, filepath.Join(dst, "myid"), "1")
	touch(t, filepath.Join(dst, "version-2", "snapshot.99"), "old")
	touch(t, filepath.Join(dst, "version-2", "log.98"), "old")
	touch(t, filepath.Join(dst, "version-2", "acceptedEpoch"), "3")
	_, _, err := runTool(t, "snapshot", "restore", "--from", src, "--to", dst)
	if !errors.Is(err, errTargetNotEmpty) || !strings.Contains(err.Error(), "snapshot.99") {
		t.Fatalf("non-empty target: %v", err)
	}
	out, _, err := runTool(t, "snapshot", "import", "--from", src, "--to", dst, "--force")
	if err != nil {
		t.Fatalf("--force: %v\n%s", err, out)
	}
	if got := names(t, dst); !slices.Equal(got, []string{"snapshot.f"}) {
		t.Errorf("target holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(dst, "myid")); err != nil {
		t.Errorf("--force removed myid: %v", err)
	}
	if !strings.Contains(out, "removed "+filepath.Join(dst, "version-2", "log.98")+" (--force)") {
		t.Errorf("output:\n%s", out)
	}
	if err := compareRecovered(recoverDir(t, src, src), recoverDir(t, dst, dst)); err != nil {
		t.Error(err)
	}
}

func TestRestoreErrors(t *testing.T) {
	src := t.TempDir()
	writeScenario(t, src, 0)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--from", src, "--to", src, "--force"}, "the target is a source directory"},
		{[]string{"--from", filepath.Join(src, "version-2"), "--to", t.TempDir()}, "is a version-2 directory; give the directory that holds it"},
		{[]string{"--from", t.TempDir(), "--to", t.TempDir()}, "not a ZooKeeper data directory"},
		{[]string{"--from", src, "--to", t.TempDir(), "--compression", "lz4"}, `--compression "lz4"`},
		{[]string{"--to", t.TempDir()}, `required flag(s) "from" not set`},
	}
	for _, c := range cases {
		_, _, err := runTool(t, append([]string{"snapshot", "restore"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("restore %v: %v, want %q", c.args, err, c.want)
		}
	}
	empty := t.TempDir()
	os.Mkdir(filepath.Join(empty, "version-2"), 0o755)
	if _, _, err := runTool(t, "snapshot", "restore", "--from", empty, "--to", t.TempDir()); !errors.Is(err, errEmptySource) {
		t.Errorf("empty source: %v", err)
	}
	// A corrupt source log: exit 2 naming the file.
	bad := logPath(t, src, 0)
	b, _ := os.ReadFile(bad)
	b[100] ^= 0xff
	os.WriteFile(bad, b, 0o644)
	_, _, err := runTool(t, "snapshot", "restore", "--from", src, "--to", t.TempDir())
	if exitCode(err) != exitCorrupt || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt source: %v", err)
	}
}

func TestDiffTreesFindsEachKindOfDifference(t *testing.T) {
	dir := t.TempDir()
	writeScenario(t, dir, 0)
	base := recoverDir(t, dir, dir)
	if err := diffTrees(base.Tree, recoverDir(t, dir, dir).Tree); err != nil {
		t.Fatalf("same dir: %v", err)
	}
	change := func(typ proto.OpCode, body txn.Body) *tree.Tree {
		other := recoverDir(t, dir, dir).Tree
		other.Apply(&txn.Txn{Header: txn.Header{ClientID: sessionA, Zxid: 0x100, Time: 1, Type: typ}, Body: body})
		return other
	}
	for _, c := range []struct {
		name  string
		other *tree.Tree
		want  string
	}{
		{"data", change(proto.OpSetData, &txn.SetData{Path: "/app/m", Data: []byte("x"), Version: 1}), "znode /app/m: data"},
		{"acl", change(proto.OpSetACL, &txn.SetACL{Path: "/app/m", ACL: []proto.ACL{{Perms: 1, ID: proto.ID{Scheme: "world", ID: "anyone"}}}, Version: 1}), "znode /app/m: acl"},
		{"stat", change(proto.OpSetData, &txn.SetData{Path: "/app/m", Data: []byte("m"), Version: 1}), "znode /app/m: stat"},
		// A delete changes the parent's pzxid, which comes first in path order.
		{"delete", change(proto.OpDelete, &txn.Delete{Path: "/app/m"}), "znode /app: stat"},
	} {
		if err := diffTrees(base.Tree, c.other); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestProgressOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	writeScenario(t, dir, 0)
	path := logPath(t, dir, 0)
	// Neither stream is a terminal here: no progress unless --progress.
	_, stderr, err := runTool(t, "log", "dump", path)
	if err != nil || stderr != "" {
		t.Fatalf("stderr without --progress: %q (%v)", stderr, err)
	}
	info, _ := os.Stat(path)
	_, stderr, err = runTool(t, "log", "dump", "--progress", path)
	want := "log dump " + filepath.Base(path) + ": read " + mib(info.Size()) + " of " + mib(info.Size()) + ", 15 txns\n"
	if err != nil || stderr != want {
		t.Errorf("--progress: stderr %q, want %q (%v)", stderr, want, err)
	}
	_, stderr, err = runTool(t, "snapshot", "verify", "--progress", apacheFixture)
	if err != nil || stderr != "snapshot verify: 5 of 5 files checked\n" {
		t.Errorf("snapshot verify --progress: %q (%v)", stderr, err)
	}
}

func TestLogDumpUnwrittenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.5")
	touch(t, path, string(make([]byte, 4096)))
	out, _, err := runTool(t, "log", "dump", path)
	if err != nil || !strings.HasSuffix(out, "end: 0 txns; the file is 4096 zero bytes (created but never written)\n") {
		t.Errorf("%v\n%s", err, out)
	}
}

// TestRestoreFallsBackFromBrokenSnapshot: recovery moves a corrupt newest
// snapshot aside and loads the one before; during an import that happens
// in memory only.
func TestRestoreFallsBackFromBrokenSnapshot(t *testing.T) {
	src := t.TempDir()
	h := newHistory(t, src)
	h.add(sessionA, proto.OpCreateSession, &txn.CreateSession{TimeOut: 30000})
	h.create(sessionA, "/a", []byte("1"), false)
	h.snapshot()
	h.create(sessionA, "/b", []byte("2"), false)
	h.snapshot()
	h.create(sessionA, "/c", []byte("3"), false)
	h.close()
	broken := filepath.Join(src, "version-2", "snapshot.3")
	b, _ := os.ReadFile(broken)
	b[40] ^= 0xff
	os.WriteFile(broken, b, 0o644)
	before := dirContents(t, src)

	dst := t.TempDir()
	out, stderr, err := runTool(t, "snapshot", "restore", "--from", src, "--to", dst)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	for _, want := range []string{
		"note: a server starting on the source would move " + broken + " aside as snapshot.3.broken",
		"loaded snapshot 0x2, replayed 2 txns; last zxid 0x4",
		"note: recovery logged 1 warning (on stderr)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "snapshot failed to load") {
		t.Errorf("stderr: %s", stderr)
	}
	if !maps.Equal(before, dirContents(t, src)) {
		t.Fatal("restore changed the source")
	}
	got := recoverDir(t, dst, dst)
	for path, data := range map[string]string{"/a": "1", "/b": "2", "/c": "3"} {
		if n := got.Tree.Get(path); n == nil || string(n.Data) != data {
			t.Errorf("%s: %+v", path, n)
		}
	}
	if err := compareRecovered(recoverDir(t, src, src), got); err != nil {
		t.Error(err)
	}
}

// FuzzTextData checks that text output renders any data losslessly: a
// quoted string that unquotes to the data, or hex that decodes to it.
func FuzzTextData(f *testing.F) {
	for _, seed := range [][]byte{nil, []byte("hello"), {0, 1, 0xff}, []byte("tab\tnew\nline"), []byte("ünïcödé"), []byte("\x1b[31m"), {0xe2, 0x82}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := textData(data, 0)
		var back []byte
		if rest, ok := strings.CutPrefix(s, "hex:"); ok {
			b, err := hex.DecodeString(rest)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			back = b
		} else {
			u, err := strconv.Unquote(s)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			back = []byte(u)
		}
		if !bytes.Equal(back, data) {
			t.Fatalf("%q renders as %s, which reads back as %q", data, s, back)
		}
		v, enc := viewData(data)
		if enc == encodingUTF8 && v != string(data) || enc == encodingHex && v != hex.EncodeToString(data) {
			t.Fatalf("JSON form %q %s of %q", v, enc, data)
		}
	})
}

// FuzzTxnView renders whatever decodes as a txn, as log dump does: the text
// form has no raw newlines but the multi op separators, and the JSON form
// is valid JSON.
func FuzzTxnView(f *testing.F) {
	f.Add(txn.Marshal(&txn.Txn{Header: txn.Header{ClientID: 1, Zxid: 2, Type: proto.OpCreate},
		Body: &txn.Create{Path: "/a\nb", Data: []byte{0, 1}, ACL: openACL}}))
	f.Add(txn.Marshal(&txn.Txn{Header: txn.Header{Zxid: 3, Type: proto.OpMulti}, Body: &txn.Multi{Ops: []txn.Op{
		{Type: proto.OpSetData, Body: &txn.SetData{Path: "/x", Data: []byte("line\nbreak")}},
		{Type: proto.OpError, Body: &txn.Error{Err: proto.ErrNoNode}}}}}))
	f.Add(txn.Marshal(&txn.Txn{Header: txn.Header{Zxid: 4, Type: proto.OpCloseSession}, Body: &txn.CloseSession{Paths: []string{"/e"}, HasPaths: true},
		Digest: &txn.Digest{Version: 2, TreeDigest: -1}}))
	f.Fuzz(func(t *testing.T, entry []byte) {
		tx, err := txn.Unmarshal(entry, 1<<20)
		if err != nil {
			return
		}
		v := viewTxn(16, tx)
		lines := strings.Split(v.text(0), "\n")
		if len(lines) != 1+len(v.Ops) {
			t.Fatalf("%d lines for %d ops:\n%s", len(lines), len(v.Ops), v.text(0))
		}
		var buf bytes.Buffer
		if err := jsonLine(&buf, &v); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["type"] != tx.Header.Type.String() {
			t.Fatalf("JSON %s: %v", buf.Bytes(), err)
		}
	})
}
