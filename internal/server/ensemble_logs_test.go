package server

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

// The ports of this file's ensemble tests (internal/server's 28150-28199).
var logPorts = &launch.Ports{Low: 28150, High: 28199}

const roundMsg = "election: round decided"

// checkRound checks a round line: the outcome, and the counted votes, a
// quorum of them for the elected leader (the others are what the rest
// last proposed).
func checkRound(t *testing.T, m *member, r logRec, leader int64, state string) int64 {
	t.Helper()
	if r.level.String() != "INFO" || r.attrs["leader"] != strconv.FormatInt(leader, 10) || r.attrs["state"] != state {
		t.Errorf("server %d: round line %s; want INFO leader=%d state=%s", m.id, r, leader, state)
	}
	if _, err := strconv.ParseInt(r.attrs["elapsed_ms"], 10, 64); err != nil {
		t.Errorf("server %d: elapsed_ms %q", m.id, r.attrs["elapsed_ms"])
	}
	round, err := strconv.ParseInt(r.attrs["round"], 10, 64)
	if err != nil || round < 1 {
		t.Errorf("server %d: round %q", m.id, r.attrs["round"])
	}
	if !strings.HasPrefix(r.attrs["leader_zxid"], "0x") || r.attrs["leader_epoch"] == "" {
		t.Errorf("server %d: elected vote leader_zxid=%q leader_epoch=%q", m.id, r.attrs["leader_zxid"], r.attrs["leader_epoch"])
	}
	votes, agree := 0, 0
	for k, v := range r.attrs {
		sid, field, ok := strings.Cut(strings.TrimPrefix(k, "votes."), ".")
		if !ok || !strings.HasPrefix(k, "votes.") || field != "leader" {
			continue
		}
		votes++
		if v == strconv.FormatInt(leader, 10) {
			agree++
		}
		for _, f := range []string{"zxid", "peer_epoch", "round", "state"} {
			if r.attrs["votes."+sid+"."+f] == "" {
				t.Errorf("server %d: vote of %s has no %s: %s", m.id, sid, f, r)
			}
		}
	}
	if agree < 2 || votes > 3 {
		t.Errorf("server %d: %d of %d counted votes for the leader, want a quorum of 3 (2 or more): %s", m.id, agree, votes, r)
	}
	return round
}

// TestEnsembleLogsOneLinePerElectionRound: each server that leaves
// LOOKING logs one INFO line with the round, the votes it counted (sid ->
// proposed leader, zxid, peer epoch) and the outcome; a new round after the
// leader's loss logs one more.
func TestEnsembleLogsOneLinePerElectionRound(t *testing.T) {
	ms := startEnsembleOn(t, 3, logPorts, true)
	leader := waitModes(t, ms)
	rounds := map[int64]int64{}
	for _, m := range ms {
		state := "FOLLOWING"
		if m == leader {
			state = "LEADING"
		}
		r := m.logs.wait(t, 5*time.Second, roundMsg, nil)
		rounds[m.id] = checkRound(t, m, r, leader.id, state)
		if n := len(m.logs.matching(roundMsg, nil)); n != 1 {
			t.Errorf("server %d: %d round lines for one election:\n%s", m.id, n, m.logs.dump())
		}
	}

	leader.stop()
	newLeader := waitModes(t, ms)
	for _, m := range ms {
		if m.srv == nil {
			continue
		}
		state := "FOLLOWING"
		if m == newLeader {
			state = "LEADING"
		}
		r := m.logs.wait(t, 5*time.Second, roundMsg, func(r logRec) bool { return r.attrs["leader"] == strconv.FormatInt(newLeader.id, 10) })
		if round := checkRound(t, m, r, newLeader.id, state); round <= rounds[m.id] {
			t.Errorf("server %d: the second round is numbered %d, the first %d", m.id, round, rounds[m.id])
		}
		if n := len(m.logs.matching(roundMsg, nil)); n != 2 {
			t.Errorf("server %d: %d round lines for two elections:\n%s", m.id, n, m.logs.dump())
		}
		if len(m.logs.matching("ensemble: looking for a leader", nil)) < 1 {
			t.Errorf("server %d: no line when it started looking again", m.id)
		}
	}
}
