package admin

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browsingFake is the fake with a small tree and, when members is set, a
// place in an ensemble.
type browsingFake struct {
	*fakeSource
	nodes   map[string]Znode
	ens     *Ensemble
	remotes []string // the remote hosts Znode was asked for
}

func (b *browsingFake) Ensemble() Ensemble {
	if b.ens != nil {
		return *b.ens
	}
	return b.fakeSource.Ensemble()
}

func (b *browsingFake) Znode(path, remote string, maxData, maxChildren int) (Znode, bool) {
	b.remotes = append(b.remotes, remote)
	z, ok := b.nodes[path]
	if !ok {
		return Znode{}, false
	}
	z.Path = path
	z.Data = z.Data[:min(len(z.Data), maxData)]
	z.Children = z.Children[:min(len(z.Children), maxChildren)]
	return z, true
}

var openACL = []ACL{{Perms: 31, Scheme: "world", ID: "anyone"}}

func newBrowsingFake() *browsingFake {
	big := make([]byte, 5000)
	for i := range big {
		big[i] = 'x'
	}
	kids := make([]string, 600)
	for i := range kids {
		kids[i] = fmt.Sprintf("k%04d", i)
	}
	return &browsingFake{fakeSource: newFake(), nodes: map[string]Znode{
		"/": {Readable: true, ACLReadable: true, ACL: openACL, Children: []string{"app", "bin", "big", "secret", "zookeeper"},
			Stat: ZnodeStat{NumChildren: 5}},
		"/app": {Readable: true, ACLReadable: true, ACL: openACL, Data: []byte("hello <b>world</b>"), Children: []string{"a&b"},
			Stat: ZnodeStat{Czxid: 2, Mzxid: 0x100000003, Version: 1, DataLength: 18, NumChildren: 1, Ctime: 1796599961754}},
		"/app/a&b": {Readable: true, ACLReadable: true, ACL: openACL, Stat: ZnodeStat{EphemeralOwner: 0x1000a1b2c3d0000}},
		"/bin":     {Readable: true, ACLReadable: true, ACL: openACL, Data: []byte{0xde, 0xad, 0xbe, 0xef, 0, 'z'}, Stat: ZnodeStat{DataLength: 6}},
		"/big": {Readable: true, ACLReadable: true, ACL: openACL, Data: big, Children: kids,
			Stat: ZnodeStat{DataLength: 5000, NumChildren: 600}},
		"/secret": {Stat: ZnodeStat{DataLength: 3}, Data: []byte("pw!")},
	}}
}

