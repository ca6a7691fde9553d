package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// roleLabel is how tables name a role; a self-test says that its "zkd" is
// Apache ZooKeeper.
func (r *CompareReport) roleLabel(role string) string {
	switch {
	case role == roleZooKeeper:
		return "ZooKeeper"
	case role == roleDurableCeiling:
		return "durable limit (fixed replies, writes fdatasynced)"
	case role == roleCeiling:
		return "limit (fixed replies)"
	case r.SelfTest:
		return "zkd (selftest: Apache)"
	default:
		return "zkd"
	}
}

// writeCPUTable renders the CPU each side spent per acknowledged request
// during the timed phases, when the report has it.
func (r *CompareReport) writeCPUTable(b *strings.Builder, zkdL, zkL string) {
	measured := false
	for _, row := range r.Throughput {
		measured = measured || row.Zkd.ClientCPUUSPerOp.N > 0
	}
	if !measured {
		return
	}
	b.WriteString("\n### CPU per request\n\n")
	server := "the server's"
	if n := r.Settings.Ensemble; n > 1 {
		server = fmt.Sprintf("the %d servers' together", n)
	}
	b.WriteString("CPU time (user + system, all threads) per acknowledged request during the timed phase, median of the repeats: " +
		server + ", from /proc/<pid>/stat (10 ms ticks), and the load generator's, from getrusage.\n\n")
	limit := r.hasCeiling()
	durable := limit && r.Settings.DurableCeiling
	switch {
	case durable:
		fmt.Fprintf(b, "| workload | clients | %s µs | %s µs | limit µs | %s ÷ %s | client µs, %s run | client µs, %s run | client µs, limit run | durable limit µs | client µs, durable limit run |\n", zkdL, zkL, "zkd", "ZooKeeper", zkdL, zkL)
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	case limit:
		fmt.Fprintf(b, "| workload | clients | %s µs | %s µs | limit µs | %s ÷ %s | client µs, %s run | client µs, %s run | client µs, limit run |\n", zkdL, zkL, "zkd", "ZooKeeper", zkdL, zkL)
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	default:
		fmt.Fprintf(b, "| workload | clients | %s µs | %s µs | %s ÷ %s | client µs, %s run | client µs, %s run |\n", zkdL, zkL, "zkd", "ZooKeeper", zkdL, zkL)
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|\n")
	}
	for _, row := range r.Throughput {
		z, k := row.Zkd.ServerCPUUSPerOp.Median, row.ZooKeeper.ServerCPUUSPerOp.Median
		ratio := "–"
		if k > 0 {
			ratio = fmt.Sprintf("%.2f", z/k)
		}
		if limit {
			var c SystemFigures
			if row.Ceiling != nil {
				c = *row.Ceiling
			}
			fmt.Fprintf(b, "| %s | %d | %.1f | %.1f | %.1f | %s | %.1f | %.1f | %.1f |", r.workloadLabel(row.Workload), row.Clients,
				z, k, c.ServerCPUUSPerOp.Median, ratio, row.Zkd.ClientCPUUSPerOp.Median, row.ZooKeeper.ClientCPUUSPerOp.Median, c.ClientCPUUSPerOp.Median)
			if durable {
				var d SystemFigures
				if row.DurableCeiling != nil {
					d = *row.DurableCeiling
				}
				fmt.Fprintf(b, " %.1f | %.1f |", d.ServerCPUUSPerOp.Median, d.ClientCPUUSPerOp.Median)
			}
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %.1f | %.1f | %s | %.1f | %.1f |\n", r.workloadLabel(row.Workload), row.Clients,
			z, k, ratio, row.Zkd.ClientCPUUSPerOp.Median, row.ZooKeeper.ClientCPUUSPerOp.Median)
	}
}

// hasCeiling says whether the throughput rows carry the ceiling's figures.
func (r *CompareReport) hasCeiling() bool {
	for _, row := range r.Throughput {
		if row.Ceiling != nil {
			return true
		}
	}
	return false
}

