package storage

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// submitter hands out zxids in submission order, as the server's single
// proposal pipeline does.
type submitter struct {
	mu   sync.Mutex
	next int64
	c    *Committer
}

// submit queues the next zxid and returns it with a channel for its result.
func (s *submitter) submit() (int64, chan error, error) {
	done := make(chan error, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	z := s.next
	if err := s.c.Submit(z, entry(z), func(err error) { done <- err }); err != nil {
		s.next--
		return 0, nil, err
	}
	return z, done, nil
}

func TestCommitterCommitsInOrder(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	c := NewCommitter(l, CommitterOptions{})
	var order []int64
	var mu sync.Mutex
	for z := int64(1); z <= 100; z++ {
		if z == 50 {
			if err := c.Roll(); err != nil {
				t.Fatal(err)
			}
		}
		err := c.Submit(z, entry(z), func(err error) {
			if err != nil {
				t.Errorf("zxid %d: %v", z, err)
			}
			mu.Lock()
			order = append(order, z)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if !slices.Equal(order, seq(1, 100)) {
		t.Fatalf("completion order %v", order)
	}
	recs, _, err := readAll(t, fsys, "/d", 0)
	if err != nil || !slices.Equal(zxids(recs), seq(1, 100)) {
		t.Fatalf("read %v %v", zxids(recs), err)
	}
	if logs, _ := ListLogs(fsys, "/d"); len(logs) != 2 || logs[1].Zxid != 50 {
		t.Fatalf("logs %+v, want a roll at 50", logs)
	}
	if err := c.Submit(101, entry(101), func(error) {}); !errors.Is(err, ErrCommitterClosed) {
		t.Fatalf("submit after close: %v", err)
	}
}

func TestCommitterBatchesUnderLoad(t *testing.T) {
	// A slow disk: each fsync takes 2 ms, so submitters pile up behind it.
	slow := InjectorFunc(func(op Op, _ string) error {
		if op == OpSync {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	})
	fsys := NewErrorFS(NewMemFS(), slow)
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 1 << 20})
	c := NewCommitter(l, CommitterOptions{})
	s := &submitter{c: c}
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 20 {
				_, done, err := s.submit()
				if err != nil {
					t.Error(err)
					return
				}
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	c.Close()
	l.Close()
	st := c.Stats()
	if st.Records != 640 {
		t.Fatalf("committed %d records", st.Records)
	}
	if perSync := float64(st.Records) / float64(st.Batches); perSync < 4 || st.MaxBatch < 16 {
		t.Fatalf("%d records in %d fsyncs (max batch %d): no group commit", st.Records, st.Batches, st.MaxBatch)
	}
}

func TestCommitterFailedSync(t *testing.T) {
	// The third fsync fails: its batch and everything queued fail, later
	// submits are refused, and nothing acknowledged is lost.
	mem := NewMemFS()
	gate := make(chan struct{})
	var syncs atomic.Int64
	inj := InjectorFunc(func(op Op, _ string) error {
		if op != OpSync {
			return nil
		}
		if syncs.Add(1) == 3 {
			<-gate // let the queue fill up behind the failing fsync
			return ErrInjected
		}
		return nil
	})
	l, _ := OpenLog(NewErrorFS(mem, inj), "/d", LogOptions{PreAllocSize: 4096})
	c := NewCommitter(l, CommitterOptions{})
	results := make(map[int64]chan error)
	for z := int64(1); z <= 2; z++ {
		done := make(chan error, 1)
		c.Submit(z, entry(z), func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for z := int64(3); z <= 10; z++ {
		done := make(chan error, 1)
		results[z] = done
		if err := c.Submit(z, entry(z), func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	for z := int64(3); z <= 10; z++ {
		if err := <-results[z]; !errors.Is(err, ErrInjected) || !errors.Is(err, ErrLogFailed) {
			t.Fatalf("zxid %d: %v", z, err)
		}
	}
	if err := c.Submit(11, entry(11), func(error) { t.Error("done called for a refused submit") }); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("submit after failure: %v", err)
	}
	if err := c.Close(); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("close: %v", err)
	}
	recs, _, err := readAll(t, mem.CrashClone(), "/d", 0)
	if err != nil || len(recs) < 2 {
		t.Fatalf("after crash: %v %v", zxids(recs), err)
	}
}

func TestCommitterAckedSurvivesCrash(t *testing.T) {
	// Crash at many moments under concurrent load: every record whose
	// done(nil) ran before the crash is on the crashed disk.
	mem := NewMemFS()
	l, _ := OpenLog(mem, "/d", LogOptions{PreAllocSize: 2048})
	c := NewCommitter(l, CommitterOptions{})
	s := &submitter{c: c}
	var acked atomic.Int64 // highest zxid acknowledged (acks come in order)
	const total = 1500
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				z, done, err := s.submit()
				if err != nil || z > total {
					return
				}
				if err := <-done; err != nil {
					t.Error(err)
					return
				}
				for {
					cur := acked.Load()
					if z <= cur || acked.CompareAndSwap(cur, z) {
						break
					}
				}
				if z%100 == 0 {
					c.Roll()
				}
			}
		})
	}
	crashes := 0
	for acked.Load() < total-8 {
		before := acked.Load()
		crashed := mem.CrashClone()
		recs, _, err := readAll(t, crashed, "/d", 0)
		if err != nil {
			t.Fatalf("crash %d: %v", crashes, err)
		}
		if int64(len(recs)) < before || !slices.Equal(zxids(recs), seq(1, int64(len(recs)))) {
			t.Fatalf("crash %d: %d records survived, %d were acknowledged", crashes, len(recs), before)
		}
		crashes++
		time.Sleep(200 * time.Microsecond)
	}
	wg.Wait()
	c.Close()
	l.Close()
	if crashes < 5 {
		t.Logf("only %d crashes simulated", crashes)
	}
}

// BenchmarkCommitter measures group commit on the real disk: records per
// fsync and fsyncs per second with 1, 8 and 64 concurrent submitters.
func BenchmarkCommitter(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run("submitters="+strconv.Itoa(n), func(b *testing.B) {
			l, err := OpenLog(OSFS{}, b.TempDir(), LogOptions{})
			if err != nil {
				b.Fatal(err)
			}
			c := NewCommitter(l, CommitterOptions{})
			s := &submitter{c: c}
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						_, done, err := s.submit()
						if err != nil {
							b.Error(err)
							return
						}
						if err := <-done; err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			c.Close()
			l.Close()
			st := c.Stats()
			b.ReportMetric(float64(st.Records)/float64(st.Batches), "records/fsync")
			b.ReportMetric(float64(st.Batches)/elapsed.Seconds(), "fsyncs/s")
			b.ReportMetric(float64(st.Records)/elapsed.Seconds(), "records/s")
		})
	}
}

// BenchmarkRawFsync is the same disk's plain write+fdatasync rate, the
// ceiling for fsyncs/s above.
func BenchmarkRawFsync(b *testing.B) {
	f, err := OSFS{}.OpenFile(b.TempDir()+"/f", os.O_RDWR|os.O_CREATE)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(64 << 20); err != nil { // preallocated, like a log
		b.Fatal(err)
	}
	rec := make([]byte, 128)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := f.WriteAt(rec, int64(i%100000)*128); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "fsyncs/s")
}

