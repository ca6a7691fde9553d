package main

// Operator commands on an ensemble (issue 10); the logic is in internal/ops:
//
//	zkd status --ensemble h:p,...           every server's mode, zxid, epoch and lag
//	zkd drill --servers n=h:p,... --kill C  stop the leader while writing, report the failover
//	zkd roll --servers n=h:p,... --restart C  restart one at a time, leader last
//
// Exit status: 0 done (the drill passed), 1 failed (writes lost, no new
// leader, a server not back), 3 refused before anything was stopped.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/ops"
)

// exitRefused: the drill or roll refused and stopped nothing.
const exitRefused = 3

// pidFlags are the ways to give the servers' local pids.
type pidFlags struct {
	pids, pidFile string
}

func (p *pidFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.pids, "pids", "", "local process ids, name=pid,... (for {pid} and --kill-signal)")
	cmd.Flags().StringVar(&p.pidFile, "pid-file", "", "path of each server's pid file, a template: /run/zk/{name}.pid (read when needed, so a restarted server's new pid is found)")
}

func (p *pidFlags) source(servers []ops.Server) (ops.PidSource, error) {
	var src ops.PidSource
	if p.pids != "" {
		m, err := ops.ParsePids(p.pids)
		if err != nil {
			return src, fmt.Errorf("--pids: %w", err)
		}
		for name := range m {
			if !hasServer(servers, name) {
				return src, fmt.Errorf("--pids: %s is not in --servers", name)
			}
		}
		src.Pids = m
	}
	if p.pidFile != "" {
		usesPid, err := ops.CheckTemplate(p.pidFile)
		if err != nil || usesPid {
			return src, fmt.Errorf("--pid-file %q: a path template with {name}, {host}, {port}, {addr} or {myid}", p.pidFile)
		}
		src.File = p.pidFile
	}
	return src, nil
}

func hasServer(servers []ops.Server, name string) bool {
	for _, s := range servers {
		if s.Name == name {
			return true
		}
	}
	return false
}

// shellAction checks a command template and its pids.
func shellAction(flag, tmpl string, pids ops.PidSource, timeout time.Duration) (ops.Action, error) {
	usesPid, err := ops.CheckTemplate(tmpl)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	if usesPid && pids.Empty() {
		return nil, fmt.Errorf("--%s uses {pid}: give the pids with --pids name=pid,... or --pid-file", flag)
	}
	return ops.Shell{Template: tmpl, Pids: pids, Timeout: timeout}, nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// interruptible is a context cancelled by SIGINT or SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func refusedOr(err error) error {
	if errors.Is(err, ops.ErrRefused) {
		return &exitError{code: exitRefused, msg: err.Error()}
	}
	return err
}