// writeThroughputWithCeiling renders the throughput table with the limit
// beside the two servers, and each server's fraction of it.
func (r *CompareReport) writeThroughputWithCeiling(b *strings.Builder, zkdL, zkL string) {
	b.WriteString("The limit is `zkd bench ceiling`: a server that answers every request with fixed replies and keeps nothing, " +
		"run in the same alternation, so that no server could show more on this machine with this client. ")
	durable := r.Settings.DurableCeiling
	if durable {
		b.WriteString("The durable limit is `zkd bench ceiling --durable`, the same server keeping a log of its writes, " +
			"each fdatasynced (group commit, in its dataDir) before its reply: no server that acknowledges only durable writes " +
			"could show more on this machine with this client and disk. ")
	}
	b.WriteString("Median of the repeats, min–max in brackets; every ratio is taken run by run within a repeat.\n\n")
	fmt.Fprintf(b, "| workload | clients | %s ops/s | %s ops/s | limit ops/s | ops/s %s ÷ %s | %s ÷ limit | %s ÷ limit | %s p99 ms | %s p99 ms | limit p99 ms |",
		zkdL, zkL, "zkd", "ZooKeeper", zkdL, zkL, zkdL, zkL)
	if durable {
		fmt.Fprintf(b, " durable limit ops/s | %s ÷ durable limit | %s ÷ durable limit | durable limit p99 ms |", zkdL, zkL)
	}
	b.WriteString("\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	if durable {
		b.WriteString("--:|--:|--:|--:|")
	}
	b.WriteString("\n")
	for _, row := range r.Throughput {
		var c SystemFigures
		var zkdOf, zkOf Spread
		if row.Ceiling != nil {
			c, zkdOf, zkOf = *row.Ceiling, *row.ZkdOfCeiling, *row.ZooKeeperOfCeiling
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
			r.workloadLabel(row.Workload), row.Clients,
			spreadText(row.Zkd.OpsPerSecond, thousands), spreadText(row.ZooKeeper.OpsPerSecond, thousands), spreadText(c.OpsPerSecond, thousands),
			spreadText(row.Ratio, twoDecimals), spreadText(zkdOf, percent), spreadText(zkOf, percent),
			spreadText(scaled(row.Zkd.P99US, 0.001), threeDecimals), spreadText(scaled(row.ZooKeeper.P99US, 0.001), threeDecimals),
			spreadText(scaled(c.P99US, 0.001), threeDecimals))
		if durable {
			var d SystemFigures
			var zkdOfD, zkOfD Spread
			if row.DurableCeiling != nil {
				d, zkdOfD, zkOfD = *row.DurableCeiling, *row.ZkdOfDurableCeiling, *row.ZooKeeperOfDurableCeiling
			}
			fmt.Fprintf(b, " %s | %s | %s | %s |", spreadText(d.OpsPerSecond, thousands), spreadText(zkdOfD, percent),
				spreadText(zkOfD, percent), spreadText(scaled(d.P99US, 0.001), threeDecimals))
		}
		b.WriteString("\n")
	}
}

