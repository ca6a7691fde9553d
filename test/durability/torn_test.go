package durability

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const tornRoot = "/torn"

// tornData is a data directory after two runs of zkd, each killed after
// its writes were acknowledged: the older log holds /torn and a-*, the
// newest log b-*, and a snapshot taken after the first replay sits between
// them.
type tornData struct {
	dir       string
	acked     []string // paths acknowledged, in order
	olderLog  string   // file name under version-2
	newestLog string
	midSnap   string // the snapshot between the two logs
}

func writeTornNodes(t *testing.T, cfg *zooConfig, prefix string, n int) []string {
	t.Helper()
	c := mustDial(t, cfg.Addr(), readerSession)
	var paths []string
	for i := range n {
		path := fmt.Sprintf("%s/%s-%03d", tornRoot, prefix, i)
		if _, err := c.Create(path, []byte(path), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", path, err)
		}
		paths = append(paths, path)
	}
	return paths
}

func prepareTornData(t *testing.T) tornData {
	t.Helper()
	dir := testDir(t)
	cfg := newZooConfig(t, filepath.Join(dir, "base"))
	cfg.PreAllocSizeKB = 128 // keeps the copies small; still preallocated
	p := startServer(t, kindZkd, cfg)
	c := mustDial(t, cfg.Addr(), readerSession)
	if _, err := c.Create(tornRoot, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	acked := append([]string{tornRoot}, writeTornNodes(t, cfg, "a", 30)...)
	p.Kill()

	p = startServer(t, kindZkd, cfg)
	// The restart snapshots the replayed tree in the background; wait for
	// it so that the next log is the only one after it.
	var snaps []dataFile
	for deadline := time.Now().Add(10 * time.Second); len(snaps) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot after the replay; output:\n%s", p.Tail(20))
		}
		var err error
		if snaps, err = listDataFiles(cfg.DataDir, "snapshot"); err != nil {
			t.Fatal(err)
		}
	}
	acked = append(acked, writeTornNodes(t, cfg, "b", 30)...)
	p.Kill()

	logs, err := listDataFiles(cfg.DataDir, "log")
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 || len(snaps) != 2 {
		t.Fatalf("want 2 logs and 2 snapshots, have %v and %v", logs, snaps)
	}
	return tornData{
		dir:       cfg.DataDir,
		acked:     acked,
		olderLog:  filepath.Base(logs[0].Path),
		newestLog: filepath.Base(logs[1].Path),
		midSnap:   filepath.Base(snaps[1].Path),
	}
}

// tornCase damages a copy of the data directory.
type tornCase struct {
	name string
	// damage changes the copy under dataDir; it returns the paths the
	// damage is allowed to lose (acknowledged writes whose records it
	// destroyed).
	damage func(t *testing.T, d tornData, dataDir string) (lost []string)
	// Exactly one of the following describes the outcome.
	// starts: zkd serves; truncated (if set) is the file, offset and bytes
	// the log must report dropping.
	starts    bool
	truncated func(t *testing.T, d tornData, dataDir string) *truncation
	// refuses: zkd exits non-zero, naming the file and offset.
	refuses func(t *testing.T, d tornData, dataDir string) corruption
	// apacheRefuses names the ZooKeeper bug that makes Apache refuse a
	// directory zkd serves (empty: Apache decides as zkd does).
	apacheRefuses string
}

type truncation struct {
	file           string
	offset, bytes  int64
	fileSizeBefore int64
}

type corruption struct {
	file   string
	offset int64
	reason string // substring of the message
}

