package ops

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// An Assessment judges an ensemble from one round of observations.
type Assessment struct {
	Observations []Observation
	// Leader is the index of the server in mode leader (or the one
	// standalone server), -1 for none; Leaders counts the servers that
	// claim to lead (more than one is a split the operator must see).
	Leader  int
	Leaders int
	// Voters is the number of voting servers: those listed that are not
	// observers, or the leader's zk_quorum_size when it says more (servers
	// not listed are then counted as down). Quorum is a majority of them.
	Voters, Quorum int
	// VotingUp counts the listed servers serving as leader or follower.
	VotingUp int
	// Standalone: a single standalone server, no ensemble to judge.
	Standalone bool
	// Problems are the reasons the ensemble has no working quorum.
	Problems []string
}

// Assess judges observations taken together.
func Assess(obs []Observation) Assessment {
	a := Assessment{Observations: obs, Leader: -1}
	listedVoters := 0
	standalone := 0
	for i, o := range obs {
		if !(o.Serving && o.Mode == ModeObserver) {
			listedVoters++
		}
		if o.Voting() {
			a.VotingUp++
		}
		switch {
		case o.Serving && o.Mode == ModeLeader:
			a.Leaders++
			if a.Leader < 0 || o.Zxid > obs[a.Leader].Zxid {
				a.Leader = i
			}
		case o.Serving && o.Mode == ModeStandalone:
			standalone++
		}
	}
	if standalone > 0 {
		if len(obs) == 1 {
			a.Standalone, a.Leader, a.Leaders, a.Voters, a.Quorum, a.VotingUp = true, 0, 1, 1, 1, 1
			return a
		}
		a.Problems = append(a.Problems, fmt.Sprintf("%d of the %d servers listed run standalone, not in an ensemble", standalone, len(obs)))
	}
	a.Voters = listedVoters
	if a.Leader >= 0 && obs[a.Leader].QuorumSize > a.Voters {
		a.Voters = obs[a.Leader].QuorumSize
	}
	a.Quorum = a.Voters/2 + 1
	switch {
	case a.Leaders == 0:
		a.Problems = append(a.Problems, "no leader")
	case a.Leaders > 1:
		a.Problems = append(a.Problems, fmt.Sprintf("%d servers claim to lead", a.Leaders))
	}
	if a.VotingUp < a.Quorum {
		a.Problems = append(a.Problems, fmt.Sprintf("no quorum: %d of %d voting servers serve, %d needed", a.VotingUp, a.Voters, a.Quorum))
	}
	return a
}

// OK: one leader and a quorum of voting servers serving.
func (a Assessment) OK() bool { return len(a.Problems) == 0 }

// Spare is how many more voting servers may stop before the quorum is
// lost (negative when it already is).
func (a Assessment) Spare() int { return a.VotingUp - a.Quorum }

// Lag is how many transactions server i is behind the leader's zxid, with
// ok false when it cannot be told (no leader, the server not serving, or
// its zxid from an epoch after the leader's). A server seen ahead of the
// leader (asked a moment later) has lag 0.
//
// srvr's zxid is the last transaction processed. After an election the
// leader's is the new epoch's first zxid (epoch<<32) while its followers
// still show the last one they applied, from an older epoch, until the
// first write of the new epoch (Apache 3.8 prints 0x100000000 on a fresh
// ensemble's leader, 0x0 on its followers). A server whose zxid is from an
// older epoch is therefore behind by the transactions of the leader's
// epoch: the leader's counter (0 before the first write). What it may
// miss of the older epoch is not visible; mntr's peer state (Synced)
// tells whether its sync with the leader ended.
func (a Assessment) Lag(i int) (lag int64, ok bool) {
	if a.Leader < 0 {
		return 0, false
	}
	o, l := a.Observations[i], a.Observations[a.Leader]
	switch {
	case !o.Serving || o.Epoch() > l.Epoch():
		return 0, false
	case o.Epoch() < l.Epoch():
		return l.Counter(), true
	}
	return max(0, l.Zxid-o.Zxid), true
}

// Synced: server i serves, finished syncing with the leader (mntr's peer
// state, when answered) and is at most maxLag transactions behind (Lag).
func (a Assessment) Synced(i int, maxLag int64) bool {
	lag, ok := a.Lag(i)
	return ok && lag <= maxLag && a.Observations[i].Broadcasting()
}

// Ready: the ensemble is OK and every listed server is synced.
func (a Assessment) Ready(maxLag int64) bool {
	if !a.OK() {
		return false
	}
	for i := range a.Observations {
		if !a.Synced(i, maxLag) {
			return false
		}
	}
	return true
}

