package admin

// The status page's templates: plain HTML with inline style, one inline
// script (liveScript) and no asset from anywhere.

const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zkd {{.Live.Mode}} · server {{.Live.ServerID}}</title>
<link rel="icon" href="data:,">
<style>
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
</style></head>
<body>
<h1>zkd status</h1>
<div class="muted">{{.Version}} · page rendered {{.Now}} · <a href="{{.CommandURL}}">admin commands</a>
<span id="stale" class="err" hidden> · live refresh failed: the figures below may be stale</span></div>
<div id="live">{{template "live" .Live}}</div>
{{with .Tree}}{{template "tree" .}}{{end}}
<script>` + liveScript + `</script>
</body></html>
`

const liveTemplate = `{{define "live"}}<h2>This server</h2>
<div class="banner" id="banner">
<span>Mode: <span class="role role-{{cls .Mode}}" id="mode">{{.Mode}}</span></span>
<span>server id <b>{{.ServerID}}</b></span>
{{if .Quorum}}<span>leader {{if lt .LeaderID 0}}<b class="err">none known</b>{{else}}<b>{{.LeaderID}}</b>{{end}}</span>{{end}}
<span>epoch <b>{{.Epoch}}</b></span><span>zxid <b class="mono">{{.Zxid}}</b></span>
{{if .Uptime}}<span>up {{.Uptime}}</span>{{end}}
{{if not .Serving}}<span class="err"><b>not serving client requests</b></span>{{end}}
<span class="muted">as of {{.Taken}}</span>
</div>
<h2>Ensemble</h2>
<table id="members"><tr><th>id</th><th>client address</th><th>role</th><th>zxid</th><th>epoch</th><th>lag (txns)</th>
<th>sessions</th><th>connections</th><th>znodes</th><th>latency avg / max ms</th></tr>
{{range .Members}}<tr class="member{{if .Self}} self{{end}}" data-id="{{.ID}}" data-role="{{.Role}}">
<td class="n">{{.ID}}{{if .Self}} <span class="muted">(this)</span>{{end}}</td><td class="mono">{{.Addr}}</td>
<td><span class="role role-{{cls .Role}}">{{.Role}}</span>{{if .Observer}} <span class="muted">observer</span>{{end}}{{with .Err}}<div class="err">{{.}}</div>{{end}}</td>
<td class="mono">{{.Zxid}}</td><td class="n">{{.Epoch}}</td><td class="n">{{.Lag}}</td><td class="n">{{.Sessions}}</td>
<td class="n">{{.Connections}}</td><td class="n">{{.Nodes}}</td><td class="n">{{.Latency}}</td></tr>
{{end}}</table>
{{if .Quorum}}<h2>Recent elections</h2>
{{if .Elections}}<table id="elections"><tr><th>started</th><th>took</th><th>leader</th><th>epoch</th></tr>
{{range .Elections}}<tr><td>{{.Start}}</td><td class="n">{{.Took}}</td><td class="n">{{.LeaderID}}</td><td class="n">{{.Epoch}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No election since this server started.</p>{{end}}{{end}}
<h2>Traffic</h2>
{{if .Sampling}}<div class="charts">{{range .Charts}}<div class="chart"><b>{{.Title}}</b> <span class="muted">{{.Unit}}, top line {{.Top}}</span>
{{range .Series}}<span class="key {{.Class}}"></span>{{.Name}} <b>{{.Last}}</b>{{end}}
<svg viewBox="0 0 {{.W}} {{.H}}" preserveAspectRatio="none" role="img" aria-label="{{.Title}}">
{{range .Grid}}<line class="grid" x1="0" x2="600" y1="{{.}}" y2="{{.}}"/>{{end}}
{{range .Series}}<polyline class="{{.Class}}" points="{{.Points}}"/>{{end}}</svg>
<div class="muted">{{.Span}}</div></div>{{end}}</div>
{{else}}<p class="muted">Sampling is off (the charts run while the AdminServer serves).</p>{{end}}
{{end}}`

const treeTemplate = `{{define "tree"}}<h2>Tree</h2>
<form method="get" action="/"><label>path <input type="text" name="path" value="{{.Path}}"></label> <button>show</button></form>
<div class="crumbs mono" id="crumbs">{{range $i, $c := .Crumbs}}{{if gt $i 1}}/{{end}}<a href="{{$c.Href}}">{{$c.Name}}</a>{{end}}
{{with .Parent}} · <a href="{{.}}">up</a>{{end}}</div>
{{if .Err}}<p class="err" id="tree-error">{{.Err}}: <code>{{.Path}}</code></p>{{end}}
{{if .Found}}<div style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start">
<div><h3>Stat</h3><table id="stat">{{range .Stat}}<tr>{{range .}}<th>{{.Name}}</th><td class="mono">{{.Value}}</td>{{end}}</tr>{{end}}</table></div>
<div><h3>ACL</h3>{{if .ACLShown}}<table id="acl"><tr><th>scheme</th><th>id</th><th>perms</th></tr>
{{range .ACL}}<tr><td>{{.Scheme}}</td><td class="mono">{{.ID}}</td><td class="mono">{{.Perms}}</td></tr>{{end}}</table>
{{else}}<p class="muted">hidden: the ACL grants this address neither READ nor ADMIN</p>{{end}}</div>
<div style="flex:1;min-width:320px"><h3>Data <span class="muted">({{.DataLen}} bytes{{if .Readable}}{{if .IsText}}, text{{else}}, hex{{end}}{{if .Truncated}}, first 4096 shown{{end}}{{end}})</span></h3>
{{if not .Readable}}<p class="muted">hidden: the ACL does not grant this address READ</p>
{{else if .IsText}}<pre id="data">{{.Text}}</pre>{{else}}<pre id="data" class="hex">{{.Hex}}</pre>{{end}}</div></div>
{{if .Readable}}<h3>Children <span class="muted">({{len .Children}}{{if .More}} shown, {{.More}} more{{end}})</span></h3>
{{if .Children}}<ul class="kids mono" id="children">{{range .Children}}<li><a href="{{.Href}}">{{.Name}}</a></li>{{end}}</ul>
{{else}}<p class="muted">none</p>{{end}}{{if .More}}<p class="muted">{{.More}} more children not shown.</p>{{end}}{{end}}
{{end}}{{end}}`
