package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The ensemble scenarios run each client against a 3-server zkd ensemble
// and, as the reference, a 3-server Apache ZooKeeper ensemble, both on
// loopback. Every client gets the full server list. The writes it must see
// are made through each server alone (one go-zookeeper session per
// server), and its own write is read back through each server alone, each
// after a sync: so whichever server the client picked, it reads writes that
// went through the others, and the others read its write. The last
// scenario stops each ensemble's leader.

// ensembleOptions is the servers' configuration: Apache's default tickTime,
// so a session of kazoo's 10 s outlives an election.
var ensembleOptions = Options{}

func TestEnsembleClients(t *testing.T) {
	requireApache(t)
	requireFile(t, zkCliPath)
	requireFile(t, cliMtPath)
	requireKazoo(t)
	var apache, zkd *Ensemble
	var apacheErr, zkdErr error
	var wg sync.WaitGroup
	wg.Add(2)
	apacheDir, zkdDir := serverDir(t, "apache-ensemble"), serverDir(t, "zkd-ensemble")
	go func() { defer wg.Done(); apache, apacheErr = startApacheEnsemble(3, ensembleOptions, apacheDir) }()
	go func() { defer wg.Done(); zkd, zkdErr = startZkdEnsemble(3, ensembleOptions, zkdDir) }()
	wg.Wait()
	for _, e := range []*Ensemble{apache, zkd} {
		if e != nil {
			t.Cleanup(e.Kill)
		}
	}
	if err := errors.Join(apacheErr, zkdErr); err != nil {
		t.Fatalf("start the ensembles: %v", err)
	}
	compareEnsembles(t, apache, zkd, "zkcli", ensembleZkCli)
	compareEnsembles(t, apache, zkd, "climt", ensembleCliMt)
	compareEnsembles(t, apache, zkd, "kazoo", func(t *testing.T, e *Ensemble) string {
		return runKazooArgs(t, "ensemble.py", e.ConnectString())
	})
	// Last: it leaves each ensemble without its first leader.
	compareEnsembles(t, apache, zkd, "kazoo-leader-stopped", ensembleKazooFailover)
}

// compareEnsembles runs sc against both ensembles in parallel and compares
// the normalized transcripts.
func compareEnsembles(t *testing.T, apache, zkd *Ensemble, name string, sc func(t *testing.T, e *Ensemble) string) {
	t.Helper()
	sideOf := func(e *Ensemble) side {
		return side{e.Kind + " ensemble", func(t *testing.T) string { return sc(t, e) }, func() string { return e.LogTails(15) }}
	}
	compareSides(t, name, normalize, sideOf(apache), sideOf(zkd))
}

// ensembleSession is a go-zookeeper session with one server of e alone.
func ensembleSession(t *testing.T, e *Ensemble, i int) *gozkSession {
	t.Helper()
	return gozkConnect(t, e.Servers[i].Addr(), 10*time.Second)
}

// writeThroughEach creates root (through server.1) and root/via-<i>
// through server.i alone, and returns what it did as transcript lines.
func writeThroughEach(t *testing.T, e *Ensemble, root string) string {
	t.Helper()
	var tr transcript
	for i := range e.Servers {
		s := ensembleSession(t, e, i)
		if i == 0 {
			_, err := s.Create(root, []byte("root"), 0, openACL)
			tr.printf("through server.1 alone: create %s: %s", root, errStr(err))
		}
		path := fmt.Sprintf("%s/via-%d", root, i+1)
		_, err := s.Create(path, []byte(fmt.Sprintf("written through server.%d", i+1)), 0, openACL)
		tr.printf("through server.%d alone: create %s: %s", i+1, path, errStr(err))
		s.Close()
	}
	return tr.String()
}

