//go:build pprof

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"runtime"
	"time"
)

// startPprof serves Go's profiles on addr. Only builds with -tags pprof have it:
// net/http and its TLS stack would otherwise cost every zkd ~2.7 MiB of resident
// memory at idle (see docs/benchmarks.md).
func startPprof(addr string, log *slog.Logger) error {
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(100)
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	return nil
}
