package bench

import (
	"fmt"
	"strconv"
	"strings"
)

func (r *ScaleReport) system(role string) *ScaleSystem {
	for i := range r.Systems {
		if r.Systems[i].System == role {
			return &r.Systems[i]
		}
	}
	return nil
}

func scaleLabel(role string) string {
	if role == roleZooKeeper {
		return "ZooKeeper"
	}
	return "zkd"
}

// Markdown renders scale.md: a row per size and server, then sessions,
// watches and the storm side by side.
func (r *ScaleReport) Markdown() string {
	var b strings.Builder
	m, st := r.Machine, r.Settings
	fmt.Fprintf(&b, "Machine: %s, %d cores, %.1f GiB RAM; %s, Linux %s; data directories on %s. Client and servers share the machine. Go %s; %s.\n",
		m.CPU, m.Cores, float64(m.MemoryBytes)/(1<<30), m.OS, m.Kernel, m.WorkDirFS, strings.TrimPrefix(m.GoVersion, "go"), m.Java)
	heap := "heap as the JVM chose"
	for _, arg := range r.Commands[roleZooKeeper] {
		if strings.HasPrefix(arg, "-Xmx") {
			heap = "heap " + arg
		}
	}
	fmt.Fprintf(&b, "Versions: zkd %s, ZooKeeper %s (%s). Both on the same zoo.cfg (forceSync on, snapCount %s); one server at a time, zkd first.\n\n",
		r.Versions[roleZkd], r.Versions[roleZooKeeper], heap, thousands(float64(st.SnapCount)))

	b.WriteString("### As the tree grows\n\n")
	fmt.Fprintf(&b, "Znodes of %d bytes, %s to a parent, loaded into one server size after size. RSS is VmRSS %s after the load. "+
		"Then the server is restarted (exec → first acknowledged write; the peak is VmHWM since that exec), "+
		"%d writers set random znodes until the server takes a snapshot by its snapCount: its size, its time as mntr counts it "+
		"(zk_sum_snapshottime), and the slowest write whose issue-to-ack overlapped it, beside the slowest and p99 of the other writes. "+
		"Last, %d s of set and of get at %d clients over the whole tree.\n\n",
		st.ValueSize, thousands(memoryNodesPerDir), "settled", st.Writers, int(st.DurationS), st.Clients)
	b.WriteString("| znodes | server | RSS MiB | snapshot MiB | snapshot ms | slowest write during it ms (writes) | other writes: slowest / p99 ms | server's own longest hold ms | restart ms | RSS after restart MiB (peak) | set ops/s (p99 ms) | get ops/s (p99 ms) |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var lost []string
	for i, n := range st.Znodes {
		for _, role := range []string{roleZkd, roleZooKeeper} {
			sys := r.system(role)
			if sys == nil || i >= len(sys.Sizes) {
				continue
			}
			p := sys.Sizes[i]
			sn := p.Snapshot
			own := "–"
			if sn.ServerLongestHoldMS != nil {
				own = oneDecimal(*sn.ServerLongestHoldMS)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s (%s) | %s / %s | %s | %s | %s (%s) | %s (%s) | %s (%s) |\n",
				thousands(float64(n)), scaleLabel(role), mibText(p.Loaded.RSSBytes), snapshotText(sn.File), thousands(sn.TimeMS),
				oneDecimal(sn.LongestDuringMS), thousands(float64(sn.WritesDuring)), oneDecimal(sn.LongestOutsideMS), oneDecimal(sn.P99OutsideMS),
				own, thousands(p.RestartMS), mibText(p.AfterRestart.RSSBytes), mibText(p.AfterRestart.PeakBytes),
				thousands(p.Set.OpsPerSecond), threeDecimals(p.Set.P99US/1000), thousands(p.Get.OpsPerSecond), threeDecimals(p.Get.P99US/1000))
			if p.NodeCountAfterRestart < int64(n) {
				lost = append(lost, fmt.Sprintf("**%s had %s znodes after the restart at %s.**", scaleLabel(role), thousands(float64(p.NodeCountAfterRestart)), thousands(float64(n))))
			}
			if p.Set.Errors+p.Get.Errors > 0 {
				lost = append(lost, fmt.Sprintf("**%s: %d failed requests at %s znodes.**", scaleLabel(role), p.Set.Errors+p.Get.Errors, thousands(float64(n))))
			}
		}
	}
	for _, l := range lost {
		b.WriteString("\n" + l + "\n")
	}

	z, k := r.system(roleZkd), r.system(roleZooKeeper)
	if z == nil || k == nil {
		return b.String()
	}
	b.WriteString("\n### Sessions, watches and a connection storm\n\n")
	fmt.Fprintf(&b, "On a fresh server holding %s znodes: VmRSS %s before and after opening %s idle sessions (each pings, nothing else), "+
		"then before and after %d sessions set exists watches on the same %s znodes each; then %d sessions run the mixed workload (90 %% gets) "+
		"for %.0f s alone and %.0f s more while %d new sessions a second connect (granted within %.0f s counts as established; "+
		"connect time from the moment each was due).\n\n",
		thousands(float64(z.Watches.Znodes)), "settled", thousands(float64(st.Sessions)), st.WatchSessions, thousands(float64(z.Watches.Znodes)),
		st.StormClients, st.StormDurationS, st.StormDurationS, st.StormRate, st.StormConnectTimeoutS)
	b.WriteString("| | zkd | ZooKeeper | zkd ÷ ZooKeeper |\n|---|--:|--:|--:|\n")
	row := func(name string, zv, kv float64, format func(float64) string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, format(zv), format(kv), ratioText(zv, kv))
	}
	row(fmt.Sprintf("RSS per idle session (%s sessions), bytes", thousands(float64(st.Sessions))),
		z.Sessions.BytesPerSession, k.Sessions.BytesPerSession, thousands)
	row("idle sessions opened per second (32 at a time)", z.Sessions.OpenPerSecond, k.Sessions.OpenPerSecond, thousands)
	row(fmt.Sprintf("RSS per watch (%s watches), bytes", thousands(float64(st.Watches))), z.Watches.BytesPerWatch, k.Watches.BytesPerWatch, thousands)
	row("watches the server counts (wchs)", float64(z.Watches.Reported), float64(k.Watches.Reported), thousands)
	row("watches set per second", z.Watches.SetPerSecond, k.Watches.SetPerSecond, thousands)
	fmt.Fprintf(&b, "| storm: sessions established of %s | %s | %s | %s |\n", thousands(float64(z.Storm.Attempted)),
		thousands(float64(z.Storm.Established)), thousands(float64(k.Storm.Established)), ratioText(float64(z.Storm.Established), float64(k.Storm.Established)))
	row("storm: connect p99 ms", z.Storm.ConnectP99US/1000, k.Storm.ConnectP99US/1000, threeDecimals)
	row("storm: connect max ms", z.Storm.ConnectMaxUS/1000, k.Storm.ConnectMaxUS/1000, threeDecimals)
	row("open sessions' p99 ms, before the storm", z.Storm.Before.P99US/1000, k.Storm.Before.P99US/1000, threeDecimals)
	row("open sessions' p99 ms, during the storm", z.Storm.During.P99US/1000, k.Storm.During.P99US/1000, threeDecimals)
	row("open sessions' ops/s, before the storm", z.Storm.Before.OpsPerSecond, k.Storm.Before.OpsPerSecond, thousands)
	row("open sessions' ops/s, during the storm", z.Storm.During.OpsPerSecond, k.Storm.During.OpsPerSecond, thousands)
	for _, sys := range []*ScaleSystem{z, k} {
		if len(sys.Storm.FailureSamples) > 0 {
			fmt.Fprintf(&b, "\n%s's storm failures: %s\n", scaleLabel(sys.System), strings.Join(sys.Storm.FailureSamples, "; "))
		}
		if e := sys.Storm.Before.Errors + sys.Storm.During.Errors; e > 0 {
			fmt.Fprintf(&b, "\n**%s: %d failed requests on the open sessions.**\n", scaleLabel(sys.System), e)
		}
	}
	b.WriteString("\nA JVM's RSS counts the heap pages it has touched, not the live objects: Apache's per-session and per-watch figures " +
		"include garbage not yet collected, and its heap may grow into memory it already had (then the delta reads low).\n")
	return b.String()
}

