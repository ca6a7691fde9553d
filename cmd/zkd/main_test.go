package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/server"
)

// captureStdout runs fn with os.Stdout redirected.
func captureStdout(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	runErr := fn()
	os.Stdout = old
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out), runErr
}

func runCLI(t *testing.T, args ...string) (string, error) {
	return captureStdout(t, func() error {
		cmd := rootCommand()
		cmd.SetArgs(args)
		return cmd.Execute()
	})
}

func TestStatusPrintsModeAndFailsWhenNotServing(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("dataDir="+t.TempDir()+"\n"), "t.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	go s.Serve(l)
	defer s.Close()
	out, err := runCLI(t, "status", "--server", l.Addr().String())
	if err != nil || !strings.Contains(out, "Mode: standalone\n") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	s.Close()
	out, err = runCLI(t, "status", "--server", l.Addr().String(), "--timeout", "1s")
	if err == nil || exitCode(err) != 1 || !strings.Contains(out, "Error contacting service. It is probably not running.") {
		t.Fatalf("status of a stopped server: err=%v\n%s", err, out)
	}
}

func TestServeCheckNamesBadKey(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "zoo.cfg")
	os.WriteFile(bad, []byte("dataDir="+dir+"\nclientPort=abc\n"), 0o644)
	_, err := runCLI(t, "serve", "--check", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), "clientPort") {
		t.Fatalf("bad config: %v", err)
	}
	good := filepath.Join(dir, "good.cfg")
	os.WriteFile(good, []byte("dataDir="+dir+"\nclientPort=2181\n"), 0o644)
	if out, err := runCLI(t, "serve", "--check", "--config", good); err != nil || !strings.Contains(out, "is valid") {
		t.Fatalf("good config: %v %s", err, out)
	}
}

// TestServeProcess starts the real binary the way tests and tools do:
// serving within a second or two, SIGTERM stops it cleanly.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "zkd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := filepath.Join(dir, "zoo.cfg")
	os.WriteFile(cfg, []byte("dataDir="+filepath.Join(dir, "data")+"\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nzkd.log.format=json\nclientPort="+itoa(port)+"\n"), 0o644)
	cmd := exec.Command(bin, cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := "127.0.0.1:" + itoa(port)
	for {
		if mode, err := fetchMode(addr, time.Second); err == nil && mode == "standalone" {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("not serving after 5 s:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SIGTERM: exit %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
	// zkd.log.format=json: every line on stderr is one JSON object.
	msgs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec struct{ Time, Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Time == "" || rec.Level == "" {
			t.Fatalf("with zkd.log.format=json, a stderr line is not a JSON log record (%v): %s", err, line)
		}
		msgs[rec.Msg] = true
	}
	if !msgs["zkd serving"] || !msgs["stopping on signal"] {
		t.Errorf("JSON log lacks the start and stop lines:\n%s", stderr.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestToolNames: commandFor sends every subcommand but serve to the whole
// tree, and a zoo.cfg path or serve to the server's root.
func TestToolNames(t *testing.T) {
	root := rootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var names []string
	for _, c := range root.Commands() {
		if c.Name() != "serve" {
			names = append(names, c.Name())
			names = append(names, c.Aliases...)
		}
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(toolNames))
	if !slices.Equal(names, want) {
		t.Fatalf("rootCommand's subcommands besides serve are %q; toolNames lists %q", names, want)
	}
	for _, args := range [][]string{nil, {"serve", "--config", "zoo.cfg"}, {"zoo.cfg"}} {
		if c := commandFor(args); len(c.Commands()) != 1 {
			t.Errorf("commandFor(%q) has %d subcommands; want serve alone", args, len(c.Commands()))
		}
	}
	for _, args := range [][]string{{"--help"}, {"status"}, {"bench", "compare"}, {"help", "serve"}} {
		if c := commandFor(args); len(c.Commands()) != len(rootCommand().Commands()) {
			t.Errorf("commandFor(%q) has %d subcommands; want the whole tree", args, len(c.Commands()))
		}
	}
}