// Markdown renders the report's tables for docs/benchmarks.md.
func (r *CompareReport) Markdown() string {
	var b strings.Builder
	zkdL, zkL := r.roleLabel(roleZkd), r.roleLabel(roleZooKeeper)
	if r.SelfTest {
		b.WriteString("> **Self-test:** both sides are Apache ZooKeeper. These figures check the harness (ratios near 1); they say nothing about zkd.\n\n")
	}
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s, %d cores, %.1f GiB RAM; %s, Linux %s; data directories on %s.\n",
		m.CPU, m.Cores, float64(m.MemoryBytes)/(1<<30), m.OS, m.Kernel, m.WorkDirFS)
	if p := r.Settings.Pinning; p != nil {
		fmt.Fprintf(&b, "The client runs on CPU %s, the server measured on CPU %s (taskset), as a client on its own machine would. Go %s; %s.\n",
			p.Client, p.Servers, strings.TrimPrefix(m.GoVersion, "go"), m.Java)
	} else {
		fmt.Fprintf(&b, "Client and servers share the machine. Go %s; %s.\n", strings.TrimPrefix(m.GoVersion, "go"), m.Java)
	}
	for _, role := range []string{roleZkd, roleZooKeeper} {
		if v := r.Versions[role]; v != "" {
			fmt.Fprintf(&b, "%s reports version `%s`.\n", r.roleLabel(role), v)
		}
	}
	s := r.Settings
	if s.Ensemble > 1 {
		fmt.Fprintf(&b, "\nTwo ensembles of %d servers on loopback, one of each kind, up side by side (every member a voter, its own zoo.cfg and data directory, all on one disk). "+
			"The sessions of a run spread over the members as a client list would: session i starts on server i mod %d and moves on through the list when that one fails.\n",
			s.Ensemble, s.Ensemble)
	}
	fmt.Fprintf(&b, "\nEach run: %g s timed, one request in flight per session, %d-byte values, %s prepopulated znodes, mixed = %.0f%% get / %.0f%% set. "+
		"%d repeats per cell, servers alternated run by run after %g s of warm-up each. Total time %.0f s.\n",
		s.DurationS, s.ValueSize, thousands(float64(s.Prepopulate)), s.ReadRatio*100, (1-s.ReadRatio)*100, s.Repeats, s.WarmupS, r.ElapsedS)

	b.WriteString("\n### Throughput and p99 latency\n\n")
	var errs int64
	for _, row := range r.Throughput {
		errs += row.Zkd.Errors + row.ZooKeeper.Errors
		if row.Ceiling != nil {
			errs += row.Ceiling.Errors
		}
	}
	if r.hasCeiling() {
		r.writeThroughputWithCeiling(&b, zkdL, zkL)
	} else {
		b.WriteString("Median of the repeats, min–max in brackets; the ratio is taken run pair by run pair.\n\n")
		fmt.Fprintf(&b, "| workload | clients | %s ops/s | %s ops/s | ops/s %s ÷ %s | %s p99 ms | %s p99 ms |\n", zkdL, zkL, "zkd", "ZooKeeper", zkdL, zkL)
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|\n")
		for _, row := range r.Throughput {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n",
				r.workloadLabel(row.Workload), row.Clients,
				spreadText(row.Zkd.OpsPerSecond, thousands), spreadText(row.ZooKeeper.OpsPerSecond, thousands),
				spreadText(row.Ratio, twoDecimals),
				spreadText(scaled(row.Zkd.P99US, 0.001), threeDecimals), spreadText(scaled(row.ZooKeeper.P99US, 0.001), threeDecimals))
		}
	}
	if errs > 0 {
		fmt.Fprintf(&b, "\n**%d requests failed** during the timed runs; see compare.json.\n", errs)
	}
	r.writeCPUTable(&b, zkdL, zkL)

	b.WriteString("\n### Start-up, memory and disk\n\n")
	fmt.Fprintf(&b, "| measurement | %s | %s | %s ÷ %s |\n|---|--:|--:|--:|\n", zkdL, zkL, "zkd", "ZooKeeper")
	st := r.Startup
	startup := "exec → first acknowledged write, empty dataDir"
	if s.Ensemble > 1 {
		startup = fmt.Sprintf("exec of %d servers → first acknowledged write through server 1, empty dataDirs", s.Ensemble)
	}
	fmt.Fprintf(&b, "| %s (ms, %d starts) | %s | %s | %s |\n",
		startup, st.ZkdMS.N, spreadText(st.ZkdMS, oneDecimal), spreadText(st.ZooKeeperMS, oneDecimal), spreadText(st.Ratio, twoDecimals))
	zkdMem, zkMem := r.memoryOf(roleZkd), r.memoryOf(roleZooKeeper)
	if zkdMem != nil && zkMem != nil {
		memRow := func(name string, a, b int64) string {
			return fmt.Sprintf("| %s | %s | %s | %s |\n", name, mibText(a), mibText(b), ratioText(float64(a), float64(b)))
		}
		b.WriteString(memRow("RSS idle (MiB)", zkdMem.Idle.RSSBytes, zkMem.Idle.RSSBytes))
		for i := range min(len(zkdMem.Loaded), len(zkMem.Loaded)) {
			za, zb := zkdMem.Loaded[i], zkMem.Loaded[i]
			b.WriteString(memRow(fmt.Sprintf("RSS after %s znodes of %d bytes (MiB)", thousands(float64(za.Znodes)), s.MemoryValueSize),
				za.Memory.RSSBytes, zb.Memory.RSSBytes))
		}
		last := len(zkdMem.Loaded) - 1
		if last >= 0 && last < len(zkMem.Loaded) {
			n := thousands(float64(zkdMem.Loaded[last].Znodes))
			b.WriteString(memRow("peak RSS (VmHWM) during the load (MiB)", zkdMem.Loaded[last].Memory.PeakBytes, zkMem.Loaded[last].Memory.PeakBytes))
			fmt.Fprintf(&b, "| load rate up to %s znodes (znodes/s) | %s | %s | %s |\n", n,
				thousands(zkdMem.Loaded[last].LoadPerSecond), thousands(zkMem.Loaded[last].LoadPerSecond),
				ratioText(zkdMem.Loaded[last].LoadPerSecond, zkMem.Loaded[last].LoadPerSecond))
			fmt.Fprintf(&b, "| newest snapshot after restart with %s znodes (MiB) | %s | %s | %s |\n", n,
				snapshotText(zkdMem.Snapshot), snapshotText(zkMem.Snapshot), ratioText(float64(zkdMem.Snapshot.Bytes), float64(zkMem.Snapshot.Bytes)))
			b.WriteString(memRow("data directory, allocated on disk (MiB)", zkdMem.DataDirBytes, zkMem.DataDirBytes))
			fmt.Fprintf(&b, "| restart → first acknowledged write with %s znodes (ms) | %.1f | %.1f | %s |\n", n,
				zkdMem.RestartMS, zkMem.RestartMS, ratioText(zkdMem.RestartMS, zkMem.RestartMS))
			b.WriteString(memRow("RSS after that restart (MiB)", zkdMem.AfterRestart.RSSBytes, zkMem.AfterRestart.RSSBytes))
			for _, mem := range []*MemoryReport{zkdMem, zkMem} {
				b.WriteString(r.durabilityWarning(mem))
			}
		}
	}
	r.writeFailover(&b, zkdL, zkL)
	r.writeTargets(&b)
	return b.String()
}