func TestStatusPageStandalone(t *testing.T) {
	f := newBrowsingFake()
	a := newTestAdmin(f.fakeSource, "")
	a.src = f
	h := a.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		`Mode: <span class="role role-standalone" id="mode">standalone</span>`,
		`<tr class="member self" data-id="0" data-role="standalone">`,
		`<td class="n">1</td>`, // sessions
		`<td class="n">7</td>`, // znodes
		`<a href="/?path=/app">app</a>`, `<a href="/?path=/zookeeper">zookeeper</a>`,
		`<a href="/commands">admin commands</a>`,
		`Sampling is off`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / lacks %s", want)
		}
	}
	if strings.Contains(body, "Recent elections") {
		t.Error("a standalone server lists elections")
	}
	if len(f.remotes) != 1 || f.remotes[0] != "192.0.2.1" { // httptest's client address
		t.Errorf("Znode asked for remotes %v", f.remotes)
	}

	page := func(path string) string {
		t.Helper()
		_, _, body := get(t, h, "GET", path)
		return body
	}
	app := page("/?path=/app")
	for _, want := range []string{
		`<pre id="data">hello &lt;b&gt;world&lt;/b&gt;</pre>`, "(18 bytes, text)",
		`<a href="/?path=/app/a%26b">a&amp;b</a>`, `<th>mZxid</th><td class="mono">0x100000003</td>`,
		`<th>ctime</th><td class="mono">2026-12-06 23:32:41.754 UTC</td>`,
		`<td>world</td><td class="mono">anyone</td><td class="mono">cdrwa</td>`,
		`<a href="/?path=/">/</a><a href="/?path=/app">app</a>`, ` · <a href="/?path=/">up</a>`,
	} {
		if !strings.Contains(app, want) {
			t.Errorf("/?path=/app lacks %s", want)
		}
	}
	if leaf := page("/?path=/app/a%26b"); !strings.Contains(leaf, `<th>ephemeralOwner</th><td class="mono">0x1000a1b2c3d0000</td>`) ||
		!strings.Contains(leaf, `<a href="/?path=/app">app</a>/<a href="/?path=/app/a%26b">a&amp;b</a>`) {
		t.Errorf("/app/a&b:\n%s", leaf)
	}
	if bin := page("/?path=/bin"); !strings.Contains(bin, "00000000  de ad be ef 00 7a") || !strings.Contains(bin, "|.....z|") || !strings.Contains(bin, "(6 bytes, hex)") {
		t.Errorf("/bin is not shown in hex:\n%s", bin)
	}
	big := page("/?path=/big")
	if !strings.Contains(big, "(5000 bytes, text, first 4096 shown)") || strings.Count(big, `<li><a href="/?path=/big/k`) != browseMaxChildren ||
		!strings.Contains(big, "100 more children not shown.") {
		t.Errorf("/big is not bounded")
	}
	secret := page("/?path=/secret")
	if strings.Contains(secret, "pw!") || !strings.Contains(secret, "hidden: the ACL does not grant this address READ") ||
		!strings.Contains(secret, "hidden: the ACL grants this address neither READ nor ADMIN") {
		t.Errorf("/secret shows what the ACL hides:\n%s", secret)
	}
	evil := page("/?path=" + "/%3Cscript%3Ealert(1)%3C/script%3E")
	if strings.Contains(evil, "<script>alert") || !strings.Contains(evil, "no znode at this path: <code>/&lt;script&gt;alert(1)&lt;/script&gt;</code>") {
		t.Errorf("a path with markup:\n%s", evil)
	}
	for _, bad := range []string{"nope", "/app/", "/a//b"} {
		if body := page("/?path=" + bad); !strings.Contains(body, "not a znode path") {
			t.Errorf("path %q not refused", bad)
		}
	}
	if code, _, _ := get(t, h, "POST", "/"); code != 405 {
		t.Errorf("POST /: %d", code)
	}
	_, ctype, live := get(t, h, "GET", "/status/live")
	if ctype != "text/html; charset=utf-8" || strings.Contains(live, "<html") || !strings.Contains(live, `id="members"`) {
		t.Errorf("/status/live: %s\n%s", ctype, live)
	}
}

// The script's hash in the CSP must be the script's, or the browser
// refuses to run it.
func TestStatusScriptMatchesCSP(t *testing.T) {
	a := newTestAdmin(newFake(), "")
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(rec.Body.String(), "<script>"+liveScript+"</script>") {
		t.Fatal("the page's script differs from liveScript (html/template rewrote it?)")
	}
	if strings.Contains(rec.Body.String(), "<h2>Tree</h2>") {
		t.Error("a Source without Browser shows a tree")
	}
}

// peer serves one fake server's four-letter words on a loopback port, as
// its client port would.
func peer(t *testing.T, f *fakeSource, zooCfg string) string {
	t.Helper()
	a := newTestAdmin(f, zooCfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				word := make([]byte, 4)
				if _, err := io.ReadFull(c, word); err == nil {
					c.Write(a.FourLetter(string(word), c))
				}
			}()
		}
	}()
	return l.Addr().String()
}

