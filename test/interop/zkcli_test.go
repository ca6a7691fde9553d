package interop

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// zkCli.sh is driven through stdin in one session. After every command the
// driver sends "sync /" and then "printwatches" (which only prints
// "printwatches is on"): zkCli's sync waits for its callback, which the client
// delivers after every watch event queued before it, so each command's output
// and events end before the marker. Within one command, watch events (printed
// by the event thread) may interleave with the command's output (printed by the
// main thread); the driver moves them after the output, keeping their order.

const zkCliMarker = "printwatches is on"

func TestZkCli(t *testing.T) {
	requireApache(t)
	requireFile(t, zkCliPath)
	compare(t, "create-get-set-stat", zkCliCreateGetSet)
	compare(t, "ls-and-counts", zkCliListing)
	compare(t, "watches", zkCliWatches)
	compare(t, "acl-auth", zkCliACL)
	compare(t, "delete-sync-config", zkCliDeleteSyncConfig)
}

func zkCliCreateGetSet(t *testing.T, addr string) string {
	return runZkCli(t, addr, []string{
		"create /zkcli-a root-data",
		"create /zkcli-a",
		"create -s /zkcli-a/seq- one",
		"create -s /zkcli-a/seq- two",
		"create -e /zkcli-a/eph e",
		"create -e -s /zkcli-a/eseq- es",
		"create -c /zkcli-a/cont c",
		"create -t 60000 /zkcli-a/ttl t",
		"create -s -t 60000 /zkcli-a/tseq- ts",
		"create -t 0 /zkcli-a/ttl0 x",
		"create -e -t 1000 /zkcli-a/ettl x",
		"create -c -s /zkcli-a/cseq x",
		"create /zkcli-a/eph/child x",
		"create /zkcli-a/nope/child x",
		"create zkcli-relative x",
		"get /zkcli-a",
		"get -s /zkcli-a",
		"get -s /zkcli-a/eph",
		"get -s /zkcli-a/ttl",
		"get -s /zkcli-a/cont",
		"get /zkcli-a/missing",
		"stat /zkcli-a/seq-0000000000",
		"stat /zkcli-a/missing",
		"set /zkcli-a new-data",
		"set -v 5 /zkcli-a x",
		"set -s -v 1 /zkcli-a v2",
		"set -s /zkcli-a/missing x",
		"get -s /zkcli-a",
		"quit",
	})
}

func zkCliListing(t *testing.T, addr string) string {
	return runZkCli(t, addr, []string{
		"create /zkcli-b",
		"create /zkcli-b/zeta",
		"create /zkcli-b/alpha",
		"create /zkcli-b/alpha/x",
		"create /zkcli-b/alpha/x/y",
		"create -e /zkcli-b/eph1",
		"create -e /zkcli-b/alpha/eph2",
		"create -e -s /zkcli-b/zeta/eph-",
		"ls /zkcli-b",
		"ls -s /zkcli-b",
		"ls -R /zkcli-b",
		"ls /zkcli-b/missing",
		"ls -R /zkcli-b/missing",
		"getAllChildrenNumber /zkcli-b",
		"getAllChildrenNumber /zkcli-b/alpha/x/y",
		"getAllChildrenNumber /zkcli-b/missing",
		"getEphemerals /zkcli-b",
		"getEphemerals /zkcli-b/a",
		"getEphemerals /zkcli-b/alpha/",
		"getEphemerals /nothing-here",
		"getEphemerals",
		"getEphemerals /",
		"delete /zkcli-b/eph1",
		"getEphemerals /zkcli-b",
		"quit",
	})
}

