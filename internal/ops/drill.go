package ops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrRefused: the drill or roll did not start (or stopped before acting)
// because acting would cost the quorum or the ensemble is not healthy.
var ErrRefused = errors.New("ops: refused")

// DrillOptions configure a failover drill.
type DrillOptions struct {
	Servers  []Server
	Observer Observer
	// Stop stops the leader. The drill refuses to run without one.
	Stop Action
	// Path is the znode under which the writer makes its run node.
	Path           string
	SessionTimeout time.Duration
	ConnectTimeout time.Duration
	WriteInterval  time.Duration
	// Warmup is how long the writer writes before the leader is stopped;
	// Settle how long it goes on once writes are acknowledged again.
	Warmup, Settle time.Duration
	// Poll is the interval of srvr polling (the resolution of the
	// election time).
	Poll time.Duration
	// Timeout bounds the wait for a new leader and acknowledged writes
	// after the stop; it also bounds the stop command.
	Timeout time.Duration
	// Keep leaves the writes in place; otherwise the run node is deleted.
	Keep bool
	// DryRun checks and plans, and stops nothing.
	DryRun bool
	// Log receives progress lines (nil: none); ClientLog go-zookeeper's.
	Log, ClientLog io.Writer
}

// A Member is a server as the report shows it.
type Member struct {
	Name  string `json:"name"`
	MyID  int64  `json:"myid"`
	Epoch int64  `json:"epoch"`
	Zxid  string `json:"zxid"`
	zxid  int64
	// For candidates: how long before the stop the zxid was read, and how
	// many of the drill's writes may have been logged or committed without
	// that read showing them: issued before the stop and acknowledged after
	// the read or left in doubt (srvr shows the last txn applied; a proposal logged
	// but not yet committed when the leader died counts in the election).
	// Other clients' writes are not counted.
	SeenBeforeStop *Seconds `json:"seen_before_stop_s,omitempty"`
	WritesAfter    int      `json:"writes_after_seen,omitempty"`
}

func member(o Observation) Member {
	return Member{Name: o.Server.Name, MyID: o.MyID, Epoch: o.Epoch(), Zxid: Zxid(o.Zxid), zxid: o.Zxid}
}

// DrillReport is what a drill found.
type DrillReport struct {
	OldLeader Member `json:"old_leader"`
	Command   string `json:"command"`
	DryRun    bool   `json:"dry_run,omitempty"`
	// StopOutput is what the stop command printed; StopTook how long it ran.
	StopOutput string  `json:"stop_output,omitempty"`
	StopTook   Seconds `json:"stop_took_s"`
	NewLeader  *Member `json:"new_leader,omitempty"`
	// Elected is the time from the stop command's start to the first poll
	// that saw the new leader (Poll is its resolution).
	Elected *Seconds `json:"elected_after_s,omitempty"`
	// WritesBack is the time from the stop command's start to the
	// acknowledgement of the first write issued after a poll that saw the
	// old leader gone had ended (before that, it may still have answered).
	WritesBack *Seconds `json:"writes_acknowledged_after_s,omitempty"`
	// LongestGap is the longest time between two acknowledgements.
	LongestGap Seconds `json:"longest_write_gap_s"`
	// Candidates are the servers left, with the last epoch and zxid seen
	// while they still followed the old leader, in ZooKeeper's vote order.
	// srvr shows the last zxid processed; the election compares the last
	// logged, which can be ahead by proposals not yet committed.
	Candidates []Member `json:"candidates,omitempty"`
	Why        string   `json:"why,omitempty"`
	RunPath    string   `json:"run_path,omitempty"`
	RunDeleted bool     `json:"run_deleted"`
	Writes     *Check   `json:"writes,omitempty"`
	Lost       []int    `json:"lost_writes,omitempty"`
	// Problems say why the drill failed; empty when it passed.
	Problems []string `json:"problems,omitempty"`
	Poll     Seconds  `json:"poll_s"`
	// After is the ensemble at the end.
	After *Report `json:"after,omitempty"`
}

// Seconds is a duration printed as seconds in JSON.
type Seconds float64

func seconds(d time.Duration) Seconds { return Seconds(d.Seconds()) }
func secondsPtr(d time.Duration) *Seconds {
	s := seconds(d)
	return &s
}