// readThroughEach reads path through each server alone after a sync there.
func readThroughEach(t *testing.T, e *Ensemble, path string) string {
	t.Helper()
	var tr transcript
	for i := range e.Servers {
		s := ensembleSession(t, e, i)
		_, err := s.Sync(path)
		data, st, gerr := s.Get(path)
		version := int32(-1)
		if st != nil {
			version = st.Version
		}
		tr.printf("through server.%d alone: sync: %s; get %s: %q version=%d %s", i+1, errStr(err), path, data, version, errStr(gerr))
		s.Close()
	}
	return tr.String()
}

func ensembleZkCli(t *testing.T, e *Ensemble) string {
	const root = "/zkcli-ensemble"
	before := writeThroughEach(t, e, root)
	cli := runZkCli(t, e.ConnectString(), []string{
		"sync " + root,
		"get " + root + "/via-1",
		"get " + root + "/via-2",
		"get " + root + "/via-3",
		"ls " + root,
		"create " + root + "/from-zkcli written-by-zkcli",
		"set " + root + " root-v1",
		"get -s " + root,
		"quit",
	})
	return before + cli + readThroughEach(t, e, root+"/from-zkcli") + readThroughEach(t, e, root)
}

func ensembleCliMt(t *testing.T, e *Ensemble) string {
	const root = "/climt-ensemble"
	before := writeThroughEach(t, e, root)
	cli := runCliMt(t, e.ConnectString(), []string{
		"sync " + root,
		"get " + root + "/via-1",
		"get " + root + "/via-2",
		"get " + root + "/via-3",
		"ls " + root,
		"create " + root + "/from-climt",
		"set " + root + " root-v1",
		"get " + root,
		"quit",
	})
	return before + cli + readThroughEach(t, e, root+"/from-climt") + readThroughEach(t, e, root)
}

// ensembleKazooFailover runs ensemble_failover.py with the leader first in
// its connect string; when the script says so, it stops the leader
// (SIGTERM), waits until the two others elect a leader, and tells the
// script. The transcript adds the driver's lines to the script's.
func ensembleKazooFailover(t *testing.T, e *Ensemble) string {
	leader, err := e.Leader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	addrs := e.Addrs()
	others := slices.Delete(slices.Clone(addrs), leader, leader+1)
	hosts := append([]string{addrs[leader]}, others...)
	dir, err := filepath.Abs(filepath.Join("testdata", "kazoo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, "ensemble_failover.py", strings.Join(hosts, ","), strings.Join(others, ","))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ensemble_failover.py: %v", err)
	}
	var tr transcript
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		tr.printf("%s", line)
		if line != "(stopping the leader)" {
			continue
		}
		stopped := time.Now()
		e.Servers[leader].Stop()
		answer := "the leader stopped and another leads"
		if _, err := e.Leader(30 * time.Second); err != nil {
			answer = "no new leader: " + err.Error()
			t.Error(err)
		} else {
			t.Logf("%s: server.%d stopped; a new leader within %v", e.Kind, leader+1, time.Since(stopped).Round(time.Millisecond))
		}
		io.WriteString(stdin, answer+"\n")
	}
	if err := cmd.Wait(); err != nil {
		tr.printf("(script failed: %v)", err)
		t.Errorf("ensemble_failover.py against %s: %v\nstderr:\n%s", e.Kind, err, stderr.String())
	} else if stderr.Len() > 0 {
		t.Logf("ensemble_failover.py stderr (kazoo's log):\n%s", stderr.String())
	}
	return tr.String()
}

// runKazooArgs runs a kazoo script of testdata/kazoo with args and returns
// its stdout.
func runKazooArgs(t *testing.T, script string, args ...string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "kazoo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		// Part of what the user sees: a script that dies or hangs.
		stdout.WriteString("(script failed: " + err.Error() + ")\n")
		t.Errorf("%s against %s: %v\nstderr:\n%s", script, strings.Join(args, " "), err, stderr.String())
	} else if stderr.Len() > 0 {
		t.Logf("%s stderr (kazoo's log):\n%s", script, stderr.String())
	}
	return stdout.String()
}