func TestTornTailRecovery(t *testing.T) {
	d := prepareTornData(t)

	newest := func(dataDir string, d tornData) string { return filepath.Join(dataDir, "version-2", d.newestLog) }
	records := func(t *testing.T, path string) ([]logRecord, int64, int64) {
		t.Helper()
		recs, goodEnd, err := readLogRecords(path)
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) < 10 {
			t.Fatalf("%s has %d records, want 10 or more", path, len(recs))
		}
		return recs, goodEnd, info.Size()
	}
	writeAt := func(t *testing.T, path string, off int64, b []byte) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	garbage := bytes.Repeat([]byte{0xA5}, 100)
	// tornAtEnd is the outcome of damage after the last record: the
	// newest log is cut back to just past it.
	tornAtEnd := func(t *testing.T, d tornData, dataDir string) *truncation {
		path := newest(dataDir, d)
		_, goodEnd, size := records(t, path)
		return &truncation{file: path, offset: goodEnd, bytes: size - goodEnd, fileSizeBefore: size}
	}
	lastRecord := func(t *testing.T, path string) logRecord {
		recs, _, _ := records(t, path)
		return recs[len(recs)-1]
	}

	cases := []tornCase{{
		name: "zeros appended past the preallocated end",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			_, _, size := records(t, path)
			writeAt(t, path, size, make([]byte, 4096))
			return nil
		},
		starts: true, // zeros are preallocation: nothing to drop
	}, {
		name: "garbage appended past the preallocated end",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			_, _, size := records(t, path)
			writeAt(t, path, size, garbage)
			return nil
		},
		starts: true,
		// Measured after the damage: the zero length after the last
		// record ends the log, as in ZooKeeper, and all after it goes.
		truncated: tornAtEnd,
	}, {
		name: "half a record written after the last one",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			_, goodEnd, _ := records(t, path)
			last := lastRecord(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rec := data[last.Offset:last.End]
			writeAt(t, path, goodEnd, rec[:len(rec)/2])
			return nil
		},
		starts:    true,
		truncated: tornAtEnd,
	}, {
		name: "last record cut short by the end of the file",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			last := lastRecord(t, path)
			if err := os.Truncate(path, last.Offset+(last.End-last.Offset)/2); err != nil {
				t.Fatal(err)
			}
			return []string{last.Path}
		},
		starts:    true,
		truncated: tornAtEnd, // measured after the cut: the cut record goes
	}, {
		name: "last record's second half never written (zeros)",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			last := lastRecord(t, path)
			mid := last.Offset + (last.End-last.Offset)/2
			writeAt(t, path, mid, make([]byte, last.End-mid))
			return []string{last.Path}
		},
		starts:    true,
		truncated: tornAtEnd,
	}, {
		name: "empty newest log file (killed before its header was written)",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			recs, _, _ := records(t, path)
			next := filepath.Join(dataDir, "version-2", fmt.Sprintf("log.%x", recs[len(recs)-1].Zxid+1))
			if err := os.WriteFile(next, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return nil
		},
		starts:        true,
		apacheRefuses: "ZOOKEEPER-2332 (fixed after 3.8): EOFException reading the FileHeader of an empty log",
	}, {
		name: "garbage written right after the last record",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			_, goodEnd, _ := records(t, path)
			writeAt(t, path, goodEnd, garbage)
			return nil
		},
		// Not a torn write (no zero hole, nothing cut short): corruption.
		refuses: func(t *testing.T, d tornData, dataDir string) corruption {
			path := newest(dataDir, d)
			_, goodEnd, _ := readLogRecordsOrFatal(t, path)
			return corruption{file: path, offset: goodEnd, reason: "record length"}
		},
	}, {
		name: "0xFF bytes written right after the last record (length -1)",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			_, goodEnd, _ := records(t, path)
			writeAt(t, path, goodEnd, bytes.Repeat([]byte{0xFF}, 100))
			return nil
		},
		refuses: func(t *testing.T, d tornData, dataDir string) corruption {
			path := newest(dataDir, d)
			_, goodEnd, _ := readLogRecordsOrFatal(t, path)
			return corruption{file: path, offset: goodEnd, reason: "record length -1"}
		},
	}, {
		name: "checksum mismatch in a middle record of the newest log",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			path := newest(dataDir, d)
			recs, _, _ := records(t, path)
			mid := recs[len(recs)/2]
			flipByte(t, path, mid.End-10)
			return nil
		},
		refuses: func(t *testing.T, d tornData, dataDir string) corruption {
			path := newest(dataDir, d)
			_, badAt, _ := readLogRecordsOrFatal(t, path) // stops at the bad record
			return corruption{file: path, offset: badAt, reason: "checksum"}
		},
	}, {
		name: "older log replayed after losing the newer snapshot (control)",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			if err := os.Remove(filepath.Join(dataDir, "version-2", d.midSnap)); err != nil {
				t.Fatal(err)
			}
			return nil
		},
		starts: true,
	}, {
		name: "checksum mismatch in a middle record of an older log that must be replayed",
		damage: func(t *testing.T, d tornData, dataDir string) []string {
			if err := os.Remove(filepath.Join(dataDir, "version-2", d.midSnap)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dataDir, "version-2", d.olderLog)
			recs, _, _ := records(t, path)
			flipByte(t, path, recs[len(recs)/2].End-10)
			return nil
		},
		refuses: func(t *testing.T, d tornData, dataDir string) corruption {
			path := filepath.Join(dataDir, "version-2", d.olderLog)
			_, badAt, _ := readLogRecordsOrFatal(t, path)
			return corruption{file: path, offset: badAt, reason: "checksum"}
		},
	}}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := testDir(t)
			cfg := newZooConfig(t, filepath.Join(dir, "zkd"))
			cfg.PreAllocSizeKB = 128
			if err := copyDir(d.dir, cfg.DataDir); err != nil {
				t.Fatal(err)
			}
			lost := tc.damage(t, d, cfg.DataDir)
			var wantTrunc *truncation
			if tc.truncated != nil {
				wantTrunc = tc.truncated(t, d, cfg.DataDir)
			}
			var wantCorrupt corruption
			if tc.refuses != nil {
				wantCorrupt = tc.refuses(t, d, cfg.DataDir)
			}
			want := slices.DeleteFunc(slices.Clone(d.acked), func(p string) bool { return slices.Contains(lost, p) })

			// Apache ZooKeeper gets an identical copy: zkd must decide as it does.
			apacheCfg := newZooConfig(t, filepath.Join(dir, "apache"))
			apacheCfg.PreAllocSizeKB = 128
			if err := copyDir(d.dir, apacheCfg.DataDir); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, d, apacheCfg.DataDir)
			apache, err := spawn(t, kindApache, apacheCfg)
			if err != nil {
				t.Fatal(err)
			}
			apacheServes, apacheCode, err := apache.serveOrExit(startTimeout)
			if err != nil {
				t.Fatalf("Apache ZooKeeper neither served nor exited: %v", err)
			}

			p, err := spawn(t, kindZkd, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.refuses != nil {
				checkRefusal(t, p, wantCorrupt)
				if apacheServes {
					t.Errorf("Apache ZooKeeper serves this directory, zkd refuses it")
				} else {
					t.Logf("Apache ZooKeeper refuses it too (exit %d): %s", apacheCode, firstMatch(apache.output(), `^[a-zA-Z.]+(Exception|Error)\b`))
				}
				return
			}
			if err := p.waitReady(startTimeout); err != nil {
				t.Fatalf("zkd did not start: %v", err)
			}
			checkTruncation(t, p, wantTrunc)
			checkTornTree(t, cfg, want, lost)
			switch {
			case !apacheServes && tc.apacheRefuses != "":
				t.Logf("Apache ZooKeeper refuses it (exit %d), a known bug: %s", apacheCode, tc.apacheRefuses)
			case !apacheServes:
				t.Errorf("zkd serves this directory, Apache ZooKeeper refuses it (exit %d):\n%s", apacheCode, apache.Tail(20))
			case tc.apacheRefuses != "":
				t.Errorf("Apache ZooKeeper serves this directory though %s", tc.apacheRefuses)
			default:
				checkTornTree(t, apacheCfg, want, lost)
				apache.Kill()
			}

			// The repaired directory goes on: one more write, a crash, a restart.
			c := mustDial(t, cfg.Addr(), readerSession)
			after := tornRoot + "/after-repair"
			if _, err := c.Create(after, []byte(after), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("create %s: %v", after, err)
			}
			c.Close()
			p.Kill()
			p = startServer(t, kindZkd, cfg)
			checkTornTree(t, cfg, append(want, after), lost)
			p.Stop()
		})
	}
}

