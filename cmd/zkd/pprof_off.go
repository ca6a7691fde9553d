//go:build !pprof

package main

import (
	"errors"
	"log/slog"
)

// startPprof refuses: the default build leaves net/http out (it would cost
// every zkd ~2.7 MiB of resident memory at idle); profiling builds use -tags pprof.
func startPprof(string, *slog.Logger) error {
	return errors.New("--pprof: this zkd was built without profiling; build it with `go build -tags pprof ./cmd/zkd`")
}
