package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func chartReport() *CompareReport {
	r := &CompareReport{Settings: CompareSettings{Workloads: []Workload{WorkloadGet, WorkloadMixed}, ReadRatio: 0.9}}
	for _, w := range r.Settings.Workloads {
		for i, clients := range []int{1, 8, 64} {
			base := float64(1000 * (i + 1))
			r.Throughput = append(r.Throughput, ThroughputRow{
				Workload:  w,
				Clients:   clients,
				Zkd:       SystemFigures{OpsPerSecond: Spread{Median: 2 * base, Min: 1.9 * base, Max: 2.1 * base, N: 3}},
				ZooKeeper: SystemFigures{OpsPerSecond: Spread{Median: base, Min: base, Max: base, N: 3}},
			})
		}
	}
	return r
}

type svgElement struct {
	name  string
	attrs map[string]string
	text  string
}

// parseSVG checks that the document is well-formed XML and returns its
// elements in order.
func parseSVG(t *testing.T, data []byte) []svgElement {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var out []svgElement
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := svgElement{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
		case xml.CharData:
			if len(out) > 0 {
				out[len(out)-1].text += string(tok)
			}
		}
	}
}

func TestThroughputSVGDrawsBothSeriesPerWorkload(t *testing.T) {
	els := parseSVG(t, chartReport().ThroughputSVG())
	if els[0].name != "svg" || els[0].attrs["viewBox"] == "" {
		t.Fatalf("root element %+v, want an svg with a viewBox", els[0])
	}
	lines, texts := seriesAndTexts(els)
	if len(lines) != 4 {
		t.Fatalf("got %d series lines, want 2 workloads × 2 servers", len(lines))
	}
	for _, want := range []string{"get", "mixed 90/10", "zkd", "ZooKeeper", "concurrent clients (sessions)", "ops/s", "1", "8", "64", "0"} {
		if !containsString(texts, want) {
			t.Errorf("no text %q in the chart; texts: %q", want, texts)
		}
	}
	// Within a panel the zkd line (twice ZooKeeper's ops/s) must be drawn
	// higher, i.e. at smaller y, at every x; x must grow with clients.
	zkd, zk := points(t, lines[0]), points(t, lines[1])
	if lines[0].attrs["data-label"] != "zkd" || lines[1].attrs["data-label"] != "ZooKeeper" {
		t.Fatalf("series labels %q, %q", lines[0].attrs["data-label"], lines[1].attrs["data-label"])
	}
	for i := range zkd {
		if zkd[i][1] >= zk[i][1] {
			t.Errorf("point %d: zkd y=%v not above ZooKeeper y=%v", i, zkd[i][1], zk[i][1])
		}
		if i > 0 && zkd[i][0] <= zkd[i-1][0] {
			t.Errorf("x does not grow with clients: %v", zkd)
		}
	}
	// Clients 1, 8, 64 are evenly spaced on the log2 axis: 3 and 3 doublings.
	if d1, d2 := zkd[1][0]-zkd[0][0], zkd[2][0]-zkd[1][0]; d1 < 0.99*d2 || d1 > 1.01*d2 {
		t.Errorf("1→8 spans %v px, 8→64 spans %v px; want equal on a log2 axis", d1, d2)
	}
}

func TestThroughputSVGEscapesText(t *testing.T) {
	r := chartReport()
	r.SelfTest = true
	parseSVG(t, r.ThroughputSVG()) // "zkd (selftest: Apache)" and the title must stay well-formed
	r.Settings.Workloads = []Workload{"a<b&c"}
	parseSVG(t, r.ThroughputSVG())
}

func points(t *testing.T, polyline svgElement) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, pair := range strings.Fields(polyline.attrs["points"]) {
		xs, ys, _ := strings.Cut(pair, ",")
		x, err1 := strconv.ParseFloat(xs, 64)
		y, err2 := strconv.ParseFloat(ys, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad point %q", pair)
		}
		out = append(out, [2]float64{x, y})
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestNiceAxis(t *testing.T) {
	tests := []struct{ max, step, top float64 }{
		{0, 0.2, 1},
		{9500, 2000, 10000},
		{10000, 2000, 10000},
		{23456, 5000, 25000},
		{61000, 20000, 80000},
		{3, 1, 3},
	}
	for _, tt := range tests {
		step, top := niceAxis(tt.max)
		if step != tt.step || top != tt.top {
			t.Errorf("niceAxis(%v) = %v, %v; want %v, %v", tt.max, step, top, tt.step, tt.top)
		}
	}
}

func TestSILabel(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 500: "500", 5000: "5k", 15000: "15k", 2500: "2.5k", 1_500_000: "1.5M", 0.4: "0.4"} {
		if got := siLabel(in); got != want {
			t.Errorf("siLabel(%v) = %q, want %q", in, got, want)
		}
	}
}

// withCeiling adds a limit at three times ZooKeeper's ops/s to every row.
func withCeiling(r *CompareReport) *CompareReport {
	r.Settings.Ceiling = true
	for i := range r.Throughput {
		row := &r.Throughput[i]
		k := row.ZooKeeper.OpsPerSecond.Median
		row.Ceiling = &SystemFigures{OpsPerSecond: Spread{Median: 3 * k, Min: 2.9 * k, Max: 3.1 * k, N: 3},
			P99US: Spread{Median: 100, Min: 100, Max: 100, N: 3}}
		row.ZkdOfCeiling = &Spread{Median: 2.0 / 3, Min: 0.6, Max: 0.7, N: 3}
		row.ZooKeeperOfCeiling = &Spread{Median: 1.0 / 3, Min: 0.3, Max: 0.35, N: 3}
	}
	return r
}

