// Command zkd is a ZooKeeper-compatible coordination service.
//
//	zkd                          start a standalone server on the embedded default config
//	zkd serve --config zoo.cfg   start a server on an Apache ZooKeeper zoo.cfg (also: zkd zoo.cfg)
//	zkd serve --check --config   validate the config and exit
//	zkd status [--server h:p]    print the server's mode, as zkServer.sh status
//	zkd status --ensemble h:p,…  every server's mode, zxid, epoch and lag in one table
//	zkd drill --servers … --kill failover drill: stop the leader while writing, report
//	zkd roll --servers … --restart rolling restart, followers first, leader last
//	zkd bench                    load generator; zkd bench compare runs it side by side with Apache ZooKeeper
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	if err := commandFor(os.Args[1:]).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "zkd:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

// toolNames are the names (and aliases) of rootCommand's subcommands other
// than serve, cobra's help and completion included; TestToolNames keeps
// the list true.
var toolNames = []string{"status", "drill", "roll", "version", "bench", "log", "snapshot", "purge",
	"help", "completion"}

// commandFor is the command tree for args. A server (no arguments, serve,
// or a zoo.cfg path) gets a root with serve alone: the tools' command
// trees touch their code and allocate their flags, about 0.2 MiB of
// resident memory a server would carry for nothing (docs/benchmarks.md).
func commandFor(args []string) *cobra.Command {
	if len(args) > 0 && (strings.HasPrefix(args[0], "-") || slices.Contains(toolNames, args[0])) {
		return rootCommand()
	}
	return newRoot(serveCommand())
}

// rootCommand is the whole command tree.
func rootCommand() *cobra.Command {
	root := newRoot(serveCommand())
	root.AddCommand(append([]*cobra.Command{statusCommand(), drillCommand(), rollCommand(), versionCommand(), benchCommand()}, toolCommands()...)...)
	return root
}

// newRoot is the root command with serve under it: it runs a server on
// the embedded default config or on the zoo.cfg path it is given.
func newRoot(serve *cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:           "zkd [zoo.cfg]",
		Short:         "zkd: a ZooKeeper-compatible coordination service",
		Long:          "zkd serves Apache ZooKeeper's client protocol. With no arguments it starts a standalone server on the embedded default config; with a zoo.cfg path it runs that config (like 'zkd serve --config zoo.cfg').",
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			return runServe(serveFlags{config: path})
		},
	}
	root.AddCommand(serve)
	return root
}
