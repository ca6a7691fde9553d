package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is the least heap growth allowed between collections.
const gcHeadroom = 64 << 20

// tuneGC keeps the heap's growth between collections near max(64 MiB, 25 %
// of the live heap) instead of Go's default 100 %: a server holding a large
// tree would otherwise keep twice the tree in memory. Small heaps keep the
// default. It does nothing when the operator set GOGC.
func tuneGC(ctx context.Context) {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		live := sample[0].Value.Uint64()
		percent := 100
		if live > 0 {
			percent = int(max(gcHeadroom*100/live, 25))
		}
		percent = min(percent, 100)
		if percent != current {
			debug.SetGCPercent(percent)
			current = percent
		}
	}
}
