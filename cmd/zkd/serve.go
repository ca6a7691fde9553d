package main

import (
	"context"
	"fmt"
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
	"github.com/zkd/zkd/internal/server"
)

type serveFlags struct {
	config   string
	check    bool
	logLevel string
	pprof    string
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
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
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

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level=%q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func runServe(f serveFlags) error {
	if f.logLevel == "" {
		f.logLevel = "info"
	}
	log, err := newLogger(f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f.config)
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
	return srv, true, err
}
