package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The AdminServer's commands are compared field by field against Apache
// ZooKeeper 3.8's own AdminServer (Jetty, from Debian's packages), started in
// the same run on the same zoo.cfg with the same clients doing the same
// things: every field Apache answers must be in zkd's answer with the same
// JSON type (integer, double, string, bool, null, object, array), nested
// objects and array elements alike, and the values that follow from the
// configuration or the scenario must be equal.

// adminCommands are the commands zkd answers as Apache does.
var adminCommands = []string{
	"configuration", "connections", "connection_stat_reset", "dump", "environment", "get_trace_mask",
	"is_read_only", "leader", "monitor", "observer_connection_stat_reset", "ruok", "server_stats",
	"stat_reset", "stats", "system_properties", "voting_view", "watches", "watches_by_path",
	"watch_summary", "zabstate", "initial_configuration", "last_snapshot", "dirs", "observers",
	"set_trace_mask", "no_such_command",
}

func TestAdminServer(t *testing.T) {
	requireApache(t)
	requireFile(t, servletAPIJar)
	p := startTestPair(t, Options{AdminServer: true})
	for _, s := range []*Server{p.apache, p.zkd} {
		// The same state on both: one session with an ephemeral, a data
		// watch and an exist watch, as the four-letter word scenario has.
		conn, _, err := zk.Connect([]string{s.Addr()}, 10*time.Second, zk.WithLogger(silentLogger{}))
		if err != nil {
			t.Fatalf("%s: %v", s.Kind, err)
		}
		t.Cleanup(conn.Close)
		mustDo(t, s.Kind, func() error {
			_, err := conn.Create("/e1", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
			return err
		})
		mustDo(t, s.Kind, func() error {
			_, err := conn.Create("/p1", []byte("hello"), 0, zk.WorldACL(zk.PermAll))
			return err
		})
		mustDo(t, s.Kind, func() error { _, _, _, err := conn.GetW("/p1"); return err })
		mustDo(t, s.Kind, func() error { _, _, _, err := conn.ExistsW("/e1"); return err })
	}

	listing := func(s *Server) []string {
		body := httpGet(t, "http://"+s.AdminAddr+"/commands")
		var names []string
		for _, line := range strings.Split(body, "\n") {
			if _, rest, ok := strings.Cut(line, "\">"); ok {
				names = append(names, strings.TrimSuffix(rest, "</a>"))
			}
		}
		return names
	}
	apacheList, zkdList := listing(p.apache), listing(p.zkd)
	for _, name := range zkdList {
		if !slices.Contains(apacheList, name) {
			t.Errorf("/commands lists %s, which Apache does not have", name)
		}
	}
	for _, name := range adminCommands[:len(adminCommands)-1] {
		if !slices.Contains(zkdList, name) {
			t.Errorf("/commands does not list %s", name)
		}
	}

	for _, cmd := range adminCommands {
		t.Run(cmd, func(t *testing.T) {
			apache := getCommand(t, p.apache, cmd)
			zkd := getCommand(t, p.zkd, cmd)
			switch cmd {
			case "monitor":
				compareMonitor(t, apache, zkd)
				return
			case "system_properties":
				compareSystemProperties(t, apache, zkd)
				return
			}
			compareTypes(t, cmd, apache, zkd)
			compareValues(t, cmd, apache, zkd)
		})
	}
}

func mustDo(t *testing.T, kind string, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(body)
}

// getCommand runs a command, saving both answers under $ZKD_INTEROP_OUT.
func getCommand(t *testing.T, s *Server, cmd string) map[string]any {
	t.Helper()
	body := httpGet(t, "http://"+s.AdminAddr+"/commands/"+cmd)
	if out := os.Getenv(envOutputDir); out != "" {
		os.WriteFile(fmt.Sprintf("%s/admin-%s-%s.json", out, cmd, s.Kind), []byte(body), 0o644)
	}
	d := json.NewDecoder(bytes.NewReader([]byte(body)))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s %s: not JSON (%v):\n%s", s.Kind, cmd, err, body)
	}
	return v
}

