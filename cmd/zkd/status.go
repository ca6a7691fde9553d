package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func statusCommand() *cobra.Command {
	var addr, cfgPath string
	var timeout time.Duration
	var ready bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the server's mode (standalone, leader, follower, observer), as zkServer.sh status; exit 1 if it is not serving",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
	cmd.Flags().BoolVar(&ready, "ready", false, "exit 0 only when the server serves clients (for readiness probes and health checks)")
	return cmd
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