// firstMatch is the first line of out matching the pattern.
func firstMatch(out, pattern string) string {
	re := regexp.MustCompile(pattern)
	for _, line := range strings.Split(out, "\n") {
		if re.MatchString(line) {
			return line
		}
	}
	return ""
}

func readLogRecordsOrFatal(t *testing.T, path string) ([]logRecord, int64, int64) {
	t.Helper()
	recs, goodEnd, err := readLogRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s has no records", path)
	}
	return recs, goodEnd, info.Size()
}

// flipByte inverts one byte of the file: the record holding it fails its
// checksum.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0xFF
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

var truncLine = regexp.MustCompile(`msg="storage: truncating torn tail of transaction log" file=(\S+) offset=(\d+) droppedBytes=(\d+)`)

// checkTruncation checks the log line reporting the bytes dropped, and the
// file's new size; want nil means nothing may be dropped.
func checkTruncation(t *testing.T, p *proc, want *truncation) {
	t.Helper()
	out := p.output()
	m := truncLine.FindAllStringSubmatch(out, -1)
	if want == nil {
		if len(m) > 0 || strings.Contains(out, "torn") {
			t.Errorf("zkd dropped log bytes, want none:\n%s", p.Tail(20))
		}
		return
	}
	if len(m) != 1 {
		t.Fatalf("want one torn-tail truncation logged, got %d:\n%s", len(m), p.Tail(20))
	}
	off, _ := strconv.ParseInt(m[0][2], 10, 64)
	dropped, _ := strconv.ParseInt(m[0][3], 10, 64)
	if m[0][1] != want.file || off != want.offset || dropped != want.bytes {
		t.Errorf("logged truncation file=%s offset=%d droppedBytes=%d, want file=%s offset=%d droppedBytes=%d",
			m[0][1], off, dropped, want.file, want.offset, want.bytes)
	}
	info, err := os.Stat(want.file)
	if err != nil {
		t.Fatal(err)
	}
	// zkd writes after a restart into a new log file, so the repaired one
	// keeps its cut size.
	if info.Size() != want.offset {
		t.Errorf("%s is %d bytes after the repair, want %d (cut at the torn record)", want.file, info.Size(), want.offset)
	}
}

