package zab

import (
	"fmt"
	"strings"
	"testing"
)

// newTestLearner returns a peer (myid 1) that has elected 3 as leader and
// registered with it: FOLLOWERINFO is out, LEADERINFO not yet in.
func newTestLearner(t *testing.T, last int64, history []Entry) *Peer {
	t.Helper()
	p, err := NewPeer(PeerConfig{Config: Config{ID: 1, LastZxid: last, CurrentEpoch: EpochOf(last), AcceptedEpoch: EpochOf(last), CurrentEpochTmp: -1},
		Voters: []int64{1, 2, 3}, History: history, TickTime: 4, InitLimit: 5, SyncLimit: 3, FinalizeWait: 2, MaxNotificationInterval: 16})
	if err != nil {
		t.Fatal(err)
	}
	// Votes for 3 from 2 and 3 end the round.
	for _, from := range []int64{2, 3} {
		p.StepNotification(Notification{From: from, To: 1, State: Looking, Vote: Vote{Leader: 3, Zxid: last, PeerEpoch: EpochOf(last)},
			ElectionEpoch: 1, Version: NotificationVersion})
	}
	for range 3 {
		p.Tick()
	}
	if p.Role() != Following || p.Leader() != 3 {
		t.Fatalf("peer is %s of %d, want FOLLOWING 3", p.Role(), p.Leader())
	}
	drain(p)
	return p
}

func drain(p *Peer) PeerReady {
	var all PeerReady
	all.AcceptedEpoch, all.CurrentEpoch, all.Truncate = -1, -1, -1
	for p.HasReady() {
		rd := p.Ready()
		if rd.AcceptedEpoch >= 0 {
			all.AcceptedEpoch = rd.AcceptedEpoch
		}
		if rd.CurrentEpoch >= 0 {
			all.CurrentEpoch = rd.CurrentEpoch
		}
		if rd.Truncate >= 0 {
			all.Truncate = rd.Truncate
		}
		if rd.Snapshot != nil {
			all.Snapshot = rd.Snapshot
		}
		all.Entries = append(all.Entries, rd.Entries...)
		all.Committed = append(all.Committed, rd.Committed...)
		all.Messages = append(all.Messages, rd.Messages...)
		p.Advance()
	}
	return all
}

func hasMessage(rd PeerReady, t MessageType, zxid int64) bool {
	for _, m := range rd.Messages {
		if m.Type == t && m.Zxid == zxid {
			return true
		}
	}
	return false
}

