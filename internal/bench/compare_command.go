package bench

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/launch"
)

func compareCommand() *cobra.Command {
	def := DefaultCompareConfig()
	var (
		zkdBin, java, classpath   string
		workloads, clients, nodes string
		duration, warmup          time.Duration
		repeats, startupRepeats   int
		readRatio                 float64
		valueSize, prepopulate    int
		memory, short, selftest   bool
		ceiling, durableCeiling   bool
		outDir, workDir           string
		keepWorkDir, quiet, pin   bool
		portBase                  int
		ensemble, failovers       int
		failoverWarmup            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Run identical workloads against zkd and Apache ZooKeeper and print both with their ratio",
		Long: `compare starts Apache ZooKeeper (Debian's, in a JVM with a 1 GiB heap) and
zkd on the same zoo.cfg (forceSync on, tickTime 2000, no connection cap), data
directories side by side on one disk. It measures:

  - exec to first acknowledged write on an empty data directory;
  - every workload at every client count, repeated, alternating the servers
    run by run so that machine noise falls on both;
  - with --memory: resident memory (VmRSS) idle and after loading znodes of
    100 bytes, then the snapshot written after a restart and the restart time.

With --ensemble 3 it compares two 3-server ensembles on loopback instead,
both up side by side: Apache's members as QuorumPeerMain, each member with
its own zoo.cfg (the same settings plus the server.N lines) and data
directory. Every run's sessions spread over the members (session i starts
on server i mod 3, as a client list would place them), CPU per request
counts the three server processes together, start-up is the exec of the
three to the first write acknowledged through server 1, and a failover
phase follows the runs: --failovers rounds per ensemble, alternating, each
with writers running on every member, kill -9 of the leader (found by
srvr), the time to the first acknowledged write issued after the kill and
to the new leader seen, then the killed server restarted and waited for
until it is back in the quorum. The summary ends with issue 9's targets
judged on the run's ratios. Ensemble defaults: workloads
create,set,get,mixed, clients 16,32,64, 3 starts; --memory is refused.
Ports: ZooKeeper's members listen on --port-base…+2, zkd's on +3…+5, quorum
ports +6…+11, election ports +12…+17.

It prints a Markdown summary and writes compare.json, summary.md and
throughput.svg (ops/s against clients) to --out. With --ceiling every
throughput run is also run against "zkd bench ceiling" (a server that answers
with fixed replies and keeps nothing, started from the same zkd binary on
--port-base+2), in the same alternation, so that the tables and the plot show
the limit of this machine and client beside both servers, each server's
fraction of it, and its CPU per request; standalone only.
--durable-ceiling runs, beside that one, "zkd bench ceiling --durable" on
--port-base+3, which also logs every write to its dataDir and fdatasyncs it
before the reply: the limit of a server that acknowledges only durable
writes, so that the disk's share of the distance to the plain limit shows.
--short is the CI setting:
about a minute in all (with --ensemble: one 1 s run per workload at 16
clients, one start, one failover round). --selftest runs Apache on both
sides to check the harness itself: every ratio should then be near 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true // from here on an error is the run's, not the flags'
			cfg := def
			switch {
			case ensemble > 1 && short:
				cfg = ShortEnsembleCompareConfig()
			case ensemble > 1:
				cfg = DefaultEnsembleCompareConfig()
			case short:
				cfg = ShortCompareConfig()
			}
			cfg.Ensemble = ensemble
			f := cmd.Flags()
			if f.Changed("failovers") {
				cfg.Failovers = failovers
			}
			if f.Changed("failover-warmup") {
				cfg.FailoverWarmup = failoverWarmup
			}
			var err error
			if f.Changed("workloads") {
				if cfg.Workloads, err = parseWorkloads(workloads); err != nil {
					return err
				}
			}
			if f.Changed("clients") {
				if cfg.Clients, err = parseInts(clients); err != nil {
					return fmt.Errorf("--clients: %w", err)
				}
			}
			if f.Changed("memory-nodes") {
				if cfg.MemoryNodes, err = parseInts(nodes); err != nil {
					return fmt.Errorf("--memory-nodes: %w", err)
				}
			}
			if f.Changed("memory") {
				cfg.Memory = memory
			}
			if f.Changed("duration") {
				cfg.Duration = duration
			}
			if f.Changed("warmup") {
				cfg.Warmup = warmup
			}
			if f.Changed("repeats") {
				cfg.Repeats = repeats
			}
			if f.Changed("startup-repeats") {
				cfg.StartupRepeats = startupRepeats
			}
			if f.Changed("read-ratio") {
				cfg.ReadRatio = readRatio
			}
			if f.Changed("value-size") {
				cfg.ValueSize = valueSize
			}
			if f.Changed("prepopulate") {
				cfg.Prepopulate = prepopulate
			}
			cfg.OutDir, cfg.WorkDir, cfg.KeepWorkDir, cfg.PortBase = outDir, workDir, keepWorkDir, portBase
			cfg.Pin = pin

			apache, err := DiscoverApache(java, classpath)
			if err != nil {
				return err
			}
			cfg.ZooKeeper = apache
			cfg.SelfTest = selftest
			if zkdBin == "" {
				if zkdBin, err = os.Executable(); err != nil {
					return fmt.Errorf("--zkd-bin: %w", err)
				}
			}
			if zkdBin, err = filepath.Abs(zkdBin); err != nil {
				return err
			}
			if selftest {
				cfg.Zkd = apache
			} else {
				cfg.Zkd = ZkdSpec(zkdBin)
			}
			if ceiling {
				// The same binary's `bench ceiling`, in a self-test too: the
				// limit does not depend on which server is measured.
				cfg.Ceiling = CeilingSpec(zkdBin, cfg.ValueSize)
			}
			if durableCeiling {
				cfg.Ceiling = CeilingSpec(zkdBin, cfg.ValueSize)
				cfg.DurableCeiling = DurableCeilingSpec(zkdBin, cfg.ValueSize)
			}
			if !quiet {
				cfg.Log = cmd.ErrOrStderr()
			}
			ctx, stop := signal.NotifyContext(runContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			report, err := Compare(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), report.Markdown())
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s, %s and %s\n",
				filepath.Join(cfg.OutDir, "compare.json"), filepath.Join(cfg.OutDir, "summary.md"), filepath.Join(cfg.OutDir, "throughput.svg"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&zkdBin, "zkd-bin", "", "zkd binary, started as: zkd serve --config zoo.cfg (default: this executable)")
	f.BoolVar(&selftest, "selftest", false, "run Apache ZooKeeper in zkd's place too, to check the harness")
	f.BoolVar(&durableCeiling, "durable-ceiling", false, "--ceiling, and beside it zkd bench ceiling --durable (every write fdatasynced before its reply) on --port-base+3: the limit of a durable server")
	f.BoolVar(&ceiling, "ceiling", false, "run zkd bench ceiling (fixed replies, keeps nothing) in the same alternation, on --port-base+2: the limit of this machine and client beside both servers")
	f.StringVar(&java, "java", "java", "java executable for Apache ZooKeeper")
	f.StringVar(&classpath, "zk-classpath", "", "class path of Apache ZooKeeper (default: CLASSPATH from "+launch.DebianEnvironment+")")
	f.StringVar(&workloads, "workloads", joinWorkloads(def.Workloads), "comma-separated workloads")
	f.StringVar(&clients, "clients", joinInts(def.Clients), "comma-separated client counts")
	f.DurationVar(&duration, "duration", def.Duration, "timed phase of each run")
	f.DurationVar(&warmup, "warmup", def.Warmup, "untimed mixed load on each server before the first run")
	f.IntVar(&repeats, "repeats", def.Repeats, "runs per server, workload and client count")
	f.IntVar(&startupRepeats, "startup-repeats", def.StartupRepeats, "starts per server for the time to first write")
	f.Float64Var(&readRatio, "read-ratio", def.ReadRatio, "fraction of gets in the mixed workload")
	f.IntVar(&valueSize, "value-size", def.ValueSize, "bytes per znode value written by create and set")
	f.IntVar(&prepopulate, "prepopulate", def.Prepopulate, "znodes the keyed workloads address")
	f.BoolVar(&memory, "memory", false, "measure RSS idle and after --memory-nodes znodes, and the snapshot size")
	f.StringVar(&nodes, "memory-nodes", joinInts(def.MemoryNodes), "comma-separated znode counts for the memory phase")
	f.StringVar(&outDir, "out", def.OutDir, "directory for compare.json, summary.md and throughput.svg")
	f.StringVar(&workDir, "work-dir", "", "directory for the servers' data (default: a new temporary directory)")
	f.BoolVar(&keepWorkDir, "keep-work-dir", false, "keep the servers' data and logs")
	f.IntVar(&portBase, "port-base", def.PortBase, "ZooKeeper listens on this port, zkd on the next (ensembles: 18 ports from here, see above)")
	f.IntVar(&ensemble, "ensemble", 1, "servers of each kind: 1 compares standalone servers, 3 two 3-server ensembles on loopback")
	f.IntVar(&failovers, "failovers", def.Failovers, "with --ensemble: kill -9 rounds of each ensemble's leader")
	f.DurationVar(&failoverWarmup, "failover-warmup", def.FailoverWarmup, "with --ensemble: how long the writers write before each kill")
	f.BoolVar(&short, "short", false, "CI setting: 1 s runs, 2 repeats, 1 and 8 clients, memory phase with 2,000 and 10,000 znodes")
	f.BoolVar(&quiet, "quiet", false, "no per-run log lines")
	f.BoolVar(&pin, "pin", false, "run the load generator on the first CPU and the servers on the others (taskset), so that the client does not take CPU from the server measured")
	return cmd
}

func parseWorkloads(s string) ([]Workload, error) {
	var out []Workload
	for _, name := range splitList(s) {
		w, err := ParseWorkload(name)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, part := range splitList(s) {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func joinWorkloads(ws []Workload) string {
	s := ""
	for i, w := range ws {
		if i > 0 {
			s += ","
		}
		s += string(w)
	}
	return s
}

func joinInts(ns []int) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(n)
	}
	return s
}
