package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// The benchmark keeps everything it writes under one root so that it can
// share a server with real data without touching it.
const (
	benchRoot  = "/zkbench"
	dataRoot   = benchRoot + "/data"
	createRoot = benchRoot + "/create"
)

// Requests in flight per session while the untimed phases (prepopulation,
// cleanup) run: they are bulk work, so they pipeline.
const bulkPerSession = 16

// A failing request is retried after a pause so that a dead connection does
// not turn the run into a busy loop of instant errors.
const errorBackoff = 5 * time.Millisecond

const maxErrorSamples = 5

// opKind is the request type that a latency belongs to.
type opKind int

const (
	opCreate opKind = iota
	opSet
	opGet
	opExists
	numOpKinds
)

var opNames = [numOpKinds]string{"create", "set", "get", "exists"}

// Options are how a run talks to the person who started it.
type Options struct {
	// Progress receives a status line every second of the timed phase; nil
	// disables it.
	Progress io.Writer
	// Terminal makes the status line overwrite itself.
	Terminal bool
	// TimedPhase, when set, is called just before the timed phase starts
	// and returns the function called just after it ends (to measure what
	// the servers and this process spend on the timed requests alone).
	TimedPhase func() (end func())
}

// Run opens cfg.Clients sessions, makes sure the prepopulated tree exists,
// drives the workload until cfg.Duration or cfg.Ops is reached and returns
// what it measured. Cancelling ctx ends the timed phase early; the result
// then covers what ran.
func Run(ctx context.Context, cfg Config, opts Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conns, err := openSessions(ctx, cfg.Endpoints, cfg.Clients, cfg.SessionTimeout)
	if err != nil {
		return nil, err
	}
	defer closeSessions(conns)

	value := payload(cfg.ValueSize, cfg.Seed)
	keys := keyPaths(cfg.Prepopulate)
	if err := prepopulate(ctx, conns, keys, value); err != nil {
		return nil, err
	}

	var runDir string
	if cfg.Workload == WorkloadCreate {
		if runDir, err = makeCreateDirs(ctx, conns); err != nil {
			return nil, err
		}
	}

	clients := make([]*client, len(conns))
	for i, conn := range conns {
		clients[i] = newClient(i, conn, cfg, listKeys(keys), value, runDir)
	}
	res := drive(ctx, cfg, clients, opts)

	if cfg.Workload == WorkloadCreate {
		// Cleanup is untimed but must not be skipped: otherwise every create
		// run would grow the tree that the next run measures.
		cleanupCtx := context.WithoutCancel(ctx)
		if err := removeCreated(cleanupCtx, conns, clients, runDir); err != nil {
			return res, err
		}
	}
	return res, nil
}

// payload is the value every create and set writes: printable, repeatable
// bytes, so that no layer can compress it to nothing.
func payload(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x7a6b64))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, size)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

func keyPaths(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s/k%07d", dataRoot, i)
	}
	return keys
}

