package interop

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// kazoo scenarios are Python scripts in testdata/kazoo, run with Debian's
// /usr/bin/python3 (which has python3-kazoo) and the server address as the only
// argument. Each prints its own transcript on stdout.

var kazooScripts = []string{
	"basic.py",
	"transaction.py",
	"watchers.py",
	"lock.py",
	"election.py",
	"counter.py",
	"barrier.py",
	"queues.py",
	"party.py",
}

func TestKazoo(t *testing.T) {
	requireKazoo(t)
	for _, script := range kazooScripts {
		compare(t, script, func(t *testing.T, addr string) string {
			return runKazoo(t, script, addr)
		})
	}
}

func runKazoo(t *testing.T, script, addr string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "kazoo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, script, addr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err != nil {
		// Part of what the user sees: a script that dies or hangs.
		stdout.WriteString("(script failed: " + err.Error() + ")\n")
		t.Errorf("%s against %s: %v\nstderr:\n%s", script, addr, err, stderr.String())
	} else if stderr.Len() > 0 {
		t.Logf("%s stderr (kazoo's log):\n%s", script, stderr.String())
	}
	return stdout.String()
}
