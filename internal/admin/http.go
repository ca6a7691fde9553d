package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the AdminServer's commands under the configured command
// URL (admin.commandURL, /commands by default) as Apache's
// JettyAdminServer does: /commands lists them, /commands/<name> runs one
// with the query parameters as its arguments and answers JSON. zkd adds
// its status page at / (and its live part at /status/live).
func (a *Admin) Handler() http.Handler {
	base := a.cfg.AdminCommandURL
	if base == "" {
		base = "/commands"
	}
	mux := http.NewServeMux()
	list := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		var b bytes.Buffer
		for _, name := range CommandNames() {
			fmt.Fprintf(&b, "<a href=\"%s/%s\">%s</a>\n<br/>\n", base, name, name)
		}
		w.Write(b.Bytes())
	}
	mux.HandleFunc(base, func(w http.ResponseWriter, r *http.Request) {
		if getOnly(w, r) {
			list(w)
		}
	})
	mux.HandleFunc(base+"/", func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		name := strings.TrimPrefix(r.URL.Path, base+"/")
		if name == "" {
			list(w)
			return
		}
		args := map[string]string{}
		for k, v := range r.URL.Query() {
			args[k] = v[0]
		}
		var b bytes.Buffer
		writeJSON(&b, a.Command(name, args), 0)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b.Bytes())
	})
	if base != "/" {
		mux.HandleFunc("/", a.serveStatus)
		mux.HandleFunc("/status/live", a.serveLive)
	}
	return mux
}

// getOnly answers anything but GET and HEAD with 405, as the servlet does.
func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// MetricsHandler serves p's registry at /metrics, in Prometheus' text
// format, as PrometheusMetricsProvider's servlet does: uncompressed, as
// there (gzip's buffers would cost idle memory for a few KiB of text).
func (a *Admin) MetricsHandler(p *Prometheus) http.Handler {
	p.addServer(a)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{DisableCompression: true}))
	return mux
}

// HTTP is the AdminServer and the Prometheus endpoint while they run.
type HTTP struct {
	servers []*http.Server
	// stopSampling stops the status page's sampler (nil when off).
	stopSampling func()
	// AdminAddr and MetricsAddr are where they listen ("" when off).
	AdminAddr, MetricsAddr string
}

// StartHTTP opens the AdminServer when admin.enableServer is on and the
// Prometheus endpoint when prom is not nil, on the configured addresses.
// Like Apache's standalone server, zkd refuses to run when either cannot
// listen: the error names the key to change.
func StartHTTP(a *Admin, prom *Prometheus, log *slog.Logger) (*HTTP, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &HTTP{}
	cfg := a.cfg
	start := func(addr, name, fix string, handler http.Handler) (string, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			h.Close()
			return "", fmt.Errorf("%s on %s: %w (%s)", name, addr, err, fix)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout: time.Duration(cfg.AdminIdleTimeout) * time.Millisecond}
		h.servers = append(h.servers, srv)
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server stopped", "addr", l.Addr().String(), "err", err)
			}
		}()
		return l.Addr().String(), nil
	}
	var err error
	if cfg.AdminEnabled {
		if h.AdminAddr, err = start(cfg.AdminAddr(), "AdminServer",
			"set admin.serverPort to a free port, or admin.enableServer=false", a.Handler()); err != nil {
			return nil, err
		}
		h.stopSampling = a.startSampling(time.Second)
		log.Info("AdminServer serving", "addr", h.AdminAddr, "commandURL", cfg.AdminCommandURL, "status", "/")
	}
	if prom != nil {
		if h.MetricsAddr, err = start(cfg.MetricsAddr(), "Prometheus metrics",
			"set metricsProvider.httpPort to a free port, or remove metricsProvider.className", a.MetricsHandler(prom)); err != nil {
			return nil, err
		}
		log.Info("Prometheus metrics serving", "addr", h.MetricsAddr, "path", "/metrics")
	}
	return h, nil
}

// Close stops both servers.
func (h *HTTP) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var first error
	for _, s := range h.servers {
		if err := s.Shutdown(ctx); err != nil && first == nil {
			first = err
		}
	}
	if h.stopSampling != nil {
		h.stopSampling()
		h.stopSampling = nil
	}
	return first
}