// SVG draws each size figure against the znode count, both servers in
// every panel.
func (r *ScaleReport) SVG() []byte {
	type figure struct {
		title, unit string
		value       func(ScalePoint) float64
	}
	figures := []figure{
		{"RSS after the load", "MiB", func(p ScalePoint) float64 { return float64(p.Loaded.RSSBytes) / (1 << 20) }},
		{"snapshot size", "MiB", func(p ScalePoint) float64 { return float64(p.Snapshot.File.Bytes) / (1 << 20) }},
		{"snapshot time", "ms", func(p ScalePoint) float64 { return p.Snapshot.TimeMS }},
		{"slowest write during the snapshot", "ms", func(p ScalePoint) float64 { return p.Snapshot.LongestDuringMS }},
		{"restart: exec → first write", "ms", func(p ScalePoint) float64 { return p.RestartMS }},
		{"peak RSS during the restart", "MiB", func(p ScalePoint) float64 { return float64(p.AfterRestart.PeakBytes) / (1 << 20) }},
		{"set", "ops/s", func(p ScalePoint) float64 { return p.Set.OpsPerSecond }},
		{"get", "ops/s", func(p ScalePoint) float64 { return p.Get.OpsPerSecond }},
	}
	var charts []lineChart
	for _, f := range figures {
		c := lineChart{title: f.title, xLabel: "znodes", yLabel: f.unit, xTick: func(x float64) string { return siLabel(x) }}
		for _, role := range []string{roleZkd, roleZooKeeper} {
			sys := r.system(role)
			if sys == nil {
				continue
			}
			s := chartSeries{label: scaleLabel(role), color: zkdColor}
			if role == roleZooKeeper {
				s.color, s.square = zooKeeperColor, true
			}
			for _, p := range sys.Sizes {
				v := f.value(p)
				s.points = append(s.points, chartPoint{x: float64(p.Znodes), median: v, lo: v, hi: v})
			}
			c.series = append(c.series, s)
		}
		charts = append(charts, c)
	}
	legend := []chartSeries{{label: "zkd", color: zkdColor}, {label: "ZooKeeper", color: zooKeeperColor, square: true}}
	title := "Cost as the tree grows (" + strconv.Itoa(r.Settings.ValueSize) + "-byte znodes)"
	return renderCharts(title, legend, charts)
}
