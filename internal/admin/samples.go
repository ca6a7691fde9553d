package admin

import (
	"sync"
	"time"
)

// sampleCount is how many samples the status page's charts keep: five
// minutes at one a second.
const sampleCount = 300

// sample is one second of client traffic, from the request latency
// summaries: requests answered (pings count as reads) and their latency.
type sample struct {
	at            int64 // unix seconds
	reads, writes int32
	avg           float32 // ms, over reads and writes; 0 without requests
	max           int32   // ms
}

// sampler keeps the last sampleCount samples in a ring. It reads only the
// summaries' atomics, never the server's state, so taking a sample costs a
// few loads; the ring is about 7 KiB, allocated when the AdminServer starts.
type sampler struct {
	mu   sync.Mutex
	ring [sampleCount]sample
	n    int // samples held, at most sampleCount
	next int // where the next sample goes
	// The summaries' totals at the previous sample.
	reads, writes, sum int64
}

func newSampler(m *Metrics) *sampler {
	s := &sampler{}
	r, w := m.ReadLatency.Values(), m.UpdateLatency.Values()
	s.reads, s.writes, s.sum = r.Count, w.Count, r.Sum+w.Sum
	m.ReadLatency.takeWindow()
	m.UpdateLatency.takeWindow()
	return s
}

// take records the traffic since the previous sample.
func (s *sampler) take(m *Metrics, now time.Time) {
	r, w := m.ReadLatency.Values(), m.UpdateLatency.Values()
	peak := max(m.ReadLatency.takeWindow(), m.UpdateLatency.takeWindow())
	s.mu.Lock()
	defer s.mu.Unlock()
	x := sample{at: now.Unix(), reads: int32(max(r.Count-s.reads, 0)), writes: int32(max(w.Count-s.writes, 0)), max: int32(peak)}
	if n := int64(x.reads) + int64(x.writes); n > 0 {
		x.avg = float32(max(r.Sum+w.Sum-s.sum, 0)) / float32(n)
	}
	s.reads, s.writes, s.sum = r.Count, w.Count, r.Sum+w.Sum
	s.ring[s.next] = x
	s.next = (s.next + 1) % sampleCount
	s.n = min(s.n+1, sampleCount)
}

// samples returns the samples held, oldest first.
func (s *sampler) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sample, 0, s.n)
	for i := range s.n {
		out = append(out, s.ring[(s.next-s.n+i+sampleCount)%sampleCount])
	}
	return out
}

// startSampling takes a sample every interval until stop is called.
func (a *Admin) startSampling(every time.Duration) (stop func()) {
	s := newSampler(a.metrics)
	a.samples.Store(s)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				s.take(a.metrics, now)
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
