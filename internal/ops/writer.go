package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Outcome is what became of one write.
type Outcome int

const (
	// Acked: the server answered success; the write must survive.
	Acked Outcome = iota
	// Refused: never applied (the server answered an error, or the
	// client never sent it).
	Refused
	// InDoubt: the connection was lost before the answer; the write may
	// or may not have been applied, and either is correct.
	InDoubt
)

func (o Outcome) String() string {
	switch o {
	case Acked:
		return "acked"
	case Refused:
		return "refused"
	}
	return "in doubt"
}

// A Write is one sequential znode the writer tried to create.
type Write struct {
	Seq     int
	Path    string // the created znode, for acked writes
	Issued  time.Time
	Done    time.Time
	Outcome Outcome
	Err     string
}

// Writer creates sequential znodes under a run path of its own through a
// go-zookeeper client holding every server, and remembers what each write
// came to.
type Writer struct {
	conn    *zk.Conn
	runPath string

	mu     sync.Mutex
	writes []Write
}

// dataPrefix starts every drill write's data; the number follows.
const dataPrefix = "zkd-drill "

// NewWriter connects to the servers (all of them in the client's list) and
// creates a run path below base (made if missing) that holds this run's
// writes. logTo receives go-zookeeper's log (nil: discarded).
func NewWriter(servers []string, base string, sessionTimeout, connectTimeout time.Duration, logTo io.Writer) (*Writer, error) {
	if logTo == nil {
		logTo = io.Discard
	}
	conn, events, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(log.New(logTo, "go-zookeeper: ", log.LstdFlags)), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("ops: writer: %w", err)
	}
	go func() {
		for range events {
		}
	}()
	deadline := time.Now().Add(connectTimeout)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			conn.Close()
			return nil, fmt.Errorf("ops: writer: no session with any of %s within %v", strings.Join(servers, ","), connectTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w := &Writer{conn: conn}
	if err := w.makeRunPath(base); err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
}

func (w *Writer) makeRunPath(base string) error {
	if !strings.HasPrefix(base, "/") || (len(base) > 1 && strings.HasSuffix(base, "/")) {
		return fmt.Errorf("ops: writer: path %q: want an absolute znode path", base)
	}
	p := ""
	for part := range strings.SplitSeq(strings.Trim(base, "/"), "/") {
		if part == "" {
			continue
		}
		p += "/" + part
		if _, err := w.conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("ops: writer: create %s: %w", p, err)
		}
	}
	run, err := w.conn.Create(path.Join(base, "run-"+time.Now().UTC().Format("20060102T150405Z")+"-"), nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return fmt.Errorf("ops: writer: create the run node under %s: %w", base, err)
	}
	w.runPath = run
	return nil
}

// RunPath is the znode holding this run's writes.
func (w *Writer) RunPath() string { return w.runPath }

// classify tells what an error from Create means for the write.
func classify(err error) Outcome {
	switch {
	case err == nil:
		return Acked
	case errors.Is(err, zk.ErrNoServer):
		return Refused // flushed from the send queue: never sent
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrSessionExpired), errors.Is(err, zk.ErrClosing):
		return InDoubt
	}
	for _, known := range []error{zk.ErrNoNode, zk.ErrNodeExists, zk.ErrNoAuth, zk.ErrBadVersion, zk.ErrBadArguments, zk.ErrInvalidACL, zk.ErrNoChildrenForEphemerals, zk.ErrNotEmpty, zk.ErrAPIError, zk.ErrUnknown} {
		if errors.Is(err, known) {
			return Refused
		}
	}
	return InDoubt
}

// Run writes one znode after another, interval apart, until ctx ends.
func (w *Writer) Run(ctx context.Context, interval time.Duration) {
	for seq := 1; ctx.Err() == nil; seq++ {
		wr := Write{Seq: seq, Issued: time.Now()}
		p, err := w.conn.Create(w.runPath+"/w-", []byte(dataPrefix+strconv.Itoa(seq)), zk.FlagSequence, zk.WorldACL(zk.PermAll))
		wr.Done, wr.Outcome = time.Now(), classify(err)
		if err != nil {
			wr.Err = err.Error()
		} else {
			wr.Path = p
		}
		w.mu.Lock()
		w.writes = append(w.writes, wr)
		w.mu.Unlock()
		if interval > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}
}

// Writes are the writes so far, in order.
func (w *Writer) Writes() []Write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

// FirstAckIssuedAfter is the first acknowledged write issued at t or
// later.
func (w *Writer) FirstAckIssuedAfter(t time.Time) (Write, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wr := range w.writes {
		if wr.Outcome == Acked && !wr.Issued.Before(t) {
			return wr, true
		}
	}
	return Write{}, false
}

// A Check is what reading the writes back found.
type Check struct {
	Acked   int `json:"acked"`
	Refused int `json:"refused"`
	InDoubt int `json:"in_doubt"`
	// InDoubtApplied counts the writes in doubt that were applied.
	InDoubtApplied int `json:"in_doubt_applied"`
	// Lost are acknowledged writes missing or changed.
	Lost []Write `json:"-"`
	// Phantoms are refused writes that were applied all the same.
	Phantoms []Write `json:"-"`
	// Found is the number of znodes under the run path.
	Found int `json:"found"`
}

// Verify reads every znode under the run path back (after a sync, so that
// the server read from has all the leader committed) and compares them
// with the writes' outcomes. It retries while the ensemble is unavailable,
// up to timeout.
func (w *Writer) Verify(timeout time.Duration) (Check, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		c, err := w.verify()
		if err == nil {
			return c, nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return Check{}, fmt.Errorf("ops: reading the writes back from %s: %w", w.runPath, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *Writer) verify() (Check, error) {
	if _, err := w.conn.Sync(w.runPath); err != nil {
		return Check{}, err
	}
	children, _, err := w.conn.Children(w.runPath)
	if err != nil {
		return Check{}, err
	}
	seqOf := map[int]string{} // seq -> znode name
	for _, name := range children {
		data, _, err := w.conn.Get(w.runPath + "/" + name)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return Check{}, err
		}
		n, err := strconv.Atoi(strings.TrimPrefix(string(data), dataPrefix))
		if !strings.HasPrefix(string(data), dataPrefix) || err != nil {
			continue // not a drill write: nothing to compare
		}
		seqOf[n] = name
	}
	c := Check{Found: len(children)}
	for _, wr := range w.Writes() {
		name, present := seqOf[wr.Seq]
		switch wr.Outcome {
		case Acked:
			c.Acked++
			if !present || w.runPath+"/"+name != wr.Path {
				c.Lost = append(c.Lost, wr)
			}
		case Refused:
			c.Refused++
			if present {
				c.Phantoms = append(c.Phantoms, wr)
			}
		case InDoubt:
			c.InDoubt++
			if present {
				c.InDoubtApplied++
			}
		}
	}
	return c, nil
}

// Cleanup deletes the run path and everything under it.
func (w *Writer) Cleanup() error {
	children, _, err := w.conn.Children(w.runPath)
	if err != nil {
		return fmt.Errorf("ops: cleanup %s: %w", w.runPath, err)
	}
	for _, name := range children {
		if err := w.conn.Delete(w.runPath+"/"+name, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("ops: cleanup %s: %w", w.runPath, err)
		}
	}
	if err := w.conn.Delete(w.runPath, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("ops: cleanup %s: %w", w.runPath, err)
	}
	return nil
}

// Close ends the session.
func (w *Writer) Close() { w.conn.Close() }
