package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without --config a container's server reads $ZOO_CONF_DIR/zoo.cfg when
// one is mounted there, and the environment otherwise.
func TestLoadConfigWithoutPath(t *testing.T) {
	data := t.TempDir()
	t.Setenv("ZOO_DATA_DIR", data)
	t.Setenv("ZOO_TICK_TIME", "2500")
	t.Setenv("ZOO_CONF_DIR", t.TempDir())
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != "" || cfg.TickTime != 2500 || cfg.DataDir != data {
		t.Errorf("from the environment: path %q tickTime %d dataDir %q", cfg.Path, cfg.TickTime, cfg.DataDir)
	}

	conf := t.TempDir()
	file := filepath.Join(conf, "zoo.cfg")
	if err := os.WriteFile(file, []byte("dataDir="+data+"\ntickTime=1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ZOO_CONF_DIR", conf)
	if cfg, err = loadConfig(""); err != nil {
		t.Fatal(err)
	}
	if cfg.Path != file || cfg.TickTime != 1000 {
		t.Errorf("mounted zoo.cfg: path %q tickTime %d, want %s and its tickTime=1000 (ZOO_* apply only without a zoo.cfg)", cfg.Path, cfg.TickTime, file)
	}
}

// --ready is what probes run: a server that answers srvr but is not in a
// serving mode (an ensemble member without a quorum) is not ready.
func TestStatusReady(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mode := make(chan string, 2)
	mode <- "standalone"
	mode <- "looking"
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4)
			io.ReadFull(c, buf)
			fmt.Fprintf(c, "Zookeeper version: 3.9.3\nMode: %s\nNode count: 5\n", <-mode)
			c.Close()
		}
	}()
	if out, err := runCLI(t, "status", "--ready", "--server", l.Addr().String()); err != nil {
		t.Fatalf("standalone: %v\n%s", err, out)
	}
	out, err := runCLI(t, "status", "--ready", "--server", l.Addr().String())
	if err == nil || exitCode(err) != 1 || !strings.Contains(out, "Mode: looking") {
		t.Fatalf("looking: err=%v\n%s", err, out)
	}
}
