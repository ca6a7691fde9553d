package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/ops"
)

// failoverPath is the znode the failover writers overwrite.
const failoverPath = benchRoot + "/failover"

// failoverTimeout bounds the wait for a new leader and an acknowledged
// write after a kill, and for the killed server back in the quorum.
const failoverTimeout = 2 * time.Minute

// FailoverRound is one kill -9 of an ensemble's leader with writers running.
type FailoverRound struct {
	System string `json:"system"`
	Round  int    `json:"round"`
	// Killed is the myid of the leader killed, NewLeader that of the
	// survivor srvr first showed leading.
	Killed    int `json:"killed_myid"`
	NewLeader int `json:"new_leader_myid"`
	// WriteMS is from the SIGKILL to the acknowledgement of the first write
	// issued after it, by any writer: when clients can write again.
	WriteMS float64 `json:"write_ms"`
	// LeaderMS is from the SIGKILL to the first srvr poll (every 5 ms) that
	// showed a surviving member leading.
	LeaderMS float64 `json:"leader_ms"`
	// RejoinMS is from the exec of the killed server to the ensemble whole
	// again: every member serving, the leader counting all others as synced
	// followers (mntr's zk_synced_followers).
	RejoinMS float64 `json:"rejoin_ms"`
	// AckedBeforeKill counts the writes acknowledged before the kill;
	// FailedWrites those that failed during the round (in flight at the kill
	// or issued before the client saw its connection gone).
	AckedBeforeKill int64 `json:"acked_before_kill"`
	FailedWrites    int64 `json:"failed_writes"`
}

// FailoverReport pairs the rounds of both ensembles.
type FailoverReport struct {
	Rounds []FailoverRound `json:"rounds"`
	// Writers is the number of writing sessions, one starting on each
	// member.
	Writers          int    `json:"writers"`
	ZkdWriteMS       Spread `json:"zkd_write_ms"`
	ZooKeeperWriteMS Spread `json:"zookeeper_write_ms"`
	WriteRatio       Spread `json:"write_ratio"`

	ZkdLeaderMS       Spread `json:"zkd_leader_ms"`
	ZooKeeperLeaderMS Spread `json:"zookeeper_leader_ms"`
	LeaderRatio       Spread `json:"leader_ratio"`

	ZkdRejoinMS       Spread `json:"zkd_rejoin_ms"`
	ZooKeeperRejoinMS Spread `json:"zookeeper_rejoin_ms"`
	RejoinRatio       Spread `json:"rejoin_ratio"`
}

// summarizeFailover pairs round r of zkd with round r of ZooKeeper.
func summarizeFailover(rounds []FailoverRound, writers int) *FailoverReport {
	byRole := map[string]map[int]FailoverRound{roleZkd: {}, roleZooKeeper: {}}
	for _, r := range rounds {
		byRole[r.System][r.Round] = r
	}
	var write, leader, rejoin [2][]float64 // [0] zkd, [1] ZooKeeper, paired by round
	for r := range len(rounds) {
		z, okZ := byRole[roleZkd][r]
		k, okK := byRole[roleZooKeeper][r]
		if !okZ || !okK {
			continue
		}
		for i, x := range []FailoverRound{z, k} {
			write[i] = append(write[i], x.WriteMS)
			leader[i] = append(leader[i], x.LeaderMS)
			rejoin[i] = append(rejoin[i], x.RejoinMS)
		}
	}
	return &FailoverReport{
		Rounds: rounds, Writers: writers,
		ZkdWriteMS: spreadOf(write[0]), ZooKeeperWriteMS: spreadOf(write[1]), WriteRatio: spreadOf(ratios(write[0], write[1])),
		ZkdLeaderMS: spreadOf(leader[0]), ZooKeeperLeaderMS: spreadOf(leader[1]), LeaderRatio: spreadOf(ratios(leader[0], leader[1])),
		ZkdRejoinMS: spreadOf(rejoin[0]), ZooKeeperRejoinMS: spreadOf(rejoin[1]), RejoinRatio: spreadOf(ratios(rejoin[0], rejoin[1])),
	}
}

// failoverPhase kills each ensemble's leader Failovers times, the
// ensembles alternating round by round.
func (c *comparison) failoverPhase(ctx context.Context, clusters map[string]*cluster) error {
	var rounds []FailoverRound
	for r := range c.cfg.Failovers {
		for _, role := range order(r%2 == 1) {
			round, err := c.failover(ctx, clusters[role], r)
			if err != nil {
				return fmt.Errorf("%s failover %d: %w", role, r+1, err)
			}
			c.logf("failover %d/%d %-9s kill -9 of leader %d → leader %d seen %7.1f ms, first write acknowledged %7.1f ms; back in the quorum %7.1f ms after its restart",
				r+1, c.cfg.Failovers, role, round.Killed, round.NewLeader, round.LeaderMS, round.WriteMS, round.RejoinMS)
			rounds = append(rounds, round)
		}
	}
	c.report.Failover = summarizeFailover(rounds, c.cfg.Ensemble)
	return nil
}

