package config

import (
	"log/slog"
	"strings"
)

// zkd's own logging keys. Apache ZooKeeper exports a key it does not know
// as a system property and goes on, so a zoo.cfg carrying them still
// starts an Apache server.
const (
	keyLogFormat = "zkd.log.format"
	keyLogLevel  = "zkd.log.level"
)

// The log formats: slog's text handler (key=value) or its JSON handler
// (one object a line).
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// What the logging keys and the serve flags of the same name accept.
const (
	WantLogFormat = "want text or json"
	WantLogLevel  = "want debug, info, warn or error"
)

// ParseLogFormat reads a log format, case-insensitively.
func ParseLogFormat(v string) (string, bool) {
	switch f := strings.ToLower(strings.TrimSpace(v)); f {
	case LogFormatText, LogFormatJSON:
		return f, true
	}
	return "", false
}

// ParseLogLevel reads a log level name, case-insensitively (exactly the
// four names: no offsets such as slog's "info+2").
func ParseLogLevel(v string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// LogLevelName is the name ParseLogLevel reads back.
func LogLevelName(l slog.Level) string { return strings.ToLower(l.String()) }

// parseLogging reads zkd.log.format and zkd.log.level.
func (p *parser) parseLogging() error {
	if v, ok := p.values[keyLogFormat]; ok {
		f, valid := ParseLogFormat(v)
		if !valid {
			return p.bad(keyLogFormat, v, WantLogFormat)
		}
		p.c.LogFormat = f
	}
	if v, ok := p.values[keyLogLevel]; ok {
		l, valid := ParseLogLevel(v)
		if !valid {
			return p.bad(keyLogLevel, v, WantLogLevel)
		}
		p.c.LogLevel = l
	}
	return nil
}

// validateLogging is Validate's share for a Config built in code ("" is
// the text format).
func (c *Config) validateLogging() error {
	if _, ok := ParseLogFormat(c.LogFormat); !ok && c.LogFormat != "" {
		return &Error{Path: c.Path, Key: keyLogFormat, Value: c.LogFormat, HasValue: true, Problem: WantLogFormat, Err: ErrBadValue}
	}
	if _, ok := ParseLogLevel(LogLevelName(c.LogLevel)); !ok {
		return &Error{Path: c.Path, Key: keyLogLevel, Value: LogLevelName(c.LogLevel), HasValue: true, Problem: WantLogLevel, Err: ErrBadValue}
	}
	return nil
}