// kind is a JSON value's type, integers and doubles apart (Jackson writes a
// Java double with a point, a long without).
func kind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "double"
		}
		return "integer"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// nonEmpty counts a keyed map's entries that are not an empty list or map.
func nonEmpty(m map[string]any) int {
	n := 0
	for _, v := range m {
		switch v := v.(type) {
		case []any:
			if len(v) == 0 {
				continue
			}
		case map[string]any:
			if len(v) == 0 {
				continue
			}
		}
		n++
	}
	return n
}

// isKeyedMap reports whether an object's keys are data (session ids,
// expiry times, paths, server ids) rather than field names.
func isKeyedMap(path string) bool {
	for _, suffix := range []string{"expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
		"session_id_to_watched_paths", "path_to_session_ids", "current_config"} {
		if strings.HasSuffix(path, suffix) {
			return true
		}
	}
	return false
}

// compareTypes checks that every field of Apache's answer is in zkd's with
// the same type, recursively.
func compareTypes(t *testing.T, path string, apache, zkd any) {
	t.Helper()
	if ka, kz := kind(apache), kind(zkd); ka != kz {
		t.Errorf("%s: zkd has %s (%v), Apache %s (%v)", path, kz, zkd, ka, apache)
		return
	}
	switch a := apache.(type) {
	case map[string]any:
		z := zkd.(map[string]any)
		if isKeyedMap(path) {
			// Apache's ExpiryQueue keeps a bucket emptied by a session's
			// touch until its expiry time passes (an entry with no
			// session ids), so only entries that hold something count.
			if na, nz := nonEmpty(a), nonEmpty(z); na != nz {
				t.Errorf("%s: zkd has %d entries %v, Apache %d %v", path, nz, z, na, a)
			}
			// Compare one entry's shape: the keys differ between servers.
			for _, va := range a {
				for _, vz := range z {
					compareTypes(t, path+"[*]", va, vz)
					break
				}
				break
			}
			return
		}
		for k, va := range a {
			vz, ok := z[k]
			if !ok {
				t.Errorf("%s.%s: missing in zkd (Apache: %v)", path, k, va)
				continue
			}
			compareTypes(t, path+"."+k, va, vz)
		}
	case []any:
		z := zkd.([]any)
		if len(a) != len(z) {
			t.Errorf("%s: zkd has %d elements %v, Apache %d %v", path, len(z), z, len(a), a)
			return
		}
		for i := range a {
			compareTypes(t, fmt.Sprintf("%s[%d]", path, i), a[i], z[i])
		}
	}
}

// differing are the fields whose values legitimately differ between two
// servers: ports, directories, times, counts of bytes and ids.
var differing = map[string]bool{
	"client_port": true, "data_dir": true, "data_log_dir": true, "datadir_size": true, "logdir_size": true,
	"version": true, "initial_configuration": true, "timestamp": true, "zxid": true,
	"server_stats": true, "client_response": true, "connections": true, "expiry_time_to_session_ids": true,
	"session_id_to_ephemeral_paths": true, "session_id_to_watched_paths": true, "path_to_session_ids": true,
}

