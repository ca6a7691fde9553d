package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/quorum"
	"github.com/zkd/zkd/internal/server"
)

type serveFlags struct {
	config    string
	check     bool
	logLevel  string // "": zkd.log.level from the config
	logFormat string // "": zkd.log.format from the config
	pprof     string
}

func serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [zoo.cfg]",
		Short: "Run a server (standalone on the embedded default config when no config is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if f.config != "" && f.config != args[0] {
					return fmt.Errorf("give the config once: --config %s or %s", f.config, args[0])
				}
				f.config = args[0]
			}
			return runServe(f)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "path of an Apache ZooKeeper zoo.cfg (default: the embedded standalone config)")
	cmd.Flags().BoolVar(&f.check, "check", false, "validate the config, print it and exit")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default: zkd.log.level in zoo.cfg, else info)")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "", "text or json (default: zkd.log.format in zoo.cfg, else text)")
	cmd.Flags().StringVar(&f.pprof, "pprof", "", "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (builds with -tags pprof only)")
	return cmd
}

// loadConfig reads --config; without it $ZOO_CONF_DIR/zoo.cfg when that
// exists (where the official image's users mount theirs), else the
// embedded default with the environment (MYID/SERVERS, ZOO_*, JVMFLAGS).
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		if dir := os.Getenv(config.EnvZooConfDir); dir != "" {
			if st, err := os.Stat(filepath.Join(dir, "zoo.cfg")); err == nil && st.Mode().IsRegular() {
				path = filepath.Join(dir, "zoo.cfg")
			}
		}
	}
	if path == "" {
		return config.FromEnvironment(os.Environ())
	}
	return config.Load(path)
}

// printStartConfig shows the configuration a server without a zoo.cfg
// runs on, so that a container's log says what the environment made of it.
func printStartConfig(cfg *config.Config) {
	if cfg.Path != "" {
		return
	}
	if len(cfg.EnvUsed) == 0 {
		fmt.Fprintf(os.Stderr, "zkd: no config given; using the embedded standalone default:\n%s\n", strings.TrimRight(config.DefaultText(), "\n"))
		return
	}
	fmt.Fprintf(os.Stderr, "zkd: no config given; the embedded default with %s gives:\n%s\n",
		strings.Join(cfg.EnvUsed, ", "), strings.TrimRight(cfg.String(), "\n"))
}

// newLogger is the server's logger on w: the format and level of the
// config (zkd.log.format, zkd.log.level), each overridden by its flag.
func newLogger(w io.Writer, cfg *config.Config, f serveFlags) (*slog.Logger, error) {
	format, level := cfg.LogFormat, cfg.LogLevel
	if f.logFormat != "" {
		v, ok := config.ParseLogFormat(f.logFormat)
		if !ok {
			return nil, fmt.Errorf("--log-format=%q: %s", f.logFormat, config.WantLogFormat)
		}
		format = v
	}
	if f.logLevel != "" {
		v, ok := config.ParseLogLevel(f.logLevel)
		if !ok {
			return nil, fmt.Errorf("--log-level=%q: %s", f.logLevel, config.WantLogLevel)
		}
		level = v
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func runServe(f serveFlags) error {
	// A bad flag is refused before the config is read.
	if _, err := newLogger(io.Discard, &config.Config{}, f); err != nil {
		return err
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	log, err := newLogger(os.Stderr, cfg, f)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn("config: " + w)
	}
	printStartConfig(cfg)
	if f.check {
		fmt.Printf("config %s is valid\n", describeConfig(cfg))
		return nil
	}
	if f.pprof != "" {
		if err := startPprof(f.pprof, log); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("dataDir %s: %w (set dataDir in zoo.cfg to a writable directory)", cfg.DataDir, err)
	}
	if cfg.DataLogDir != "" && cfg.DataLogDir != cfg.DataDir {
		if err := os.MkdirAll(cfg.DataLogDir, 0o755); err != nil {
			return fmt.Errorf("dataLogDir %s: %w (set dataLogDir in zoo.cfg to a writable directory)", cfg.DataLogDir, err)
		}
	}
	// The recorders exist before recovery so that Prometheus counts the
	// start-up figures too.
	metrics := admin.NewMetrics()
	var prom *admin.Prometheus
	if cfg.Prometheus() {
		prom = admin.NewPrometheus(metrics, cfg.MetricsExportInfo)
	}
	srv, persisted, err := openServer(cfg, log, metrics)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.ClientPortAddress, strconv.Itoa(cfg.ClientPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("clientPort %d: %w", cfg.ClientPort, err)
	}
	if !persisted {
		log.Warn("data is kept in memory only: it is NOT durable and is lost when zkd stops")
	}
	gcCtx, stopGC := context.WithCancel(context.Background())
	defer stopGC()
	go tuneGC(gcCtx)
	tuneProcs()
	srv.Start()
	httpServers, err := admin.StartHTTP(srv.Admin(), prom, log)
	if err != nil {
		l.Close()
		srv.Close()
		return err
	}
	defer httpServers.Close()
	log.Info("zkd serving", "version", server.Version, "mode", srv.Mode(), "client_addr", l.Addr().String(),
		"dataDir", cfg.DataDir, "dataLogDir", cfg.DataLogDir, "config", describeConfig(cfg))

	// Start-up is over: what it alone touched of the binary need not stay
	// resident (startpages_linux.go).
	if n, err := releaseStartupPages(); err != nil {
		log.Warn("could not release the binary's start-up pages (they stay resident)", "err", err)
	} else {
		log.Debug("released the binary's start-up pages", "mapped_bytes", n)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	select {
	case sig := <-sigs:
		log.Info("stopping on signal", "signal", sig.String())
		return srv.Close()
	case <-srv.Done():
		srv.Close()
		if err := srv.Err(); err != nil {
			return err
		}
		return nil
	case err := <-serveErr:
		srv.Close()
		return err
	}
}

func describeConfig(cfg *config.Config) string {
	if cfg.Path == "" && len(cfg.EnvUsed) > 0 {
		return "(embedded default and " + strings.Join(cfg.EnvUsed, ", ") + ")"
	}
	if cfg.Path == "" {
		return "(embedded default)"
	}
	return cfg.Path
}

// openServer builds the server on the config's data directory.
func openServer(cfg *config.Config, log *slog.Logger, metrics *admin.Metrics) (*server.Server, bool, error) {
	ens, err := server.EnsembleFromConfig(cfg, nil)
	if err != nil {
		return nil, false, err
	}
	if ens != nil {
		log.Info("joining an ensemble", "myid", cfg.MyID, "voters", ens.Voters, "observers", ens.Observers,
			"quorumListenOnAllIPs", ens.ListenAll)
	}
	srv, err := server.OpenDurable(cfg, log, server.Options{Metrics: metrics, Ensemble: ens})
	if errors.Is(err, quorum.ErrCannotBind) {
		// Apache's exit status for it, which scripts and supervisors see.
		err = &exitError{code: exitCannotBindQuorumPort, msg: err.Error()}
	}
	return srv, true, err
}

// exitCannotBindQuorumPort is Apache's ExitCode.UNABLE_TO_BIND_QUORUM_PORT.
const exitCannotBindQuorumPort = 14
