package admin

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkd/zkd/internal/config"
)

// command is one AdminServer command (ZooKeeper's admin.Commands): its
// names, the first being the primary one /commands lists, and whether it
// needs a serving server.
type command struct {
	names          []string
	serverRequired bool
	run            func(a *Admin, args map[string]string, r *object)
}

var commands = []command{
	{[]string{"configuration", "conf", "config"}, true, (*Admin).cmdConfiguration},
	{[]string{"connection_stat_reset", "crst"}, true, func(a *Admin, _ map[string]string, _ *object) { a.src.ResetConnectionStats() }},
	{[]string{"connections", "cons"}, true, (*Admin).cmdConnections},
	{[]string{"dirs"}, true, (*Admin).cmdDirs},
	{[]string{"dump"}, true, (*Admin).cmdDump},
	{[]string{"environment", "env", "envi"}, false, (*Admin).cmdEnvironment},
	{[]string{"get_trace_mask", "gtmk"}, false, func(a *Admin, _ map[string]string, r *object) { r.put("tracemask", a.traceMask.Load()) }},
	{[]string{"initial_configuration", "icfg"}, true, func(a *Admin, _ map[string]string, r *object) {
		r.put("initial_configuration", a.initialConfig)
	}},
	{[]string{"is_read_only", "isro"}, true, func(a *Admin, _ map[string]string, r *object) { r.put("read_only", a.src.Server().ReadOnly) }},
	{[]string{"last_snapshot", "lsnp"}, true, (*Admin).cmdLastSnapshot},
	{[]string{"leader", "lead"}, true, (*Admin).cmdLeader},
	{[]string{"monitor", "mntr"}, false, (*Admin).cmdMonitor},
	// Observers are not part of zkd yet: nothing to reset.
	{[]string{"observer_connection_stat_reset", "orst"}, true, func(*Admin, map[string]string, *object) {}},
	{[]string{"observers", "obsr"}, true, func(a *Admin, _ map[string]string, r *object) {
		r.put("synced_observers", a.src.Ensemble().SyncedObservers)
		r.put("observers", []any{})
	}},
	{[]string{"ruok"}, true, func(*Admin, map[string]string, *object) {}},
	{[]string{"server_stats", "srvr"}, true, (*Admin).cmdServerStats},
	{[]string{"set_trace_mask", "stmk"}, false, (*Admin).cmdSetTraceMask},
	{[]string{"stat_reset", "srst"}, true, func(a *Admin, _ map[string]string, _ *object) { a.src.ResetServerStats() }},
	{[]string{"stats", "stat"}, true, (*Admin).cmdStats},
	{[]string{"system_properties", "sysp"}, false, (*Admin).cmdSystemProperties},
	{[]string{"voting_view"}, true, (*Admin).cmdVotingView},
	{[]string{"watch_summary", "wchs"}, true, func(a *Admin, _ map[string]string, r *object) {
		w := a.src.WatchSummary()
		r.put("num_connections", w.Connections)
		r.put("num_paths", w.Paths)
		r.put("num_total_watches", w.Total)
	}},
	{[]string{"watches", "wchc"}, true, (*Admin).cmdWatches},
	{[]string{"watches_by_path", "wchp"}, true, (*Admin).cmdWatchesByPath},
	{[]string{"zabstate"}, false, (*Admin).cmdZabState},
}

var commandsByName = func() map[string]*command {
	m := map[string]*command{}
	for i := range commands {
		for _, n := range commands[i].names {
			m[n] = &commands[i]
		}
	}
	return m
}()

// CommandNames are the primary names of the AdminServer's commands, sorted.
func CommandNames() []string {
	out := make([]string, len(commands))
	for i, c := range commands {
		out[i] = c.names[0]
	}
	sort.Strings(out)
	return out
}

// Command runs an AdminServer command and returns ZooKeeper's response
// object: the command's fields, then "command" and "error" (null on
// success), in that order.
func (a *Admin) Command(name string, args map[string]string) object {
	c := commandsByName[name]
	switch {
	case c == nil:
		return object{{"command", name}, {"error", "Unknown command: " + name}}
	case c.serverRequired && !a.src.Serving():
		return object{{"command", name}, {"error", notServingText}}
	}
	var r object
	c.run(a, args, &r)
	// CommandResponse.toMap: data, command, error, then data again, so an
	// "error" a command put keeps its place and its value.
	out := append(object(nil), r...)
	out.put("command", c.names[0])
	if _, hasErr := r.get("error"); !hasErr {
		out.put("error", nil)
	}
	return out
}