func zkCliWatches(t *testing.T, addr string) string {
	return runZkCli(t, addr, []string{
		"create /zkcli-w",
		"addWatch /zkcli-w/r",
		"addWatch -m PERSISTENT /zkcli-w/p",
		"create /zkcli-w/r",
		"create /zkcli-w/r/sub",
		"create /zkcli-w/r/sub/deeper",
		"set /zkcli-w/r/sub x",
		"delete /zkcli-w/r/sub/deeper",
		"create /zkcli-w/p",
		"create /zkcli-w/p/c",
		"set /zkcli-w/p d",
		"set /zkcli-w/p/c d",
		"delete /zkcli-w/p/c",
		"removewatches /zkcli-w/r -a",
		"removewatches /zkcli-w/r -a",
		"set /zkcli-w/r/sub y",
		"removewatches /zkcli-w/p",
		"get -w /zkcli-w/p",
		"set /zkcli-w/p x",
		"set /zkcli-w/p y",
		"ls -w /zkcli-w/p",
		"create /zkcli-w/p/d",
		"stat -w /zkcli-w/later",
		"create /zkcli-w/later",
		"get -w /zkcli-w/p",
		"removewatches /zkcli-w/p -d",
		"ls -w /zkcli-w/p",
		"removewatches /zkcli-w/p -c",
		"removewatches /zkcli-w/p -c",
		"get -w /zkcli-w/later",
		"ls -w /zkcli-w/later",
		"ls -w /zkcli-w",
		"delete /zkcli-w/later",
		"ls -w /zkcli-w",
		"create /zkcli-w/later",
		"delete /zkcli-w/later",
		"addWatch -m PERSISTENT_RECURSIVE /zkcli-w",
		"create /zkcli-w/q",
		"addWatch -m NOSUCHMODE /zkcli-w",
		"removewatches /zkcli-w -a -l",
		"create /zkcli-w/q2",
		"quit",
	})
}

func zkCliACL(t *testing.T, addr string) string {
	return runZkCli(t, addr, []string{
		"create /zkcli-acl",
		"whoami",
		"getAcl /zkcli-acl",
		"getAcl -s /zkcli-acl",
		"create /zkcli-acl/open o world:anyone:cdrwa",
		"create /zkcli-acl/ro r world:anyone:r",
		"create /zkcli-acl/authless x auth::cdrwa",
		"addauth digest alice:secret",
		"whoami",
		"addauth digest carol:pw",
		"whoami",
		"create /zkcli-acl/mine m auth::cdrwa",
		"getAcl /zkcli-acl/mine",
		"create /zkcli-acl/bob b digest:bob:K2f4mKr9kypQUWBi2lVUD+tQnhE=:cdrwa",
		"getAcl /zkcli-acl/bob",
		"get /zkcli-acl/bob",
		"create /zkcli-acl/bad x world:anyone:xyz",
		"create /zkcli-acl/bad x nosuch:thing:r",
		"setAcl /zkcli-acl/ro world:anyone:rw",
		"set /zkcli-acl/ro x",
		"getAcl -s /zkcli-acl/ro",
		"setAcl -v 5 /zkcli-acl/open world:anyone:r",
		"setAcl -s -v 0 /zkcli-acl/open world:anyone:cdr",
		"getAcl /zkcli-acl/open",
		"set /zkcli-acl/open x",
		"setAcl /zkcli-acl/open ip:127.0.0.1:cdrwa,world:anyone:r",
		"getAcl /zkcli-acl/open",
		"create /zkcli-acl/tree",
		"create /zkcli-acl/tree/a",
		"create /zkcli-acl/tree/a/b",
		"setAcl -R /zkcli-acl/tree world:anyone:r",
		"getAcl /zkcli-acl/tree/a/b",
		"create /zkcli-acl/tree/c",
		"addauth digest super:test",
		"whoami",
		"get /zkcli-acl/bob",
		"setAcl /zkcli-acl/bob world:anyone:cdrwa",
		"getAcl /zkcli-acl/bob",
		"addauth nosuchscheme foo",
		"quit",
	})
}

func zkCliDeleteSyncConfig(t *testing.T, addr string) string {
	return runZkCli(t, addr, []string{
		"create /zkcli-d",
		"create /zkcli-d/a",
		"create /zkcli-d/a/b",
		"create /zkcli-d/a/b/c",
		"create /zkcli-d/s s",
		"set /zkcli-d/s t",
		"delete -v 5 /zkcli-d/s",
		"delete -v 1 /zkcli-d/s",
		"delete /zkcli-d/s",
		"delete /zkcli-d/a",
		"deleteall /zkcli-d/missing",
		"deleteall /zkcli-d/a",
		"ls /zkcli-d",
		"sync /zkcli-d",
		"sync /zkcli-d/missing",
		"config",
		"config -s",
		"get /zookeeper/config",
		"reconfig -remove 1",
		"reconfig -add server.2=127.0.0.1:21888:21889;21890",
		"version",
		"delete /",
		"delete /zookeeper",
		"deleteall /zkcli-d",
		"ls /zkcli-d",
		"quit",
	})
}

