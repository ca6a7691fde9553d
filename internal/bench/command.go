package bench

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Command returns `bench`, the load generator, with its `compare`
// subcommand.
func Command() *cobra.Command {
	cfg := DefaultConfig()
	var (
		endpoints string
		workload  string
		asJSON    bool
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a ZooKeeper-protocol server's throughput and latency",
		Long: `bench drives N concurrent sessions against any server that speaks the
ZooKeeper client protocol (zkd or Apache ZooKeeper) and reports ops/s and
latency percentiles (p50, p90, p99, p99.9, max) from an HDR histogram.

Each session keeps one request in flight. Workloads:
  create        create new znodes (deleted again after the run, untimed)
  set           overwrite a random prepopulated znode
  get           read a random prepopulated znode
  exists-watch  exists with watch=true on a random prepopulated znode
  mixed         get with probability --read-ratio, set otherwise

Everything is written under /zkbench; --prepopulate znodes live in
/zkbench/data and are kept between runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := ParseWorkload(workload)
			if err != nil {
				return err
			}
			cmd.SilenceUsage = true // from here on an error is the run's, not the flags'
			cfg.Workload = w
			cfg.Endpoints = splitList(endpoints)
			if cmd.Flags().Changed("ops") && !cmd.Flags().Changed("duration") {
				cfg.Duration = 0
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := Options{}
			if !quiet {
				opts.Progress = cmd.ErrOrStderr()
				opts.Terminal = isTerminal(cmd.ErrOrStderr())
			}
			res, err := Run(ctx, cfg, opts)
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(cmd.OutOrStdout())
			}
			return res.WriteText(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoints, "endpoints", strings.Join(cfg.Endpoints, ","), "comma-separated host:port list of the servers; session i starts on the i-th (mod their count) and moves on in list order")
	f.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent sessions, one request in flight each")
	f.StringVar(&workload, "workload", string(cfg.Workload), "create, set, get, exists-watch or mixed")
	f.Float64Var(&cfg.ReadRatio, "read-ratio", cfg.ReadRatio, "fraction of gets in the mixed workload")
	f.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "bytes per znode value written by create and set")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the timed phase")
	f.Int64Var(&cfg.Ops, "ops", 0, "stop after this many requests instead of after --duration")
	f.IntVar(&cfg.Prepopulate, "prepopulate", cfg.Prepopulate, "znodes under /zkbench/data that set, get, exists-watch and mixed address")
	f.DurationVar(&cfg.SessionTimeout, "session-timeout", cfg.SessionTimeout, "session timeout requested from the server")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the key choices")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress line")
	cmd.AddCommand(compareCommand(), ceilingCommand(), scaleCommand())
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// runContext is the context commands run under when cobra gives none.
func runContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