// writeFailover renders the ensembles' kill -9 rounds, when measured.
func (r *CompareReport) writeFailover(b *strings.Builder, zkdL, zkL string) {
	f := r.Failover
	if f == nil || len(f.Rounds) == 0 {
		return
	}
	b.WriteString("\n### Failover: kill -9 of the leader\n\n")
	fmt.Fprintf(b, "%d writers (one session starting on each member, one set in flight each) overwrite one znode; the leader (found by srvr) gets SIGKILL. "+
		"Times are from the signal; survivors are polled with srvr every 5 ms. The killed server is then restarted on its data directory and waited for "+
		"until the leader counts every other member as a synced follower. Median of the rounds, min–max in brackets; the ratio is taken round by round "+
		"(the ensembles alternate).\n\n", f.Writers)
	fmt.Fprintf(b, "| measurement | %s | %s | %s ÷ %s |\n|---|--:|--:|--:|\n", zkdL, zkL, "zkd", "ZooKeeper")
	row := func(name string, z, k, ratio Spread) {
		fmt.Fprintf(b, "| %s (ms, %d rounds) | %s | %s | %s |\n", name, z.N,
			spreadText(z, oneDecimal), spreadText(k, oneDecimal), spreadText(ratio, twoDecimals))
	}
	row("kill -9 of the leader → first acknowledged write issued after it", f.ZkdWriteMS, f.ZooKeeperWriteMS, f.WriteRatio)
	row("kill -9 of the leader → new leader seen (srvr)", f.ZkdLeaderMS, f.ZooKeeperLeaderMS, f.LeaderRatio)
	row("restart of the killed server → ensemble whole again", f.ZkdRejoinMS, f.ZooKeeperRejoinMS, f.RejoinRatio)
}

