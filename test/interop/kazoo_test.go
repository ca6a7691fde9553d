package interop

import "testing"

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
	return runKazooArgs(t, script, addr)
}