// prepopulate makes /zkbench/data hold len(keys) znodes of value's size.
// The parent's data records what was loaded, so a rerun with the same
// settings skips the work.
func prepopulate(ctx context.Context, conns []*zk.Conn, keys []string, value []byte) error {
	if len(keys) == 0 {
		return nil
	}
	if err := ensurePath(conns[0], dataRoot); err != nil {
		return err
	}
	marker := fmt.Sprintf("keys=%d value_size=%d", len(keys), len(value))
	current, _, err := conns[0].Get(dataRoot)
	if err != nil {
		return fmt.Errorf("bench: read %s: %w", dataRoot, err)
	}
	if string(current) == marker {
		return nil
	}
	err = forEachIndex(ctx, conns, bulkPerSession, len(keys), func(conn *zk.Conn, i int) error {
		_, err := conn.Create(keys[i], value, 0, openACL)
		if errors.Is(err, zk.ErrNodeExists) {
			_, err = conn.Set(keys[i], value, -1)
		}
		if err != nil {
			return fmt.Errorf("bench: prepopulate %s: %w", keys[i], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := conns[0].Set(dataRoot, []byte(marker), -1); err != nil {
		return fmt.Errorf("bench: mark %s: %w", dataRoot, err)
	}
	return nil
}

// makeCreateDirs makes a fresh directory for this run with one child per
// session, so that no parent collects every znode the run creates.
func makeCreateDirs(ctx context.Context, conns []*zk.Conn) (string, error) {
	if err := ensurePath(conns[0], createRoot); err != nil {
		return "", err
	}
	runDir, err := conns[0].Create(createRoot+"/run-", nil, zk.FlagSequence, openACL)
	if err != nil {
		return "", fmt.Errorf("bench: create run directory: %w", err)
	}
	err = forEachIndex(ctx, conns, 1, len(conns), func(conn *zk.Conn, i int) error {
		if _, err := conn.Create(clientDir(runDir, i), nil, 0, openACL); err != nil {
			return fmt.Errorf("bench: create %s: %w", clientDir(runDir, i), err)
		}
		return nil
	})
	return runDir, err
}

func clientDir(runDir string, client int) string { return fmt.Sprintf("%s/c%d", runDir, client) }

// removeCreated deletes everything a create run made, including znodes
// whose create failed ambiguously (a lost reply may still have been
// applied).
func removeCreated(ctx context.Context, conns []*zk.Conn, clients []*client, runDir string) error {
	var paths []string
	for _, c := range clients {
		for seq := range c.createsIssued {
			paths = append(paths, c.createPath(seq))
		}
	}
	deleteAll := func(paths []string) error {
		return forEachIndex(ctx, conns, bulkPerSession, len(paths), func(conn *zk.Conn, i int) error {
			err := conn.Delete(paths[i], -1)
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return fmt.Errorf("bench: clean up %s: %w", paths[i], err)
			}
			return nil
		})
	}
	if err := deleteAll(paths); err != nil {
		return err
	}
	dirs := make([]string, len(clients))
	for i := range clients {
		dirs[i] = clientDir(runDir, i)
	}
	if err := deleteAll(dirs); err != nil {
		return err
	}
	return deleteAll([]string{runDir})
}

// client is one session's loop state. Only its own goroutine touches it
// until the run ends.
type client struct {
	index     int
	conn      *zk.Conn
	workload  Workload
	readRatio float64
	keys      keySpace
	value     []byte
	runDir    string
	rng       *rand.Rand
	latency   [numOpKinds]*latencyHistogram

	createsIssued int
	finished      time.Time
}

// keySpace is the znodes a keyed workload addresses: n of them, the i-th
// at path(i). A function rather than a list, so that a run over millions
// of loaded znodes does not hold every path in the load generator.
type keySpace struct {
	n    int
	path func(i int) string
}

func listKeys(keys []string) keySpace {
	return keySpace{n: len(keys), path: func(i int) string { return keys[i] }}
}

func newClient(index int, conn *zk.Conn, cfg Config, keys keySpace, value []byte, runDir string) *client {
	c := &client{
		index:     index,
		conn:      conn,
		workload:  cfg.Workload,
		readRatio: cfg.ReadRatio,
		keys:      keys,
		value:     value,
		runDir:    runDir,
		rng:       rand.New(rand.NewPCG(cfg.Seed, uint64(index))),
	}
	for i := range c.latency {
		c.latency[i] = newLatencyHistogram()
	}
	return c
}

func (c *client) createPath(seq int) string {
	return fmt.Sprintf("%s/c%d/n%d", c.runDir, c.index, seq)
}

func (c *client) randomKey() string { return c.keys.path(c.rng.IntN(c.keys.n)) }

// issue sends the workload's next request and waits for its reply.
func (c *client) issue() (opKind, error) {
	switch c.workload {
	case WorkloadCreate:
		path := c.createPath(c.createsIssued)
		c.createsIssued++
		_, err := c.conn.Create(path, c.value, 0, openACL)
		return opCreate, err
	case WorkloadSet:
		_, err := c.conn.Set(c.randomKey(), c.value, -1)
		return opSet, err
	case WorkloadGet:
		_, _, err := c.conn.Get(c.randomKey())
		return opGet, err
	case WorkloadExistsWatch:
		// The watch channel is never read: the workload measures setting
		// watches, and go-zookeeper buffers one event per channel.
		_, _, _, err := c.conn.ExistsW(c.randomKey())
		return opExists, err
	default: // WorkloadMixed
		if c.rng.Float64() < c.readRatio {
			_, _, err := c.conn.Get(c.randomKey())
			return opGet, err
		}
		_, err := c.conn.Set(c.randomKey(), c.value, -1)
		return opSet, err
	}
}

// runState is what the sessions share while the clock runs.
type runState struct {
	stop      atomic.Bool
	budget    atomic.Int64 // requests left when the run is bounded by count
	bounded   bool
	completed atomic.Int64
	failed    atomic.Int64

	errMu      sync.Mutex
	errSamples []string
}

func (s *runState) noteError(err error) {
	s.failed.Add(1)
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if len(s.errSamples) >= maxErrorSamples {
		return
	}
	msg := err.Error()
	for _, seen := range s.errSamples {
		if seen == msg {
			return
		}
	}
	s.errSamples = append(s.errSamples, msg)
}

func (c *client) loop(ctx context.Context, s *runState) {
	for !s.stop.Load() && ctx.Err() == nil {
		if s.bounded && s.budget.Add(-1) < 0 {
			break
		}
		begin := time.Now()
		kind, err := c.issue()
		elapsed := time.Since(begin)
		if err != nil {
			s.noteError(err)
			time.Sleep(errorBackoff)
			continue
		}
		c.latency[kind].record(elapsed)
		s.completed.Add(1)
	}
	c.finished = time.Now()
}

// drive runs the timed phase and summarises it.
func drive(ctx context.Context, cfg Config, clients []*client, opts Options) *Result {
	state := &runState{bounded: cfg.Ops > 0}
	state.budget.Store(cfg.Ops)

	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c.loop(ctx, state)
		}()
	}
	var endTimed func()
	if opts.TimedPhase != nil {
		endTimed = opts.TimedPhase()
	}
	began := time.Now()
	close(start)
	if !state.bounded {
		timer := time.AfterFunc(cfg.Duration, func() { state.stop.Store(true) })
		defer timer.Stop()
	}
	stopProgress := reportProgress(opts, state, began)
	wg.Wait()
	if endTimed != nil {
		endTimed()
	}
	stopProgress()

	end := began
	all := newLatencyHistogram()
	byKind := [numOpKinds]*latencyHistogram{}
	for k := range byKind {
		byKind[k] = newLatencyHistogram()
	}
	for _, c := range clients {
		if c.finished.After(end) {
			end = c.finished
		}
		for k, h := range c.latency {
			byKind[k].merge(h)
			all.merge(h)
		}
	}
	elapsed := end.Sub(began).Seconds()
	res := &Result{
		Schema:       ResultSchema,
		Workload:     cfg.Workload,
		Endpoints:    cfg.Endpoints,
		Clients:      cfg.Clients,
		ReadRatio:    cfg.ReadRatio,
		ValueSize:    cfg.ValueSize,
		Prepopulate:  cfg.Prepopulate,
		OpsLimit:     cfg.Ops,
		StartedAt:    began.UTC(),
		ElapsedS:     elapsed,
		Ops:          state.completed.Load(),
		Errors:       state.failed.Load(),
		Latency:      all.summary(),
		ByOp:         map[string]LatencySummary{},
		ErrorSamples: state.errSamples,
	}
	if !state.bounded {
		res.DurationLimitS = cfg.Duration.Seconds()
	}
	if elapsed > 0 {
		res.OpsPerSecond = float64(res.Ops) / elapsed
	}
	for k, h := range byKind {
		if h.count() > 0 {
			res.ByOp[opNames[k]] = h.summary()
		}
	}
	return res
}

// reportProgress prints a status line every second until the returned
// function is called.
func reportProgress(opts Options, state *runState, began time.Time) (stop func()) {
	if opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		lastOps, lastAt := int64(0), began
		for {
			select {
			case <-done:
				if opts.Terminal {
					fmt.Fprintln(opts.Progress)
				}
				return
			case now := <-ticker.C:
				ops := state.completed.Load()
				rate := float64(ops-lastOps) / now.Sub(lastAt).Seconds()
				lastOps, lastAt = ops, now
				line := fmt.Sprintf("%6.1fs %12d ops %11.0f ops/s %8d errors",
					now.Sub(began).Seconds(), ops, rate, state.failed.Load())
				if opts.Terminal {
					fmt.Fprintf(opts.Progress, "\r%s", line)
				} else {
					fmt.Fprintln(opts.Progress, strings.TrimLeft(line, " "))
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
