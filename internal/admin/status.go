package admin

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The tree browser's bounds: what one page shows of a znode.
const (
	browseMaxData     = 4096
	browseMaxChildren = 500
	// browseMaxPath bounds the path parameter; no real znode path is this
	// long, and longer ones are refused before the tree is asked.
	browseMaxPath = 4096
	// shownElections is how many recent elections the page lists.
	shownElections = 10
)

// statusPage is everything the page at / shows.
type statusPage struct {
	Version    string
	CommandURL string
	Now        string
	Live       liveView
	Tree       *treeView // nil when the Source has no Browser
}

// liveView is the part of the page the script refreshes: the banner, the
// members, the elections and the charts.
type liveView struct {
	ServerID  int64
	Mode      string
	Serving   bool
	Quorum    bool
	LeaderID  int64
	Epoch     int64
	Zxid      string
	Uptime    string
	Members   []memberView
	Elections []electionView
	Sampling  bool
	Charts    []chart
	Taken     string
}

// memberView is one row of the members table; the figures are text, "—"
// when unknown.
type memberView struct {
	ID          int64
	Self        bool
	Observer    bool
	Addr        string
	Role        string
	Err         string
	Zxid        string
	Epoch       string
	Lag         string
	Sessions    string
	Connections string
	Nodes       string
	Latency     string

	zxid  int64
	known bool // zxid is known
}

type electionView struct {
	Start, Took     string
	LeaderID, Epoch int64
}

// chart is one small line chart, drawn as inline SVG.
type chart struct {
	Title  string
	Unit   string
	Top    string // the value of the top grid line
	W, H   int
	Grid   []int // y of the grid lines
	Series []series
	Span   string
}

type series struct {
	Name, Class string
	Points      string
	Last        string
}

// treeView is the tree browser's znode.
type treeView struct {
	Path      string
	Err       string
	Found     bool
	Crumbs    []link
	Parent    string        // the parent's href, "" at the root
	Stat      [][]statField // two a row
	Readable  bool
	ACLShown  bool
	ACL       []aclView
	IsText    bool
	Text      string
	Hex       string
	DataLen   int32
	Truncated bool
	Children  []link
	More      int
}

// link is a znode as a link to its page; Href keeps the path's slashes
// readable.
type link struct{ Name, Path, Href string }

func znodeLink(name, path string) link {
	return link{Name: name, Path: path, Href: "/?path=" + strings.ReplaceAll(url.QueryEscape(path), "%2F", "/")}
}

type statField struct{ Name, Value string }
type aclView struct{ Scheme, ID, Perms string }

// liveScript refreshes the live part every two seconds from /status/live
// and counts its refreshes in #live's data-refreshed; the page works
// without it (reload by hand).
const liveScript = `(function(){var live=document.getElementById("live"),stale=document.getElementById("stale"),n=0;` +
	`if(!live||!window.fetch)return;setInterval(function(){fetch("/status/live",{cache:"no-store"})` +
	`.then(function(r){if(!r.ok)throw new Error(r.status);return r.text()})` +
	`.then(function(t){live.innerHTML=t;live.dataset.refreshed=++n;stale.hidden=true})` +
	`.catch(function(){stale.hidden=false})},2000)})();`

// statusCSP allows nothing from outside: inline style, this one script,
// fetches to the same server. Computed on first use, like everything of
// the page, so that an idle server never touches it.
var statusCSP = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(liveScript))
	return "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
		"script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
})

// serveStatus answers / with the whole page.
func (a *Admin) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if !getOnly(w, r) {
		return
	}
	p := statusPage{Version: a.version, CommandURL: a.commandURL(), Now: time.Now().UTC().Format(time.RFC3339), Live: a.live()}
	if b, ok := a.src.(Browser); ok {
		t := a.browse(b, r.URL.Query().Get("path"), remoteHost(r))
		p.Tree = &t
	}
	var out page
	out.writePage(p)
	writeHTML(w, &out)
}