// ensembleOfFour is this server leading an ensemble of four: 2 follows one
// txn behind, 3 follows in an older epoch with mntr not whitelisted, 4 does
// not answer. 2 and 3 answer four-letter words on loopback ports.
func ensembleOfFour(t *testing.T) (self *browsingFake, port2 string) {
	f2, f3 := newFake(), newFake()
	f2.srv.Mode, f2.srv.LastZxid, f2.srv.GlobalSessions = "follower", 0x500000009, 4
	f3.srv.Mode, f3.srv.LastZxid = "follower", 0x400000020
	addr2 := peer(t, f2, "")
	addr3 := peer(t, f3, "4lw.commands.whitelist=srvr\n")
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	addr4 := closed.Addr().String()
	closed.Close()
	_, port2, _ = net.SplitHostPort(addr2)

	self = newBrowsingFake()
	self.srv.Mode, self.srv.LastZxid, self.srv.GlobalSessions = "leader", 0x50000000a, 4
	self.ens = &Ensemble{ServerID: 1, State: "leader", LeaderID: 1, Epoch: 5, LastZxid: 0x50000000a, ClientAddress: "127.0.0.1:2181",
		Members: []Member{
			{ID: 1, QuorumAddress: "127.0.0.1:2888", ClientAddress: "127.0.0.1:2181"},
			{ID: 2, QuorumAddress: "127.0.0.1:2889", ClientAddress: "0.0.0.0:" + port2},
			{ID: 3, QuorumAddress: "127.0.0.1:2890", ClientAddress: addr3},
			{ID: 4, QuorumAddress: "127.0.0.1:2891", ClientAddress: addr4},
		},
		Elections: []Election{
			{Start: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC), Took: 212 * time.Millisecond, LeaderID: 2, Epoch: 4},
			{Start: time.Date(2026, 12, 7, 3, 5, 0, 0, time.UTC), Took: 1500 * time.Millisecond, LeaderID: 1, Epoch: 5},
		}}
	return self, port2
}

// memberRows finds the members table's rows: id, role, row HTML.
var memberRows = regexp.MustCompile(`(?s)<tr class="member[^"]*" data-id="(\d+)" data-role="([^"]*)">(.*?)</tr>`)

