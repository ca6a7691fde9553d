package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Chart geometry, in SVG user units (pixels at 100%).
const (
	panelWidth     = 440.0
	panelHeight    = 320.0
	panelColumns   = 2
	headerHeight   = 56.0
	plotLeft       = 72.0 // room for y tick labels and the y axis label
	plotRight      = 20.0
	plotTop        = 36.0 // room for the panel title
	plotBottom     = 56.0 // room for x tick labels and the x axis label
	fontFamily     = "DejaVu Sans, Helvetica, Arial, sans-serif"
	gridColor      = "#dddddd"
	axisColor      = "#333333"
	zkdColor       = "#1f77b4"
	zooKeeperColor = "#ff7f0e"
	ceilingColor   = "#555555"
	// durableCeilingColor draws the durable limit, dashed like the limit.
	durableCeilingColor = "#9467bd"
)

// chartPoint is one x position of a series: the median and its spread.
type chartPoint struct {
	x, median, lo, hi float64
}

type chartSeries struct {
	label  string
	color  string
	square bool // square markers, so the series differ without colour too
	dashed bool // a dashed line: the limit, not a server
	points []chartPoint
}

type lineChart struct {
	title  string
	xLabel string
	yLabel string
	series []chartSeries
	// xTick prints an x tick's label; nil prints the number as it is.
	xTick func(float64) string
}

// ThroughputSVG draws ops/s against the number of clients, one panel per
// workload, both servers in each (and the ceiling, dashed, when it ran):
// the line joins medians, the bars span min–max of the repeats.
func (r *CompareReport) ThroughputSVG() []byte {
	withCeiling := r.hasCeiling()
	point := func(x float64, s Spread) chartPoint { return chartPoint{x, s.Median, s.Min, s.Max} }
	var charts []lineChart
	for _, w := range r.Settings.Workloads {
		zkdSeries := chartSeries{label: r.roleLabel(roleZkd), color: zkdColor}
		zkSeries := chartSeries{label: r.roleLabel(roleZooKeeper), color: zooKeeperColor, square: true}
		limitSeries := chartSeries{label: r.roleLabel(roleCeiling), color: ceilingColor, dashed: true}
		durableSeries := chartSeries{label: r.roleLabel(roleDurableCeiling), color: durableCeilingColor, dashed: true}
		for _, row := range r.Throughput {
			if row.Workload != w {
				continue
			}
			x := float64(row.Clients)
			zkdSeries.points = append(zkdSeries.points, point(x, row.Zkd.OpsPerSecond))
			zkSeries.points = append(zkSeries.points, point(x, row.ZooKeeper.OpsPerSecond))
			if row.Ceiling != nil {
				limitSeries.points = append(limitSeries.points, point(x, row.Ceiling.OpsPerSecond))
			}
			if row.DurableCeiling != nil {
				durableSeries.points = append(durableSeries.points, point(x, row.DurableCeiling.OpsPerSecond))
			}
		}
		series := []chartSeries{zkdSeries, zkSeries}
		if withCeiling {
			series = append(series, limitSeries)
		}
		if r.Settings.DurableCeiling {
			series = append(series, durableSeries)
		}
		charts = append(charts, lineChart{
			title:  r.workloadLabel(w),
			xLabel: "concurrent clients (sessions)",
			yLabel: "ops/s",
			series: series,
		})
	}
	legend := []chartSeries{
		{label: r.roleLabel(roleZkd), color: zkdColor},
		{label: r.roleLabel(roleZooKeeper), color: zooKeeperColor, square: true},
	}
	if withCeiling {
		legend = append(legend, chartSeries{label: r.roleLabel(roleCeiling), color: ceilingColor, dashed: true})
	}
	if r.Settings.DurableCeiling {
		legend = append(legend, chartSeries{label: r.roleLabel(roleDurableCeiling), color: durableCeilingColor, dashed: true})
	}
	title := "Throughput against concurrent clients"
	if r.SelfTest {
		title += " (self-test: Apache on both sides)"
	}
	return renderCharts(title, legend, charts)
}