// TestNewLeaderEpochAfterTheLogIsDurable, ZOOKEEPER-4646: "Committed txns
// may be improperly truncated if follower crashes right after updating
// currentEpoch but before persisting txns to disk." The learner writes
// currentEpoch, and acks NEWLEADER, only after the proposals it logs with
// NEWLEADER are durable.
func TestNewLeaderEpochAfterTheLogIsDurable(t *testing.T) {
	p := newTestLearner(t, MakeZxid(1, 2), []Entry{{Zxid: MakeZxid(1, 1)}, {Zxid: MakeZxid(1, 2)}})
	leader := func(m Message) {
		m.From, m.To = 3, 1
		if err := p.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	leader(Message{Type: MsgLeaderInfo, Zxid: MakeZxid(2, 0)})
	if rd := drain(p); rd.AcceptedEpoch != 2 || !hasMessage(rd, MsgAckEpoch, MakeZxid(1, 2)) {
		t.Fatalf("after LEADERINFO: %+v", rd)
	}
	leader(Message{Type: MsgDiff, Zxid: MakeZxid(1, 4)})
	leader(Message{Type: MsgProposal, Zxid: MakeZxid(1, 3), Data: []byte("t3")})
	leader(Message{Type: MsgCommit, Zxid: MakeZxid(1, 3)})
	leader(Message{Type: MsgProposal, Zxid: MakeZxid(1, 4), Data: []byte("t4")})
	leader(Message{Type: MsgCommit, Zxid: MakeZxid(1, 4)})
	leader(Message{Type: MsgNewLeader, Zxid: MakeZxid(2, 0)})
	rd := drain(p)
	if len(rd.Entries) != 2 {
		t.Fatalf("NEWLEADER logged %d held proposals, want 2", len(rd.Entries))
	}
	if rd.CurrentEpoch >= 0 || hasMessage(rd, MsgAck, MakeZxid(2, 0)) {
		t.Fatalf("currentEpoch written (%d) or NEWLEADER acked before the proposals are durable", rd.CurrentEpoch)
	}
	p.Step(Message{Type: MsgPersisted, Zxid: MakeZxid(1, 3)})
	if rd := drain(p); rd.CurrentEpoch >= 0 || hasMessage(rd, MsgAck, MakeZxid(2, 0)) {
		t.Fatalf("currentEpoch or the ACK with only part of the log durable: %+v", rd)
	}
	p.Step(Message{Type: MsgPersisted, Zxid: MakeZxid(1, 4)})
	if rd := drain(p); rd.CurrentEpoch != 2 || !hasMessage(rd, MsgAck, MakeZxid(2, 0)) {
		t.Fatalf("once durable: currentEpoch %d, messages %v", rd.CurrentEpoch, rd.Messages)
	}
	// The commits held since DIFF apply after UPTODATE, in order.
	leader(Message{Type: MsgUpToDate, Zxid: -1})
	rd = drain(p)
	if len(rd.Committed) != 2 || rd.Committed[0].Zxid != MakeZxid(1, 3) || !p.Serving() {
		t.Fatalf("after UPTODATE: committed %v, serving %v", rd.Committed, p.Serving())
	}
}

// TestTruncInsideSnapshotDiscardsData: a TRUNC below the snapshot a
// learner's state starts from cannot be carried out by cutting the log;
// the learner discards its data (an empty snapshot) and registers again.
func TestTruncInsideSnapshotDiscardsData(t *testing.T) {
	p, err := NewPeer(PeerConfig{Config: Config{ID: 1, LastZxid: MakeZxid(1, 9), CurrentEpoch: 1, AcceptedEpoch: 1, CurrentEpochTmp: -1},
		Voters: []int64{1, 2, 3}, HistoryBase: MakeZxid(1, 8), History: []Entry{{Zxid: MakeZxid(1, 9)}},
		TickTime: 4, InitLimit: 5, SyncLimit: 3, FinalizeWait: 2, MaxNotificationInterval: 16})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{2, 3} {
		p.StepNotification(Notification{From: from, To: 1, State: Looking, Vote: Vote{Leader: 3, Zxid: MakeZxid(1, 9), PeerEpoch: 1},
			ElectionEpoch: 1, Version: NotificationVersion})
	}
	for range 3 {
		p.Tick()
	}
	drain(p)
	p.Step(Message{Type: MsgLeaderInfo, From: 3, To: 1, Zxid: MakeZxid(2, 0)})
	drain(p)
	p.Step(Message{Type: MsgTrunc, From: 3, To: 1, Zxid: MakeZxid(1, 5)})
	rd := drain(p)
	if rd.Snapshot == nil || rd.Snapshot.Zxid != 0 || rd.Truncate >= 0 {
		t.Fatalf("TRUNC below the snapshot 0x%x: snapshot %+v, truncate 0x%x", MakeZxid(1, 8), rd.Snapshot, rd.Truncate)
	}
	if p.LastLogged() != 0 || p.Role() == Following && p.Leader() == 3 && p.Serving() {
		t.Fatalf("after discarding: last logged 0x%x, %s", uint64(p.LastLogged()), p.Role())
	}
}

// TestLeaderTakesAFollowerNotInItsConfig: servers added to a static config
// join the running leader before a rolling restart gives it the new config.
// Apache's LearnerHandler takes such a follower ("not in the current
// config"): it is synced and gets the broadcast, and its ACKs do not count
// toward a quorum (zk_synced_non_voting_followers counts it).
func TestLeaderTakesAFollowerNotInItsConfig(t *testing.T) {
	p, learner := newTestLeader(t)
	learner(4, Message{Type: MsgFollowerInfo})
	if rd := drain(p); hasMessage(rd, MsgDisconnected, 0) || hasMessage(rd, MsgLeaderInfo, MakeZxid(1, 0)) {
		t.Fatalf("a non-voter alone must neither be refused nor set the epoch: %+v", rd.Messages)
	}
	learner(2, Message{Type: MsgFollowerInfo})
	rd := drain(p)
	epoch := int64(1)
	for _, sid := range []int64{2, 4} {
		if !hasMessageTo(rd, MsgLeaderInfo, sid) {
			t.Fatalf("no LEADERINFO to %d: %+v", sid, rd.Messages)
		}
		learner(sid, Message{Type: MsgAckEpoch, Zxid: 0, Epoch: 0})
	}
	rd = drain(p)
	for _, sid := range []int64{2, 4} {
		if !hasMessageTo(rd, MsgNewLeader, sid) {
			t.Fatalf("no NEWLEADER to %d: %+v", sid, rd.Messages)
		}
		learner(sid, Message{Type: MsgAck, Zxid: MakeZxid(epoch, 0)})
	}
	rd = drain(p)
	if !hasMessageTo(rd, MsgUpToDate, 4) {
		t.Fatalf("no UPTODATE to 4: %+v", rd.Messages)
	}
	f, _ := p.LeaderFigures()
	if f.QuorumSize != 3 || f.SyncedFollowers != 2 || f.SyncedNonVotingFollowers != 1 {
		t.Errorf("figures %+v, want quorum size 3, 2 synced followers, 1 of them non-voting", f)
	}

	zxid, err := p.NextZxid()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Propose(Entry{Type: EntryTxn, Zxid: zxid}); err != nil {
		t.Fatal(err)
	}
	rd = drain(p)
	if !hasMessageTo(rd, MsgProposal, 4) {
		t.Fatalf("no PROPOSAL to the non-voter: %+v", rd.Messages)
	}
	learner(3, Message{Type: MsgPersisted, Zxid: zxid})
	learner(4, Message{Type: MsgAck, Zxid: zxid})
	if rd := drain(p); len(rd.Committed) > 0 || p.Committed() == zxid {
		t.Fatalf("committed with the leader's and a non-voter's ACK: %+v", rd)
	}
	learner(2, Message{Type: MsgAck, Zxid: zxid})
	if rd := drain(p); p.Committed() != zxid || !hasMessageTo(rd, MsgCommit, 4) {
		t.Fatalf("a voter's ACK did not commit 0x%x for everyone: committed 0x%x, %+v", zxid, p.Committed(), rd.Messages)
	}
}

// newTestLeader returns a peer (myid 3) that 1 and 2 elected, LEADING with
// no learner registered yet, and a function that steps a message from a
// learner into it.
func newTestLeader(t *testing.T) (*Peer, func(from int64, m Message)) {
	t.Helper()
	p, err := NewPeer(PeerConfig{Config: Config{ID: 3, CurrentEpochTmp: -1},
		Voters: []int64{1, 2, 3}, TickTime: 4, InitLimit: 5, SyncLimit: 3, FinalizeWait: 2, MaxNotificationInterval: 16})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{1, 2} {
		p.StepNotification(Notification{From: from, To: 3, State: Looking, Vote: Vote{Leader: 3}, ElectionEpoch: 1, Version: NotificationVersion})
	}
	for range 3 {
		p.Tick()
	}
	if p.Role() != Leading {
		t.Fatalf("peer is %s, want LEADING", p.Role())
	}
	drain(p)
	return p, func(from int64, m Message) {
		t.Helper()
		m.From, m.To = from, 3
		if err := p.Step(m); err != nil {
			t.Fatal(err)
		}
	}
}

func hasMessageTo(rd PeerReady, t MessageType, to int64) bool {
	for _, m := range rd.Messages {
		if m.Type == t && m.To == to {
			return true
		}
	}
	return false
}

// TestNoPingBeforeTheSync: a learner that registered with a running leader
// gets no PING before its DIFF, TRUNC or SNAP. An Apache learner reads the
// packet after LEADERINFO as the sync and exits its JVM on anything else
// (seen with a slow old leader coming back to a zkd leader).
func TestNoPingBeforeTheSync(t *testing.T) {
	p, learner := newTestLeader(t)
	learner(2, Message{Type: MsgFollowerInfo})
	drain(p)
	learner(2, Message{Type: MsgAckEpoch})
	drain(p)
	learner(2, Message{Type: MsgAck, Zxid: MakeZxid(1, 0)})
	drain(p)
	if !p.Serving() {
		t.Fatal("the leader does not broadcast with 2 of 3")
	}
	learner(1, Message{Type: MsgFollowerInfo})
	drain(p)
	var rd PeerReady
	for range 6 { // three PING rounds, within initLimit+syncLimit
		p.Tick()
		learner(2, Message{Type: MsgPing})
		r := drain(p)
		rd.Messages = append(rd.Messages, r.Messages...)
	}
	if hasMessageTo(rd, MsgPing, 1) {
		t.Errorf("PING to a learner before its sync: %+v", rd.Messages)
	}
	if !hasMessageTo(rd, MsgPing, 2) {
		t.Errorf("no PING to the synced learner 2: %+v", rd.Messages)
	}
}

// TestLateLearnerGetsInflightProposalsAfterNewLeader, ZOOKEEPER-4394:
// "NullPointerException when follower receives COMMIT after replying
// NEWLEADER ack". An Apache 3.8 learner drops the proposals it holds once
// it logged them at NEWLEADER, and a COMMIT after NEWLEADER with no
// PROPOSAL after it fails its sync. A learner that joins a running leader
// with a proposal in flight gets that PROPOSAL after NEWLEADER, and its
// COMMIT after that.
func TestLateLearnerGetsInflightProposalsAfterNewLeader(t *testing.T) {
	last := MakeZxid(1, 2)
	history := []Entry{{Zxid: MakeZxid(1, 1)}, {Zxid: last}}
	p, err := NewPeer(PeerConfig{Config: Config{ID: 3, LastZxid: last, CurrentEpoch: 1, AcceptedEpoch: 1, CurrentEpochTmp: -1},
		Voters: []int64{1, 2, 3}, History: history, TickTime: 4, InitLimit: 5, SyncLimit: 3, FinalizeWait: 2, MaxNotificationInterval: 16})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{1, 2} {
		p.StepNotification(Notification{From: from, To: 3, State: Looking, Vote: Vote{Leader: 3, Zxid: last, PeerEpoch: 1},
			ElectionEpoch: 1, Version: NotificationVersion})
	}
	for range 3 {
		p.Tick()
	}
	if p.Role() != Leading {
		t.Fatalf("peer is %s, want LEADING", p.Role())
	}
	drain(p)
	learner := func(from int64, m Message) {
		t.Helper()
		m.From, m.To = from, 3
		if err := p.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	// Server 2 joins: with the leader a quorum, the new epoch 2 runs.
	learner(2, Message{Type: MsgFollowerInfo, Zxid: MakeZxid(1, 0)})
	learner(2, Message{Type: MsgAckEpoch, Zxid: last, Epoch: 1})
	learner(2, Message{Type: MsgAck, Zxid: MakeZxid(2, 0)})
	drain(p)
	zxid, err := p.NextZxid()
	if err != nil {
		t.Fatalf("the leader does not broadcast: %v", err)
	}
	if err := p.Propose(Entry{Zxid: zxid, Data: []byte("t")}); err != nil {
		t.Fatal(err)
	}
	drain(p) // logged, not yet durable nor acked: in flight
	// Server 1 joins now.
	learner(1, Message{Type: MsgFollowerInfo, Zxid: MakeZxid(1, 0)})
	learner(1, Message{Type: MsgAckEpoch, Zxid: last, Epoch: 1})
	p.Step(Message{Type: MsgPersisted, Zxid: zxid})
	learner(2, Message{Type: MsgAck, Zxid: zxid})
	hex := func(z int64) string { return fmt.Sprintf("0x%x", uint64(z)) }
	var to1 []string
	for _, m := range drain(p).Messages {
		if m.To == 1 && m.Type != MsgPing {
			to1 = append(to1, m.Type.String()+" "+hex(m.Zxid))
		}
	}
	want := []string{"LEADERINFO " + hex(MakeZxid(2, 0)), "DIFF " + hex(last), "NEWLEADER " + hex(MakeZxid(2, 0)),
		"PROPOSAL " + hex(zxid), "COMMIT " + hex(zxid)}
	if strings.Join(to1, ", ") != strings.Join(want, ", ") {
		t.Fatalf("to the late learner: %v\nwant %v", to1, want)
	}
}

// TestSyncAsApacheChooses: a leader picks a learner's sync against
// Apache's lastProcessedZxid (test/drill TestSnapToEmptyLearner runs it
// against Apache). Before a quorum acked NEWLEADER that is the last
// commit; after, at least makeZxid(epoch, 0). An empty learner is never
// diffed from zxid 0 while the leader holds txns: it gets SNAP, carrying
// that zxid. One exactly at the last commit gets an empty DIFF.
func TestSyncAsApacheChooses(t *testing.T) {
	last := MakeZxid(1, 2)
	history := []Entry{{Zxid: MakeZxid(1, 1)}, {Zxid: last}}
	p, err := NewPeer(PeerConfig{Config: Config{ID: 3, LastZxid: last, CurrentEpoch: 1, AcceptedEpoch: 1, CurrentEpochTmp: -1},
		Voters: []int64{1, 2, 3, 4}, History: history, TickTime: 4, InitLimit: 5, SyncLimit: 3, FinalizeWait: 2, MaxNotificationInterval: 16})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{1, 2} {
		p.StepNotification(Notification{From: from, To: 3, State: Looking, Vote: Vote{Leader: 3, Zxid: last, PeerEpoch: 1},
			ElectionEpoch: 1, Version: NotificationVersion})
	}
	for range 3 {
		p.Tick()
	}
	if p.Role() != Leading {
		t.Fatalf("peer is %s, want LEADING", p.Role())
	}
	drain(p)
	learner := func(from int64, m Message) {
		t.Helper()
		m.From, m.To = from, 3
		if err := p.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	hex := func(z int64) string { return fmt.Sprintf("0x%x", uint64(z)) }
	syncs := func() map[int64]string {
		out := map[int64]string{}
		for _, m := range drain(p).Messages {
			if m.Type == MsgDiff || m.Type == MsgTrunc || m.Type == MsgSnap {
				out[m.To] = m.Type.String() + " " + hex(m.Zxid)
			}
		}
		return out
	}
	// Before NEWLEADER's quorum (3 of 4): server 2 at the last commit,
	// server 1 empty.
	learner(2, Message{Type: MsgFollowerInfo, Zxid: MakeZxid(1, 0)})
	learner(1, Message{Type: MsgFollowerInfo, Zxid: MakeZxid(1, 0)})
	learner(2, Message{Type: MsgAckEpoch, Zxid: last, Epoch: 1})
	learner(1, Message{Type: MsgAckEpoch, Zxid: 0, Epoch: 1})
	sent := syncs()
	got := sent[2] + ", " + sent[1]
	if want := "DIFF " + hex(last) + ", SNAP " + hex(last); got != want {
		t.Fatalf("before the quorum: %s; want %s", got, want)
	}
	learner(2, Message{Type: MsgAck, Zxid: MakeZxid(2, 0)})
	learner(1, Message{Type: MsgAck, Zxid: MakeZxid(2, 0)})
	drain(p)
	if !p.Serving() {
		t.Fatal("the leader does not serve after its quorum acked NEWLEADER")
	}
	// After it: an empty server 4 gets SNAP at makeZxid(2, 0).
	learner(4, Message{Type: MsgFollowerInfo, Zxid: MakeZxid(1, 0)})
	learner(4, Message{Type: MsgAckEpoch, Zxid: 0, Epoch: 1})
	if got, want := syncs()[4], "SNAP "+hex(MakeZxid(2, 0)); got != want {
		t.Fatalf("after the quorum: %s; want %s", got, want)
	}
}
