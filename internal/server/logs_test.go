package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRec is one captured log record, its attributes flattened to
// "group.key" -> the value as text.
type logRec struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r logRec) String() string {
	keys := make([]string, 0, len(r.attrs))
	for k, v := range r.attrs {
		keys = append(keys, k+"="+v)
	}
	return fmt.Sprintf("%s %q %s", r.level, r.msg, strings.Join(keys, " "))
}

// logRecorder keeps every record a server logs, for tests that check a
// line and its attributes.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRec
}

func (l *logRecorder) handler() slog.Handler { return &recHandler{rec: l} }

func (l *logRecorder) logger() *slog.Logger { return slog.New(l.handler()) }

// matching returns the records with this message that match.
func (l *logRecorder) matching(msg string, match func(logRec) bool) []logRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRec
	for _, r := range l.recs {
		if r.msg == msg && (match == nil || match(r)) {
			out = append(out, r)
		}
	}
	return out
}

// wait polls until a record with msg matches, and returns it.
func (l *logRecorder) wait(t testing.TB, within time.Duration, msg string, match func(logRec) bool) logRec {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if rs := l.matching(msg, match); len(rs) > 0 {
			return rs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q (matching) within %v; logged:\n%s", msg, within, l.dump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *logRecorder) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.recs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

type recHandler struct {
	rec    *logRecorder
	prefix string
	attrs  []slog.Attr // from WithAttrs, with the prefix applied
}

func (h *recHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recHandler) Handle(_ context.Context, r slog.Record) error {
	out := logRec{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		flatten(out.attrs, "", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		flatten(out.attrs, h.prefix, a)
		return true
	})
	h.rec.mu.Lock()
	h.rec.recs = append(h.rec.recs, out)
	h.rec.mu.Unlock()
	return nil
}

func flatten(dst map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			flatten(dst, p, g)
		}
		return
	}
	dst[prefix+a.Key] = v.String()
}

func (h *recHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &recHandler{rec: h.rec, prefix: h.prefix, attrs: append([]slog.Attr(nil), h.attrs...)}
	for _, a := range as {
		if h.prefix != "" {
			a = slog.Attr{Key: strings.TrimSuffix(h.prefix, "."), Value: slog.GroupValue(a)}
		}
		n.attrs = append(n.attrs, a)
	}
	return n
}

func (h *recHandler) WithGroup(name string) slog.Handler {
	return &recHandler{rec: h.rec, prefix: h.prefix + name + ".", attrs: h.attrs}
}

// teeHandler sends each record to both handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if t.a.Enabled(ctx, r.Level) {
		t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		t.b.Handle(ctx, r)
	}
	return nil
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{t.a.WithGroup(n), t.b.WithGroup(n)}
}