func (o object) get(key string) (any, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

func (a *Admin) cmdConfiguration(_ map[string]string, r *object) {
	cfg, d := a.cfg, a.src.Dirs()
	r.put("client_port", cfg.ClientPort)
	r.put("data_dir", d.DataDir)
	r.put("data_log_dir", d.LogDir)
	r.put("tick_time", cfg.TickTime)
	r.put("max_client_cnxns", cfg.MaxClientCnxns)
	r.put("min_session_timeout", cfg.MinSessionTimeout)
	r.put("max_session_timeout", cfg.MaxSessionTimeout)
	r.put("server_id", cfg.MyID)
	r.put("client_port_listen_backlog", cfg.ClientPortListenBacklog)
}

// connectionInfo is ServerCnxn.getConnectionInfo.
func connectionInfo(c Connection, brief bool) object {
	o := object{
		{"remote_socket_address", c.Remote},
		{"interest_ops", c.InterestOps},
		{"outstanding_requests", c.Queued},
		{"packets_received", c.Received},
		{"packets_sent", c.Sent},
	}
	if brief {
		return o
	}
	lresp := int64(0)
	if !c.LastResponse.IsZero() {
		lresp = c.LastResponse.UnixMilli()
	}
	return append(o,
		field{"session_id", c.SessionID},
		field{"last_operation", c.LastOp},
		field{"established", c.Established.UnixMilli()},
		field{"session_timeout", c.Timeout},
		field{"last_cxid", int64(c.LastCxid)},
		field{"last_zxid", c.LastZxid},
		field{"last_response_time", lresp},
		field{"last_latency", c.LastLatency},
		field{"min_latency", c.minLatency()},
		field{"avg_latency", c.avgLatency()},
		field{"max_latency", c.MaxLatency},
	)
}

func (a *Admin) connections(brief bool) []any {
	conns := a.src.Connections()
	out := make([]any, len(conns))
	for i, c := range conns {
		out[i] = connectionInfo(c, brief)
	}
	return out
}

func (a *Admin) cmdConnections(_ map[string]string, r *object) {
	r.put("connections", a.connections(false))
	r.put("secure_connections", []any{})
}

func (a *Admin) cmdDirs(_ map[string]string, r *object) {
	d := a.src.Dirs()
	r.put("datadir_size", d.DataSize)
	r.put("logdir_size", d.LogSize)
}

func (a *Admin) cmdDump(_ map[string]string, r *object) {
	ss := a.src.Sessions()
	expiry := object{}
	for _, b := range ss.Buckets {
		expiry.put(strconv.FormatInt(b.Expiry.UnixMilli(), 10), intsArray(b.Sessions))
	}
	ephemerals := object{}
	for _, e := range ss.Ephemerals {
		ephemerals.put(strconv.FormatInt(e.Session, 10), stringsArray(e.Paths))
	}
	r.put("expiry_time_to_session_ids", expiry)
	r.put("session_id_to_ephemeral_paths", ephemerals)
}

func (a *Admin) cmdEnvironment(_ map[string]string, r *object) {
	for _, p := range a.environment() {
		r.put(p.Key, p.Value)
	}
}

func (a *Admin) cmdLastSnapshot(_ map[string]string, r *object) {
	s, ok := a.src.LastSnapshot()
	if !ok {
		r.put("zxid", strconv.FormatUint(uint64(^uint64(0)), 16)) // Long.toHexString(-1)
		r.put("timestamp", int64(-1))
		return
	}
	r.put("zxid", strconv.FormatUint(uint64(s.Zxid), 16))
	r.put("timestamp", s.Time.Unix()) // seconds, as SnapshotInfo keeps it
}

func (a *Admin) cmdLeader(_ map[string]string, r *object) {
	e := a.src.Ensemble()
	if !e.Quorum() {
		r.put("error", "server is not initialized")
		return
	}
	r.put("is_leader", e.State == "leader")
	r.put("leader_id", e.LeaderID)
	r.put("leader_ip", e.LeaderAddress)
}

// cmdMonitor is mntr's values with JSON types, then the counters and
// summaries as ZooKeeper's default metrics provider dumps them.
func (a *Admin) cmdMonitor(_ map[string]string, r *object) {
	if !a.src.Serving() {
		// dumpMonitorValues needs a server; the metrics alone remain.
		a.putMetrics(r)
		return
	}
	st := a.src.Server()
	for _, kv := range a.mntr() {
		switch kv.Key {
		case "avg_latency":
			r.put(kv.Key, math.Round(st.AvgLatency*10000)/10000)
		case "connection_drop_probability":
			r.put(kv.Key, 0.0)
		case "txn_count":
			// zkd's own mntr line; Apache's monitor lacks it.
		default:
			r.put(kv.Key, kv.Value)
		}
	}
	a.putMetrics(r)
}

func (a *Admin) putMetrics(r *object) {
	for _, c := range a.metrics.Counters() {
		r.put(c.Name, c.Value())
	}
	for _, s := range a.metrics.Summaries() {
		v := s.Values()
		r.put("avg_"+s.Name, v.Avg)
		r.put("min_"+s.Name, v.Min)
		r.put("max_"+s.Name, v.Max)
		r.put("cnt_"+s.Name, v.Count)
		r.put("sum_"+s.Name, v.Sum)
		for _, p := range v.PercentileList() {
			r.put(p.Prefix+"_"+s.Name, p.Value)
		}
	}
}

func (a *Admin) serverStats(r *object) {
	st, d := a.src.Server(), a.src.Dirs()
	responses := object{
		{"last_buffer_size", st.LastResponseSize},
		{"min_buffer_size", st.MinResponseSize},
		{"max_buffer_size", st.MaxResponseSize},
	}
	r.put("version", a.version)
	r.put("read_only", st.ReadOnly)
	r.put("server_stats", object{
		{"packets_sent", st.PacketsSent},
		{"packets_received", st.PacketsReceived},
		{"fsync_threshold_exceed_count", st.FsyncThresholdExceeded},
		{"client_response_stats", responses},
		{"data_dir_size", d.DataSize},
		{"log_dir_size", d.LogSize},
		{"provider_null", false},
		{"server_state", st.Mode},
		{"last_processed_zxid", st.LastZxid},
		{"outstanding_requests", st.Outstanding},
		{"avg_latency", math.Round(st.AvgLatency*10000) / 10000},
		{"max_latency", st.MaxLatency},
		{"min_latency", st.MinLatency},
		{"num_alive_client_connections", st.AliveConnections},
		{"auth_failed_count", st.AuthFailed},
		{"non_mtlsremote_conn_count", 0},
		{"non_mtlslocal_conn_count", 0},
		{"uptime", time.Since(st.Started).Milliseconds()},
	})
	r.put("client_response", responses)
	r.put("node_count", st.NodeCount)
}

func (a *Admin) cmdServerStats(_ map[string]string, r *object) { a.serverStats(r) }

func (a *Admin) cmdStats(_ map[string]string, r *object) {
	a.serverStats(r)
	r.put("connections", a.connections(true))
	r.put("secure_connections", []any{})
}

func (a *Admin) cmdSetTraceMask(args map[string]string, r *object) {
	v, ok := args["traceMask"]
	if !ok {
		r.put("error", "setTraceMask requires long traceMask argument")
		return
	}
	mask, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.put("error", "setTraceMask requires long traceMask argument, got "+v)
		return
	}
	a.traceMask.Store(mask)
	r.put("tracemask", mask)
}