// failover is one round: writers on every member, kill -9 of the leader,
// the time to a new leader and to the first write acknowledged after the
// kill, then the killed server restarted and waited for in the quorum.
func (c *comparison) failover(ctx context.Context, cl *cluster, r int) (FailoverRound, error) {
	round := FailoverRound{System: cl.role, Round: r}
	leader, err := cl.awaitQuorum(ctx, failoverTimeout)
	if err != nil {
		return round, err
	}
	round.Killed = leader.myid

	w, err := startFailoverWriters(ctx, cl.endpoints(), payload(c.cfg.ValueSize, 3))
	if err != nil {
		return round, err
	}
	defer w.close()
	if !sleepCtx(ctx, c.cfg.FailoverWarmup) {
		return round, ctx.Err()
	}
	if w.ackedCount() == 0 {
		return round, fmt.Errorf("bench: no write acknowledged in the %v before the kill (%v)", c.cfg.FailoverWarmup, w.lastError())
	}
	// The leader may have changed since it was found; kill the one leading now.
	if st := cl.observe(ctx, leader); st.mode != ops.ModeLeader {
		return round, fmt.Errorf("bench: server %d no longer leads (%q) before the kill", leader.myid, st.mode)
	}

	killAt := w.markKill()
	if err := leader.kill(); err != nil {
		return round, err
	}
	var leaderAt time.Time
	deadline := killAt.Add(failoverTimeout)
	for {
		if leaderAt.IsZero() {
			for _, m := range cl.members {
				if m == leader {
					continue
				}
				if st := cl.observe(ctx, m); st.mode == ops.ModeLeader {
					leaderAt, round.NewLeader = time.Now(), m.myid
					break
				}
			}
		}
		ack, acked := w.firstAckAfterKill()
		if !leaderAt.IsZero() && acked {
			round.LeaderMS = ms(leaderAt.Sub(killAt))
			round.WriteMS = ms(ack.Sub(killAt))
			break
		}
		if time.Now().After(deadline) {
			return round, fmt.Errorf("bench: %v after the kill of leader %d: new leader seen %v, write acknowledged %v (last error: %v)",
				failoverTimeout, leader.myid, !leaderAt.IsZero(), acked, w.lastError())
		}
		if !sleepCtx(ctx, quorumPoll) {
			return round, ctx.Err()
		}
	}
	round.AckedBeforeKill, round.FailedWrites = w.counts()
	w.close()

	if err := leader.start(); err != nil {
		return round, err
	}
	if _, err := cl.awaitQuorum(ctx, failoverTimeout); err != nil {
		return round, fmt.Errorf("server %d restarted: %w", leader.myid, err)
	}
	round.RejoinMS = ms(time.Since(leader.proc.Started()))
	return round, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// failoverWriters are sessions that overwrite failoverPath one request at
// a time each, session i starting on member i, and remember the first
// acknowledgement of a write issued after the kill.
type failoverWriters struct {
	conns  []*zk.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu              sync.Mutex
	killAt          time.Time // zero before the kill
	firstAck        time.Time // of a write issued at or after killAt
	acked, failed   int64
	ackedBeforeKill int64
	lastErr         error
}

func startFailoverWriters(ctx context.Context, endpoints []string, value []byte) (*failoverWriters, error) {
	conns, err := openSessions(ctx, endpoints, len(endpoints), DefaultConfig().SessionTimeout)
	if err != nil {
		return nil, err
	}
	if err := ensurePath(conns[0], failoverPath); err != nil {
		closeSessions(conns)
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &failoverWriters{conns: conns, cancel: cancel}
	for _, conn := range conns {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for wctx.Err() == nil {
				issued := time.Now()
				_, err := conn.Set(failoverPath, value, -1)
				w.record(issued, time.Now(), err)
				if err != nil {
					sleepCtx(wctx, time.Millisecond)
				}
			}
		}()
	}
	return w, nil
}

func (w *failoverWriters) record(issued, done time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if !errors.Is(err, zk.ErrClosing) {
			w.failed++
			w.lastErr = err
		}
		return
	}
	w.acked++
	if w.killAt.IsZero() {
		w.ackedBeforeKill++
		return
	}
	if !issued.Before(w.killAt) && (w.firstAck.IsZero() || done.Before(w.firstAck)) {
		w.firstAck = done
	}
}

// markKill notes the time of the kill, taken just before the signal.
func (w *failoverWriters) markKill() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.killAt = time.Now()
	w.failed = 0
	return w.killAt
}

func (w *failoverWriters) firstAckAfterKill() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstAck, !w.firstAck.IsZero()
}

func (w *failoverWriters) ackedCount() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

func (w *failoverWriters) counts() (ackedBeforeKill, failed int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ackedBeforeKill, w.failed
}

func (w *failoverWriters) lastError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// close stops the writers and closes their sessions (which ends a write
// still waiting).
func (w *failoverWriters) close() {
	w.once.Do(func() {
		w.cancel()
		closeSessions(w.conns)
		w.wg.Wait()
	})
}