// TestCommitterTruncateInOrder: a learner's TRUNC goes through the
// committer in order with the appends around it: records submitted before
// are written and then cut, records after continue from the cut, with new
// contents at the zxids cut away.
func TestCommitterTruncateInOrder(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	c := NewCommitter(l, CommitterOptions{})
	for z := int64(1); z <= 10; z++ {
		if z == 5 {
			c.Roll() // the cut spans two files
		}
		if err := c.Submit(z, entry(z), func(error) {}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Truncate(6); err != nil {
		t.Fatal(err)
	}
	replaced := append(entry(7), 'x')
	done := make(chan error, 1)
	if err := c.Submit(7, replaced, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
	l.Close()
	recs, _, err := readAll(t, fsys, "/d", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := zxids(recs); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("after TRUNC to 6 and a new 7: %v", got)
	}
	if string(recs[6].entry) != string(replaced) {
		t.Errorf("zxid 7 holds the old record")
	}
}

// OnSync sees every durable record once, batch by batch (the fsync time and
// batch size metrics add these up).
func TestCommitterReportsEachSync(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	var mu sync.Mutex
	records, syncs := 0, 0
	c := NewCommitter(l, CommitterOptions{OnSync: func(n int, took time.Duration) {
		mu.Lock()
		records += n
		syncs++
		mu.Unlock()
		if n <= 0 || took < 0 {
			t.Errorf("OnSync(%d, %v)", n, took)
		}
	}})
	for z := int64(1); z <= 40; z++ {
		if err := c.Submit(z, entry(z), func(error) {}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if st := c.Stats(); records != 40 || int64(syncs) != st.Batches {
		t.Fatalf("OnSync saw %d records in %d syncs; the committer made %d records durable in %d batches", records, syncs, st.Records, st.Batches)
	}
}
