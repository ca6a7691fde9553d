//go:build !pprof

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The default build has no net/http: --pprof must say how to get it, before
// the server opens its data directory or port.
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

// The default build must not link net/http: with its TLS and HTTP/2 stack it
// makes every zkd ~2.7 MiB larger in resident memory at idle, which issue 5's
// idle-RSS target (≤ 0.1× Apache's) has no room for (docs/benchmarks.md). If
// a feature needs HTTP, measure idle RSS with `zkd bench compare --memory`
// and change this test with the figures.
func TestDefaultBuildLeavesNetHTTPOut(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/zkd/zkd/cmd/zkd").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "net/http" || pkg == "crypto/tls" {
			t.Fatalf("the default zkd build links %s", pkg)
		}
	}
}
