package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/server"
)

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the ZooKeeper version zkd speaks and its own",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Println(server.VersionBanner())
		},
	}
}
