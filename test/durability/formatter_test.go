package durability

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	snapshotFormatter = "org.apache.zookeeper.server.SnapshotFormatter"
	txnLogToolkit     = "org.apache.zookeeper.server.persistence.TxnLogToolkit"
	// logFormatter was ZooKeeper's log dumper before TxnLogToolkit; Debian's
	// 3.8.0 jar no longer has it. It is run when present.
	logFormatter = "org.apache.zookeeper.server.LogFormatter"
	javaTimeout  = 60 * time.Second
)

// jarClasses lists the classes in Apache's jar.
func jarClasses(t *testing.T) map[string]bool {
	t.Helper()
	r, err := zip.OpenReader(apacheJar)
	if err != nil {
		t.Fatalf("%s: %v: %s", apacheJar, err, installMsg)
	}
	defer r.Close()
	classes := map[string]bool{}
	for _, f := range r.File {
		if name, ok := strings.CutSuffix(f.Name, ".class"); ok {
			classes[strings.ReplaceAll(name, "/", ".")] = true
		}
	}
	return classes
}

// toolFailure matches what Apache's tools print when a file does not read:
// a Java exception or stack frame, TxnLogToolkit's per-record "CRC ERROR",
// "Invalid magic number". (The test tree's data never contains these.)
var lastZxidLine = regexp.MustCompile(`Last zxid: 0x([0-9a-f]+)`)

var toolFailure = regexp.MustCompile(`Exception|CRC ERROR|Invalid magic|\tat [a-z]+\.`)

