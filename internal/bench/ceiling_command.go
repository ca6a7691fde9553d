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
		listen, zooCfg string
		valueSize      int
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

It listens on --listen, or on the clientPortAddress and clientPort of
--config zoo.cfg, until SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr := listen
			if zooCfg != "" {
				if cmd.Flags().Changed("listen") {
					return fmt.Errorf("%w: --listen and --config both say where to listen", ErrCeilingConfig)
				}
				var err error
				if addr, err = ceilingAddr(zooCfg); err != nil {
					return err
				}
			}
			cmd.SilenceUsage = true
			c, err := ListenCeiling(addr, valueSize)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "ceiling: fixed replies on %s (getData: %d bytes)\n", c.Addr(), valueSize)
			ctx, stop := signal.NotifyContext(runContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return c.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:2181", "host:port to listen on")
	f.StringVar(&zooCfg, "config", "", "listen where this zoo.cfg's clientPortAddress and clientPort say")
	f.IntVar(&valueSize, "value-size", DefaultConfig().ValueSize, "bytes of data in every getData reply")
	return cmd
}