// writeTargets renders the target checks, when judged.
func (r *CompareReport) writeTargets(b *strings.Builder) {
	if len(r.Targets) == 0 {
		return
	}
	b.WriteString("\n### Against the targets (zkd ÷ ZooKeeper, this run)\n\n")
	b.WriteString("The worst cell of each target, from the medians above.\n\n")
	b.WriteString("| target | wanted | measured | cell | met |\n|---|--:|--:|---|---|\n")
	for _, t := range r.Targets {
		met := "no"
		if t.Met {
			met = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %.2f | %s | %s |\n", t.Target, t.want(), t.Ratio, t.Cell, met)
	}
}

// durabilityWarning says, in bold, when a server came back from a restart
// with fewer znodes than it had acknowledged or without a snapshot that
// holds them: its write figures then do not measure durable writes.
func (r *CompareReport) durabilityWarning(mem *MemoryReport) string {
	name := r.roleLabel(mem.System)
	switch {
	case mem.NodeCount > 0 && mem.NodeCountAfterRestart < mem.NodeCount:
		return fmt.Sprintf("\n**%s lost acknowledged writes across a restart: %s znodes before, %s after.** "+
			"Its write figures do not measure durable writes.\n", name, thousands(float64(mem.NodeCount)), thousands(float64(mem.NodeCountAfterRestart)))
	case mem.Snapshot.File == "":
		return fmt.Sprintf("\n**%s wrote no snapshot** in its dataDir, so its snapshot size is not measured.\n", name)
	case mem.LastZxid != "" && !mem.CoversLoad:
		return fmt.Sprintf("\n%s's newest snapshot (%s) does not reach its last write (%s); its size understates the tree.\n",
			name, mem.Snapshot.File, mem.LastZxid)
	}
	return ""
}

func (r *CompareReport) memoryOf(role string) *MemoryReport {
	for i := range r.Memory {
		if r.Memory[i].System == role {
			return &r.Memory[i]
		}
	}
	return nil
}

func (r *CompareReport) workloadLabel(w Workload) string {
	if w == WorkloadMixed {
		return fmt.Sprintf("mixed %.0f/%.0f", r.Settings.ReadRatio*100, (1-r.Settings.ReadRatio)*100)
	}
	return string(w)
}

func scaled(s Spread, f float64) Spread {
	return Spread{Median: s.Median * f, Min: s.Min * f, Max: s.Max * f, N: s.N}
}

func spreadText(s Spread, format func(float64) string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return format(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", format(s.Median), format(s.Min), format(s.Max))
}

func snapshotText(s SnapshotInfo) string {
	if s.File == "" {
		return "none"
	}
	return mibText(s.Bytes)
}

func ratioText(a, b float64) string {
	if b == 0 || a == 0 {
		return "–"
	}
	return twoDecimals(a / b)
}

func mibText(b int64) string { return oneDecimal(float64(b) / (1 << 20)) }

func oneDecimal(v float64) string    { return strconv.FormatFloat(v, 'f', 1, 64) }
func percent(v float64) string       { return strconv.FormatFloat(v*100, 'f', 0, 64) + " %" }
func twoDecimals(v float64) string   { return strconv.FormatFloat(v, 'f', 2, 64) }
func threeDecimals(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// thousands rounds to an integer and groups digits: 1234567 → "1,234,567".
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