func drillCommand() *cobra.Command {
	var spec, kill, killSignal, path string
	var pf pidFlags
	var o ops.DrillOptions
	var fourTimeout time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "drill --servers name=host:port,... (--kill 'COMMAND {name}' | --kill-signal KILL --pid-file F)",
		Short: "Failover drill: stop the leader while a client writes; report the new leader, the time to it and to acknowledged writes, and any acknowledged write lost",
		Long: `Failover drill on a running ensemble. It finds the leader through srvr on
each server's client port, refuses (exit 3) unless stopping it leaves a quorum
of synced voting servers, starts a go-zookeeper client with every server in
its list writing sequential znodes under --path, stops the leader with the
operator's command, and reports:
  - which server took over, in which epoch, and why by ZooKeeper's rule
    (highest epoch, then zxid, then myid; the zxids compared are the last ones
    polled before the election);
  - the time from the stop to the first poll showing the new leader, and to
    the first acknowledged write issued after the old leader was seen gone;
  - every acknowledged write read back (after a sync): any missing is LOST.
Writes that failed with a lost connection are "in doubt": either outcome is
correct. It never stops anything unless told how:
  --kill 'kubectl -n NS delete pod {name}'   any command, run by sh -c, with
  --kill 'docker kill {name}'                {name} {host} {port} {addr} {myid} {pid}
  --kill 'kill -9 {pid}' --pids zk1=4242,... or --pid-file '/run/zk/{name}.pid'
  --kill-signal KILL --pid-file ...          the signal sent by zkd itself
myid comes from conf's serverId where conf is whitelisted, else from the order
of --servers. --dry-run checks and prints what it would stop. The killed server
is not restarted. Exit 0 when the drill passed, 1 when it failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			servers, err := ops.ParseServers(spec)
			if err != nil {
				return fmt.Errorf("--servers: %w", err)
			}
			pids, err := pf.source(servers)
			if err != nil {
				return err
			}
			switch {
			case kill != "" && killSignal != "":
				return errors.New("give --kill or --kill-signal, not both")
			case kill != "":
				if o.Stop, err = shellAction("kill", kill, pids, o.Timeout); err != nil {
					return err
				}
			case killSignal != "":
				sig, err := ops.ParseSignal(killSignal)
				if err != nil {
					return fmt.Errorf("--kill-signal: %w", err)
				}
				if pids.Empty() {
					return errors.New("--kill-signal needs the pids: --pids name=pid,... or --pid-file")
				}
				o.Stop = ops.Signal{Signal: sig, Pids: pids}
			default:
				return &exitError{code: exitRefused, msg: "the drill stops nothing unless told how: give --kill 'COMMAND' (e.g. 'docker kill {name}') or --kill-signal with --pids/--pid-file"}
			}
			o.Servers, o.Path = servers, path
			o.Observer = ops.Observer{Timeout: fourTimeout, Mntr: true, Conf: true}
			o.Log = os.Stderr
			ctx, cancel := interruptible()
			defer cancel()
			r, err := ops.Drill(ctx, o)
			if err != nil {
				return refusedOr(err)
			}
			if asJSON {
				if err := printJSON(r); err != nil {
					return err
				}
			} else {
				r.WriteText(os.Stdout)
			}
			if !r.Passed() {
				return &exitError{code: 1, msg: "drill failed: " + strings.Join(r.Problems, "; ")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec, "servers", "", "every server's client port: name=host:port,... or host:port,... (name defaults to the host); required")
	f.StringVar(&kill, "kill", "", "command that stops the leader, run by sh -c: {name} {host} {port} {addr} {myid} {pid} are replaced")
	f.StringVar(&killSignal, "kill-signal", "", "instead of --kill: send this signal (KILL, TERM, 9...) to the leader's local pid")
	pf.add(cmd)
	f.StringVar(&path, "path", "/zkd-drill", "znode under which the drill writes (a run node of its own, deleted afterwards unless --keep or writes were lost)")
	f.DurationVar(&o.SessionTimeout, "session-timeout", 10*time.Second, "the writer's session timeout")
	f.DurationVar(&o.ConnectTimeout, "connect-timeout", 15*time.Second, "how long the writer may take to get its first session")
	f.DurationVar(&o.WriteInterval, "write-interval", 10*time.Millisecond, "pause between two writes (one write is outstanding at a time)")
	f.DurationVar(&o.Warmup, "warmup", 2*time.Second, "how long to write before stopping the leader")
	f.DurationVar(&o.Settle, "settle", 2*time.Second, "how long to go on writing once writes are acknowledged again")
	f.DurationVar(&o.Poll, "poll", 100*time.Millisecond, "srvr polling interval (the resolution of the election time)")
	f.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long the stop command may run, and how long to wait after it for a new leader and acknowledged writes")
	f.DurationVar(&fourTimeout, "4lw-timeout", 2*time.Second, "timeout of each four-letter word")
	f.BoolVar(&o.Keep, "keep", false, "keep the drill's znodes")
	f.BoolVar(&o.DryRun, "dry-run", false, "check the ensemble and print what would be stopped; stop and write nothing")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (progress still goes to stderr)")
	cmd.MarkFlagRequired("servers")
	return cmd
}

func rollCommand() *cobra.Command {
	var spec, restart string
	var pf pidFlags
	var o ops.RollOptions
	var fourTimeout time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "roll --servers name=host:port,... --restart 'COMMAND {name}'",
		Short: "Rolling restart: one server at a time, followers first and the leader last, each back in the quorum and synced before the next",
		Long: `Rolling restart of a running ensemble. Before each restart it asks every
server (srvr, mntr, conf on the client port) and refuses (exit 3) when the
restart would cost the quorum: no leader, or fewer synced voting servers
besides the one to restart than a quorum (with three servers, one already down
stops the roll). The followers and observers go first, in --servers order, the
leader last. After each restart it waits, up to --timeout, until the server was
seen restarting (down at a poll, or mntr's zk_uptime younger than the restart)
and serves again as follower or leader, at least at the leader's zxid of
before the restart and, where mntr answers, in the broadcast phase; a server
not back in time stops the roll (exit 1) and the rest are left alone.
  --restart 'kubectl -n NS delete pod {name}'   (a StatefulSet recreates it)
  --restart 'docker restart {name}'
  --restart 'systemctl restart zkd@{myid}'
{name} {host} {port} {addr} {myid} {pid} are replaced; {pid} needs --pids or
--pid-file. --dry-run prints the order and the commands.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			servers, err := ops.ParseServers(spec)
			if err != nil {
				return fmt.Errorf("--servers: %w", err)
			}
			pids, err := pf.source(servers)
			if err != nil {
				return err
			}
			if restart == "" {
				return &exitError{code: exitRefused, msg: "the roll restarts nothing unless told how: give --restart 'COMMAND' (e.g. 'docker restart {name}')"}
			}
			if o.Restart, err = shellAction("restart", restart, pids, o.CommandTimeout); err != nil {
				return err
			}
			o.Servers = servers
			o.Observer = ops.Observer{Timeout: fourTimeout, Mntr: true, Conf: true}
			o.Log = os.Stderr
			ctx, cancel := interruptible()
			defer cancel()
			r, rollErr := ops.Roll(ctx, o)
			if asJSON {
				if err := printJSON(r); err != nil {
					return err
				}
			} else {
				r.WriteText(os.Stdout)
			}
			return refusedOr(rollErr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec, "servers", "", "every server's client port: name=host:port,... or host:port,... (name defaults to the host); required")
	f.StringVar(&restart, "restart", "", "command that restarts one server, run by sh -c: {name} {host} {port} {addr} {myid} {pid} are replaced")
	pf.add(cmd)
	f.DurationVar(&o.CommandTimeout, "command-timeout", 5*time.Minute, "how long the restart command may run")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "how long a server may take, from its restart command's start, to serve again synced")
	f.DurationVar(&o.Poll, "poll", 500*time.Millisecond, "polling interval while waiting")
	f.DurationVar(&o.Pause, "pause", 0, "pause after each server is back, before the next")
	f.DurationVar(&fourTimeout, "4lw-timeout", 2*time.Second, "timeout of each four-letter word")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the order and the commands; restart nothing")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (progress still goes to stderr)")
	cmd.MarkFlagRequired("servers")
	return cmd
}
