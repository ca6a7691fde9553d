//go:build !pprof

package main

import (
	"errors"
	"log/slog"
)

// startPprof refuses: profiling (block and mutex profiles on, the
// /debug/pprof handlers) is for builds made with -tags pprof only.
func startPprof(string, *slog.Logger) error {
	return errors.New("--pprof: this zkd was built without profiling; build it with `go build -tags pprof ./cmd/zkd`")
}