// cmdSystemProperties stands in for the JVM's system properties: the
// zoo.cfg keys Apache would export as zookeeper.<key>, and what a Go
// process has for the standard ones, sorted by name.
func (a *Admin) cmdSystemProperties(_ map[string]string, r *object) {
	props := map[string]string{}
	for k, v := range config.SystemProperties(a.cfg) {
		props[k] = v
	}
	for _, p := range a.environment() {
		if strings.HasPrefix(p.Key, "os.memory.") || p.Key == "zookeeper.version" || p.Key == "host.name" {
			continue
		}
		props[p.Key] = p.Value
	}
	props["file.separator"] = string(os.PathSeparator)
	props["path.separator"] = string(os.PathListSeparator)
	props["line.separator"] = "\n"
	props["java.vm.name"] = "n/a (Go " + runtime.Version() + ")"
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.put(k, props[k])
	}
}

func (a *Admin) cmdVotingView(_ map[string]string, r *object) {
	view := object{}
	for _, m := range a.src.Ensemble().Members {
		role := "participant"
		if m.Observer {
			role = "observer"
		}
		view.put(strconv.FormatInt(m.ID, 10), object{
			{"server_addresses", []any{m.QuorumAddress}},
			{"election_addresses", []any{m.ElectionAddress}},
			{"client_address", m.ClientAddress},
			{"learner_type", role},
		})
	}
	r.put("current_config", view)
}

func (a *Admin) cmdWatches(_ map[string]string, r *object) {
	o := object{}
	for _, sw := range a.src.WatchesBySession() {
		o.put(strconv.FormatInt(sw.Session, 10), stringsArray(sw.Paths))
	}
	r.put("session_id_to_watched_paths", o)
}

func (a *Admin) cmdWatchesByPath(_ map[string]string, r *object) {
	o := object{}
	for _, pw := range a.src.WatchesByPath() {
		o.put(pw.Path, intsArray(pw.Sessions))
	}
	r.put("path_to_session_ids", o)
}

func (a *Admin) cmdZabState(_ map[string]string, r *object) {
	e := a.src.Ensemble()
	if !e.Quorum() {
		r.put("voting", false)
		r.put("zabstate", "")
		return
	}
	r.put("myid", e.ServerID)
	r.put("is_leader", e.State == "leader")
	r.put("quorum_address", e.QuorumAddress)
	r.put("election_address", e.ElectionAddress)
	r.put("client_address", e.ClientAddress)
	r.put("voting", e.Voting)
	r.put("last_zxid", fmt.Sprintf("0x%x", uint64(e.LastZxid)))
	r.put("zab_epoch", e.LastZxid>>32)
	r.put("zab_counter", e.LastZxid&0xffffffff)
	r.put("zabstate", e.ZabState)
}
