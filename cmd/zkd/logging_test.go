package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/config"
)

func parseCfg(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader("dataDir="+t.TempDir()+"\n"+text), "zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoggerFormatAndLevelFromConfigAndFlags(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, parseCfg(t, "zkd.log.format=json\nzkd.log.level=warn\n"), serveFlags{})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("not shown")
	log.Warn("too many connections", "remote", "127.0.0.1:5000", "suppressed", 3)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want only the warning at zkd.log.level=warn, got:\n%s", buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("zkd.log.format=json line does not parse as JSON: %v\n%s", err, lines[0])
	}
	if rec["level"] != "WARN" || rec["msg"] != "too many connections" || rec["remote"] != "127.0.0.1:5000" || rec["suppressed"] != 3.0 {
		t.Errorf("JSON record: %v", rec)
	}

	// The flags win over the config.
	buf.Reset()
	log, err = newLogger(&buf, parseCfg(t, "zkd.log.format=json\nzkd.log.level=warn\n"), serveFlags{logFormat: "text", logLevel: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("shown", "k", "v")
	if got := buf.String(); !strings.Contains(got, "level=DEBUG msg=shown k=v") {
		t.Errorf("--log-format=text --log-level=debug: %q", got)
	}

	// The default is text at info.
	buf.Reset()
	log, _ = newLogger(&buf, parseCfg(t, ""), serveFlags{})
	log.Debug("hidden")
	log.Info("shown")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "level=INFO msg=shown") {
		t.Errorf("default logger: %q", got)
	}
}

func TestServeRefusesBadLogSettings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg   string
		flags []string
		want  string
	}{
		{"zkd.log.level=verbose\n", nil, `zkd.log.level="verbose": want debug, info, warn or error`},
		{"zkd.log.format=logfmt\n", nil, `zkd.log.format="logfmt": want text or json`},
		{"", []string{"--log-level", "trace"}, `--log-level="trace": want debug, info, warn or error`},
		{"", []string{"--log-format", "xml"}, `--log-format="xml": want text or json`},
	} {
		path := filepath.Join(dir, "zoo.cfg")
		os.WriteFile(path, []byte("dataDir="+dir+"\n"+tc.cfg), 0o644)
		args := append([]string{"serve", "--check", "--config", path}, tc.flags...)
		if _, err := runCLI(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v with %q: %v; want %q", tc.flags, tc.cfg, err, tc.want)
		}
	}
}