// compareValues checks the top-level values that follow from the
// configuration and the scenario (everything in environment depends on
// the process, so only its keys count there).
func compareValues(t *testing.T, cmd string, apache, zkd map[string]any) {
	t.Helper()
	if cmd == "environment" {
		return
	}
	for k, va := range apache {
		if differing[k] {
			continue
		}
		if vz := zkd[k]; fmt.Sprint(vz) != fmt.Sprint(va) {
			t.Errorf("%s.%s = %v, Apache %v", cmd, k, vz, va)
		}
	}
	switch cmd {
	case "dump":
		if got, want := pathsOf(zkd["session_id_to_ephemeral_paths"]), pathsOf(apache["session_id_to_ephemeral_paths"]); !slices.Equal(got, want) {
			t.Errorf("dump ephemerals %v, Apache %v", got, want)
		}
	case "watches":
		if got, want := pathsOf(zkd["session_id_to_watched_paths"]), pathsOf(apache["session_id_to_watched_paths"]); !slices.Equal(got, want) {
			t.Errorf("watched paths %v, Apache %v", got, want)
		}
	case "watches_by_path":
		if got, want := keysOf(zkd["path_to_session_ids"]), keysOf(apache["path_to_session_ids"]); !slices.Equal(got, want) {
			t.Errorf("watched paths %v, Apache %v", got, want)
		}
	case "connections":
		// The same requests on both: the same last operation and zxid.
		za, zz := zkd["connections"].([]any), apache["connections"].([]any)
		if len(za) == 1 && len(zz) == 1 {
			for _, k := range []string{"last_operation", "last_zxid", "last_cxid"} {
				if got, want := za[0].(map[string]any)[k], zz[0].(map[string]any)[k]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("connections[0].%s = %v, Apache %v", k, got, want)
				}
			}
		}
		for _, c := range zkd["connections"].([]any) {
			if to := c.(map[string]any)["session_timeout"]; fmt.Sprint(to) != "10000" {
				t.Errorf("connection session_timeout %v, want the 10000 ms the client asked for", to)
			}
		}
	}
}

func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pathsOf flattens {"<id>": ["/a", "/b"]} into the sorted paths.
func pathsOf(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for _, paths := range m {
		for _, p := range paths.([]any) {
			out = append(out, p.(string))
		}
	}
	sort.Strings(out)
	return out
}

// compareMonitor: zkd has fewer metrics than Apache's ~500; each of its keys
// must be one of Apache's with the same type, and the core gauges must be
// there.
func compareMonitor(t *testing.T, apache, zkd map[string]any) {
	t.Helper()
	for k, vz := range zkd {
		va, ok := apache[k]
		if !ok {
			t.Errorf("monitor.%s: not in Apache's monitor", k)
			continue
		}
		if ka, kz := kind(va), kind(vz); ka != kz {
			t.Errorf("monitor.%s: zkd has %s (%v), Apache %s (%v)", k, kz, vz, ka, va)
		}
	}
	required := append([]string{"version", "server_state", "command", "error", "avg_fsynctime", "cnt_readlatency",
		"sum_updatelatency", "p50_readlatency", "p999_readlatency", "p95_updatelatency", "p99_updatelatency",
		"bytes_received_count"}, mntrCoreKeys...)
	for _, k := range required {
		if _, ok := zkd[k]; !ok {
			t.Errorf("monitor.%s missing", k)
		}
	}
	for _, k := range []string{"znode_count", "ephemerals_count", "watch_count", "server_state", "global_sessions"} {
		if fmt.Sprint(zkd[k]) != fmt.Sprint(apache[k]) {
			t.Errorf("monitor.%s = %v, Apache %v", k, zkd[k], apache[k])
		}
	}
}

// compareSystemProperties: a Go process has no JVM properties; what
// matters is that the zoo.cfg keys Apache exports as zookeeper.<key>
// system properties are there with the same values.
func compareSystemProperties(t *testing.T, apache, zkd map[string]any) {
	t.Helper()
	for k, va := range apache {
		if !strings.HasPrefix(k, "zookeeper.") || k == "zookeeper.root.logger" {
			continue
		}
		if k == "zookeeper.admin.serverPort" {
			if kind(zkd[k]) != "string" {
				t.Errorf("system_properties.%s = %v", k, zkd[k])
			}
			continue
		}
		if fmt.Sprint(zkd[k]) != fmt.Sprint(va) {
			t.Errorf("system_properties.%s = %v, Apache %v", k, zkd[k], va)
		}
	}
	for _, k := range []string{"command", "error", "os.name", "os.arch", "user.dir", "java.io.tmpdir"} {
		if kind(zkd[k]) != kind(apache[k]) {
			t.Errorf("system_properties.%s: %v, Apache %v", k, zkd[k], apache[k])
		}
	}
}
