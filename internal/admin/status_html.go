package admin

import (
	"bytes"
	"strconv"
	"strings"
)

// The status page is written by hand rather than with html/template:
// text/template's reflection keeps every exported method of every type in
// the binary (about 4 MB), and the idle RSS bound of issue 11 has no room
// for it. Escaping is still the default: page.put escapes every string it
// is given and writes only markup values (type markup) as they are.

// markup is trusted HTML: literals of this file, never data.
type markup string

// page accumulates one rendering.
type page struct{ b bytes.Buffer }

// put writes markup as it is and anything else escaped.
func (p *page) put(parts ...any) {
	for _, x := range parts {
		switch v := x.(type) {
		case markup:
			p.b.WriteString(string(v))
		case string:
			escapeTo(&p.b, v)
		case int:
			p.b.WriteString(strconv.Itoa(v))
		case int32:
			p.b.WriteString(strconv.FormatInt(int64(v), 10))
		case int64:
			p.b.WriteString(strconv.FormatInt(v, 10))
		default:
			panic("admin: page.put of an unexpected type")
		}
	}
}

// escapeTo writes s with &, <, >, " and ' escaped, as html/template's
// text and attribute escaping does.
func escapeTo(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// roleClass is the CSS class of a role badge.
func roleClass(role string) string { return "role role-" + strings.ReplaceAll(role, " ", "-") }

const statusStyle = `<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:0 16px 32px;color:#1d232a;background:#fafbfc}
h1{font-size:20px;margin:14px 0 4px}h3{font-size:14px;margin:10px 0 4px}h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #d8dde3;padding-bottom:3px}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #d8dde3;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
pre{background:#fff;border:1px solid #d8dde3;padding:6px 8px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-all}
.banner{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:baseline;padding:8px 12px;border-radius:6px;background:#fff;border:1px solid #d8dde3}
.role{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff;background:#6b7785}
.role-leader{background:#1f7a3a}.role-follower{background:#2458a6}.role-observer{background:#6a4aa0}.role-standalone{background:#0f6f76}
.role-unreachable,.role-looking,.role-not-serving{background:#b3261e}
tr.self td{background:#f3f8ff}.err{color:#b3261e}.muted{color:#6b7785}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{background:#fff;border:1px solid #d8dde3;padding:6px 10px}
.chart svg{display:block;width:540px;height:100px;background:#fcfdfe}
.grid{stroke:#e3e7eb;stroke-width:1}.s0{stroke:#2458a6}.s1{stroke:#d9730d}polyline{fill:none;stroke-width:1.5}
.key{display:inline-block;width:12px;height:3px;vertical-align:middle;margin:0 4px 0 10px}.key.s0{background:#2458a6}.key.s1{background:#d9730d}
.crumbs a{text-decoration:none}.kids{columns:3 220px;margin:0;padding-left:18px}
form{margin:4px 0 8px}input[type=text]{width:460px;font-family:ui-monospace,monospace}
</style>`

// writePage writes the whole page.
func (p *page) writePage(s statusPage) {
	p.put(markup("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"+
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>zkd "), s.Live.Mode,
		markup(" · server "), s.Live.ServerID, markup("</title>\n<link rel=\"icon\" href=\"data:,\">\n"+statusStyle+"</head>\n<body>\n"+
			"<h1>zkd status</h1>\n<div class=\"muted\">"), s.Version, markup(" · page rendered "), s.Now,
		markup(" · <a href=\""), s.CommandURL, markup("\">admin commands</a>\n"+
			"<span id=\"stale\" class=\"err\" hidden> · live refresh failed: the figures below may be stale</span></div>\n<div id=\"live\">"))
	p.writeLive(s.Live)
	p.put(markup("</div>\n"))
	if s.Tree != nil {
		p.writeTree(*s.Tree)
	}
	p.put(markup("<script>" + liveScript + "</script>\n</body></html>\n"))
}

// writeLive writes the part /status/live refreshes.
func (p *page) writeLive(v liveView) {
	p.put(markup("<h2>This server</h2>\n<div class=\"banner\" id=\"banner\">\n<span>Mode: <span class=\""), roleClass(v.Mode),
		markup("\" id=\"mode\">"), v.Mode, markup("</span></span>\n<span>server id <b>"), v.ServerID, markup("</b></span>\n"))
	if v.Quorum {
		if v.LeaderID < 0 {
			p.put(markup("<span>leader <b class=\"err\">none known</b></span>\n"))
		} else {
			p.put(markup("<span>leader <b>"), v.LeaderID, markup("</b></span>\n"))
		}
	}
	p.put(markup("<span>epoch <b>"), v.Epoch, markup("</b></span><span>zxid <b class=\"mono\">"), v.Zxid, markup("</b></span>\n"))
	if v.Uptime != "" {
		p.put(markup("<span>up "), v.Uptime, markup("</span>\n"))
	}
	if !v.Serving {
		p.put(markup("<span class=\"err\"><b>not serving client requests</b></span>\n"))
	}
	p.put(markup("<span class=\"muted\">as of "), v.Taken, markup("</span>\n</div>\n"+
		"<h2>Ensemble</h2>\n<table id=\"members\"><tr><th>id</th><th>client address</th><th>role</th><th>zxid</th><th>epoch</th><th>lag (txns)</th>\n"+
		"<th>sessions</th><th>connections</th><th>znodes</th><th>latency avg / max ms</th></tr>\n"))
	for _, m := range v.Members {
		cls := "member"
		if m.Self {
			cls = "member self"
		}
		p.put(markup("<tr class=\""), cls, markup("\" data-id=\""), m.ID, markup("\" data-role=\""), m.Role, markup("\">\n<td class=\"n\">"), m.ID)
		if m.Self {
			p.put(markup(" <span class=\"muted\">(this)</span>"))
		}
		p.put(markup("</td><td class=\"mono\">"), m.Addr, markup("</td>\n<td><span class=\""), roleClass(m.Role), markup("\">"), m.Role, markup("</span>"))
		if m.Observer {
			p.put(markup(" <span class=\"muted\">observer</span>"))
		}
		if m.Err != "" {
			p.put(markup("<div class=\"err\">"), m.Err, markup("</div>"))
		}
		p.put(markup("</td>\n<td class=\"mono\">"), m.Zxid, markup("</td><td class=\"n\">"), m.Epoch, markup("</td><td class=\"n\">"), m.Lag,
			markup("</td><td class=\"n\">"), m.Sessions, markup("</td>\n<td class=\"n\">"), m.Connections, markup("</td><td class=\"n\">"), m.Nodes,
			markup("</td><td class=\"n\">"), m.Latency, markup("</td></tr>\n"))
	}
	p.put(markup("</table>\n"))
	if v.Quorum {
		p.put(markup("<h2>Recent elections</h2>\n"))
		if len(v.Elections) == 0 {
			p.put(markup("<p class=\"muted\">No election since this server started.</p>\n"))
		} else {
			p.put(markup("<table id=\"elections\"><tr><th>started</th><th>took</th><th>leader</th><th>epoch</th></tr>\n"))
			for _, e := range v.Elections {
				p.put(markup("<tr><td>"), e.Start, markup("</td><td class=\"n\">"), e.Took, markup("</td><td class=\"n\">"), e.LeaderID,
					markup("</td><td class=\"n\">"), e.Epoch, markup("</td></tr>\n"))
			}
			p.put(markup("</table>\n"))
		}
	}
	p.put(markup("<h2>Traffic</h2>\n"))
	if !v.Sampling {
		p.put(markup("<p class=\"muted\">Sampling is off (the charts run while the AdminServer serves).</p>\n"))
		return
	}
	p.put(markup("<div class=\"charts\">"))
	for _, c := range v.Charts {
		p.put(markup("<div class=\"chart\"><b>"), c.Title, markup("</b> <span class=\"muted\">"), c.Unit, markup(", top line "), c.Top, markup("</span>\n"))
		for _, s := range c.Series {
			p.put(markup("<span class=\"key "), s.Class, markup("\"></span>"), s.Name, markup(" <b>"), s.Last, markup("</b>"))
		}
		p.put(markup("\n<svg viewBox=\"0 0 "), c.W, markup(" "), c.H, markup("\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\""), c.Title, markup("\">\n"))
		for _, y := range c.Grid {
			p.put(markup("<line class=\"grid\" x1=\"0\" x2=\""), c.W, markup("\" y1=\""), y, markup("\" y2=\""), y, markup("\"/>"))
		}
		for _, s := range c.Series {
			p.put(markup("<polyline class=\""), s.Class, markup("\" points=\""), s.Points, markup("\"/>"))
		}
		p.put(markup("</svg>\n<div class=\"muted\">"), c.Span, markup("</div></div>"))
	}
	p.put(markup("</div>\n"))
}

// writeTree writes the tree browser.
func (p *page) writeTree(t treeView) {
	p.put(markup("<h2>Tree</h2>\n<form method=\"get\" action=\"/\"><label>path <input type=\"text\" name=\"path\" value=\""), t.Path,
		markup("\"></label> <button>show</button></form>\n<div class=\"crumbs mono\" id=\"crumbs\">"))
	for i, c := range t.Crumbs {
		if i > 1 {
			p.put(markup("/"))
		}
		p.put(markup("<a href=\""), c.Href, markup("\">"), c.Name, markup("</a>"))
	}
	if t.Parent != "" {
		p.put(markup("\n · <a href=\""), t.Parent, markup("\">up</a>"))
	}
	p.put(markup("</div>\n"))
	if t.Err != "" {
		p.put(markup("<p class=\"err\" id=\"tree-error\">"), t.Err, markup(": <code>"), t.Path, markup("</code></p>\n"))
	}
	if !t.Found {
		return
	}
	p.put(markup("<div style=\"display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start\">\n<div><h3>Stat</h3><table id=\"stat\">"))
	for _, row := range t.Stat {
		p.put(markup("<tr>"))
		for _, f := range row {
			p.put(markup("<th>"), f.Name, markup("</th><td class=\"mono\">"), f.Value, markup("</td>"))
		}
		p.put(markup("</tr>"))
	}
	p.put(markup("</table></div>\n<div><h3>ACL</h3>"))
	if t.ACLShown {
		p.put(markup("<table id=\"acl\"><tr><th>scheme</th><th>id</th><th>perms</th></tr>\n"))
		for _, e := range t.ACL {
			p.put(markup("<tr><td>"), e.Scheme, markup("</td><td class=\"mono\">"), e.ID, markup("</td><td class=\"mono\">"), e.Perms, markup("</td></tr>"))
		}
		p.put(markup("</table>\n"))
	} else {
		p.put(markup("<p class=\"muted\">hidden: the ACL grants this address neither READ nor ADMIN</p>"))
	}
	p.put(markup("</div>\n<div style=\"flex:1;min-width:320px\"><h3>Data <span class=\"muted\">("), t.DataLen, markup(" bytes"))
	if t.Readable {
		if t.IsText {
			p.put(markup(", text"))
		} else {
			p.put(markup(", hex"))
		}
		if t.Truncated {
			p.put(markup(", first "), browseMaxData, markup(" shown"))
		}
	}
	p.put(markup(")</span></h3>\n"))
	switch {
	case !t.Readable:
		p.put(markup("<p class=\"muted\">hidden: the ACL does not grant this address READ</p>\n"))
	case t.IsText:
		p.put(markup("<pre id=\"data\">"), t.Text, markup("</pre>"))
	default:
		p.put(markup("<pre id=\"data\" class=\"hex\">"), t.Hex, markup("</pre>"))
	}
	p.put(markup("</div></div>\n"))
	if !t.Readable {
		return
	}
	p.put(markup("<h3>Children <span class=\"muted\">("), len(t.Children))
	if t.More > 0 {
		p.put(markup(" shown, "), t.More, markup(" more"))
	}
	p.put(markup(")</span></h3>\n"))
	if len(t.Children) == 0 {
		p.put(markup("<p class=\"muted\">none</p>\n"))
	} else {
		p.put(markup("<ul class=\"kids mono\" id=\"children\">"))
		for _, c := range t.Children {
			p.put(markup("<li><a href=\""), c.Href, markup("\">"), c.Name, markup("</a></li>"))
		}
		p.put(markup("</ul>\n"))
	}
	if t.More > 0 {
		p.put(markup("<p class=\"muted\">"), t.More, markup(" more children not shown.</p>\n"))
	}
}
