package admin

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// telnetClose is the telnet interrupt sequence ZooKeeper lists among the words.
const telnetClose = 0xfff4fffd

// IsFourLetterWord reports whether the first four bytes of a client
// connection ask for a four-letter word (ZooKeeper's list, telnet's
// interrupt sequence included) rather than announce a packet length.
func IsFourLetterWord(first4 string) bool {
	if len(first4) != 4 {
		return false
	}
	return fourLetterWords[first4] || binary.BigEndian.Uint32([]byte(first4)) == telnetClose
}

var fourLetterWords = map[string]bool{
	"ruok": true, "isro": true, "srvr": true, "stat": true, "conf": true, "cons": true, "crst": true,
	"srst": true, "dirs": true, "dump": true, "envi": true, "wchs": true, "wchc": true, "wchp": true,
	"mntr": true, "hash": true, "gtmk": true, "stmk": true,
}

const notServingText = "This ZooKeeper instance is not currently serving requests"

func (a *Admin) whitelisted(word string) bool {
	return a.cfg.AllFourLetterWords || a.cfg.FourLetterWords[word]
}

// FourLetter answers a four-letter word with the text ZooKeeper writes
// before it closes the connection; nil means close without a word. stmk
// reads its 8-byte mask from rest, the rest of the connection.
func (a *Admin) FourLetter(word string, rest io.Reader) []byte {
	var out bytes.Buffer
	if binary.BigEndian.Uint32([]byte(word)) == telnetClose {
		// ZooKeeper names it "telnet close"; whitelisted, it does nothing.
		if a.cfg.AllFourLetterWords {
			return nil
		}
		return []byte("telnet close is not executed because it is not in the whitelist.\n")
	}
	if !a.whitelisted(word) {
		return fmt.Appendf(nil, "%s is not executed because it is not in the whitelist.\n", word)
	}
	serving := a.src.Serving()
	needsServer := map[string]bool{"srvr": true, "stat": true, "conf": true, "cons": true, "crst": true,
		"srst": true, "dirs": true, "dump": true, "wchs": true, "wchc": true, "wchp": true, "mntr": true}
	if needsServer[word] && !serving {
		return []byte(notServingText + "\n")
	}
	switch word {
	case "ruok":
		out.WriteString("imok")
	case "isro":
		switch {
		case !serving:
			out.WriteString("null")
		case a.src.Server().ReadOnly:
			out.WriteString("ro")
		default:
			out.WriteString("rw")
		}
	case "gtmk":
		out.WriteString(strconv.FormatInt(a.traceMask.Load(), 10))
	case "stmk":
		var b [8]byte
		if _, err := io.ReadFull(rest, b[:]); err != nil {
			return nil
		}
		a.traceMask.Store(int64(binary.BigEndian.Uint64(b[:])))
		out.WriteString(strconv.FormatInt(a.traceMask.Load(), 10))
	case "srvr", "stat":
		a.writeStat(&out, word == "stat")
	case "conf":
		a.writeConf(&out)
	case "cons":
		for _, c := range a.src.Connections() {
			writeConnection(&out, c, false)
			out.WriteByte('\n')
		}
		out.WriteByte('\n')
	case "crst":
		a.src.ResetConnectionStats()
		out.WriteString("Connection stats reset.\n")
	case "srst":
		a.src.ResetServerStats()
		out.WriteString("Server stats reset.\n")
	case "dirs":
		d := a.src.Dirs()
		fmt.Fprintf(&out, "datadir_size: %d\nlogdir_size: %d\n", d.DataSize, d.LogSize)
	case "dump":
		a.writeDump(&out)
	case "envi":
		out.WriteString("Environment:\n")
		for _, p := range a.environment() {
			fmt.Fprintf(&out, "%s=%s\n", p.Key, p.Value)
		}
	case "wchs":
		w := a.src.WatchSummary()
		fmt.Fprintf(&out, "%d connections watching %d paths\nTotal watches:%d\n", w.Connections, w.Paths, w.Total)
	case "wchc":
		for _, sw := range a.src.WatchesBySession() {
			fmt.Fprintf(&out, "0x%x\n", uint64(sw.Session))
			for _, p := range sw.Paths {
				fmt.Fprintf(&out, "\t%s\n", p)
			}
		}
		out.WriteByte('\n')
	case "wchp":
		for _, pw := range a.src.WatchesByPath() {
			fmt.Fprintf(&out, "%s\n", pw.Path)
			for _, id := range pw.Sessions {
				fmt.Fprintf(&out, "\t0x%x\n", uint64(id))
			}
		}
		out.WriteByte('\n')
	case "mntr":
		for _, kv := range a.mntr() {
			fmt.Fprintf(&out, "zk_%s\t%v\n", kv.Key, kv.Value)
		}
		// Then the metrics provider's counters and summaries, as
		// Apache's MonitorCommand dumps them after the gauges.
		for _, c := range a.metrics.Counters() {
			fmt.Fprintf(&out, "zk_%s\t%d\n", c.Name, c.Value())
		}
		for _, s := range a.metrics.Summaries() {
			v := s.Values()
			fmt.Fprintf(&out, "zk_avg_%s\t%s\nzk_min_%s\t%d\nzk_max_%s\t%d\nzk_cnt_%s\t%d\nzk_sum_%s\t%d\n",
				s.Name, javaDouble(v.Avg), s.Name, v.Min, s.Name, v.Max, s.Name, v.Count, s.Name, v.Sum)
			for _, p := range v.PercentileList() {
				fmt.Fprintf(&out, "zk_%s_%s\t%d\n", p.Prefix, s.Name, p.Value)
			}
		}
	case "hash":
		if !serving {
			out.WriteString(notServingText)
			break
		}
		for _, d := range a.src.Digests() {
			fmt.Fprintf(&out, "%x: %d\n", d.Zxid, d.Digest)
		}
	}
	return out.Bytes()
}

