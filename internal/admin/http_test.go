package admin

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header().Get("Content-Type"), string(body)
}

// The text is Jackson's, byte for byte, as Apache 3.8's AdminServer wrote
// it for the same state (captured from Debian's 3.8.0).
func TestAdminServerJSONIsJacksons(t *testing.T) {
	h := newTestAdmin(newFake(), "").Handler()
	for path, want := range map[string]string{
		"/commands/watch_summary": "{\n  \"num_connections\" : 1,\n  \"num_paths\" : 2,\n  \"num_total_watches\" : 2,\n" +
			"  \"command\" : \"watch_summary\",\n  \"error\" : null\n}",
		"/commands/watches_by_path": "{\n  \"path_to_session_ids\" : {\n    \"/e1\" : [ 72068705860517888 ],\n" +
			"    \"/p1\" : [ 72068705860517888 ]\n  },\n  \"command\" : \"watches_by_path\",\n  \"error\" : null\n}",
		"/commands/leader":      "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}",
		"/commands/nosuch":      "{\n  \"command\" : \"nosuch\",\n  \"error\" : \"Unknown command: nosuch\"\n}",
		"/commands/ruok":        "{\n  \"command\" : \"ruok\",\n  \"error\" : null\n}",
		"/commands/gtmk":        "{\n  \"tracemask\" : 306,\n  \"command\" : \"get_trace_mask\",\n  \"error\" : null\n}",
		"/commands/voting_view": "{\n  \"current_config\" : { },\n  \"command\" : \"voting_view\",\n  \"error\" : null\n}",
		"/commands/set_trace_mask": "{\n  \"error\" : \"setTraceMask requires long traceMask argument\",\n" +
			"  \"command\" : \"set_trace_mask\"\n}",
		"/commands/last_snapshot": "{\n  \"zxid\" : \"100\",\n  \"timestamp\" : 1796599936,\n  \"command\" : \"last_snapshot\",\n  \"error\" : null\n}",
	} {
		code, ctype, body := get(t, h, "GET", path)
		if code != 200 || ctype != "application/json" || body != want {
			t.Errorf("GET %s: %d %s\n%s\nwant\n%s", path, code, ctype, body, want)
		}
	}
	// After the map's commands: it changes what gtmk answers.
	want := "{\n  \"tracemask\" : 258,\n  \"command\" : \"set_trace_mask\",\n  \"error\" : null\n}"
	if _, _, body := get(t, h, "GET", "/commands/set_trace_mask?traceMask=258"); body != want {
		t.Errorf("set_trace_mask?traceMask=258:\n%s\nwant\n%s", body, want)
	}
	if _, _, body := get(t, h, "GET", "/commands/connections"); !strings.Contains(body,
		"\"connections\" : [ {\n    \"remote_socket_address\" : \"127.0.0.1:46580\",") || !strings.Contains(body, "\"avg_latency\" : 4,\n") {
		t.Errorf("connections:\n%s", body)
	}
}

func TestAdminServerListsAndRefuses(t *testing.T) {
	f := newFake()
	h := newTestAdmin(f, "").Handler()
	for _, path := range []string{"/commands", "/commands/"} {
		_, _, body := get(t, h, "GET", path)
		if !strings.HasPrefix(body, "<a href=\"/commands/configuration\">configuration</a>\n<br/>\n") ||
			!strings.Contains(body, "<a href=\"/commands/zabstate\">zabstate</a>\n<br/>\n") {
			t.Errorf("GET %s:\n%s", path, body)
		}
	}
	if code, _, _ := get(t, h, "POST", "/commands/ruok"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}
	if code, _, _ := get(t, h, "GET", "/other"); code != http.StatusNotFound {
		t.Errorf("GET /other: %d, want 404", code)
	}
	custom := newTestAdmin(f, "admin.commandURL=/zk\n").Handler()
	if code, _, body := get(t, custom, "GET", "/zk/ruok"); code != 200 || !strings.Contains(body, `"command" : "ruok"`) {
		t.Errorf("admin.commandURL=/zk: %d %s", code, body)
	}
	f.serving = false
	if _, _, body := get(t, h, "GET", "/commands/stats"); !strings.Contains(body, `"error" : "`+notServingText+`"`) {
		t.Errorf("stats while not serving:\n%s", body)
	}
	if _, _, body := get(t, h, "GET", "/commands/environment"); !strings.Contains(body, `"error" : null`) {
		t.Errorf("environment needs no server:\n%s", body)
	}
}

// A port already taken stops the server with the key to change, as
// Apache's standalone server exits when its AdminServer cannot start.
func TestStartHTTPNamesTheKeyOfABusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	f := newFake()
	a := newTestAdmin(f, fmt.Sprintf("admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", port))
	if _, err := StartHTTP(a, nil, nil); err == nil || !strings.Contains(err.Error(), "admin.serverPort") {
		t.Fatalf("AdminServer on a busy port: %v; want an error naming admin.serverPort", err)
	}
	m := NewMetrics()
	a = New(f, Options{Config: newTestAdmin(f, fmt.Sprintf("admin.enableServer=false\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=%d\n", port)).cfg, Metrics: m})
	if _, err := StartHTTP(a, NewPrometheus(m, false), nil); err == nil || !strings.Contains(err.Error(), "metricsProvider.httpPort") {
		t.Fatalf("metrics on a busy port: %v; want an error naming metricsProvider.httpPort", err)
	}
	a = newTestAdmin(f, "admin.serverAddress=127.0.0.1\nadmin.serverPort="+freePort(t)+"\n")
	h, err := StartHTTP(a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	resp, err := http.Get("http://" + h.AdminAddr + "/commands/ruok")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET ruok: %v %v", resp, err)
	}
	resp.Body.Close()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}