func (s Seconds) String() string { return fmt.Sprintf("%.2fs", float64(s)) }

// Passed: a new leader, writes acknowledged again, none lost.
func (r *DrillReport) Passed() bool { return len(r.Problems) == 0 }

// voteLess orders by ZooKeeper's vote order: epoch, then zxid, then myid.
func voteCompare(a, b Member) int {
	if c := cmp.Compare(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := cmp.Compare(a.zxid, b.zxid); c != 0 {
		return c
	}
	return cmp.Compare(a.MyID, b.MyID)
}

// precondition checks that stopping the leader leaves a quorum: it
// returns the assessment and the leader, or an error wrapping ErrRefused.
func precondition(a Assessment) (Observation, error) {
	if a.Standalone {
		return Observation{}, fmt.Errorf("%w: %s is a standalone server; no other server would take over", ErrRefused, a.Observations[0].Server.Name)
	}
	if !a.OK() {
		return Observation{}, fmt.Errorf("%w: the ensemble is not healthy: %s", ErrRefused, strings.Join(a.Problems, "; "))
	}
	synced := 0
	var notSynced []string
	for i, o := range a.Observations {
		switch {
		case !o.Voting():
			if o.State() != ModeObserver {
				notSynced = append(notSynced, o.Server.Name+" is "+o.State())
			}
		case a.Synced(i, 1<<62):
			synced++
		default:
			notSynced = append(notSynced, o.Server.Name+" is still syncing")
		}
	}
	if synced-1 < a.Quorum {
		why := ""
		if len(notSynced) > 0 {
			why = " (" + strings.Join(notSynced, ", ") + ")"
		}
		return Observation{}, fmt.Errorf("%w: no quorum to spare: %d of %d voting servers are up and synced%s, %d are needed; stopping one would leave %d",
			ErrRefused, synced, a.Voters, why, a.Quorum, synced-1)
	}
	return a.Observations[a.Leader], nil
}

// Drill stops the leader while a client writes, and reports the failover.
// A refusal (ErrRefused) comes before anything is stopped or written.
func Drill(ctx context.Context, o DrillOptions) (*DrillReport, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	if o.Stop == nil {
		return nil, fmt.Errorf("%w: no stop command: the drill stops nothing unless told how", ErrRefused)
	}
	before := Assess(o.Observer.ObserveAll(o.Servers))
	leader, err := precondition(before)
	if err != nil {
		return nil, err
	}
	target := Target{Server: leader.Server, MyID: leader.MyID}
	r := &DrillReport{OldLeader: member(leader), Command: o.Stop.Describe(target), Poll: seconds(o.Poll), DryRun: o.DryRun}
	logf("leader: %s (myid %d, epoch %d, zxid %s); %d of %d voting servers serve, %d needed",
		leader.Server.Name, leader.MyID, leader.Epoch(), Zxid(leader.Zxid), before.VotingUp, before.Voters, before.Quorum)
	if o.DryRun {
		logf("dry run: would run %s", r.Command)
		return r, nil
	}

	w, err := NewWriter(Addrs(o.Servers), o.Path, o.SessionTimeout, o.ConnectTimeout, o.ClientLog)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	r.RunPath = w.RunPath()
	writeCtx, stopWriting := context.WithCancel(ctx)
	var writing sync.WaitGroup
	writing.Go(func() { w.Run(writeCtx, o.WriteInterval) })
	// A write blocked in the client ends when the client gives up on its
	// connection; the wait for it is bounded all the same, and what the
	// writer recorded so far is what the check reads back.
	waitWriter := func() {
		stopWriting()
		done := make(chan struct{})
		go func() { writing.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2*o.SessionTimeout + 5*time.Second):
			logf("the last write has not returned after %v; checking the writes recorded so far", 2*o.SessionTimeout+5*time.Second)
		}
	}
	defer waitWriter()
	// Before the stop, a drill that gives up leaves no writes behind.
	abandon := func(err error) (*DrillReport, error) {
		waitWriter()
		if cerr := w.Cleanup(); cerr != nil {
			logf("%v", cerr)
		}
		return nil, err
	}
	logf("writing under %s", r.RunPath)
	start := time.Now()
	if !sleepCtx(ctx, o.Warmup) {
		return abandon(ctx.Err())
	}
	if _, ok := w.FirstAckIssuedAfter(start); !ok {
		return abandon(fmt.Errorf("ops: no write was acknowledged in the %v before the stop; not stopping anything (writes: %s)", o.Warmup, summarizeWrites(w.Writes())))
	}
	// The leader may have changed during the warm-up.
	again := Assess(o.Observer.ObserveAll(o.Servers))
	if l, err := precondition(again); err != nil {
		return abandon(err)
	} else if l.Server.Name != leader.Server.Name {
		return abandon(fmt.Errorf("%w: the leader changed from %s to %s before the stop; run the drill again", ErrRefused, leader.Server.Name, l.Server.Name))
	}

	// Poll every server until the end; keep the last observation of each
	// while it still served in the old epoch.
	var mu sync.Mutex
	lastOld := map[string]Observation{}
	left := map[string]bool{}
	var newLeader *Observation
	var electedAt, goneAt time.Time
	var killAt time.Time // set before the stop command runs
	poller := o.Observer
	poller.Mntr, poller.Conf = false, false
	myids := map[string]int64{}
	for _, ob := range before.Observations {
		myids[ob.Server.Name] = ob.MyID
	}
	pollCtx, stopPolling := context.WithCancel(ctx)
	var polling sync.WaitGroup
	observe := func() {
		for _, ob := range poller.ObserveAll(o.Servers) {
			ob.MyID = myids[ob.Server.Name]
			mu.Lock()
			// A follower of the old leader until it is seen leaving it
			// (not serving, after the stop) or a new leader is seen: after
			// the election it still shows an old epoch's zxid until the
			// first write of the new one, but its history is the new
			// leader's by then.
			if !killAt.IsZero() && !ob.Serving {
				left[ob.Server.Name] = true
			}
			if newLeader == nil && !left[ob.Server.Name] && ob.Serving && ob.Mode == ModeFollower && ob.Epoch() <= leader.Epoch() && ob.Server.Name != leader.Server.Name {
				lastOld[ob.Server.Name] = ob
			}
			if !killAt.IsZero() && goneAt.IsZero() && ob.Server.Name == leader.Server.Name && !(ob.Serving && ob.Mode == ModeLeader && ob.Epoch() == leader.Epoch()) {
				// Seen gone by the end of the poll, not at its start: a
				// write issued while the poll ran may still have been
				// answered by the old leader.
				goneAt = time.Now()
			}
			if newLeader == nil && ob.Serving && ob.Mode == ModeLeader && ob.Epoch() > leader.Epoch() {
				newLeader, electedAt = &ob, ob.At
			}
			mu.Unlock()
		}
	}
	observe()
	polling.Go(func() {
		for sleepCtx(pollCtx, o.Poll) {
			observe()
		}
	})
	defer func() { stopPolling(); polling.Wait() }()

	logf("stopping %s: %s", leader.Server.Name, r.Command)
	mu.Lock()
	killAt = time.Now()
	mu.Unlock()
	stopCtx, cancelStop := context.WithTimeout(ctx, o.Timeout)
	out, stopErr := o.Stop.Run(stopCtx, target)
	cancelStop()
	r.StopOutput, r.StopTook = out, seconds(time.Since(killAt))
	if stopErr != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("the stop command failed after %v: %v (the leader may still run)", r.StopTook, stopErr))
		logf("%s", r.Problems[0])
	} else {
		deadline := time.Now().Add(o.Timeout)
		for {
			// A write counts once the old leader was seen gone: until
			// then it may still have answered (the stop command may not
			// wait for the server to end).
			mu.Lock()
			elected, gone := newLeader != nil, goneAt
			mu.Unlock()
			ack, acked := Write{}, false
			if !gone.IsZero() {
				ack, acked = w.FirstAckIssuedAfter(gone)
			}
			if elected && acked {
				r.WritesBack = secondsPtr(ack.Done.Sub(killAt))
				break
			}
			if time.Now().After(deadline) {
				if gone.IsZero() {
					r.Problems = append(r.Problems, fmt.Sprintf("%s still led in epoch %d %v after the stop command", leader.Server.Name, leader.Epoch(), o.Timeout))
				}
				if !elected {
					r.Problems = append(r.Problems, fmt.Sprintf("no new leader within %v of the stop", o.Timeout))
				}
				if !acked {
					r.Problems = append(r.Problems, fmt.Sprintf("no write acknowledged within %v of the stop", o.Timeout))
				}
				break
			}
			if !sleepCtx(ctx, 10*time.Millisecond) {
				return nil, ctx.Err()
			}
		}
		if r.WritesBack != nil {
			logf("writes acknowledged again %v after the stop", *r.WritesBack)
			sleepCtx(ctx, o.Settle)
		}
	}
	waitWriter()
	stopPolling()
	polling.Wait()

	mu.Lock()
	if newLeader != nil {
		m := member(*newLeader)
		r.NewLeader, r.Elected = &m, secondsPtr(electedAt.Sub(killAt))
		logf("new leader %s (myid %d, epoch %d) seen %v after the stop", m.Name, m.MyID, m.Epoch, *r.Elected)
	}
	writes := w.Writes()
	for _, ob := range lastOld {
		m := member(ob)
		m.SeenBeforeStop = secondsPtr(killAt.Sub(ob.At))
		for _, wr := range writes {
			// A refused write never made a txn; an in-doubt one may have.
			if wr.Issued.Before(killAt) && (wr.Outcome == InDoubt || wr.Outcome == Acked && !wr.Done.Before(ob.At)) {
				m.WritesAfter++
			}
		}
		r.Candidates = append(r.Candidates, m)
	}
	mu.Unlock()
	slices.SortFunc(r.Candidates, func(a, b Member) int { return -voteCompare(a, b) })
	r.Why = why(r.Candidates, r.NewLeader, leader.Server.Name, o.Poll)

	r.LongestGap = seconds(longestGap(writes, start))
	check, err := w.Verify(o.Timeout)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Writes = &check
		for _, l := range check.Lost {
			r.Lost = append(r.Lost, l.Seq)
		}
		if len(check.Lost) > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%d acknowledged writes lost (of %d)", len(check.Lost), check.Acked))
		}
		if len(check.Phantoms) > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%d writes refused by the server were applied all the same", len(check.Phantoms)))
		}
		if !o.Keep && len(check.Lost) == 0 {
			if err := w.Cleanup(); err != nil {
				logf("%v", err)
			} else {
				r.RunDeleted = true
			}
		}
	}
	after := Assess(o.Observer.ObserveAll(o.Servers)).Report()
	r.After = &after
	return r, nil
}

