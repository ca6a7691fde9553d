package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// ResultSchema names the layout of Result's JSON; it changes only when a
// field changes meaning or disappears.
const ResultSchema = "zkd-bench-result/1"

// Result is what one run measured. `zkd bench --json` prints it as is.
type Result struct {
	Schema      string   `json:"schema"`
	Workload    Workload `json:"workload"`
	Endpoints   []string `json:"endpoints"`
	Clients     int      `json:"clients"`
	ReadRatio   float64  `json:"read_ratio"`
	ValueSize   int      `json:"value_size"`
	Prepopulate int      `json:"prepopulate"`
	// DurationLimitS and OpsLimit echo how the run was bounded; the unused
	// one is zero.
	DurationLimitS float64   `json:"duration_limit_s"`
	OpsLimit       int64     `json:"ops_limit"`
	StartedAt      time.Time `json:"started_at"`
	// ElapsedS runs from the moment every session was ready to the moment
	// the last one stopped.
	ElapsedS     float64 `json:"elapsed_s"`
	Ops          int64   `json:"ops"`
	Errors       int64   `json:"errors"`
	OpsPerSecond float64 `json:"ops_per_second"`
	// Latency covers every acknowledged request; ByOp splits it by request
	// type ("create", "set", "get", "exists").
	Latency LatencySummary            `json:"latency"`
	ByOp    map[string]LatencySummary `json:"by_op"`
	// ErrorSamples holds the first few distinct error messages.
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// WriteJSON prints the result as indented JSON followed by a newline.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints the result for a person reading a terminal.
func (r *Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "workload   %s\n", r.describeWorkload())
	fmt.Fprintf(w, "endpoints  %s\n", strings.Join(r.Endpoints, ","))
	fmt.Fprintf(w, "elapsed    %.2f s\n", r.ElapsedS)
	fmt.Fprintf(w, "requests   %d acknowledged, %d failed\n", r.Ops, r.Errors)
	fmt.Fprintf(w, "throughput %.1f ops/s\n", r.OpsPerSecond)
	fmt.Fprintf(w, "latency (ms):\n")
	fmt.Fprintln(tw, "\tcount\tp50\tp90\tp99\tp99.9\tmax\tmean\t")
	writeRow := func(name string, s LatencySummary) {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", name, s.Count,
			s.P50US/1000, s.P90US/1000, s.P99US/1000, s.P999US/1000, s.MaxUS/1000, s.MeanUS/1000)
	}
	writeRow("all", r.Latency)
	if len(r.ByOp) > 1 {
		ops := make([]string, 0, len(r.ByOp))
		for op := range r.ByOp {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			writeRow(op, r.ByOp[op])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, msg := range r.ErrorSamples {
		fmt.Fprintf(w, "error: %s\n", msg)
	}
	return nil
}

func (r *Result) describeWorkload() string {
	what := string(r.Workload)
	if r.Workload == WorkloadMixed {
		what = fmt.Sprintf("mixed (%.0f%% get, %.0f%% set)", r.ReadRatio*100, (1-r.ReadRatio)*100)
	}
	return fmt.Sprintf("%s, %d sessions, %d-byte values, %d prepopulated znodes",
		what, r.Clients, r.ValueSize, r.Prepopulate)
}