// runZkCli feeds commands to one zkCli.sh session and returns a transcript with
// one "> command" block per command.
func runZkCli(t *testing.T, addr string, commands []string) string {
	t.Helper()
	var in strings.Builder
	// Wait for the connection first, so its event lands in the preamble.
	in.WriteString("sync /\nprintwatches\n")
	for _, c := range commands {
		in.WriteString(c + "\n")
		if c != "quit" {
			in.WriteString("sync /\nprintwatches\n")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkCliPath, "-server", addr)
	cmd.Stdin = strings.NewReader(in.String())
	var out bytes.Buffer
	// One writer for both streams: Go then gives the child a single pipe, so
	// lines from System.out and System.err keep their order.
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Errorf("zkCli.sh: %v\n%s", err, out.String())
	}
	return zkCliTranscript(t, commands, out.String())
}

// zkCliTranscript splits zkCli's output at the markers and pairs the pieces
// with the commands.
func zkCliTranscript(t *testing.T, commands []string, output string) string {
	var lines []string
	for _, l := range strings.Split(output, "\n") {
		if strings.HasPrefix(l, "SLF4J:") {
			continue // no logging binding on the client's classpath
		}
		lines = append(lines, l)
	}
	var segments [][]string
	var cur []string
	for _, l := range lines {
		if l == zkCliMarker {
			segments = append(segments, cur)
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	segments = append(segments, cur)
	// segments: preamble, one per command except quit, then quit's output.
	if len(segments) != len(commands)+1 {
		t.Errorf("zkCli: %d output segments for %d commands; raw output:\n%s", len(segments), len(commands), output)
	}
	var tr transcript
	for i, seg := range segments {
		switch {
		case i == 0:
			tr.printf("(connect)")
		case i-1 < len(commands):
			tr.printf("> %s", commands[i-1])
		default:
			tr.printf("> (unexpected output)")
		}
		// The injected sync answers last: drop its line.
		if i < len(segments)-1 || i == 0 {
			seg = dropLast(seg, "Sync is OK")
		}
		text, events := splitZkCliEvents(seg)
		if authFailedIn(events) {
			// The injected sync races the server's AuthFailed reply: sent
			// first, it fails with AUTHFAILED ("Sync has failed. rc=-115");
			// issued after the reply, zkCli refuses it ("Not connected").
			// Which one comes depends on how fast the server answered, for
			// Apache as for zkd.
			text = dropLastOf(text, "Sync has failed. rc=-115", "Not connected")
		}
		if i > 0 && i-1 < len(commands) {
			text = unorderedZkCliOutput(commands[i-1], text)
		}
		for _, l := range text {
			tr.printf("%s", l)
		}
		for _, e := range events {
			tr.printf("  [event] %s", e)
		}
	}
	return tr.String()
}

// unorderedZkCliOutput sorts output whose order Apache takes from a hash set:
// getEphemerals lists and whoami's identities.
func unorderedZkCliOutput(command string, text []string) []string {
	fields := strings.Fields(command)
	if len(fields) == 0 {
		return text
	}
	switch fields[0] {
	case "getEphemerals":
		out := make([]string, len(text))
		for i, l := range text {
			if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") && len(l) > 2 {
				items := strings.Split(l[1:len(l)-1], ", ")
				sort.Strings(items)
				l = "[" + strings.Join(items, ", ") + "]"
			}
			out[i] = l
		}
		return out
	case "whoami":
		out := append([]string(nil), text...)
		if len(out) > 0 && out[0] == "Auth scheme: User" {
			sort.Strings(out[1:])
		}
		return out
	}
	return text
}

func authFailedIn(events []string) bool {
	for _, e := range events {
		if strings.Contains(e, "state:AuthFailed") {
			return true
		}
	}
	return false
}

// dropLastOf removes the last line that is one of choices.
func dropLastOf(lines []string, choices ...string) []string {
	for i := len(lines) - 1; i >= 0; i-- {
		if slices.Contains(choices, lines[i]) {
			return append(append([]string(nil), lines[:i]...), lines[i+1:]...)
		}
	}
	return lines
}

func dropLast(lines []string, s string) []string {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] == s {
			return append(append([]string(nil), lines[:i]...), lines[i+1:]...)
		}
	}
	return lines
}

// splitZkCliEvents separates watcher output ("\nWATCHER::" and
// "\nWatchedEvent ...", each written as one line with a leading newline) from
// the command's own output, and drops blank lines.
func splitZkCliEvents(seg []string) (text, events []string) {
	for _, l := range seg {
		switch {
		case l == "" || l == "WATCHER::":
		case strings.HasPrefix(l, "WatchedEvent "):
			events = append(events, l)
		default:
			text = append(text, l)
		}
	}
	return text, events
}
