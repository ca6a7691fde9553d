package ops

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// RollOptions configure a rolling restart.
type RollOptions struct {
	Servers []Server
	// Observer should ask mntr: its zk_uptime tells that a server did
	// restart even when no poll caught it down, and zk_peer_state that it
	// finished syncing.
	Observer Observer
	Restart  Action
	// CommandTimeout bounds the restart command; Timeout the wait for the
	// server to be back and synced after the command's start.
	CommandTimeout, Timeout time.Duration
	Poll                    time.Duration
	// Pause is waited after each server is back, before the next.
	Pause  time.Duration
	DryRun bool
	Log    io.Writer
}

// A RollStep is one server's restart.
type RollStep struct {
	Name      string  `json:"name"`
	MyID      int64   `json:"myid"`
	WasLeader bool    `json:"was_leader"`
	Command   string  `json:"command"`
	Output    string  `json:"output,omitempty"`
	Took      Seconds `json:"command_took_s"`
	// Back is the time from the command's start until the server served
	// again, synced with the leader.
	Back *Seconds `json:"back_after_s,omitempty"`
	// Confirmed says how the restart was seen: "seen down" or "uptime".
	Confirmed string `json:"confirmed,omitempty"`
	Mode      string `json:"mode,omitempty"`
	Zxid      string `json:"zxid,omitempty"`
	// Leader is the leader once the server is back.
	Leader string `json:"leader,omitempty"`
}

// RollReport is what a roll did.
type RollReport struct {
	Plan   []string   `json:"plan"`
	DryRun bool       `json:"dry_run,omitempty"`
	Steps  []RollStep `json:"steps"`
	// Stopped says why the roll stopped before the end.
	Stopped string  `json:"stopped,omitempty"`
	After   *Report `json:"after,omitempty"`
}

// plan is the restart order: the servers that do not lead in list order,
// then the leader.
func plan(a Assessment, done map[string]bool) []Observation {
	var out []Observation
	for i, o := range a.Observations {
		if i != a.Leader && !done[o.Server.Name] {
			out = append(out, o)
		}
	}
	if a.Leader >= 0 && !done[a.Observations[a.Leader].Server.Name] {
		out = append(out, a.Observations[a.Leader])
	}
	return out
}

// canRestart refuses a restart that would leave fewer synced voters than
// a quorum.
func canRestart(a Assessment, target int) error {
	if a.Standalone {
		return fmt.Errorf("%w: %s is a standalone server; restarting it stops the service", ErrRefused, a.Observations[0].Server.Name)
	}
	if !a.OK() {
		return fmt.Errorf("%w: the ensemble is not healthy: %s", ErrRefused, strings.Join(a.Problems, "; "))
	}
	synced := 0
	var others []string
	for i, o := range a.Observations {
		if i == target {
			continue
		}
		switch {
		case o.Voting() && a.Synced(i, 1<<62):
			synced++
		case o.Serving && o.Mode == ModeObserver:
		case o.Voting():
			others = append(others, o.Server.Name+" is still syncing")
		default:
			others = append(others, o.Server.Name+" is "+o.State())
		}
	}
	t := a.Observations[target]
	if t.Serving && t.Mode == ModeObserver {
		return nil // an observer's restart costs no vote
	}
	if synced < a.Quorum {
		why := ""
		if len(others) > 0 {
			why = " (" + strings.Join(others, ", ") + ")"
		}
		return fmt.Errorf("%w: restarting %s would cost the quorum: %d other voting servers are up and synced%s, %d are needed", ErrRefused, t.Server.Name, synced, why, a.Quorum)
	}
	return nil
}

// Roll restarts one server at a time, followers first and the leader
// last, each back in the quorum and synced before the next. It stops (with
// the report so far and an error) when a restart would cost the quorum, a
// command fails or a server does not come back in time.
func Roll(ctx context.Context, o RollOptions) (*RollReport, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	r := &RollReport{DryRun: o.DryRun}
	if o.Restart == nil {
		return r, fmt.Errorf("%w: no restart command", ErrRefused)
	}
	finish := func(err error) (*RollReport, error) {
		if err != nil {
			r.Stopped = err.Error()
		}
		after := Assess(o.Observer.ObserveAll(o.Servers)).Report()
		r.After = &after
		return r, err
	}
	done := map[string]bool{}
	a := Assess(o.Observer.ObserveAll(o.Servers))
	for _, p := range plan(a, done) {
		r.Plan = append(r.Plan, p.Server.Name)
	}
	if o.DryRun {
		for i, p := range plan(a, done) {
			idx := index(a, p.Server.Name)
			if err := canRestart(a, idx); err != nil && i == 0 {
				return finish(err)
			}
			logf("would restart %s (%s): %s", p.Server.Name, p.State(), o.Restart.Describe(Target{Server: p.Server, MyID: p.MyID}))
		}
		return finish(nil)
	}
	for len(done) < len(o.Servers) {
		a := Assess(o.Observer.ObserveAll(o.Servers))
		next := plan(a, done)
		if len(next) == 0 {
			return finish(fmt.Errorf("%w: no leader to restart last", ErrRefused))
		}
		t := next[0]
		ti := index(a, t.Server.Name)
		if err := canRestart(a, ti); err != nil {
			return finish(err)
		}
		step, err := o.restartOne(ctx, a, ti, logf)
		r.Steps = append(r.Steps, step)
		if err != nil {
			return finish(err)
		}
		done[t.Server.Name] = true
		if len(done) < len(o.Servers) && !sleepCtx(ctx, o.Pause) {
			return finish(ctx.Err())
		}
	}
	return finish(nil)
}

