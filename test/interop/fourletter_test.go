package interop

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Four-letter words are compared by structure: which lines and keys appear and
// the shape of their values (digits become N), since counters, sizes and paths
// differ between servers. Values that follow from the configuration or from
// what the scenario did (timeouts, its own session's watches and ephemerals)
// are compared exactly.

// mntrCoreKeys are the gauges every server prints (fourletter.md, "Gauges (all
// servers)"); monitoring tools scrape these.
var mntrCoreKeys = []string{
	"avg_latency", "max_latency", "min_latency", "packets_received", "packets_sent",
	"num_alive_connections", "outstanding_requests", "uptime", "znode_count", "watch_count",
	"ephemerals_count", "approximate_data_size", "global_sessions", "local_sessions",
	"open_file_descriptor_count", "max_file_descriptor_count", "connection_drop_probability",
	"last_client_response_size", "max_client_response_size", "min_client_response_size",
	"outstanding_tls_handshake", "auth_failed_count", "non_mtls_remote_conn_count",
	"non_mtls_local_conn_count",
}

var (
	numberRE = regexp.MustCompile(`0x[0-9a-fA-F]+|\d+`)
	lopRE    = regexp.MustCompile(`lop=[A-Z]+`)
	// " /127.0.0.1:60500[1](queued=0,...)"
	consLineRE = regexp.MustCompile(`^ /([0-9.]+):(\d+)\[(\d+)\]\((.*)\)$`)
)

// shape keeps a value's form, not its numbers.
func shape(s string) string {
	return numberRE.ReplaceAllStringFunc(s, func(n string) string {
		if strings.HasPrefix(n, "0x") {
			return "0xH"
		}
		return "N"
	})
}

func TestFourLetterWords(t *testing.T) {
	requireApache(t)
	comparePair(t, sharedPair(t), "all-words", flwScenario)
	p := startTestPair(t, Options{DefaultWhitelist: true})
	comparePair(t, p, "default-whitelist", flwDefaultWhitelist)
}

func flwScenario(t *testing.T, addr string) string {
	var tr transcript
	// Sessions whose watches, ephemerals and timeouts the words must show.
	short := gozkConnect(t, addr, time.Second) // asks for 1 s, gets 2 ticks
	long := gozkConnect(t, addr, 100*time.Second)
	tr.printf("session short: 0x%x", short.SessionID())
	tr.printf("session long: 0x%x", long.SessionID())
	root := "/flw"
	for _, p := range []string{root, root + "/a", root + "/b"} {
		if _, err := short.Create(p, nil, zk.FlagPersistent, openACL); err != nil {
			tr.printf("create %s: %s", p, errStr(err))
		}
	}
	if _, err := short.Create(root+"/eph", nil, zk.FlagEphemeral, openACL); err != nil {
		tr.printf("create ephemeral: %s", errStr(err))
	}
	if _, err := long.Create(root+"/eph-long", nil, zk.FlagEphemeral, openACL); err != nil {
		tr.printf("create ephemeral: %s", errStr(err))
	}
	_, _, _, err1 := short.GetW(root + "/a")
	_, _, _, err2 := short.ExistsW(root + "/b")
	_, _, _, err3 := short.ExistsW(root + "/nothere")
	_, _, _, err4 := short.ChildrenW(root)
	_, _, _, err5 := long.GetW(root + "/a")
	tr.printf("watches set: %s %s %s %s %s", errStr(err1), errStr(err2), errStr(err3), errStr(err4), errStr(err5))

	word := func(w string) string {
		out, err := FourLetterWord(addr, w, 5*time.Second)
		if err != nil {
			tr.printf("%s: error %v", w, err)
		}
		return out
	}
	ids := map[string]int64{"short": short.SessionID(), "long": long.SessionID()}

	for _, w := range []string{"ruok", "isro", "gtmk"} {
		tr.printf("== %s: %q", w, word(w))
	}
	tr.printf("== srvr")
	flwSummary(&tr, word("srvr"), false)
	tr.printf("== stat")
	flwSummary(&tr, word("stat"), true)
	tr.printf("== conf")
	flwConf(&tr, word("conf"), addr)
	tr.printf("== cons")
	flwCons(&tr, word("cons"), ids)
	tr.printf("== envi")
	flwEnvi(&tr, word("envi"))
	tr.printf("== mntr")
	flwMntr(&tr, word("mntr"))
	tr.printf("== wchs")
	tr.printf("%s", shape(word("wchs")))
	tr.printf("== wchc (own sessions)")
	flwWatchBlocks(&tr, word("wchc"), func(head string) bool {
		return head == fmt.Sprintf("0x%x", ids["short"]) || head == fmt.Sprintf("0x%x", ids["long"])
	})
	tr.printf("== wchp (own paths)")
	flwWatchBlocks(&tr, word("wchp"), func(head string) bool { return strings.HasPrefix(head, root) })
	tr.printf("== dirs")
	for _, l := range splitLines(word("dirs")) {
		tr.printf("%s", shape(l))
	}
	tr.printf("== dump")
	flwDump(&tr, word("dump"), ids)
	tr.printf("== hash")
	for _, l := range splitLines(word("hash")) {
		tr.printf("%s", shape(l))
	}
	tr.printf("== crst: %q", word("crst"))
	tr.printf("== srst: %q", word("srst"))
	tr.printf("== srvr after srst")
	flwSummary(&tr, word("srvr"), false)
	tr.printf("== unknown word abcd: %q", word("abcd"))
	return tr.String()
}