func TestApacheFormattersReadZkdFiles(t *testing.T) {
	requireApache(t)
	classes := jarClasses(t)
	for _, c := range []string{snapshotFormatter, txnLogToolkit} {
		if !classes[c] {
			t.Fatalf("%s is not in %s", c, apacheJar)
		}
	}

	cfg := newInteropConfig(t, "")
	zkd := startServer(t, kindZkd, cfg)
	live, _ := writeVariedTree(t, cfg.Addr())
	want := dumpServer(t, cfg)
	live.block()
	zkd.Stop()
	live.abandon()
	// A restart replays the log and snapshots the whole tree, the live
	// session and its ephemerals included.
	zkd = startServer(t, kindZkd, cfg)
	lastZxid := int64(0)
	logs, err := listDataFiles(cfg.DataDir, "log")
	if err != nil {
		t.Fatal(err)
	}
	logRecords := map[string][]logRecord{}
	for _, lf := range logs {
		recs, _, err := readLogRecords(lf.Path)
		if err != nil {
			t.Fatal(err)
		}
		logRecords[lf.Path] = recs
		if len(recs) > 0 {
			lastZxid = max(lastZxid, recs[len(recs)-1].Zxid)
		}
	}
	var snaps []dataFile
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if snaps, err = listDataFiles(cfg.DataDir, "snapshot"); err != nil {
			t.Fatal(err)
		}
		if len(snaps) > 0 && snaps[len(snaps)-1].Zxid >= lastZxid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot at zxid %#x after the restart:\n%s", lastZxid, zkd.Tail(20))
		}
	}
	zkd.Stop()
	if len(logs) < 2 || len(snaps) < 3 {
		t.Fatalf("want several logs and snapshots (snapCount=%d), have %d and %d", cfg.SnapCount, len(logs), len(snaps))
	}

	t.Run("TxnLogToolkit", func(t *testing.T) {
		for _, lf := range logs {
			recs := logRecords[lf.Path]
			code, out := runJava(t, javaTimeout, txnLogToolkit, "-d", lf.Path)
			name := filepath.Base(lf.Path)
			if code != 0 || toolFailure.MatchString(out) {
				t.Errorf("TxnLogToolkit -d %s: exit %d:\n%s", name, code, out)
				continue
			}
			if !strings.HasPrefix(out, "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2\n") {
				t.Errorf("TxnLogToolkit -d %s: unexpected header:\n%s", name, firstLines(out, 3))
			}
			if tail := fmt.Sprintf("EOF reached after %d txns.", len(recs)); !strings.Contains(out, tail) {
				t.Errorf("TxnLogToolkit -d %s: want %q (the file holds %d records):\n%s", name, tail, len(recs), lastLines(out, 3))
			}
			for _, r := range recs {
				if !strings.Contains(out, fmt.Sprintf("zxid %#x ", r.Zxid)) {
					t.Errorf("TxnLogToolkit -d %s does not list zxid %#x", name, r.Zxid)
				}
				if r.Path != "" && !strings.Contains(out, r.Path) {
					t.Errorf("TxnLogToolkit -d %s does not mention %s (%s, zxid %#x)", name, r.Path, pathTxnTypes[r.Type], r.Zxid)
				}
			}
		}
	})

	maxLogged := int64(0)
	for _, recs := range logRecords {
		for _, r := range recs {
			maxLogged = max(maxLogged, r.Zxid)
		}
	}
	t.Run("SnapshotFormatter", func(t *testing.T) {
		for i, sf := range snaps {
			name := filepath.Base(sf.Path)
			code, out := runJava(t, javaTimeout, snapshotFormatter, "-d", sf.Path)
			if code != 0 || toolFailure.MatchString(out) {
				t.Errorf("SnapshotFormatter -d %s: exit %d:\n%s", name, code, out)
				continue
			}
			// Snapshots are fuzzy: applies go on while the tree is written,
			// and the digest after it (whose zxid the formatter prints) is
			// of the last txn applied by then: at or after the file's zxid,
			// never after the last txn logged.
			m := lastZxidLine.FindStringSubmatch(out)
			var last uint64
			if m != nil {
				last, _ = strconv.ParseUint(m[1], 16, 64)
			}
			if m == nil || int64(last) < sf.Zxid || int64(last) > maxLogged {
				t.Errorf("SnapshotFormatter -d %s: want \"Last zxid: 0x...\" in [%#x, %#x]:\n%s", name, sf.Zxid, maxLogged, lastLines(out, 3))
			}
			if i != len(snaps)-1 {
				continue
			}
			// The newest snapshot holds the whole tree zkd served.
			listed := snapshotPaths(out)
			wantPaths := slices.Sorted(maps.Keys(want))
			if !slices.Equal(listed, wantPaths) {
				t.Errorf("SnapshotFormatter -d %s lists\n%q\nwant the paths zkd served\n%q", name, listed, wantPaths)
			}
			// DataTree counts the root twice (as "" and "/"), here as on
			// snapshots Apache writes.
			if count := fmt.Sprintf("ZNode Details (count=%d)", len(want)+1); !strings.Contains(out, count) {
				t.Errorf("SnapshotFormatter -d %s: want %q:\n%s", name, count, firstLines(out, 2))
			}
			session := fmt.Sprintf("%#x, %d, 2", live.SessionID(), liveSessionMs)
			if !strings.Contains(out, session) {
				t.Errorf("SnapshotFormatter -d %s: want the live session with its 2 ephemerals (%q):\n%s", name, session, lastLines(out, 8))
			}
			for path, n := range want {
				if n.Stat.EphemeralOwner != 0 && !strings.Contains(out, fmt.Sprintf("ephemeralOwner = %#x", n.Stat.EphemeralOwner)) {
					t.Errorf("SnapshotFormatter -d %s: no ephemeralOwner %#x for %s", name, n.Stat.EphemeralOwner, path)
				}
			}

			code, out = runJava(t, javaTimeout, snapshotFormatter, "-json", sf.Path)
			if code != 0 || !json.Valid([]byte(out)) {
				t.Errorf("SnapshotFormatter -json %s: exit %d, valid JSON %v:\n%s", name, code, json.Valid([]byte(out)), firstLines(out, 5))
			}
		}
	})

	for _, compression := range []string{"gz", "snappy"} {
		t.Run("SnapshotFormatter "+compression, func(t *testing.T) {
			cfg := newInteropConfig(t, compression)
			zkd := startServer(t, kindZkd, cfg)
			live, _ := writeVariedTree(t, cfg.Addr())
			want := dumpServer(t, cfg)
			live.block()
			zkd.Stop()
			live.abandon()
			all, err := filepath.Glob(filepath.Join(cfg.DataDir, "version-2", "snapshot.*."+compression))
			if err != nil || len(all) == 0 {
				t.Fatalf("no snapshot.<zxid>.%s in %s (%v)", compression, cfg.DataDir, err)
			}
			// The newest by zxid holds every node created up to its zxid.
			newest, newestZxid := "", int64(-1)
			for _, f := range all {
				hex := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "snapshot."), "."+compression)
				if z, err := strconv.ParseInt(hex, 16, 64); err == nil && z > newestZxid {
					newest, newestZxid = f, z
				}
			}
			code, out := runJava(t, javaTimeout, snapshotFormatter, "-d", newest)
			if code != 0 || toolFailure.MatchString(out) {
				t.Fatalf("SnapshotFormatter -d %s: exit %d:\n%s", filepath.Base(newest), code, out)
			}
			listed := snapshotPaths(out)
			for p := range want {
				if !slices.Contains(listed, p) && want[p].Stat.Czxid <= newestZxid {
					t.Errorf("SnapshotFormatter -d %s does not list %s", filepath.Base(newest), p)
				}
			}
		})
	}

	t.Run("LogFormatter", func(t *testing.T) {
		if !classes[logFormatter] {
			t.Logf("%s is not in Debian's 3.8 jar (TxnLogToolkit replaces it); nothing to run", logFormatter)
			return
		}
		for _, lf := range logs {
			code, out := runJava(t, javaTimeout, logFormatter, lf.Path)
			if code != 0 || toolFailure.MatchString(out) {
				t.Errorf("LogFormatter %s: exit %d:\n%s", filepath.Base(lf.Path), code, out)
			}
		}
	})
}

// snapshotPaths lists the node paths SnapshotFormatter prints, each on a
// line after "----".
func snapshotPaths(out string) []string {
	lines := strings.Split(out, "\n")
	var paths []string
	for i := 1; i < len(lines); i++ {
		if lines[i-1] == "----" && strings.HasPrefix(lines[i], "/") {
			paths = append(paths, lines[i])
		}
	}
	slices.Sort(paths)
	return paths
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
