package bench

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/launch"
)

func scaleCommand() *cobra.Command {
	cfg := DefaultScaleConfig()
	var (
		zkdBin, java, classpath string
		znodes                  string
		heapMiB                 int
		short, quiet            bool
	)
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Measure how zkd's and Apache ZooKeeper's costs grow with znodes, sessions and watches",
		Long: `scale runs zkd, then Apache ZooKeeper (Debian's, its heap sized to fit: see
--zk-heap-mib), on the zoo.cfg of "bench compare" plus snapCount, and measures:

  - at each --znodes count (100-byte znodes, loaded into one server one size
    after the other): RSS after the load; restart time (exec to the first
    acknowledged write) and the peak RSS of the restart; the first snapshot
    the server takes by its snapCount while --writers sessions set random
    znodes: its size, its time (mntr zk_sum_snapshottime, both servers) and
    the slowest write that overlapped it (zkd's own longest apply hold from
    its log beside it); set and get throughput over the whole tree;
  - on a fresh server: RSS per idle session (--sessions), RSS per watch
    (--watches, set with exists watch=true by --watch-sessions sessions,
    each on the same znodes), and a connection storm (--storm-rate new
    sessions a second for --storm-duration) with the established count,
    connect p99 and the p99 of --storm-clients sessions already open,
    before and during it.

It writes scale.json, scale.md and scale.svg (each size figure against the
znode count) to --out and prints scale.md. --short is the test setting:
2,000 then 12,000 znodes, snapCount 1,000, 100 sessions, 1,000 watches, a 1 s storm of
50/s. ZooKeeper listens on --port-base, zkd on the next port.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			run := cfg
			f := cmd.Flags()
			if short {
				run = ShortScaleConfig()
				// Flags given explicitly still win over the short setting.
				copyChanged(f.Changed, &run, &cfg)
			}
			var err error
			if f.Changed("znodes") || !short {
				if run.Znodes, err = parseInts(znodes); err != nil {
					return fmt.Errorf("--znodes: %w", err)
				}
			}
			if err := run.validateSettings(); err != nil {
				return err
			}
			if heapMiB == 0 {
				heapMiB = ApacheHeapFor(run.Znodes, run.Watches, max(run.Sessions, run.stormSessions()))
			}
			run.ZooKeeperHeapMiB = heapMiB
			if run.ZooKeeper, err = DiscoverApacheHeap(java, classpath, heapMiB); err != nil {
				return err
			}
			if zkdBin == "" {
				if zkdBin, err = os.Executable(); err != nil {
					return fmt.Errorf("--zkd-bin: %w", err)
				}
			}
			if zkdBin, err = filepath.Abs(zkdBin); err != nil {
				return err
			}
			run.Zkd = ZkdSpec(zkdBin)
			if !quiet {
				run.Log = cmd.ErrOrStderr()
			}
			ctx, stop := signal.NotifyContext(runContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			report, err := Scale(ctx, run)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), report.Markdown())
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s, %s and %s\n", filepath.Join(run.OutDir, "scale.json"),
				filepath.Join(run.OutDir, "scale.md"), filepath.Join(run.OutDir, "scale.svg"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&zkdBin, "zkd-bin", "", "zkd binary, started as: zkd serve --config zoo.cfg (default: this executable)")
	f.StringVar(&java, "java", "java", "java executable for Apache ZooKeeper")
	f.StringVar(&classpath, "zk-classpath", "", "class path of Apache ZooKeeper (default: CLASSPATH from "+launch.DebianEnvironment+")")
	f.IntVar(&heapMiB, "zk-heap-mib", 0, "Apache's -Xmx in MiB (default: 1 GiB + 1 KiB per znode of the largest size + 256 B per watch + 16 KiB per session)")
	f.StringVar(&znodes, "znodes", joinInts(cfg.Znodes), "comma-separated tree sizes, loaded one after the other")
	f.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "bytes per znode")
	f.IntVar(&cfg.SnapCount, "snap-count", cfg.SnapCount, "snapCount in both servers' zoo.cfg")
	f.IntVar(&cfg.Clients, "clients", cfg.Clients, "sessions of each set and get run")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of each set and get run")
	f.IntVar(&cfg.Writers, "writers", cfg.Writers, "sessions writing through the snapshot")
	f.DurationVar(&cfg.SnapshotTimeout, "snapshot-timeout", cfg.SnapshotTimeout, "how long the writers may wait for a snapshot")
	f.IntVar(&cfg.Sessions, "sessions", cfg.Sessions, "idle sessions")
	f.IntVar(&cfg.Watches, "watches", cfg.Watches, "watches (a multiple of --watch-sessions)")
	f.IntVar(&cfg.WatchSessions, "watch-sessions", cfg.WatchSessions, "sessions that set the watches, each on the same watches/watch-sessions znodes")
	f.IntVar(&cfg.StormRate, "storm-rate", cfg.StormRate, "new sessions per second in the storm")
	f.DurationVar(&cfg.StormDuration, "storm-duration", cfg.StormDuration, "length of the storm")
	f.IntVar(&cfg.StormClients, "storm-clients", cfg.StormClients, "sessions already open, running the mixed workload, whose p99 the storm is judged by")
	f.DurationVar(&cfg.StormConnectTimeout, "storm-connect-timeout", cfg.StormConnectTimeout, "a storm session not granted within this counts as not established")
	f.DurationVar(&cfg.Settle, "settle", cfg.Settle, "pause before each memory reading")
	f.StringVar(&cfg.OutDir, "out", cfg.OutDir, "directory for scale.json, scale.md and scale.svg")
	f.StringVar(&cfg.WorkDir, "work-dir", "", "directory for the servers' data (default: a new temporary directory)")
	f.BoolVar(&cfg.KeepWorkDir, "keep-work-dir", false, "keep the servers' data and logs")
	f.IntVar(&cfg.PortBase, "port-base", cfg.PortBase, "ZooKeeper listens on this port, zkd on the next")
	f.BoolVar(&short, "short", false, "test setting: every figure, tiny (see above)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	return cmd
}

// copyChanged copies the flags given explicitly from flagged into run, so
// that --short only sets what the command line leaves alone.
func copyChanged(changed func(string) bool, run, flagged *ScaleConfig) {
	set := func(name string, apply func()) {
		if changed(name) {
			apply()
		}
	}
	set("value-size", func() { run.ValueSize = flagged.ValueSize })
	set("snap-count", func() { run.SnapCount = flagged.SnapCount })
	set("clients", func() { run.Clients = flagged.Clients })
	set("duration", func() { run.Duration = flagged.Duration })
	set("writers", func() { run.Writers = flagged.Writers })
	set("snapshot-timeout", func() { run.SnapshotTimeout = flagged.SnapshotTimeout })
	set("sessions", func() { run.Sessions = flagged.Sessions })
	set("watches", func() { run.Watches = flagged.Watches })
	set("watch-sessions", func() { run.WatchSessions = flagged.WatchSessions })
	set("storm-rate", func() { run.StormRate = flagged.StormRate })
	set("storm-duration", func() { run.StormDuration = flagged.StormDuration })
	set("storm-clients", func() { run.StormClients = flagged.StormClients })
	set("storm-connect-timeout", func() { run.StormConnectTimeout = flagged.StormConnectTimeout })
	set("settle", func() { run.Settle = flagged.Settle })
	run.OutDir, run.WorkDir, run.KeepWorkDir, run.PortBase = flagged.OutDir, flagged.WorkDir, flagged.KeepWorkDir, flagged.PortBase
}