func renderCharts(title string, legend []chartSeries, charts []lineChart) []byte {
	cols := min(panelColumns, max(1, len(charts)))
	rows := (len(charts) + cols - 1) / cols
	// Each legend entry is as wide as its label needs (about 6.6 px a
	// character at 12 px, after the line and marker, and a gap); the
	// picture is wide enough for the legend too.
	entryWidths := make([]float64, len(legend))
	legendWidth := 0.0
	for i, s := range legend {
		entryWidths[i] = max(150, 36+6.6*float64(utf8.RuneCountInString(s.label))+30)
		legendWidth += entryWidths[i]
	}
	width := max(float64(cols)*panelWidth, legendWidth+40)
	height := headerHeight + float64(rows)*panelHeight
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="%s" font-size="12">`+"\n",
		width, height, width, height, fontFamily)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%g" y="24" text-anchor="middle" font-size="16" font-weight="bold">%s</text>`+"\n", width/2, xmlEscape(title))
	// Legend, centred under the title.
	x := width/2 - legendWidth/2
	for i, s := range legend {
		if i > 0 {
			x += entryWidths[i-1]
		}
		fmt.Fprintf(&b, `<line x1="%g" y1="42" x2="%g" y2="42" stroke="%s" stroke-width="2"%s/>`+"\n", x, x+28, s.color, s.dash())
		writeMarker(&b, s, x+14, 42)
		fmt.Fprintf(&b, `<text x="%g" y="46">%s</text>`+"\n", x+36, xmlEscape(s.label))
	}
	for i, c := range charts {
		ox := float64(i%cols) * panelWidth
		oy := headerHeight + float64(i/cols)*panelHeight
		c.render(&b, ox, oy)
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// render draws the chart in the panel whose top left corner is (ox, oy).
func (c lineChart) render(b *strings.Builder, ox, oy float64) {
	left, right := ox+plotLeft, ox+panelWidth-plotRight
	top, bottom := oy+plotTop, oy+panelHeight-plotBottom

	var xs []float64
	yMaxData := 0.0
	for _, s := range c.series {
		for _, p := range s.points {
			xs = append(xs, p.x)
			yMaxData = max(yMaxData, p.hi, p.median)
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	xScale := newClientScale(xs, left, right)
	yStep, yMax := niceAxis(yMaxData)
	yPos := func(v float64) float64 { return bottom - (v/yMax)*(bottom-top) }

	fmt.Fprintf(b, `<g class="panel">`+"\n")
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n",
		(left+right)/2, oy+22, xmlEscape(c.title))
	// Horizontal grid and y ticks.
	for v := 0.0; v <= yMax*(1+1e-9); v += yStep {
		y := yPos(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", left, y, right, y, gridColor)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, siLabel(v))
	}
	// Axes.
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", left, bottom, right, bottom, axisColor)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", left, top, left, bottom, axisColor)
	for _, x := range xs {
		px := xScale(x)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", px, bottom, px, bottom+5, axisColor)
		label := strconv.FormatFloat(x, 'f', -1, 64)
		if c.xTick != nil {
			label = c.xTick(x)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px, bottom+18, label)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (left+right)/2, bottom+40, xmlEscape(c.xLabel))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		ox+16, (top+bottom)/2, ox+16, (top+bottom)/2, xmlEscape(c.yLabel))
	// Series: spread bars, the median line, markers on top. Each series'
	// bars are nudged sideways so that overlapping spreads stay readable.
	for si, s := range c.series {
		dodge := (float64(si) - float64(len(c.series)-1)/2) * 6
		var pts []string
		for _, p := range s.points {
			px := xScale(p.x)
			if p.hi > p.lo {
				px := px + dodge
				fmt.Fprintf(b, `<path d="M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f" stroke="%s" fill="none"/>`+"\n",
					px, yPos(p.lo), yPos(p.hi), px-4, yPos(p.lo), px+4, px-4, yPos(p.hi), px+4, s.color)
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, yPos(p.median)))
		}
		fmt.Fprintf(b, `<polyline class="series" data-label="%s" points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n",
			xmlEscape(s.label), strings.Join(pts, " "), s.color, s.dash())
		for _, p := range s.points {
			writeMarker(b, s, xScale(p.x), yPos(p.median))
		}
	}
	b.WriteString("</g>\n")
}

// dash is the stroke attribute of a dashed series, or nothing.
func (s chartSeries) dash() string {
	if s.dashed {
		return ` stroke-dasharray="6 4"`
	}
	return ""
}

func writeMarker(b *strings.Builder, s chartSeries, x, y float64) {
	if s.dashed { // the limit: a diamond, unlike either server's marker
		fmt.Fprintf(b, `<path class="marker" d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"/>`+"\n",
			x, y-5, x+5, y, x, y+5, x-5, y, s.color)
		return
	}
	if s.square {
		fmt.Fprintf(b, `<rect class="marker" x="%.1f" y="%.1f" width="7" height="7" fill="%s"/>`+"\n", x-3.5, y-3.5, s.color)
		return
	}
	fmt.Fprintf(b, `<circle class="marker" cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", x, y, s.color)
}

// newClientScale maps client counts to x pixels. Client counts grow
// geometrically (1, 8, 16, 32, 64), so a log2 axis spaces them evenly; a
// single value sits in the middle.
func newClientScale(xs []float64, left, right float64) func(float64) float64 {
	pad := (right - left) * 0.06
	if len(xs) < 2 || xs[0] <= 0 {
		lo, hi := 0.0, 1.0
		if len(xs) > 0 {
			lo, hi = min(0, xs[0]), xs[len(xs)-1]
		}
		if hi == lo {
			return func(float64) float64 { return (left + right) / 2 }
		}
		return func(x float64) float64 { return left + pad + (x-lo)/(hi-lo)*(right-left-2*pad) }
	}
	lo, hi := math.Log2(xs[0]), math.Log2(xs[len(xs)-1])
	return func(x float64) float64 { return left + pad + (math.Log2(x)-lo)/(hi-lo)*(right-left-2*pad) }
}

// niceAxis picks a tick step of 1, 2 or 5 times a power of ten giving about
// five ticks, and the axis top as the first step at or above the data.
func niceAxis(maxValue float64) (step, top float64) {
	if maxValue <= 0 {
		return 0.2, 1
	}
	raw := maxValue / 5
	magnitude := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / magnitude; {
	case f <= 1:
		step = magnitude
	case f <= 2:
		step = 2 * magnitude
	case f <= 5:
		step = 5 * magnitude
	default:
		step = 10 * magnitude
	}
	return step, math.Ceil(maxValue/step-1e-9) * step
}

// siLabel prints a tick value compactly: 15000 → "15k", 1500000 → "1.5M".
func siLabel(v float64) string {
	format := func(x float64, suffix string) string {
		return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) + suffix
	}
	switch {
	case v >= 1e6:
		return format(v/1e6, "M")
	case v >= 1e3:
		return format(v/1e3, "k")
	default:
		return format(v, "")
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
