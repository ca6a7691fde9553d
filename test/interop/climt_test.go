package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The C client's cli_mt reads commands from stdin and answers most of them
// asynchronously, on stderr, from its completion thread. The driver sends one
// command, then "sync /zookeeper", and reads stderr up to that sync's
// completion: completions and watch callbacks run in reply order, so the
// command's output (and any event it caused) is complete by then.

const cliMtMarkerPath = "/zookeeper"

var (
	cliMtMarkerRE = regexp.MustCompile(`^\[` + regexp.QuoteMeta(cliMtMarkerPath) + `\]: rc = (-?\d+)$`)
	cliMtTimeRE   = regexp.MustCompile(`^time = \d+ msec$`)
	// The C client's log prefix: "2026-11-26 15:01:53,486:32006(0x7f...):ZOO_ERROR@...".
	cliMtLogRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+:\d+\(0x[0-9a-f]+\):`)
)

func TestCliMt(t *testing.T) {
	requireApache(t)
	requireFile(t, cliMtPath)
	compare(t, "commands", cliMtCommands)
	compare(t, "watches-auth-config", cliMtWatchesAuthConfig)
}

func cliMtCommands(t *testing.T, addr string) string {
	return runCliMt(t, addr, []string{
		"create /climt",
		"create /climt",
		"create +e /climt/e",
		"create +s /climt/s-",
		"create +s /climt/s-",
		"create +es /climt/es-",
		"create +c /climt/c",
		"create +t=60000 /climt/t",
		"create2 /climt/c2",
		"create2 +e /climt/c2e",
		"create /climt/e/child",
		"create /climt/none/x",
		"create relative",
		"get /climt",
		"get /climt/e",
		"get /climt/missing",
		"set /climt data1",
		"get /climt",
		"set /climt/missing x",
		"ls /climt",
		"ls2 /climt",
		"ls /climt/missing",
		"exists /climt",
		"exists /climt/missing",
		"delete /climt",
		"delete /climt/s-0000000001",
		"delete /climt/s-0000000001",
		"ls /climt",
		"sync /climt",
		"sync /climt/missing",
		"myid",
		"quit",
	})
}

func cliMtWatchesAuthConfig(t *testing.T, addr string) string {
	return runCliMt(t, addr, []string{
		"create /climt-w",
		"wexists /climt-w/x",
		"create /climt-w/x",
		"wexists /climt-w/x",
		"set /climt-w/x changed",
		"wexists /climt-w/x",
		"delete /climt-w/x",
		"get /climt-w",
		"set /climt-w again",
		"ls /climt-w",
		"create /climt-w/child",
		"ls2 /climt-w",
		"delete /climt-w/child",
		"aget /climt-w",
		"acreate /climt-w/async",
		"addauth digest alice:secret",
		"create /climt-w/after-auth",
		"config",
		"reconfig -remove 1",
		"reconfig -add 2=127.0.0.1:21888:21889;21890",
		"quit",
	})
}

// runCliMt drives one cli_mt session and returns a transcript with one
// "> command" block per command.
func runCliMt(t *testing.T, addr string, commands []string) string {
	t.Helper()
	cmd := exec.Command(cliMtPath, addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start cli_mt: %v", err)
	}
	lines := make(chan string, 4096)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		// Wait only after stderr is drained (StderrPipe's rule).
		cmd.Wait()
	}()
	waitExit := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	defer waitExit()

	var tr transcript
	// read collects stderr lines until stop says so, or the stream ends, or 20 s pass.
	read := func(stop func(string) bool) (got []string, ok bool) {
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, open := <-lines:
				if !open {
					return got, false
				}
				got = append(got, l)
				if stop(l) {
					return got, true
				}
			case <-timeout:
				return got, false
			}
		}
	}
	pre, ok := read(func(l string) bool { return strings.HasPrefix(l, "Got a new session id:") })
	tr.printf("(connect)")
	writeCliMtLines(&tr, "", pre)
	if !ok {
		t.Errorf("cli_mt never connected")
		return tr.String()
	}

	for _, c := range commands {
		tr.printf("> %s", c)
		if c == "quit" {
			io.WriteString(stdin, "quit\n")
			stdin.Close()
			rest, _ := read(func(string) bool { return false })
			writeCliMtLines(&tr, c, rest)
			// cli_mt printf()s some answers (myid) to a buffered stdout,
			// which reaches us only when it exits.
			waitExit()
			if stdout.Len() > 0 {
				tr.printf("(stdout)")
				for _, l := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
					tr.printf("%s", l)
				}
			}
			break
		}
		io.WriteString(stdin, c+"\nsync "+cliMtMarkerPath+"\n")
		var out []string
		markerRC := ""
		got, ok := read(func(l string) bool {
			m := cliMtMarkerRE.FindStringSubmatch(l)
			if m != nil {
				markerRC = m[1]
				return true
			}
			return false
		})
		if !ok {
			writeCliMtLines(&tr, c, got)
			tr.printf("(no sync marker: cli_mt stopped answering)")
			return tr.String()
		}
		out = got[:len(got)-1]
		if markerRC == "0" {
			// The marker's completion also prints the synced path.
			read(func(l string) bool { return l == "\tname = "+cliMtMarkerPath })
		} else {
			out = append(out, fmt.Sprintf("(marker sync failed: rc = %s)", markerRC))
		}
		writeCliMtLines(&tr, c, out)
	}
	return tr.String()
}

// writeCliMtLines appends a command's output, minus timing lines, with child
// names (tab-indented lines without '=' after an "rc = 0" of ls/ls2) sorted,
// since Apache returns children in hash-set order.
func writeCliMtLines(tr *transcript, command string, lines []string) {
	var kept []string
	for _, l := range lines {
		if !cliMtTimeRE.MatchString(l) {
			kept = append(kept, cliMtLogRE.ReplaceAllString(l, ""))
		}
	}
	if strings.HasPrefix(command, "ls") || strings.HasPrefix(command, "als") {
		for i := 0; i < len(kept); i++ {
			j := i
			for j < len(kept) && strings.HasPrefix(kept[j], "\t") && !strings.Contains(kept[j], "=") {
				j++
			}
			sort.Strings(kept[i:j])
			i = j
		}
	}
	for _, l := range kept {
		tr.printf("%s", l)
	}
}