func index(a Assessment, name string) int {
	for i, o := range a.Observations {
		if o.Server.Name == name {
			return i
		}
	}
	return -1
}

func (o RollOptions) restartOne(ctx context.Context, a Assessment, ti int, logf func(string, ...any)) (RollStep, error) {
	t := a.Observations[ti]
	target := Target{Server: t.Server, MyID: t.MyID}
	goal := a.Observations[a.Leader].Zxid
	step := RollStep{Name: t.Server.Name, MyID: t.MyID, WasLeader: ti == a.Leader, Command: o.Restart.Describe(target)}
	role := t.State()
	logf("restarting %s (%s, zxid %s): %s", t.Server.Name, role, Zxid(t.Zxid), step.Command)

	type result struct {
		out string
		err error
	}
	start := time.Now()
	cmdDone := make(chan result, 1)
	go func() {
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if o.CommandTimeout > 0 {
			cctx, cancel = context.WithTimeout(ctx, o.CommandTimeout)
		}
		defer cancel()
		out, err := o.Restart.Run(cctx, target)
		cmdDone <- result{out, err}
	}()
	finished := false
	seenDown := false
	var last Observation
	deadline := start.Add(o.Timeout)
	for {
		if !finished {
			select {
			case res := <-cmdDone:
				finished = true
				step.Output, step.Took = res.out, seconds(time.Since(start))
				if res.err != nil {
					return step, fmt.Errorf("ops: restarting %s: %w; stopping here", t.Server.Name, res.err)
				}
			default:
			}
		}
		obs := o.Observer.ObserveAll(o.Servers)
		now := Assess(obs)
		last = obs[ti]
		if !last.Serving {
			seenDown = true
		}
		confirmed := ""
		switch {
		case seenDown:
			confirmed = "seen down"
		case last.UptimeMs >= 0 && time.Duration(last.UptimeMs)*time.Millisecond < time.Since(start):
			confirmed = "uptime"
		}
		if finished && confirmed != "" && now.OK() && last.Serving && (last.Voting() || last.Mode == ModeObserver) && (last.Zxid >= goal || now.Synced(ti, 0)) && last.Broadcasting() {
			step.Back, step.Confirmed = secondsPtr(time.Since(start)), confirmed
			step.Mode, step.Zxid = last.Mode, Zxid(last.Zxid)
			if now.Leaders == 1 {
				step.Leader = now.Observations[now.Leader].Server.Name
			}
			logf("%s is back: %s, zxid %s, %v after the restart began (restart %s); leader %s", t.Server.Name, last.Mode, Zxid(last.Zxid), *step.Back, confirmed, step.Leader)
			return step, nil
		}
		if time.Now().After(deadline) {
			state := last.State()
			if last.Problem != "" {
				state += " (" + last.Problem + ")"
			} else if last.Serving {
				state += ", zxid " + Zxid(last.Zxid) + ", peer state " + last.PeerState
			}
			why := ""
			switch {
			case !finished:
				why = "the restart command has not returned"
			case confirmed == "":
				why = "it was never seen stopping and mntr's uptime is unknown, so the restart cannot be told from no restart"
			case !now.OK():
				why = "the ensemble: " + strings.Join(now.Problems, "; ")
			case last.Serving && last.Zxid < goal:
				why = fmt.Sprintf("its zxid has not reached the leader's %s of before the restart, nor the leader's present one", Zxid(goal))
			default:
				why = "it does not serve synced"
			}
			return step, fmt.Errorf("ops: %s not back and synced within %v of the restart (%s; last seen: %s); stopping here, the servers after it are not restarted", t.Server.Name, o.Timeout, why, state)
		}
		if !sleepCtx(ctx, o.Poll) {
			return step, ctx.Err()
		}
	}
}

// WriteText prints the report for people.
func (r *RollReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "order: %s\n", strings.Join(r.Plan, ", "))
	for _, s := range r.Steps {
		role := "follower"
		if s.WasLeader {
			role = "leader"
		}
		if s.Back != nil {
			fmt.Fprintf(w, "%s (was %s): back as %s at zxid %s after %v (command took %v; restart %s); leader %s\n", s.Name, role, s.Mode, s.Zxid, *s.Back, s.Took, s.Confirmed, s.Leader)
		} else {
			fmt.Fprintf(w, "%s (was %s): NOT BACK\n", s.Name, role)
		}
	}
	switch {
	case r.Stopped != "":
		fmt.Fprintf(w, "STOPPED: %s\n", r.Stopped)
	case r.DryRun:
		fmt.Fprintln(w, "dry run: nothing was restarted")
	default:
		fmt.Fprintf(w, "done: %d servers restarted\n", len(r.Steps))
	}
}