// why explains the election by ZooKeeper's rule: the vote with the highest
// epoch wins, then the highest zxid, then the highest myid.
func why(cands []Member, winner *Member, stopped string, poll time.Duration) string {
	if winner == nil {
		return ""
	}
	rule := "ZooKeeper's election picks the highest epoch, then the highest zxid, then the highest myid"
	if winner.Name == stopped {
		return fmt.Sprintf("%s, the server stopped, was back in time to take part in the election and won it again (%s)", winner.Name, rule)
	}
	if len(cands) == 0 {
		return fmt.Sprintf("%s won; no other server was seen following the old leader, so the votes cannot be compared (%s)", winner.Name, rule)
	}
	top := cands[0]
	var list []string
	for _, c := range cands {
		list = append(list, fmt.Sprintf("%s (epoch %d, zxid %s, myid %d)", c.Name, c.Epoch, c.Zxid, c.MyID))
	}
	seen := "last seen before the election: " + strings.Join(list, ", ")
	if top.Name != winner.Name {
		var w Member
		for _, c := range cands {
			if c.Name == winner.Name {
				w = c
			}
		}
		// The zxids were read while writes went on: a server read earlier
		// may have logged up to the writes not yet acknowledged at its read.
		if w.Name != "" && w.Epoch == top.Epoch && w.zxid+int64(w.WritesAfter) >= top.zxid && w.MyID > top.MyID {
			return fmt.Sprintf("%s won: the zxids seen differ by %d, no more than the drill's writes not yet acknowledged at %s's read (%d), so %s and %s most likely had the same history at the stop, and then the higher myid wins: %d > %d (%s; %s)",
				winner.Name, top.zxid-w.zxid, w.Name, w.WritesAfter, w.Name, top.Name, w.MyID, top.MyID, rule, seen)
		}
		return fmt.Sprintf("%s won, though %s looked ahead by the zxids %s; those were read up to %v before the election, srvr shows the last transaction processed while the election compares the last one logged, and either can move the order (%s)",
			winner.Name, top.Name, seen, poll, rule)
	}
	reason := "it was the only server left"
	if len(cands) > 1 {
		next := cands[1]
		switch {
		case top.Epoch != next.Epoch:
			reason = fmt.Sprintf("its epoch %d is higher than %s's %d", top.Epoch, next.Name, next.Epoch)
		case top.zxid != next.zxid:
			reason = fmt.Sprintf("same epoch, and its zxid %s is higher than %s's %s", top.Zxid, next.Name, next.Zxid)
		default:
			reason = fmt.Sprintf("same epoch and zxid as %s, and its myid %d is higher than %d", next.Name, top.MyID, next.MyID)
		}
	}
	return fmt.Sprintf("%s won: %s (%s; %s)", winner.Name, reason, rule, seen)
}