// An ensemble's page shows each member's role from the member itself.
func TestStatusPageEnsemble(t *testing.T) {
	self, port2 := ensembleOfFour(t)
	a := newTestAdmin(self.fakeSource, "")
	a.src = self
	_, _, body := get(t, a.Handler(), "GET", "/")
	rows := memberRows.FindAllStringSubmatch(body, -1)
	if len(rows) != 4 {
		t.Fatalf("%d member rows, want 4:\n%s", len(rows), body)
	}
	cells := func(row string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(row, -1) {
			out = append(out, regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
		}
		return out
	}
	want := []struct {
		id, role, zxid, epoch, lag, sessions string
	}{
		{"1", "leader", "0x50000000a", "5", "—", "4"},
		{"2", "follower", "0x500000009", "5", "1", "4"},
		{"3", "follower", "0x400000020", "4", "older epoch", "—"},
		{"4", "unreachable", "—", "—", "—", "—"},
	}
	for i, w := range want {
		c := cells(rows[i][3])
		if rows[i][1] != w.id || rows[i][2] != w.role || c[3] != w.zxid || c[4] != w.epoch || c[5] != w.lag || c[6] != w.sessions {
			t.Errorf("member %s: id %s role %s cells %q; want %+v", w.id, rows[i][1], rows[i][2], c, w)
		}
	}
	if c := cells(rows[1][3]); c[1] != "0.0.0.0:"+port2 {
		t.Errorf("member 2's address shown as %q", c[1])
	}
	if !strings.Contains(rows[3][3], `<div class="err">connect: connection refused</div>`) {
		t.Errorf("member 4's error: %s", rows[3][3])
	}
	if !strings.Contains(body, "<tr><td>2026-12-07 03:05:00 UTC</td><td class=\"n\">1.5s</td><td class=\"n\">1</td><td class=\"n\">5</td></tr>\n"+
		"<tr><td>2026-12-07 03:00:00 UTC</td><td class=\"n\">212ms</td><td class=\"n\">2</td><td class=\"n\">4</td></tr>") {
		t.Errorf("elections not listed newest first:\n%s", body)
	}
	if !strings.Contains(body, "leader <b>1</b>") {
		t.Error("the banner lacks the leader")
	}
}

// A server missing from its configuration's members still shows itself,
// first; a member without any address is shown with why it was not asked.
func TestStatusPageShowsSelfNotInMembers(t *testing.T) {
	f := newBrowsingFake()
	f.ens = &Ensemble{ServerID: 9, State: "observer", LeaderID: 1, Members: []Member{{ID: 1}}}
	a := newTestAdmin(f.fakeSource, "")
	a.src = f
	_, _, body := get(t, a.Handler(), "GET", "/")
	rows := memberRows.FindAllStringSubmatch(body, -1)
	if len(rows) != 2 || rows[0][1] != "9" || rows[0][2] != "observer" || rows[1][1] != "1" || rows[1][2] != "unreachable" ||
		!strings.Contains(rows[1][3], "no client address configured") {
		t.Errorf("rows %q", rows)
	}
}

// A peer that is LOOKING answers srvr with the not-serving line.
func TestPeerNotServing(t *testing.T) {
	f := newFake()
	f.serving = false
	v := peerView(Member{ID: 2, ClientAddress: "x"}, fetchPeer(peer(t, f, "")))
	if v.Role != "not serving" || v.Err != "" || v.Zxid != "—" {
		t.Errorf("%+v", v)
	}
}

func TestSamplerCountsEachSecond(t *testing.T) {
	m := NewMetrics()
	m.ReadLatency.Observe(3) // before the sampler: not counted
	s := newSampler(m)
	now := time.Unix(1796599961, 0)
	for _, v := range []int64{1, 2, 9} {
		m.ReadLatency.Observe(v)
	}
	m.UpdateLatency.Observe(8)
	s.take(m, now)
	s.take(m, now.Add(time.Second))
	got := s.samples()
	if len(got) != 2 || got[0] != (sample{at: 1796599961, reads: 3, writes: 1, avg: 5, max: 9}) ||
		got[1] != (sample{at: 1796599962}) {
		t.Fatalf("samples %+v", got)
	}
	for i := range sampleCount + 5 {
		m.UpdateLatency.Observe(int64(i))
		s.take(m, now.Add(time.Duration(2+i)*time.Second))
	}
	got = s.samples()
	if len(got) != sampleCount || got[len(got)-1].max != sampleCount+4 || got[0].at != now.Unix()+7 {
		t.Fatalf("after wrapping: %d samples, last %+v, first %+v", len(got), got[len(got)-1], got[0])
	}
	c := charts(got)
	if len(c) != 2 || c[0].Top != "1" || c[1].Top != "500" || strings.Count(c[1].Series[1].Points, ",") != sampleCount {
		t.Errorf("charts: %+v", c[1])
	}
}

func TestTextOrHex(t *testing.T) {
	for data, want := range map[string]bool{"": true, "plain\ttext\n": true, "héllo": true, "h\xc3": true,
		"\xff\xfe": false, "a\x00b": false, "\x1b[31m": false, "h\xc3x": false} {
		if textual([]byte(data)) != want {
			t.Errorf("textual(%q) = %v", data, !want)
		}
	}
	want := "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
		"00000010  00 ff                                             |..|\n"
	if got := hexDump([]byte("0123456789abcdef\x00\xff")); got != want {
		t.Errorf("hexDump:\n%s\nwant\n%s", got, want)
	}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.5: 1, 1: 1, 1.1: 2, 3: 5, 7: 10, 10: 10, 11: 20, 480: 500, 501: 1000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestPageEscapesEveryString(t *testing.T) {
	var p page
	p.put(markup("<td title=\""), `"><script>'&`, markup("\">"), int64(-1), markup("</td>"))
	if got, want := p.b.String(), `<td title="&#34;&gt;&lt;script&gt;&#39;&amp;">-1</td>`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Right after an election the leader shows epoch<<32 and its synced
// followers their last txn of the epoch before: nothing to catch up yet;
// once the epoch has txns, a follower still in the older one is shown so.
func TestLagAfterAnElection(t *testing.T) {
	ms := []memberView{{Role: "leader", zxid: 0x200000000, known: true}, {Role: "follower", zxid: 0x100000004, known: true}}
	fillLag(ms)
	if ms[1].Lag != "0" {
		t.Errorf("a follower of a leader with no txn in its epoch: lag %q, want 0", ms[1].Lag)
	}
	ms[0].zxid = 0x200000003
	fillLag(ms)
	if ms[1].Lag != "older epoch" {
		t.Errorf("a follower in the older epoch once the leader's has txns: lag %q, want \"older epoch\"", ms[1].Lag)
	}
}
