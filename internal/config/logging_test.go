package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLogKeysDefaultAndSet(t *testing.T) {
	c := mustParse(t, "", nil)
	if c.LogFormat != LogFormatText || c.LogLevel != slog.LevelInfo {
		t.Errorf("defaults: format %q level %v; want text and info", c.LogFormat, c.LogLevel)
	}
	c = mustParse(t, "zkd.log.format=JSON\nzkd.log.level=debug\n", nil)
	if c.LogFormat != LogFormatJSON || c.LogLevel != slog.LevelDebug {
		t.Errorf("set: format %q level %v; want json and debug", c.LogFormat, c.LogLevel)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("zkd's own keys warned about: %q", c.Warnings)
	}
	again := mustParse(t, c.String(), nil)
	if again.LogFormat != c.LogFormat || again.LogLevel != c.LogLevel {
		t.Errorf("String() does not round-trip the log keys:\n%s", c.String())
	}
	if _, ok := SystemProperties(c)["zookeeper.zkd.log.format"]; ok {
		t.Error("zkd.log.format shown as an Apache system property")
	}
}

func TestLogKeysBadValuesNameKeyAndChoices(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"zkd.log.format=xml", `zkd.log.format="xml": want text or json`},
		{"zkd.log.format=", `zkd.log.format="": want text or json`},
		{"zkd.log.level=loud", `zkd.log.level="loud": want debug, info, warn or error`},
		{"zkd.log.level=info+2", `zkd.log.level="info+2": want debug, info, warn or error`},
	} {
		_, err := Parse(strings.NewReader("dataDir=/zk\n"+tc.line+"\n"), "zoo.cfg", nil)
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrBadValue with %q", tc.line, err, tc.want)
		}
	}
	// A Config built in code is checked too.
	c := mustParse(t, "", nil)
	c.LogFormat = "yaml"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "zkd.log.format") {
		t.Errorf("Validate with format yaml: %v", err)
	}
	c.LogFormat, c.LogLevel = "", slog.LevelInfo+2
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "zkd.log.level") {
		t.Errorf("Validate with level info+2: %v", err)
	}
}

// A container without a zoo.cfg sets them through ZOO_CFG_EXTRA.
func TestLogKeysFromZooCfgExtra(t *testing.T) {
	c, err := FromEnvironment(environ(map[string]string{
		"ZOO_DATA_DIR":  t.TempDir(),
		"ZOO_CFG_EXTRA": "zkd.log.format=json zkd.log.level=warn",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogFormat != LogFormatJSON || c.LogLevel != slog.LevelWarn {
		t.Errorf("ZOO_CFG_EXTRA: format %q level %v; want json and warn", c.LogFormat, c.LogLevel)
	}
	_, err = FromEnvironment(environ(map[string]string{"ZOO_DATA_DIR": t.TempDir(), "ZOO_CFG_EXTRA": "zkd.log.level=loud"}))
	if err == nil || !strings.Contains(err.Error(), "zkd.log.level") || !strings.Contains(err.Error(), WantLogLevel) {
		t.Errorf("ZOO_CFG_EXTRA with a bad level: %v", err)
	}
}
