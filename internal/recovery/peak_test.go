package recovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// peakDirEnv, when set, makes TestRecoveryPeakHeapChild recover that data
// directory and print what it measured: the measurement runs in a process
// of its own, whose heap has no history but the recovery's.
const peakDirEnv = "ZKD_RECOVERY_PEAK_DIR"

// peakReport is what the child measured, in bytes.
type peakReport struct {
	Znodes int64 `json:"znodes"`
	// HeapPeak is the most heap memory the recovery ever had from the OS
	// (HeapSys at the end less at the start: the runtime never gives heap
	// address space back, so this is the high-water mark, taken without
	// sampling); HeapAfter is the heap resident once Read has returned
	// (HeapSys less HeapReleased, after Read's own FreeOSMemory).
	HeapPeak  uint64 `json:"heap_peak"`
	HeapAfter uint64 `json:"heap_after"`
	// SampledPeak is the largest heap in use seen by sampling every 100 µs
	// (informational: sampling can miss a peak, never invent one).
	SampledPeak uint64 `json:"sampled_peak"`
	LiveAfter   uint64 `json:"live_after"`
	// The process's VmHWM and VmRSS after recovery.
	PeakRSS  uint64 `json:"peak_rss"`
	RSSAfter uint64 `json:"rss_after"`
	Snapshot int64  `json:"snapshot_bytes"`
	// Allocated is every byte allocated during recovery, garbage included;
	// GCs the collections run meanwhile.
	Allocated uint64 `json:"allocated"`
	GCs       uint32 `json:"gcs"`
	// Took is how long Read took, in seconds.
	Took float64 `json:"took_s"`
}

// writePeakDataDir writes a data directory with one snapshot of n znodes
// of 100 bytes (1,000 per parent) and a short log after it, as a server
// leaves it, to a real disk.
func writePeakDataDir(t *testing.T, dataDir string, n int) int64 {
	t.Helper()
	tr := tree.New()
	zxid := int64(0)
	apply := func(tx *txn.Txn) *txn.Txn {
		zxid++
		tx.Header.Zxid, tx.Header.ClientID, tx.Header.Time = zxid, 7, 1_700_000_000_000+zxid
		if r := tr.Apply(tx); r.Err != proto.OK {
			t.Fatalf("txn %d: %v", zxid, r.Err)
		}
		return tx
	}
	create := func(path string, data []byte) *txn.Txn {
		return apply(&txn.Txn{Header: txn.Header{Type: proto.OpCreate},
			Body: &txn.Create{Path: path, Data: data, ACL: proto.OpenACLUnsafe, ParentCVersion: -1}})
	}
	apply(&txn.Txn{Header: txn.Header{Type: proto.OpCreateSession}, Body: &txn.CreateSession{TimeOut: 30000}})
	value := bytes.Repeat([]byte("v"), 100)
	for i := range n {
		if i%1000 == 0 {
			create(fmt.Sprintf("/d%d", i/1000), nil)
		}
		create(fmt.Sprintf("/d%d/n%d", i/1000, i), value)
	}
	info, err := storage.WriteSnapshot(storage.OSFS{}, dataDir, storage.Snapshot{Zxid: zxid, Sessions: map[int64]int32{7: 30000}},
		tr.SerializeStream, storage.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := storage.OpenLog(storage.OSFS{}, dataDir, storage.LogOptions{PreAllocSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		tx := apply(&txn.Txn{Header: txn.Header{Type: proto.OpSetData},
			Body: &txn.SetData{Path: fmt.Sprintf("/d0/n%d", i), Data: value, Version: 1}})
		if err := l.Append(zxid, txn.Marshal(tx)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return info.Size
}

// TestRecoveryPeakHeap recovers a snapshot of 300,000 znodes in a process
// of its own and holds the heap's high-water mark during the recovery to
// 1.2 times the heap after it (issue 12: "the peak RSS during a restart
// stays within 1.2× the RSS after it"). Reading the snapshot whole would
// hold the file (here 45 MB) beside the tree while it is built.
func TestRecoveryPeakHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 300,000-znode data directory")
	}
	const znodes = 300_000
	dataDir := t.TempDir()
	size := writePeakDataDir(t, dataDir, znodes)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRecoveryPeakHeapChild$", "-test.count", "1", "-test.v")
	// Go's default GOGC, which a server starts with (zkd's tuneGC adjusts
	// it only once it runs).
	cmd.Env = append(os.Environ(), peakDirEnv+"="+dataDir, "GOGC=100")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "PEAK ")
	js, _, _ = strings.Cut(js, "\n")
	var r peakReport
	if !ok || json.Unmarshal([]byte(js), &r) != nil {
		t.Fatalf("child printed no report:\n%s", out)
	}
	r.Snapshot = size
	mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("%d znodes, snapshot %.1f MiB: heap peak %.1f MiB, after %.1f MiB (%.2f×); sampled peak in use %.1f MiB, live after %.1f MiB; VmHWM %.1f MiB, VmRSS after %.1f MiB (%.2f×); allocated %.1f MiB in all, %d collections",
		r.Znodes, mb(uint64(size)), mb(r.HeapPeak), mb(r.HeapAfter), float64(r.HeapPeak)/float64(r.HeapAfter),
		mb(r.SampledPeak), mb(r.LiveAfter), mb(r.PeakRSS), mb(r.RSSAfter), float64(r.PeakRSS)/float64(r.RSSAfter), mb(r.Allocated), r.GCs)
	if r.Znodes < znodes {
		t.Fatalf("recovered %d znodes, want at least %d", r.Znodes, znodes)
	}
	if float64(r.HeapPeak) > 1.2*float64(r.HeapAfter) {
		t.Errorf("the heap reached %.1f MiB during recovery, %.2f× the %.1f MiB after it; want at most 1.2×",
			mb(r.HeapPeak), float64(r.HeapPeak)/float64(r.HeapAfter), mb(r.HeapAfter))
	}
}

// TestRecoveryPeakHeapChild is TestRecoveryPeakHeap's measuring process.
func TestRecoveryPeakHeapChild(t *testing.T) {
	dataDir := os.Getenv(peakDirEnv)
	if dataDir == "" {
		t.Skip("run by TestRecoveryPeakHeap")
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var sampled uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		for {
			metrics.Read(s)
			sampled = max(sampled, s[0].Value.Uint64()+s[1].Value.Uint64())
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	began := time.Now()
	st, err := Read(storage.OSFS{}, Dirs{DataDir: dataDir, DataLogDir: dataDir, MaxEntrySize: jute.DefaultMaxBuffer}, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heapBefore := before.HeapSys - before.HeapReleased
	r := peakReport{
		Znodes:      int64(st.Tree.NodeCount()),
		HeapPeak:    after.HeapSys - heapBefore,
		HeapAfter:   after.HeapSys - after.HeapReleased - heapBefore,
		SampledPeak: sampled,
		LiveAfter:   after.HeapAlloc - before.HeapAlloc,
		Allocated:   after.TotalAlloc - before.TotalAlloc,
		GCs:         after.NumGC - before.NumGC,
		Took:        time.Since(began).Seconds(),
	}
	r.PeakRSS, r.RSSAfter = procMemory(t)
	out, _ := json.Marshal(r)
	fmt.Printf("PEAK %s\n", out)
	runtime.KeepAlive(st)
}

// procMemory reads VmHWM and VmRSS from /proc/self/status.
func procMemory(t *testing.T) (peak, now uint64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb uint64
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			peak = kb << 10
		}
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			now = kb << 10
		}
	}
	return peak, now
}
