//go:build pprof

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"runtime"
	"time"
)

// startPprof serves Go's profiles on addr. Only builds with -tags pprof have
// it: it turns on block and mutex profiling, which cost every request.
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
