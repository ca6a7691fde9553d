package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/ops"
)

func statusCommand() *cobra.Command {
	var addr, cfgPath, ensemble string
	var timeout time.Duration
	var ready, asJSON bool
	var maxLag int64
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the server's mode (standalone, leader, follower, observer), as zkServer.sh status; exit 1 if it is not serving",
		Long: `Print the server's mode as zkServer.sh status does; exit 1 if it is not serving.

With --ensemble host:port,... (or name=host:port,...) it asks every server's
client port for srvr (and mntr and conf where the whitelist allows) and prints
one table: each server's mode, zxid, epoch (zxid>>32) and lag (transactions
behind the leader's zxid), unreachable or not serving servers as such. It
exits 1 when there is no leader or no quorum; with --ready also when a
server is not serving, still syncing, or more than --max-lag behind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ensemble != "" {
				if addr != "" || cfgPath != "" {
					return fmt.Errorf("--ensemble lists the servers: give it without --server and --config")
				}
				return ensembleStatus(ensemble, timeout, ready, maxLag, asJSON)
			}
			if addr == "" {
				cfg, err := loadConfig(cfgPath)
				if err != nil {
					return err
				}
				host := cfg.ClientPortAddress
				if host == "" || host == "0.0.0.0" || host == "::" {
					host = "localhost"
				}
				addr = net.JoinHostPort(host, strconv.Itoa(cfg.ClientPort))
				if cfgPath != "" {
					fmt.Printf("Using config: %s\n", cfgPath)
				}
			}
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("--server=%q: want host:port", addr)
			}
			fmt.Printf("Client port found: %s. Client address: %s. Client SSL: false.\n", port, host)
			mode, err := fetchMode(addr, timeout)
			if err != nil {
				fmt.Println("Error contacting service. It is probably not running.")
				return &exitError{code: 1, msg: err.Error()}
			}
			fmt.Printf("Mode: %s\n", mode)
			if ready && !servingModes[mode] {
				return &exitError{code: 1, msg: fmt.Sprintf("not ready: mode %s", mode)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "server", "", "host:port of the client port (default: from --config or the embedded default)")
	cmd.Flags().StringVar(&cfgPath, "config", "", "zoo.cfg to read the client port from")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	cmd.Flags().BoolVar(&ready, "ready", false, "exit 0 only when the server serves clients (for readiness probes and health checks); with --ensemble, only when every server serves synced")
	cmd.Flags().StringVar(&ensemble, "ensemble", "", "client ports of every server, host:port,... or name=host:port,...: print the ensemble's table")
	cmd.Flags().Int64Var(&maxLag, "max-lag", 0, "with --ensemble --ready: how many transactions a server may be behind the leader")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --ensemble: print JSON")
	return cmd
}

func ensembleStatus(spec string, timeout time.Duration, ready bool, maxLag int64, asJSON bool) error {
	servers, err := ops.ParseServers(spec)
	if err != nil {
		return fmt.Errorf("--ensemble: %w", err)
	}
	a := ops.Assess(ops.Observer{Timeout: timeout, Mntr: true, Conf: true}.ObserveAll(servers))
	if asJSON {
		r := a.Report()
		if ready {
			ok := a.Ready(maxLag)
			r.Ready = &ok
		}
		if err := printJSON(r); err != nil {
			return err
		}
	} else {
		a.WriteTable(os.Stdout)
	}
	if !a.OK() {
		return &exitError{code: 1, msg: strings.Join(a.Problems, "; ")}
	}
	if ready && !a.Ready(maxLag) {
		var behind []string
		for i, o := range a.Observations {
			if !a.Synced(i, maxLag) {
				behind = append(behind, o.Server.Name)
			}
		}
		return &exitError{code: 1, msg: fmt.Sprintf("not ready: %s not serving synced within %d transactions of the leader", strings.Join(behind, ", "), maxLag)}
	}
	return nil
}

// servingModes are srvr's modes of a server that answers clients; a
// LOOKING server (no quorum) reports none of them.
var servingModes = map[string]bool{"standalone": true, "leader": true, "follower": true, "observer": true}

// fetchMode asks srvr and returns its Mode line.
func fetchMode(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(c)
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if mode, ok := strings.CutPrefix(line, "Mode: "); ok {
			return mode, nil
		}
	}
	if len(lines) > 0 {
		return "", fmt.Errorf("%s answered: %s", addr, strings.Join(lines, " "))
	}
	return "", fmt.Errorf("%s closed the connection without answering srvr", addr)
}
