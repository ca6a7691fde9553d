package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
)

// quorumPoll is how often an ensemble's members are asked for their state
// while the benchmark waits for a quorum or a new leader: the resolution of
// the failover's leader time.
const quorumPoll = 5 * time.Millisecond

// cluster is the servers of one role that the benchmark measures together:
// one standalone server, or the members of an ensemble on loopback.
type cluster struct {
	role    string
	members []*serverProcess
}

func (c *cluster) ensemble() bool { return len(c.members) > 1 }

// endpoints are the members' client addresses in myid order: the client
// list every session is given.
func (c *cluster) endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.endpoint()
	}
	return out
}

// pids are the running members' process ids.
func (c *cluster) pids() []int {
	var out []int
	for _, m := range c.members {
		if m.running() {
			out = append(out, m.pid())
		}
	}
	return out
}

// exited names a member that is not running, or is "".
func (c *cluster) exited() string {
	for _, m := range c.members {
		if !m.running() {
			return fmt.Sprintf("%s server %d (log %s)", c.role, m.myid, m.logPath())
		}
	}
	return ""
}

// start execs every member, server 1 first, without waiting.
func (c *cluster) start() error {
	for _, m := range c.members {
		if err := m.start(); err != nil {
			_ = c.stop()
			return err
		}
	}
	return nil
}

// stop stops every member that runs.
func (c *cluster) stop() error {
	var err error
	for _, m := range c.members {
		err = errors.Join(err, m.stop())
	}
	return err
}

// awaitFirstWrite is the time from the first member's exec to the first
// write acknowledged through it (which an ensemble acknowledges only once
// a quorum has elected a leader); an ensemble then waits for every member
// to be in the quorum.
func (c *cluster) awaitFirstWrite(ctx context.Context, within time.Duration) (time.Duration, error) {
	first := c.members[0]
	acked, err := first.awaitFirstWrite(ctx, within)
	if err != nil {
		return 0, err
	}
	if c.ensemble() {
		if _, err := c.awaitQuorum(ctx, within); err != nil {
			return 0, err
		}
	}
	return acked, nil
}

// memberState is one member's srvr and, on a leader, mntr.
type memberState struct {
	serving bool
	mode    string
	// syncedFollowers is the leader's zk_synced_followers (-1 elsewhere).
	syncedFollowers int
}

func (c *cluster) observe(ctx context.Context, m *serverProcess) memberState {
	st := memberState{syncedFollowers: -1}
	if !m.running() {
		return st
	}
	pollCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := srvr(pollCtx, m.endpoint())
	if err != nil {
		return st
	}
	st.serving, st.mode = true, s.mode
	if st.mode == ops.ModeLeader {
		if text, err := launch.FourLetterWord(m.endpoint(), "mntr", time.Second); err == nil {
			if n, err := strconv.Atoi(ops.ParseMntr(text)["zk_synced_followers"]); err == nil {
				st.syncedFollowers = n
			}
		}
	}
	return st
}

// awaitQuorum waits until the whole ensemble is in one quorum: every
// member serves, one leads, and the leader counts every other member as a
// synced follower. It returns the leader.
func (c *cluster) awaitQuorum(ctx context.Context, within time.Duration) (*serverProcess, error) {
	deadline := time.Now().Add(within)
	var last []string
	for {
		if gone := c.exited(); gone != "" {
			return nil, fmt.Errorf("%w: %s", ErrServerExited, gone)
		}
		var leader *serverProcess
		leaders, synced, serving := 0, -1, 0
		last = last[:0]
		for _, m := range c.members {
			st := c.observe(ctx, m)
			if st.serving {
				serving++
			}
			switch {
			case !st.serving:
				last = append(last, fmt.Sprintf("%d: not serving", m.myid))
			case st.mode == ops.ModeLeader:
				leaders++
				leader, synced = m, st.syncedFollowers
				last = append(last, fmt.Sprintf("%d: leader with %d synced followers", m.myid, st.syncedFollowers))
			default:
				last = append(last, fmt.Sprintf("%d: %s", m.myid, st.mode))
			}
		}
		if leaders == 1 && serving == len(c.members) && synced == len(c.members)-1 {
			return leader, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench: %s ensemble not in one quorum within %v (%s); logs in %s",
				c.role, within, strings.Join(last, ", "), filepath.Dir(c.members[0].dir))
		}
		if !sleepCtx(ctx, quorumPoll) {
			return nil, ctx.Err()
		}
	}
}
