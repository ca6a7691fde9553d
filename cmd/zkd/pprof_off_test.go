//go:build !pprof

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The default build serves no profiles: --pprof must say how to get them,
// before the server opens its data directory or port.
func TestServePprofNeedsTheProfilingBuild(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	os.WriteFile(cfg, []byte("dataDir="+filepath.Join(dir, "data")+"\nclientPort=25819\n"), 0o644)
	_, err := runCLI(t, "serve", "--config", cfg, "--pprof", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "-tags pprof") {
		t.Fatalf("--pprof in the default build: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(statErr) {
		t.Fatalf("the data directory was created before --pprof was refused: %v", statErr)
	}
}
