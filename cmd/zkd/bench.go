package main

import (
	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/bench"
)

func benchCommand() *cobra.Command { return bench.Command() }
