package ops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCommandTemplates(t *testing.T) {
	target := Target{Server: Server{Name: "zk-1", Host: "zk-1.zk-hs", Port: 2181, Addr: "zk-1.zk-hs:2181"}, MyID: 2}
	sh := Shell{Template: "kubectl -n prod delete pod {name} # {host} {port} {addr} {myid}"}
	if got := sh.Describe(target); got != `sh -c 'kubectl -n prod delete pod zk-1 # zk-1.zk-hs 2181 zk-1.zk-hs:2181 2'` {
		t.Errorf("describe: %s", got)
	}
	// A value with shell characters is quoted; the command sees it whole.
	odd := Target{Server: Server{Name: "a b'$(c)", Host: "h", Port: 1, Addr: "h:1"}, MyID: 1}
	out, err := Shell{Template: "printf '%s|' {name}"}.Run(context.Background(), odd)
	if err != nil || out != "a b'$(c)|" {
		t.Errorf("quoted name: %q %v", out, err)
	}
	if _, err := CheckTemplate("docker kill {pod}"); err == nil || !strings.Contains(err.Error(), "unknown placeholder {pod}") {
		t.Errorf("unknown placeholder: %v", err)
	}
	if uses, err := CheckTemplate("kill -9 {pid}"); !uses || err != nil {
		t.Errorf("{pid}: %v %v", uses, err)
	}
	if _, err := (Shell{Template: "kill {pid}"}).Run(context.Background(), target); !errors.Is(err, ErrNoPid) {
		t.Errorf("no pid: %v", err)
	}
	// Pids from a list, or from a pid file read when needed.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "zk-1.pid"), []byte("4242\n"), 0o644)
	for _, src := range []PidSource{{Pids: map[string]int{"zk-1": 4242}}, {File: dir + "/{name}.pid"}} {
		if got := (Shell{Template: "kill -9 {pid}", Pids: src}).Describe(target); got != "sh -c 'kill -9 4242'" {
			t.Errorf("%+v: %s", src, got)
		}
	}
	if _, err := (PidSource{File: dir + "/{myid}.pid"}).Pid(target); !errors.Is(err, ErrNoPid) || !strings.Contains(err.Error(), "2.pid") {
		t.Errorf("missing pid file: %v", err)
	}
	// A failing command names its exit and its output; a slow one its timeout.
	if _, err := (Shell{Template: "echo gone >&2; exit 4"}).Run(context.Background(), target); err == nil || !strings.Contains(err.Error(), "exit status 4: gone") {
		t.Errorf("failing command: %v", err)
	}
	start := time.Now()
	if _, err := (Shell{Template: "sleep 10", Timeout: 200 * time.Millisecond}).Run(context.Background(), target); err == nil || !strings.Contains(err.Error(), "deadline exceeded after 200ms") || time.Since(start) > 5*time.Second {
		t.Errorf("slow command: %v after %v", err, time.Since(start))
	}
	for text, want := range map[string]syscall.Signal{"KILL": syscall.SIGKILL, "sigterm": syscall.SIGTERM, "9": syscall.SIGKILL, "STOP": syscall.SIGSTOP} {
		if got, err := ParseSignal(text); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v %v", text, got, err)
		}
	}
	if _, err := ParseSignal("BOOM"); err == nil {
		t.Error("ParseSignal(BOOM) accepted")
	}
}