// javaDouble formats like Java's Double.toString for the small values 4lw
// prints, rounded to 4 decimals as ServerStats rounds.
func javaDouble(v float64) string {
	v = math.Round(v*10000) / 10000
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func (a *Admin) writeStat(out *bytes.Buffer, withClients bool) {
	fmt.Fprintf(out, "Zookeeper version: %s\n", a.version)
	if withClients {
		out.WriteString("Clients:\n")
		for _, c := range a.src.Connections() {
			writeConnection(out, c, true)
			out.WriteByte('\n')
		}
		out.WriteByte('\n')
	}
	st := a.src.Server()
	fmt.Fprintf(out, "Latency min/avg/max: %d/%s/%d\n", st.MinLatency, javaDouble(st.AvgLatency), st.MaxLatency)
	fmt.Fprintf(out, "Received: %d\n", st.PacketsReceived)
	fmt.Fprintf(out, "Sent: %d\n", st.PacketsSent)
	fmt.Fprintf(out, "Connections: %d\n", st.AliveConnections)
	fmt.Fprintf(out, "Outstanding: %d\n", st.Outstanding)
	fmt.Fprintf(out, "Zxid: 0x%x\n", st.LastZxid)
	fmt.Fprintf(out, "Mode: %s\n", st.Mode)
	fmt.Fprintf(out, "Node count: %d\n", st.NodeCount)
	if e := a.src.Ensemble(); e.State == "leader" {
		fmt.Fprintf(out, "Proposal sizes last/min/max: %d/%d/%d\n", e.LastProposalSize, e.MinProposalSize, e.MaxProposalSize)
	}
}

// writeConnection is ServerCnxn.dumpConnectionInfo: brief for stat, full
// for cons.
func writeConnection(out *bytes.Buffer, c Connection, brief bool) {
	fmt.Fprintf(out, " /%s[%x](queued=%d,recved=%d,sent=%d", c.Remote, c.InterestOps, c.Queued, c.Received, c.Sent)
	if !brief && c.SessionID != 0 {
		fmt.Fprintf(out, ",sid=0x%x,lop=%s,est=%d,to=%d", uint64(c.SessionID), c.LastOp, c.Established.UnixMilli(), c.Timeout)
		if c.LastCxid >= 0 {
			fmt.Fprintf(out, ",lcxid=0x%x", c.LastCxid)
		}
		lresp := int64(0)
		if !c.LastResponse.IsZero() {
			lresp = c.LastResponse.UnixMilli()
		}
		fmt.Fprintf(out, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			uint64(c.LastZxid), lresp, c.LastLatency, c.minLatency(), c.avgLatency(), c.MaxLatency)
	}
	out.WriteString(")")
}

func (c Connection) minLatency() int64 { return max(c.MinLatency, 0) }

// avgLatency is ServerCnxn.getAvgLatency: a long, rounded down.
func (c Connection) avgLatency() int64 {
	if c.Count == 0 {
		return 0
	}
	return c.TotalLatency / c.Count
}

func (a *Admin) writeConf(out *bytes.Buffer) {
	cfg := a.cfg
	d := a.src.Dirs()
	fmt.Fprintf(out, "clientPort=%d\n", cfg.ClientPort)
	fmt.Fprintf(out, "secureClientPort=-1\n")
	fmt.Fprintf(out, "dataDir=%s\n", d.DataDir)
	fmt.Fprintf(out, "dataDirSize=%d\n", d.DataSize)
	fmt.Fprintf(out, "dataLogDir=%s\n", d.LogDir)
	fmt.Fprintf(out, "dataLogSize=%d\n", d.LogSize)
	fmt.Fprintf(out, "tickTime=%d\n", cfg.TickTime)
	fmt.Fprintf(out, "maxClientCnxns=%d\n", cfg.MaxClientCnxns)
	fmt.Fprintf(out, "minSessionTimeout=%d\n", cfg.MinSessionTimeout)
	fmt.Fprintf(out, "maxSessionTimeout=%d\n", cfg.MaxSessionTimeout)
	fmt.Fprintf(out, "clientPortListenBacklog=%d\n", cfg.ClientPortListenBacklog)
	fmt.Fprintf(out, "serverId=%d\n", cfg.MyID)
	fmt.Fprintf(out, "zookeeper.version=%s\n", a.version)
}

func (a *Admin) writeDump(out *bytes.Buffer) {
	ss := a.src.Sessions()
	out.WriteString("SessionTracker dump:\n")
	fmt.Fprintf(out, "Session Sets (%d)/(%d):\n", len(ss.Buckets), ss.Total)
	for _, b := range ss.Buckets {
		fmt.Fprintf(out, "%d expire at %s:\n", len(b.Sessions), javaDate(b.Expiry))
		for _, id := range b.Sessions {
			fmt.Fprintf(out, "\t0x%x\n", uint64(id))
		}
	}
	out.WriteString("ephemeral nodes dump:\n")
	fmt.Fprintf(out, "Sessions with Ephemerals (%d):\n", len(ss.Ephemerals))
	for _, e := range ss.Ephemerals {
		fmt.Fprintf(out, "0x%x:\n", uint64(e.Session))
		for _, p := range e.Paths {
			fmt.Fprintf(out, "\t%s\n", p)
		}
	}
	conns := ss.Connections
	out.WriteString("Connections dump:\n")
	fmt.Fprintf(out, "Connections Sets (%d)/(%d):\n", min(1, len(conns)), len(conns))
	if len(conns) > 0 {
		fmt.Fprintf(out, "%d expire at %s:\n", len(conns), javaDate(ss.ConnectionExpiry))
		for _, c := range conns {
			fmt.Fprintf(out, "\tip: /%s sessionId: 0x%x\n", c.Remote, uint64(c.SessionID))
		}
	}
}

// javaDate formats like java.util.Date.toString: "Thu Nov 26 14:44:03 UTC 2026".
func javaDate(t time.Time) string {
	return t.Format("Mon Jan 02 15:04:05 MST 2006")
}

// keyValue is one line of mntr or envi.
type keyValue struct {
	Key   string
	Value any
}

// mntr is the monitor command's values in mntr's order.
func (a *Admin) mntr() []keyValue {
	st := a.src.Server()
	open, maxFD := fdCounts()
	e := a.src.Ensemble()
	kvs := []keyValue{
		{"version", a.version},
		{"server_state", st.Mode},
	}
	if e.Quorum() {
		// QuorumZooKeeperServer.dumpMonitorValues adds it after the state.
		kvs = append(kvs, keyValue{"peer_state", e.PeerState})
	}
	kvs = append(kvs, []keyValue{
		{"ephemerals_count", st.EphemeralsCount},
		{"num_alive_connections", st.AliveConnections},
		{"avg_latency", javaDouble(st.AvgLatency)},
		{"max_latency", st.MaxLatency},
		{"min_latency", st.MinLatency},
		{"packets_received", st.PacketsReceived},
		{"packets_sent", st.PacketsSent},
		{"outstanding_requests", st.Outstanding},
		{"znode_count", st.NodeCount},
		{"watch_count", st.WatchCount},
		{"approximate_data_size", st.ApproximateDataSize},
		{"open_file_descriptor_count", open},
		{"max_file_descriptor_count", maxFD},
		{"uptime", time.Since(st.Started).Milliseconds()},
		{"global_sessions", st.GlobalSessions},
		{"local_sessions", st.LocalSessions},
		{"connection_drop_probability", "0.0"},
		{"last_client_response_size", st.LastResponseSize},
		{"max_client_response_size", st.MaxResponseSize},
		{"min_client_response_size", st.MinResponseSize},
		{"outstanding_tls_handshake", 0},
		{"auth_failed_count", st.AuthFailed},
		{"non_mtls_remote_conn_count", 0},
		{"non_mtls_local_conn_count", 0},
	}...)
	if e.Quorum() {
		// The quorum gauges: every member's quorum_size and the leader's
		// learner counts (LeaderZooKeeperServer). A follower's
		// synced_observers counts the observers it serves as an observer
		// master; with none (zkd never is one) Apache's gauge is null and
		// mntr leaves it out.
		kvs = append(kvs, keyValue{"quorum_size", e.QuorumSize})
		if e.State == "leader" {
			kvs = append(kvs, []keyValue{
				{"learners", e.Learners},
				{"synced_followers", e.SyncedFollowers},
				{"synced_non_voting_followers", e.SyncedNonVotingFollowers},
				{"synced_observers", e.SyncedObservers},
				{"pending_syncs", e.PendingSyncs},
				{"leader_uptime", e.LeaderUptime.Milliseconds()},
				{"last_proposal_size", e.LastProposalSize},
				{"max_proposal_size", e.MaxProposalSize},
				{"min_proposal_size", e.MinProposalSize},
			}...)
		}
	}
	return append(kvs, keyValue{"txn_count", st.TxnCount})
}
