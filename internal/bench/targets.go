package bench

import (
	"fmt"
	"slices"
)

// TargetCheck is one of issue 9's targets for the ensembles, judged on one
// run's ratios (zkd ÷ ZooKeeper, medians of the run pairs).
type TargetCheck struct {
	Target string `json:"target"`
	// AtLeast: the ratio must reach Bound; otherwise it must stay at or
	// below it.
	AtLeast bool    `json:"at_least"`
	Bound   float64 `json:"bound"`
	// Ratio is the worst ratio among the cells the target covers, Cell the
	// cell it came from ("set/16").
	Ratio float64 `json:"ratio"`
	Cell  string  `json:"cell"`
	Met   bool    `json:"met"`
}

func (t TargetCheck) want() string {
	if t.AtLeast {
		return fmt.Sprintf("≥ %.1f×", t.Bound)
	}
	return fmt.Sprintf("≤ %.1f×", t.Bound)
}

// targetChecks judges the report against issue 9: writes ≥ 2.0×, reads
// ≥ 1.5×, set p99 at 16 clients ≤ 0.5×, failover ≤ 0.5×, CPU per write
// ≤ 0.5×. A target without measured cells is left out.
func (r *CompareReport) targetChecks() []TargetCheck {
	var out []TargetCheck
	// worst picks the lowest (AtLeast) or highest ratio over the rows.
	worst := func(name string, atLeast bool, bound float64, rows []ThroughputRow, ratio func(ThroughputRow) (float64, bool)) {
		t := TargetCheck{Target: name, AtLeast: atLeast, Bound: bound}
		found := false
		for _, row := range rows {
			v, ok := ratio(row)
			if !ok {
				continue
			}
			if !found || (atLeast && v < t.Ratio) || (!atLeast && v > t.Ratio) {
				t.Ratio, t.Cell, found = v, fmt.Sprintf("%s/%d", row.Workload, row.Clients), true
			}
		}
		if !found {
			return
		}
		t.Met = t.Ratio <= bound
		if atLeast {
			t.Met = t.Ratio >= bound
		}
		out = append(out, t)
	}
	rowsOf := func(ws ...Workload) []ThroughputRow {
		var rows []ThroughputRow
		for _, row := range r.Throughput {
			if slices.Contains(ws, row.Workload) {
				rows = append(rows, row)
			}
		}
		return rows
	}
	opsRatio := func(row ThroughputRow) (float64, bool) { return row.Ratio.Median, row.Ratio.N > 0 }
	writes := rowsOf(WorkloadCreate, WorkloadSet)
	worst("writes (create, set): ops/s", true, 2.0, writes, opsRatio)
	worst("reads (get): ops/s", true, 1.5, rowsOf(WorkloadGet), opsRatio)
	var set16 []ThroughputRow
	for _, row := range rowsOf(WorkloadSet) {
		if row.Clients == 16 {
			set16 = append(set16, row)
		}
	}
	worst("set p99 at 16 clients", false, 0.5, set16, func(row ThroughputRow) (float64, bool) {
		return row.P99Ratio.Median, row.P99Ratio.N > 0
	})
	if f := r.Failover; f != nil && f.WriteRatio.N > 0 {
		t := TargetCheck{Target: "failover: kill -9 of the leader → first acknowledged write", Bound: 0.5,
			Ratio: f.WriteRatio.Median, Cell: fmt.Sprintf("%d rounds", f.WriteRatio.N)}
		t.Met = t.Ratio <= t.Bound
		out = append(out, t)
	}
	worst("CPU per write (create, set), the servers together", false, 0.5, writes, func(row ThroughputRow) (float64, bool) {
		z, k := row.Zkd.ServerCPUUSPerOp, row.ZooKeeper.ServerCPUUSPerOp
		return z.Median / k.Median, z.N > 0 && k.N > 0 && k.Median > 0
	})
	return out
}
