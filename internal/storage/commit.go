package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrCommitterClosed means Submit or Roll was called after Close.
var ErrCommitterClosed = errors.New("storage: committer closed")

// DefaultMaxPending bounds the records queued in a Committer before Submit blocks.
const DefaultMaxPending = 1 << 16

// CommitterOptions configure a Committer.
type CommitterOptions struct {
	// MaxPending is how many requests may wait for the writer before
	// Submit blocks (0: DefaultMaxPending).
	MaxPending int
	// Logger receives the fatal error; nil discards it.
	Logger *slog.Logger
	// OnSync, when set, is told of every batch made durable: the records
	// it held and how long the write and fsync took. It runs on the writer
	// goroutine and must not block.
	OnSync func(records int, took time.Duration)
}

// CommitStats counts a Committer's work.
type CommitStats struct {
	Batches  int64 // fsyncs issued by the writer (one per batch)
	Records  int64 // records committed
	MaxBatch int   // most records in one batch
}

// Committer is group commit over a Log (pebble's LogWriter idea): one
// writer goroutine takes everything queued, appends it, fsyncs once and
// then completes every request of the batch in submission order. While it
// fsyncs, new requests queue up and form the next batch, so the number of
// records per fsync grows with load.
//
// A failed append or fsync is fatal: every pending request completes with
// the error and later Submits return it, since the server must then stop
// accepting writes. The Committer owns the Log while it runs; Close it
// before closing the Log.
type Committer struct {
	log    *Log
	logger *slog.Logger
	max    int
	onSync func(int, time.Duration)

	mu    sync.Mutex
	work  *sync.Cond // signalled when queue grows or closing is set
	space *sync.Cond // signalled when queue shrinks or the committer stops
	// Invariant: queue is empty once err is set or the writer has stopped.
	queue   []commitRequest
	closing bool
	err     error
	stats   CommitStats
	stopped chan struct{}
}

type commitRequest struct {
	zxid  int64
	entry []byte
	done  func(error)
	roll  bool
	// truncate removes every record above zxid (a learner's TRUNC).
	truncate bool
}

// NewCommitter starts the writer goroutine over l.
func NewCommitter(l *Log, opts CommitterOptions) *Committer {
	c := &Committer{log: l, logger: orDiscard(opts.Logger), max: opts.MaxPending, onSync: opts.OnSync, stopped: make(chan struct{})}
	if c.max <= 0 {
		c.max = DefaultMaxPending
	}
	c.work = sync.NewCond(&c.mu)
	c.space = sync.NewCond(&c.mu)
	go c.run()
	return c
}

// Submit queues one record (see Log.Append for entry). done is called
// exactly once, from the writer goroutine, after the record is durable
// (nil) or has failed; it must not block. entry must not be modified until
// then. If the Committer has failed or is closed, Submit returns the error
// and never calls done. Submit blocks while MaxPending requests wait.
func (c *Committer) Submit(zxid int64, entry []byte, done func(error)) error {
	return c.enqueue(commitRequest{zxid: zxid, entry: entry, done: done})
}

// Roll queues a log roll: records submitted after it go to a new file.
func (c *Committer) Roll() error { return c.enqueue(commitRequest{roll: true}) }

// Truncate removes every record above zxid (see Log.Truncate), in order
// with the records submitted before and after it, and waits until it is
// done: records submitted before it are written first, then cut.
func (c *Committer) Truncate(zxid int64) error {
	done := make(chan error, 1)
	if err := c.enqueue(commitRequest{zxid: zxid, truncate: true, done: func(err error) { done <- err }}); err != nil {
		return err
	}
	return <-done
}

func (c *Committer) enqueue(r commitRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) >= c.max && c.err == nil && !c.closing {
		c.space.Wait()
	}
	if c.err != nil {
		return c.err
	}
	if c.closing {
		return ErrCommitterClosed
	}
	c.queue = append(c.queue, r)
	c.work.Signal()
	return nil
}

// Err returns the fatal error, or nil.
func (c *Committer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats returns counters of the Committer's work.
func (c *Committer) Stats() CommitStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close commits everything queued, stops the writer and returns the fatal
// error if there was one. It does not close the Log.
func (c *Committer) Close() error {
	c.mu.Lock()
	c.closing = true
	c.work.Broadcast()
	c.space.Broadcast()
	c.mu.Unlock()
	<-c.stopped
	return c.Err()
}

func (c *Committer) run() {
	defer close(c.stopped)
	var batch, spare []commitRequest
	var errs []error
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closing {
			c.work.Wait()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, spare
		c.space.Broadcast()
		c.mu.Unlock()

		errs = append(errs[:0], make([]error, len(batch))...)
		records := 0
		start := time.Now()
		var fatal error
		for i, r := range batch {
			var err error
			switch {
			case r.roll:
				err = c.log.Roll()
			case r.truncate:
				err = c.log.Truncate(r.zxid)
			default:
				err = c.log.Append(r.zxid, r.entry)
				records++
			}
			// A bad entry is the caller's mistake and fails alone.
			if errors.Is(err, ErrBadEntry) || errors.Is(err, ErrZxidOrder) {
				errs[i] = err
				records--
				continue
			}
			if err != nil {
				fatal = err
				break
			}
		}
		if fatal == nil {
			fatal = c.log.Sync()
		}
		if fatal == nil && c.onSync != nil && records > 0 {
			c.onSync(records, time.Since(start))
		}
		if fatal != nil {
			c.fail(fatal, batch, errs)
			return
		}
		for i, r := range batch {
			if r.done != nil {
				r.done(errs[i])
			}
		}
		c.mu.Lock()
		c.stats.Batches++
		c.stats.Records += int64(records)
		c.stats.MaxBatch = max(c.stats.MaxBatch, records)
		c.mu.Unlock()
		clear(batch)
		spare = batch[:0]
	}
}

// fail completes the batch and everything still queued with err and makes
// every later call return it.
func (c *Committer) fail(err error, batch []commitRequest, errs []error) {
	err = fmt.Errorf("storage: group commit stopped: %w", err)
	c.logger.Error("storage: transaction log write failed; no more writes are accepted", "err", err)
	c.mu.Lock()
	c.err = err
	rest := c.queue
	c.queue = nil
	c.space.Broadcast()
	c.mu.Unlock()
	for i, r := range batch {
		if r.done == nil {
			continue
		}
		if errs[i] != nil {
			r.done(errs[i])
		} else {
			r.done(err)
		}
	}
	for _, r := range rest {
		if r.done != nil {
			r.done(err)
		}
	}
}