// checkRefusal checks that zkd exits non-zero and names the damage.
func checkRefusal(t *testing.T, p *proc, want corruption) {
	t.Helper()
	code, err := p.WaitExit(20 * time.Second)
	if err != nil {
		t.Fatalf("zkd should refuse to start on a corrupt log: %v\n%s", err, p.Tail(20))
	}
	out := p.output()
	if code == 0 {
		t.Fatalf("zkd exited 0 on a corrupt log:\n%s", out)
	}
	wantText := fmt.Sprintf("%s: corrupt at offset %d", want.file, want.offset)
	if !strings.Contains(out, wantText) || !strings.Contains(out, want.reason) {
		t.Errorf("zkd's message should contain %q and %q:\n%s", wantText, want.reason, p.Tail(10))
	}
}

// checkTornTree checks that exactly want exist under tornRoot (plus
// tornRoot itself), each holding its own path as data.
func checkTornTree(t *testing.T, cfg *zooConfig, want, lost []string) {
	t.Helper()
	c := mustDial(t, cfg.Addr(), readerSession)
	defer c.Close()
	names, _, err := c.Children(tornRoot)
	if err != nil {
		t.Fatalf("children of %s: %v", tornRoot, err)
	}
	got := []string{tornRoot}
	for _, n := range names {
		path := tornRoot + "/" + n
		got = append(got, path)
		data, _, err := c.Get(path)
		if err != nil {
			t.Errorf("get %s: %v", path, err)
		} else if string(data) != path {
			t.Errorf("%s holds %q, want %q", path, data, path)
		}
	}
	slices.Sort(got)
	wantSorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, wantSorted) {
		t.Errorf("nodes served (lost on purpose: %v):\n got %v\nwant %v", lost, got, wantSorted)
	}
}