// flwSummary reduces srvr/stat output to line keys and value shapes; the mode
// is compared exactly. stat's client lines are shapes, deduplicated.
func flwSummary(tr *transcript, out string, withClients bool) {
	lines := splitLines(out)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "Clients:" && withClients {
			tr.printf("Clients:")
			seen := map[string]bool{}
			var shapes []string
			for i++; i < len(lines) && lines[i] != ""; i++ {
				s := shape(lines[i])
				if !seen[s] {
					seen[s] = true
					shapes = append(shapes, s)
				}
			}
			sort.Strings(shapes)
			for _, s := range shapes {
				tr.printf("  %s", s)
			}
			tr.printf("(blank line)")
			continue
		}
		key, value, ok := strings.Cut(l, ": ")
		switch {
		case !ok:
			tr.printf("%q", shape(l))
		case key == "Zookeeper version":
			tr.printf("%s: %s", key, value) // normalized to VERSION
		case key == "Mode":
			tr.printf("%s: %s", key, value)
		default:
			tr.printf("%s: %s", key, shape(value))
		}
	}
	tr.printf("ends with newline: %v", strings.HasSuffix(out, "\n"))
}

// configConfKeys are conf values that follow from zoo.cfg alone.
var configConfKeys = map[string]bool{
	"secureClientPort": true, "tickTime": true, "maxClientCnxns": true, "minSessionTimeout": true,
	"maxSessionTimeout": true, "clientPortListenBacklog": true, "serverId": true,
}

func flwConf(tr *transcript, out, addr string) {
	_, port, _ := net.SplitHostPort(addr)
	for _, l := range splitLines(out) {
		key, value, ok := strings.Cut(l, "=")
		switch {
		case !ok:
			tr.printf("%q", shape(l))
		case key == "zookeeper.version":
			// zkd adds its version to conf (clients pick features from it);
			// Apache's conf has no such line. internal/server tests it.
		case configConfKeys[key]:
			tr.printf("%s=%s", key, value)
		case key == "clientPort":
			tr.printf("clientPort is the server's port: %v", value == port)
		case key == "dataDir" || key == "dataLogDir":
			tr.printf("%s is <dataDir>/version-2: %v", key, filepath.Base(value) == "version-2" && filepath.Base(filepath.Dir(value)) == "data")
		case versionRE.MatchString(value):
			tr.printf("%s=%s", key, value) // normalized to VERSION
		default:
			tr.printf("%s=%s", key, shape(value))
		}
	}
}

// flwCons prints one shape per kind of connection line, plus the exact
// timeouts of the scenario's own sessions.
func flwCons(tr *transcript, out string, ids map[string]int64) {
	lines := splitLines(out)
	seen := map[string]bool{}
	own := map[string]string{}
	var shapes []string
	for _, l := range lines {
		if l == "" {
			continue
		}
		m := consLineRE.FindStringSubmatch(l)
		if m == nil {
			tr.printf("unparsed line: %q", shape(l))
			continue
		}
		fields := strings.Split(m[4], ",")
		var keys []string
		values := map[string]string{}
		for _, f := range fields {
			k, v, _ := strings.Cut(f, "=")
			keys = append(keys, k)
			values[k] = v
		}
		s := fmt.Sprintf("/IP:PORT[%s](%s)", shape(m[3]), strings.Join(keys, ","))
		if !seen[s] {
			seen[s] = true
			shapes = append(shapes, s)
		}
		for name, id := range ids {
			if values["sid"] == fmt.Sprintf("0x%x", id) {
				own[name] = fmt.Sprintf("to=%s lop is letters: %v", values["to"], lopRE.MatchString("lop="+values["lop"]))
			}
		}
	}
	// Apache lists connections in hash order.
	for _, name := range []string{"short", "long"} {
		tr.printf("session %s: %s", name, own[name])
	}
	sort.Strings(shapes)
	for _, s := range shapes {
		tr.printf("line shape: %s", s)
	}
	tr.printf("ends with an empty line: %v", strings.HasSuffix(out, "\n\n"))
}

func flwEnvi(tr *transcript, out string) {
	lines := splitLines(out)
	for i, l := range lines {
		if i == 0 {
			tr.printf("%q", l)
			continue
		}
		key, _, ok := strings.Cut(l, "=")
		if !ok {
			tr.printf("unparsed line: %q", shape(l))
			continue
		}
		tr.printf("key %s", key)
	}
}

