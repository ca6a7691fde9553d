package ops

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Modes srvr prints for a serving server.
const (
	ModeLeader     = "leader"
	ModeFollower   = "follower"
	ModeObserver   = "observer"
	ModeStandalone = "standalone"
)

// notServingText is what Apache (and zkd) answer to srvr, mntr and most
// words while the server has no quorum (LOOKING) or is still starting.
const notServingText = "not currently serving requests"

// An Observation is what one server's four-letter words said at one time.
type Observation struct {
	Server Server
	At     time.Time
	// Reachable: the client port accepted the connection and answered.
	Reachable bool
	// Serving: srvr printed a Mode; Mode and Zxid are then set.
	Serving bool
	Mode    string
	Zxid    int64
	// Problem says why a server is not serving: the dial error, Apache's
	// "not currently serving requests", srvr refused by the whitelist.
	Problem string
	// MyID is conf's serverId when conf answered one (MyIDFromConf), else
	// the server's position in the list.
	MyID         int64
	MyIDFromConf bool
	// From mntr when it answered (empty, -1 otherwise): zk_peer_state
	// ("following - broadcast"), zk_quorum_size, zk_synced_followers,
	// zk_uptime in milliseconds.
	PeerState       string
	QuorumSize      int
	SyncedFollowers int
	UptimeMs        int64
}

// Epoch is the epoch of the server's last zxid (its high 32 bits).
func (o Observation) Epoch() int64 { return int64(uint64(o.Zxid) >> 32) }

// Counter is the zxid's low 32 bits: the transaction's number in its epoch.
func (o Observation) Counter() int64 { return o.Zxid & 0xffffffff }

// Voting: a serving leader or follower (observers and standalone servers
// do not vote in an ensemble).
func (o Observation) Voting() bool {
	return o.Serving && (o.Mode == ModeLeader || o.Mode == ModeFollower)
}

// Broadcasting: mntr's peer state says the server finished syncing with
// its leader ("following - broadcast", "leading - broadcast"); true when
// mntr did not answer, as srvr's mode is then all there is.
func (o Observation) Broadcasting() bool {
	return o.PeerState == "" || strings.HasSuffix(o.PeerState, "- broadcast")
}

// State is the one-word state for tables: the mode, "not serving" or
// "unreachable".
func (o Observation) State() string {
	switch {
	case o.Serving:
		return o.Mode
	case o.Reachable:
		return "not serving"
	}
	return "unreachable"
}

// Observer asks servers for their state.
type Observer struct {
	// Timeout bounds each four-letter word (dial and answer).
	Timeout time.Duration
	// Mntr and Conf ask mntr and conf besides srvr.
	Mntr, Conf bool
}

// FourLetterWord sends word to addr and returns all the server writes
// before it closes the connection.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		return "", err
	}
	return string(b), nil
}

// Observe asks one server.
func (ob Observer) Observe(s Server) Observation {
	timeout := ob.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	o := Observation{Server: s, At: time.Now(), MyID: int64(s.Index), QuorumSize: -1, SyncedFollowers: -1, UptimeMs: -1}
	text, err := FourLetterWord(s.Addr, "srvr", timeout)
	if err != nil {
		o.Problem = err.Error()
		return o
	}
	o.Reachable = true
	srvr, err := ParseSrvr(text)
	if err != nil {
		o.Problem = err.Error()
		return o
	}
	o.Serving, o.Mode, o.Zxid = true, srvr.Mode, srvr.Zxid
	if ob.Mntr {
		if text, err := FourLetterWord(s.Addr, "mntr", timeout); err == nil {
			m := ParseMntr(text)
			o.PeerState = m["zk_peer_state"]
			o.QuorumSize = atoiOr(m["zk_quorum_size"], -1)
			o.SyncedFollowers = atoiOr(m["zk_synced_followers"], -1)
			if up, err := strconv.ParseInt(m["zk_uptime"], 10, 64); err == nil {
				o.UptimeMs = up
			}
		}
	}
	if ob.Conf {
		if text, err := FourLetterWord(s.Addr, "conf", timeout); err == nil {
			if id, ok := ParseConfServerID(text); ok {
				o.MyID, o.MyIDFromConf = id, true
			}
		}
	}
	return o
}

// ObserveAll asks every server at once and returns the observations in
// the servers' order.
func (ob Observer) ObserveAll(servers []Server) []Observation {
	out := make([]Observation, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { out[i] = ob.Observe(s) })
	}
	wg.Wait()
	return out
}

// Srvr is what zkd reads of srvr's answer.
type Srvr struct {
	Version string
	Mode    string
	Zxid    int64
}

// ParseSrvr reads srvr's answer as Apache prints it ("Zxid: 0x...",
// "Mode: leader"). A server without a quorum, a refusing whitelist or a
// reply without Mode is an error saying so.
func ParseSrvr(text string) (Srvr, error) {
	var s Srvr
	var haveMode, haveZxid bool
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Zookeeper version: "):
			s.Version, _, _ = strings.Cut(strings.TrimPrefix(line, "Zookeeper version: "), ",")
		case strings.HasPrefix(line, "Mode: "):
			s.Mode, haveMode = strings.TrimPrefix(line, "Mode: "), true
		case strings.HasPrefix(line, "Zxid: "):
			v := strings.TrimPrefix(line, "Zxid: ")
			z, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X"), 16, 64)
			if err != nil {
				return s, fmt.Errorf("srvr: bad zxid %q", v)
			}
			s.Zxid, haveZxid = int64(z), true
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	switch {
	case strings.Contains(text, notServingText):
		return s, fmt.Errorf("%s (no quorum, or starting)", notServingText)
	case strings.Contains(text, "not in the whitelist"):
		return s, fmt.Errorf("srvr is not in 4lw.commands.whitelist")
	case !haveMode || !haveZxid:
		if first == "" {
			return s, fmt.Errorf("srvr: empty answer")
		}
		return s, fmt.Errorf("srvr: no Mode and Zxid in %q", first)
	}
	return s, nil
}

// ParseMntr reads mntr's "zk_key<TAB>value" lines.
func ParseMntr(text string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "\t")
		if ok && strings.HasPrefix(k, "zk_") {
			m[k] = v
		}
	}
	return m
}

// ParseConfServerID finds conf's serverId=N; 0 (standalone) is not an id.
func ParseConfServerID(text string) (int64, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "serverId="); ok {
			id, err := strconv.ParseInt(v, 10, 64)
			return id, err == nil && id > 0
		}
	}
	return 0, false
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// Zxid prints a zxid as ZooKeeper does.
func Zxid(z int64) string { return fmt.Sprintf("0x%x", uint64(z)) }