// serveLive answers /status/live with the live part alone.
func (a *Admin) serveLive(w http.ResponseWriter, r *http.Request) {
	if getOnly(w, r) {
		var out page
		out.writeLive(a.live())
		writeHTML(w, &out)
	}
}

func writeHTML(w http.ResponseWriter, p *page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", statusCSP())
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(p.b.Bytes())
}

func (a *Admin) commandURL() string {
	if a.cfg.AdminCommandURL == "" {
		return "/commands"
	}
	return a.cfg.AdminCommandURL
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// live gathers the live part: this server from its Source, the other
// members from their own client ports (srvr and mntr, in parallel).
func (a *Admin) live() liveView {
	e := a.src.Ensemble()
	st := a.src.Server()
	serving := a.src.Serving()
	v := liveView{ServerID: e.ServerID, Mode: e.State, Serving: serving, Quorum: e.Quorum(), LeaderID: e.LeaderID,
		Epoch: e.Epoch, Zxid: hexZxid(e.LastZxid), Taken: time.Now().UTC().Format("15:04:05 MST")}
	if v.Mode == "" {
		v.Mode = st.Mode
	}
	if !st.Started.IsZero() {
		v.Uptime = time.Since(st.Started).Round(time.Second).String()
	}
	self := memberView{ID: e.ServerID, Self: true, Addr: e.ClientAddress, Role: v.Mode, zxid: e.LastZxid, known: true,
		Zxid: hexZxid(e.LastZxid), Epoch: strconv.FormatInt(e.Epoch, 10),
		Sessions: strconv.Itoa(st.GlobalSessions), Connections: strconv.Itoa(st.AliveConnections),
		Nodes: strconv.Itoa(st.NodeCount), Latency: fmt.Sprintf("%.1f / %d", st.AvgLatency, st.MaxLatency)}
	if !serving {
		self.Role = "not serving"
		if v.Quorum {
			self.Role = "looking"
		}
	}
	if self.Addr == "" {
		host := a.cfg.ClientPortAddress
		if host == "" {
			host = "0.0.0.0"
		}
		self.Addr = net.JoinHostPort(host, strconv.Itoa(a.cfg.ClientPort))
	}
	if !slices.ContainsFunc(e.Members, func(m Member) bool { return m.ID == e.ServerID }) {
		// Standalone, or a server the configuration does not list (yet).
		e.Members = append([]Member{{ID: e.ServerID}}, e.Members...)
	}
	v.Members = make([]memberView, len(e.Members))
	var wg sync.WaitGroup
	for i, m := range e.Members {
		if m.ID == e.ServerID {
			s := self
			s.Observer = m.Observer
			v.Members[i] = s
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.Members[i] = peerView(m, fetchPeer(peerClientAddr(m, a.cfg.ClientPort)))
		}()
	}
	wg.Wait()
	fillLag(v.Members)
	for _, el := range e.Elections[max(len(e.Elections)-shownElections, 0):] {
		v.Elections = append(v.Elections, electionView{Start: el.Start.UTC().Format("2006-01-02 15:04:05 MST"),
			Took: el.Took.Round(time.Millisecond).String(), LeaderID: el.LeaderID, Epoch: el.Epoch})
	}
	slices.Reverse(v.Elections) // newest first
	if s := a.samples.Load(); s != nil {
		v.Sampling = true
		v.Charts = charts(s.samples())
	}
	return v
}

func peerView(m Member, f peerFigures) memberView {
	v := memberView{ID: m.ID, Observer: m.Observer, Addr: m.ClientAddress, Role: f.Mode, Err: f.Err,
		Zxid: "—", Epoch: "—", Sessions: "—", Connections: "—", Nodes: "—", Latency: "—"}
	if v.Addr == "" {
		v.Addr = m.QuorumAddress
	}
	switch {
	case f.Err != "":
		v.Role = "unreachable"
	case !f.Serving:
		// LOOKING (or not yet started): srvr refuses to answer.
	default:
		v.zxid, v.known = f.Zxid, true
		v.Zxid, v.Epoch = hexZxid(f.Zxid), strconv.FormatInt(f.Zxid>>32, 10)
		v.Connections, v.Nodes = strconv.Itoa(f.Connections), strconv.Itoa(f.Nodes)
		v.Latency = fmt.Sprintf("%.1f / %d", f.AvgLatency, f.MaxLatency)
		if f.Sessions >= 0 {
			v.Sessions = strconv.Itoa(f.Sessions)
		}
	}
	return v
}

// fillLag sets each member's lag behind the leader: the transactions
// between its zxid and the leader's in the leader's epoch; a member still
// in an older epoch is "older epoch", or 0 while the leader's epoch has no
// txn yet (a new leader shows epoch<<32 and its synced followers their
// last txn of the epoch before, as Apache's do).
func fillLag(ms []memberView) {
	leader := -1
	for i, m := range ms {
		if m.Role == "leader" && m.known {
			leader = i
		}
	}
	for i := range ms {
		m := &ms[i]
		switch {
		case leader < 0 || i == leader || !m.known:
			m.Lag = "—"
		case m.zxid>>32 < ms[leader].zxid>>32 && ms[leader].zxid&0xffffffff == 0:
			m.Lag = "0"
		case m.zxid>>32 < ms[leader].zxid>>32:
			m.Lag = "older epoch"
		case m.zxid >= ms[leader].zxid:
			m.Lag = "0"
		default:
			m.Lag = strconv.FormatInt(ms[leader].zxid-m.zxid, 10)
		}
	}
}

func hexZxid(z int64) string { return "0x" + strconv.FormatInt(z, 16) }

// Chart geometry, in SVG user units.
const chartW, chartH = 600, 110

// charts draws the samples: requests per second (reads, writes) and
// latency (average, max).
func charts(ss []sample) []chart {
	reads, writes, avg, peak := make([]float64, len(ss)), make([]float64, len(ss)), make([]float64, len(ss)), make([]float64, len(ss))
	for i, s := range ss {
		reads[i], writes[i], avg[i], peak[i] = float64(s.reads), float64(s.writes), float64(s.avg), float64(s.max)
	}
	span := fmt.Sprintf("last %s, one sample a second", time.Duration(len(ss))*time.Second)
	return []chart{
		drawChart("Requests", "per second", span, []string{"reads", "writes"}, [][]float64{reads, writes}, "%.0f"),
		drawChart("Latency", "ms", span, []string{"avg", "max"}, [][]float64{avg, peak}, "%.1f"),
	}
}

func drawChart(title, unit, span string, names []string, values [][]float64, format string) chart {
	top := 0.0
	for _, vs := range values {
		for _, v := range vs {
			top = max(top, v)
		}
	}
	top = niceCeil(top)
	c := chart{Title: title, Unit: unit, Top: strconv.FormatFloat(top, 'f', -1, 64), W: chartW, H: chartH, Span: span}
	for i := 1; i < 4; i++ {
		c.Grid = append(c.Grid, chartH*i/4)
	}
	// The width spans the samples held, a minute at least, so that a
	// young server's few samples are not squeezed into the right edge.
	width := 60
	for _, vs := range values {
		width = max(width, len(vs))
	}
	step := float64(chartW) / float64(width-1)
	for i, vs := range values {
		var pts strings.Builder
		for j, v := range vs {
			x := float64(chartW) - float64(len(vs)-1-j)*step
			y := float64(chartH) - v/top*float64(chartH-2) - 1
			fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		}
		s := series{Name: names[i], Class: fmt.Sprintf("s%d", i), Points: strings.TrimSpace(pts.String()), Last: "—"}
		if len(vs) > 0 {
			s.Last = fmt.Sprintf(format, vs[len(vs)-1])
		}
		c.Series = append(c.Series, s)
	}
	return c
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 at least).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// browse reads the znode at path for the tree browser.
func (a *Admin) browse(b Browser, path, remote string) treeView {
	if path == "" {
		path = "/"
	}
	t := treeView{Path: path}
	if len(path) > browseMaxPath || path[0] != '/' || !utf8.ValidString(path) ||
		len(path) > 1 && strings.HasSuffix(path, "/") || strings.Contains(path, "//") {
		t.Err = "not a znode path"
		return t
	}
	t.Crumbs = []link{znodeLink("/", "/")}
	if path != "/" {
		for i := 1; i < len(path); i++ {
			if j := strings.IndexByte(path[i:], '/'); j >= 0 {
				t.Crumbs = append(t.Crumbs, znodeLink(path[i:i+j], path[:i+j]))
				i += j
			} else {
				t.Crumbs = append(t.Crumbs, znodeLink(path[i:], path))
				break
			}
		}
		t.Parent = t.Crumbs[len(t.Crumbs)-2].Href
	}
	z, ok := b.Znode(path, remote, browseMaxData, browseMaxChildren)
	if !ok {
		t.Err = "no znode at this path"
		return t
	}
	t.Found, t.Readable, t.ACLShown = true, z.Readable, z.ACLReadable
	s := z.Stat
	ms := func(v int64) string { return time.UnixMilli(v).UTC().Format("2006-01-02 15:04:05.000 MST") }
	t.Stat = [][]statField{
		{{"cZxid", hexZxid(s.Czxid)}, {"ctime", ms(s.Ctime)}},
		{{"mZxid", hexZxid(s.Mzxid)}, {"mtime", ms(s.Mtime)}},
		{{"pZxid", hexZxid(s.Pzxid)}, {"cversion", fmt.Sprint(s.Cversion)}},
		{{"dataVersion", fmt.Sprint(s.Version)}, {"aclVersion", fmt.Sprint(s.Aversion)}},
		{{"ephemeralOwner", hexZxid(s.EphemeralOwner)}, {"dataLength", fmt.Sprint(s.DataLength)}},
		{{"numChildren", fmt.Sprint(s.NumChildren)}},
	}
	for _, e := range z.ACL {
		t.ACL = append(t.ACL, aclView{Scheme: e.Scheme, ID: e.ID, Perms: permString(e.Perms)})
	}
	t.DataLen = s.DataLength
	t.Truncated = int(s.DataLength) > len(z.Data)
	if textual(z.Data) {
		t.IsText, t.Text = true, string(z.Data)
	} else {
		t.Hex = hexDump(z.Data)
	}
	prefix := path
	if prefix == "/" {
		prefix = ""
	}
	for _, name := range z.Children {
		t.Children = append(t.Children, znodeLink(name, prefix+"/"+name))
	}
	t.More = max(int(s.NumChildren)-len(z.Children), 0)
	return t
}

// permString spells perms as zkCli's getAcl does (cdrwa).
func permString(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{4, 'c'}, {8, 'd'}, {1, 'r'}, {2, 'w'}, {16, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// textual reports whether data reads as text: UTF-8 (a cut at the end of
// the shown bytes allowed) without control characters other than tab,
// newline and carriage return.
func textual(data []byte) bool {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return len(data)-i < utf8.UTFMax && !utf8.FullRune(data[i:])
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		i += n
	}
	return true
}

// hexDump is xxd's layout: offset, 16 bytes in hex, the printable ones.
func hexDump(data []byte) string {
	var b strings.Builder
	for off := 0; off < len(data); off += 16 {
		line := data[off:min(off+16, len(data))]
		fmt.Fprintf(&b, "%08x  ", off)
		for i := range 16 {
			if i < len(line) {
				fmt.Fprintf(&b, "%02x ", line[i])
			} else {
				b.WriteString("   ")
			}
			if i == 7 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(" |")
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			b.WriteByte(c)
		}
		b.WriteString("|\n")
	}
	return b.String()
}