// mntr keys are not only [a-z0-9_]: Apache's per-namespace metrics embed the
// first path component, e.g. zk_avg_climt-w_read_per_namespace.
var mntrLineRE = regexp.MustCompile(`^zk_[^\t\s]+\t\S.*$`)

func flwMntr(tr *transcript, out string) {
	lines := splitLines(out)
	values := map[string]string{}
	bad := 0
	for i, l := range lines {
		if !mntrLineRE.MatchString(l) {
			bad++
			tr.printf("malformed line: %q", l)
			continue
		}
		k, v, _ := strings.Cut(l, "\t")
		values[strings.TrimPrefix(k, "zk_")] = v
		if i < 2 {
			tr.printf("line %d key: %s", i+1, k)
		}
	}
	tr.printf("zk_version: %s", values["version"])
	tr.printf("zk_server_state: %s", values["server_state"])
	for _, k := range mntrCoreKeys {
		v, ok := values[k]
		if !ok {
			tr.printf("zk_%s: missing", k)
			continue
		}
		tr.printf("zk_%s: %s", k, shape(v))
	}
	// The summaries zkd records, each with its keys: avg/min/max/cnt/sum,
	// and the percentiles of the ADVANCED ones (AvgMinMaxPercentileCounter).
	for _, name := range mntrSummaries {
		var have []string
		for _, p := range []string{"avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"} {
			if _, ok := values[p+"_"+name]; ok {
				have = append(have, p)
			}
		}
		tr.printf("summary %s: %s", name, strings.Join(have, " "))
	}
	tr.printf("ends with newline: %v", strings.HasSuffix(out, "\n"))
}

// mntrSummaries are the summary metrics zkd records (admin.Metrics), by
// Apache's names.
var mntrSummaries = []string{"fsynctime", "sync_processor_batch_size", "snapshottime", "dbinittime",
	"startup_txns_loaded", "readlatency", "updatelatency", "node_created_watch_count", "node_deleted_watch_count",
	"node_changed_watch_count", "node_children_watch_count"}

// flwWatchBlocks prints the blocks of wchc/wchp output whose head line is
// selected (a session or a path), with their tab-indented lines sorted.
func flwWatchBlocks(tr *transcript, out string, selected func(head string) bool) {
	lines := splitLines(out)
	type block struct {
		head  string
		items []string
	}
	var blocks []block
	for _, l := range lines {
		switch {
		case l == "":
		case strings.HasPrefix(l, "\t"):
			if len(blocks) > 0 {
				blocks[len(blocks)-1].items = append(blocks[len(blocks)-1].items, l)
			}
		default:
			blocks = append(blocks, block{head: l})
		}
	}
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].head < blocks[j].head })
	for _, b := range blocks {
		if !selected(b.head) {
			continue
		}
		tr.printf("%s", b.head)
		sort.Strings(b.items)
		for _, it := range b.items {
			tr.printf("%s", it)
		}
	}
	tr.printf("ends with an empty line: %v", strings.HasSuffix(out, "\n\n"))
}

// flwDump prints the dump's section lines as shapes and the ephemerals of the
// scenario's sessions exactly (sessions in a fixed order: Apache lists them in
// hash order).
func flwDump(tr *transcript, out string, ids map[string]int64) {
	own := map[string]string{}
	for name, id := range ids {
		own[fmt.Sprintf("0x%x:", id)] = name
	}
	ephemerals := map[string][]string{}
	lines := splitLines(out)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if name, ok := own[l]; ok {
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
				i++
				ephemerals[name] = append(ephemerals[name], lines[i])
			}
			continue
		}
		if l == "Connections dump:" {
			for _, name := range []string{"short", "long"} {
				tr.printf("ephemerals of %s:", name)
				sort.Strings(ephemerals[name])
				for _, e := range ephemerals[name] {
					tr.printf("%s", e)
				}
			}
		}
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "0x") || strings.Contains(l, " expire at ") {
			continue // per-session and per-bucket lines: counts differ
		}
		tr.printf("%s", shape(l))
	}
}

func flwDefaultWhitelist(t *testing.T, addr string) string {
	var tr transcript
	for _, w := range []string{"ruok", "stat", "conf", "cons", "mntr", "envi", "wchs", "dump", "crst", "isro", "gtmk", "abcd", "\xff\xf4\xff\xfd"} {
		out, err := FourLetterWord(addr, w, 5*time.Second)
		if err != nil {
			tr.printf("%q: error %v", w, err)
		}
		tr.printf("%q: %q", w, out)
	}
	out, _ := FourLetterWord(addr, "srvr", 5*time.Second)
	tr.printf("srvr:")
	flwSummary(&tr, out, false)
	return tr.String()
}