func longestGap(writes []Write, from time.Time) time.Duration {
	var gap time.Duration
	last := from
	for _, w := range writes {
		if w.Outcome != Acked {
			continue
		}
		gap = max(gap, w.Done.Sub(last))
		last = w.Done
	}
	return gap
}

func summarizeWrites(ws []Write) string {
	if len(ws) == 0 {
		return "none finished"
	}
	n := map[Outcome]int{}
	for _, w := range ws {
		n[w.Outcome]++
	}
	s := fmt.Sprintf("%d acked, %d refused, %d in doubt", n[Acked], n[Refused], n[InDoubt])
	if last := ws[len(ws)-1]; last.Err != "" {
		s += "; last error: " + last.Err
	}
	return s
}

// sleepCtx sleeps d unless ctx ends first (then false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// WriteText prints the report for people.
func (r *DrillReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "old leader:   %s (myid %d, epoch %d, zxid %s)\n", r.OldLeader.Name, r.OldLeader.MyID, r.OldLeader.Epoch, r.OldLeader.Zxid)
	fmt.Fprintf(w, "stopped with: %s", r.Command)
	if r.DryRun {
		fmt.Fprintln(w, " (dry run: nothing was stopped)")
		return
	}
	fmt.Fprintf(w, " (took %v)\n", r.StopTook)
	if r.StopOutput != "" {
		fmt.Fprintf(w, "  output: %s\n", lastLines(r.StopOutput, 5))
	}
	if r.NewLeader != nil {
		fmt.Fprintf(w, "new leader:   %s (myid %d, epoch %d, zxid %s), seen %v after the stop (polling every %v)\n",
			r.NewLeader.Name, r.NewLeader.MyID, r.NewLeader.Epoch, r.NewLeader.Zxid, *r.Elected, r.Poll)
	} else {
		fmt.Fprintln(w, "new leader:   none seen")
	}
	if r.Why != "" {
		fmt.Fprintf(w, "why:          %s\n", r.Why)
	}
	if r.WritesBack != nil {
		fmt.Fprintf(w, "writes:       acknowledged again %v after the stop; longest gap between acknowledgements %v\n", *r.WritesBack, r.LongestGap)
	}
	if c := r.Writes; c != nil {
		kept := "kept"
		if r.RunDeleted {
			kept = "deleted"
		}
		fmt.Fprintf(w, "checked:      %d acknowledged, %d refused, %d in doubt (%d of them applied); %d znodes under %s (%s)\n",
			c.Acked, c.Refused, c.InDoubt, c.InDoubtApplied, c.Found, r.RunPath, kept)
		if len(r.Lost) == 0 {
			fmt.Fprintln(w, "lost:         no acknowledged write was lost")
		} else {
			fmt.Fprintf(w, "LOST:         %d acknowledged writes: seq %v\n", len(r.Lost), r.Lost)
		}
	}
	if r.Passed() {
		fmt.Fprintln(w, "result:       PASSED")
	} else {
		fmt.Fprintf(w, "result:       FAILED: %s\n", strings.Join(r.Problems, "; "))
	}
}