// note is the last column of the table.
func (a Assessment) note(i int) string {
	o := a.Observations[i]
	var parts []string
	if o.Problem != "" {
		parts = append(parts, o.Problem)
	}
	if o.PeerState != "" {
		parts = append(parts, o.PeerState)
	}
	if o.Serving && a.Leader >= 0 && i != a.Leader {
		if l := a.Observations[a.Leader]; o.Epoch() < l.Epoch() {
			parts = append(parts, fmt.Sprintf("no transaction of epoch %d applied yet", l.Epoch()))
		} else if o.Epoch() > l.Epoch() {
			parts = append(parts, fmt.Sprintf("epoch %d is after the leader's %d: a stale leader?", o.Epoch(), l.Epoch()))
		}
	}
	if i == a.Leader && o.SyncedFollowers >= 0 {
		parts = append(parts, fmt.Sprintf("synced followers: %d", o.SyncedFollowers))
	}
	return strings.Join(parts, "; ")
}

// WriteTable prints one line per server and a summary.
func (a Assessment) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tADDRESS\tMYID\tMODE\tZXID\tEPOCH\tLAG\tNOTE")
	for i, o := range a.Observations {
		myid := fmt.Sprint(o.MyID)
		if !o.MyIDFromConf {
			myid += "?"
		}
		zxid, epoch, lag := "-", "-", "-"
		if o.Serving {
			zxid, epoch = Zxid(o.Zxid), fmt.Sprint(o.Epoch())
		}
		if n, ok := a.Lag(i); ok {
			lag = fmt.Sprint(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Server.Name, o.Server.Addr, myid, o.State(), zxid, epoch, lag, a.note(i))
	}
	tw.Flush()
	fmt.Fprintln(w, a.Summary())
}

// Summary is one line: the leader and the quorum, or what is wrong.
func (a Assessment) Summary() string {
	if a.Standalone {
		return "standalone server, no ensemble"
	}
	var b strings.Builder
	if a.Leaders == 1 {
		l := a.Observations[a.Leader]
		fmt.Fprintf(&b, "leader %s (myid %d), epoch %d; ", l.Server.Name, l.MyID, l.Epoch())
	}
	fmt.Fprintf(&b, "%d of %d voting servers serve, %d needed for a quorum", a.VotingUp, a.Voters, a.Quorum)
	if a.OK() {
		fmt.Fprintf(&b, "; %d more may stop", a.Spare())
	} else {
		fmt.Fprintf(&b, "; NOT OK: %s", strings.Join(a.Problems, "; "))
	}
	return b.String()
}

// Row is one server in the JSON form of an assessment.
type Row struct {
	Name         string `json:"name"`
	Addr         string `json:"addr"`
	MyID         int64  `json:"myid"`
	MyIDFromConf bool   `json:"myid_from_conf"`
	State        string `json:"state"`
	Zxid         string `json:"zxid,omitempty"`
	Epoch        *int64 `json:"epoch,omitempty"`
	Lag          *int64 `json:"lag,omitempty"`
	PeerState    string `json:"peer_state,omitempty"`
	Problem      string `json:"problem,omitempty"`
}

// Report is the JSON form of an assessment.
type Report struct {
	Servers  []Row    `json:"servers"`
	Leader   string   `json:"leader,omitempty"`
	Voters   int      `json:"voters"`
	Quorum   int      `json:"quorum"`
	VotingUp int      `json:"voting_up"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	// Ready is set by callers that judged readiness.
	Ready *bool `json:"ready,omitempty"`
}

// Report is a's JSON form.
func (a Assessment) Report() Report {
	r := Report{Voters: a.Voters, Quorum: a.Quorum, VotingUp: a.VotingUp, OK: a.OK(), Problems: a.Problems}
	if a.Leaders == 1 {
		r.Leader = a.Observations[a.Leader].Server.Name
	}
	for i, o := range a.Observations {
		row := Row{Name: o.Server.Name, Addr: o.Server.Addr, MyID: o.MyID, MyIDFromConf: o.MyIDFromConf, State: o.State(), PeerState: o.PeerState, Problem: o.Problem}
		if o.Serving {
			e := o.Epoch()
			row.Zxid, row.Epoch = Zxid(o.Zxid), &e
		}
		if n, ok := a.Lag(i); ok {
			row.Lag = &n
		}
		r.Servers = append(r.Servers, row)
	}
	return r
}
