package bench

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func ceilingCommand() *cobra.Command {
	var (
		listen, zooCfg, logDir string
		valueSize              int
		durable                bool
	)
	cmd := &cobra.Command{
		Use:   "ceiling",
		Short: "Serve the client protocol with fixed replies: the limit a benchmark can show on this machine",
		Long: `ceiling is a minimal server of the ZooKeeper client protocol that keeps
nothing and answers with fixed replies, as fast as Go can: connect, create
(the path asked for, with a counter if sequential), delete, exists, getData
(--value-size bytes), setData, ping and closeSession. Anything else gets
UNIMPLEMENTED. No server doing real work can beat it with the same client
on the same machine, so it is the limit that "bench compare --ceiling" sets
beside zkd and Apache ZooKeeper.

With --durable it is the limit for a server that acknowledges only
durable writes: every create, delete, setData and closeSession is appended
to a checksummed log (in --log-dir, or the zoo.cfg's dataLogDir or dataDir)
and its reply waits for an fdatasync that covers it, one sync for all the
writes gathered while the last one ran. That is all the disk work a
durable server must do, and none of the rest.

It listens on --listen, or on the clientPortAddress and clientPort of
--config zoo.cfg, until SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr := listen
			var cfgLogDir string
			if zooCfg != "" {
				if cmd.Flags().Changed("listen") {
					return fmt.Errorf("%w: --listen and --config both say where to listen", ErrCeilingConfig)
				}
				var err error
				if addr, cfgLogDir, err = ceilingAddr(zooCfg); err != nil {
					return err
				}
			}
			switch {
			case !durable && logDir != "":
				return fmt.Errorf("%w: --log-dir is for --durable; add --durable or drop --log-dir", ErrCeilingConfig)
			case durable && logDir == "":
				if logDir = cfgLogDir; logDir == "" {
					return fmt.Errorf("%w: --durable needs a directory for its log: --log-dir DIR, or a zoo.cfg with dataDir", ErrCeilingConfig)
				}
			}
			cmd.SilenceUsage = true
			c, err := ListenDurableCeiling(addr, valueSize, logDir)
			if err != nil {
				return err
			}
			if durable {
				fmt.Fprintf(cmd.ErrOrStderr(), "ceiling: fixed replies on %s (getData: %d bytes), writes fdatasynced to %s before their replies\n", c.Addr(), valueSize, logDir)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "ceiling: fixed replies on %s (getData: %d bytes)\n", c.Addr(), valueSize)
			}
			ctx, stop := signal.NotifyContext(runContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			err = c.Close()
			syncs, records := c.Synced()
			if durable {
				perSync := 0.0
				if syncs > 0 {
					perSync = float64(records) / float64(syncs)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "ceiling: %d writes logged in %d fdatasyncs (%.1f per sync)\n", records, syncs, perSync)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:2181", "host:port to listen on")
	f.StringVar(&zooCfg, "config", "", "listen where this zoo.cfg's clientPortAddress and clientPort say")
	f.IntVar(&valueSize, "value-size", DefaultConfig().ValueSize, "bytes of data in every getData reply")
	f.BoolVar(&durable, "durable", false, "log every write and fdatasync it before its reply (group commit): the limit for a durable server")
	f.StringVar(&logDir, "log-dir", "", "where --durable logs (default: the --config zoo.cfg's dataLogDir or dataDir)")
	return cmd
}