// seriesAndTexts are a picture's series lines and its texts, in order.
func seriesAndTexts(els []svgElement) (lines []svgElement, texts []string) {
	for _, e := range els {
		if e.name == "polyline" {
			lines = append(lines, e)
		}
		if e.name == "text" {
			texts = append(texts, strings.TrimSpace(e.text))
		}
	}
	return lines, texts
}

// withDurableCeiling gives the report a durable limit at twice
// ZooKeeper's throughput.
func withDurableCeiling(r *CompareReport) *CompareReport {
	r.Settings.DurableCeiling = true
	for i := range r.Throughput {
		row := &r.Throughput[i]
		k := row.ZooKeeper.OpsPerSecond.Median
		row.DurableCeiling = &SystemFigures{OpsPerSecond: Spread{Median: 2 * k, Min: 1.9 * k, Max: 2.1 * k, N: 3},
			P99US: Spread{Median: 200, Min: 200, Max: 200, N: 3}}
		row.ZkdOfDurableCeiling = &Spread{Median: 0.8, Min: 0.75, Max: 0.85, N: 3}
		row.ZooKeeperOfDurableCeiling = &Spread{Median: 0.4, Min: 0.38, Max: 0.42, N: 3}
	}
	return r
}

func TestThroughputSVGDrawsTheCeiling(t *testing.T) {
	els := parseSVG(t, withCeiling(chartReport()).ThroughputSVG())
	lines, texts := seriesAndTexts(els)
	if len(lines) != 6 {
		t.Fatalf("got %d series lines, want 2 workloads × 3 (zkd, ZooKeeper, the limit)", len(lines))
	}
	if !containsString(texts, "limit (fixed replies)") {
		t.Errorf("no legend entry for the limit; texts: %q", texts)
	}
	limit, zkd := lines[2], lines[0]
	if limit.attrs["data-label"] != "limit (fixed replies)" || limit.attrs["stroke-dasharray"] == "" {
		t.Fatalf("third series %+v, want the dashed limit", limit.attrs)
	}
	// The limit (3× ZooKeeper) is drawn above zkd (2×) at every x.
	lp, zp := points(t, limit), points(t, zkd)
	for i := range lp {
		if lp[i][1] >= zp[i][1] {
			t.Errorf("point %d: limit y=%v not above zkd y=%v", i, lp[i][1], zp[i][1])
		}
	}
	// One panel is narrower than three legend entries: the picture widens.
	one := withCeiling(chartReport())
	one.Settings.Workloads = []Workload{WorkloadGet}
	checkLegendFits(t, one.ThroughputSVG())
}

// checkLegendFits: the picture is wider than one panel when the legend
// needs it, and the last legend label ends inside it (6.6 px a character
// at 12 px, as the legend is laid out).
func checkLegendFits(t *testing.T, svg []byte) {
	t.Helper()
	els := parseSVG(t, svg)
	w, _ := strconv.ParseFloat(els[0].attrs["width"], 64)
	var last svgElement
	for _, e := range els {
		if e.name == "text" && e.attrs["y"] == "46" {
			last = e
		}
	}
	x, _ := strconv.ParseFloat(last.attrs["x"], 64)
	if end := x + 6.6*float64(utf8.RuneCountInString(strings.TrimSpace(last.text))); end > w || w <= panelWidth {
		t.Errorf("legend ends at %v in a picture %v wide (one panel: %v)", end, w, panelWidth)
	}
}

// TestThroughputSVGDrawsTheDurableCeiling: the durable limit is a fourth
// series, dashed, between the plain limit and zkd here.
func TestThroughputSVGDrawsTheDurableCeiling(t *testing.T) {
	lines, texts := seriesAndTexts(parseSVG(t, withDurableCeiling(withCeiling(chartReport())).ThroughputSVG()))
	if len(lines) != 8 {
		t.Fatalf("got %d series lines, want 2 workloads × 4", len(lines))
	}
	durable, limit := lines[3], lines[2]
	if durable.attrs["data-label"] != "durable limit (fixed replies, writes fdatasynced)" || durable.attrs["stroke-dasharray"] == "" {
		t.Fatalf("fourth series %+v, want the dashed durable limit", durable.attrs)
	}
	if !containsString(texts, "durable limit (fixed replies, writes fdatasynced)") {
		t.Errorf("no legend entry for the durable limit; texts: %q", texts)
	}
	one := withDurableCeiling(withCeiling(chartReport()))
	one.Settings.Workloads = []Workload{WorkloadGet}
	checkLegendFits(t, one.ThroughputSVG())
	dp, lp := points(t, durable), points(t, limit)
	for i := range dp {
		if dp[i][1] <= lp[i][1] {
			t.Errorf("point %d: durable limit (2× ZooKeeper) y=%v not below the limit (3×) y=%v", i, dp[i][1], lp[i][1])
		}
	}
}
