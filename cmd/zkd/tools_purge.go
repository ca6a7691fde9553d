package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/storage"
)

var (
	// errPurgeDirs means purge was given neither a config nor a dataDir, or both.
	errPurgeDirs = errors.New("purge: give --config zoo.cfg, or --dataDir (and --dataLogDir when the logs live elsewhere)")
	// errNotDataDir means a directory has no version-2 subdirectory.
	errNotDataDir = errors.New("no version-2 directory: not a ZooKeeper data directory")
)

type purgeFlags struct {
	config     string
	dataDir    string
	dataLogDir string
	count      int
}

func purgeCommand() *cobra.Command {
	var f purgeFlags
	cmd := &cobra.Command{
		Use:   "purge -n N (--config zoo.cfg | --dataDir DIR [--dataLogDir DIR])",
		Short: "Delete old snapshots and logs, keeping the newest N snapshots (as zkCleanup.sh / PurgeTxnLog)",
		Long: `Delete old snapshots and transaction logs as Apache ZooKeeper's
zkCleanup.sh (PurgeTxnLog) does: keep the newest N complete snapshots and
every log a replay from the oldest of them needs (the logs named after it,
and the one log that holds its zxid); delete all older snapshot and log
files. N must be 3 or more. It is safe while the server runs.

For the automatic case set autopurge.purgeInterval (hours) and
autopurge.snapRetainCount in zoo.cfg; zkd serve purges on that schedule.

Examples:
  zkd purge --config /etc/zookeeper/zoo.cfg -n 5
  zkd purge --dataDir /var/lib/zookeeper --dataLogDir /var/log/zookeeper -n 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("count") {
				f.count = -1
			}
			return runPurge(cmd.OutOrStdout(), f)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "zoo.cfg to read dataDir and dataLogDir (and autopurge.snapRetainCount) from")
	cmd.Flags().StringVar(&f.dataDir, "dataDir", "", "the snapshot directory (holding version-2)")
	cmd.Flags().StringVar(&f.dataLogDir, "dataLogDir", "", "the transaction log directory (default: dataDir)")
	cmd.Flags().IntVarP(&f.count, "count", "n", 0, "snapshots to keep, 3 or more (default: autopurge.snapRetainCount with --config, else 3)")
	return cmd
}

func runPurge(out io.Writer, f purgeFlags) error {
	dataDir, dataLogDir := f.dataDir, f.dataLogDir
	count := f.count
	switch {
	case f.config != "" && (dataDir != "" || dataLogDir != ""):
		return errPurgeDirs
	case f.config != "":
		cfg, err := config.Load(f.config)
		if err != nil {
			return err
		}
		dataDir, dataLogDir = cfg.DataDir, cfg.DataLogDir
		if count < 0 {
			count = cfg.AutopurgeSnapRetainCount
		}
	case dataDir == "":
		return errPurgeDirs
	}
	if dataLogDir == "" {
		dataLogDir = dataDir
	}
	if count < 0 {
		count = storage.MinRetainCount
	}
	if count < storage.MinRetainCount {
		return fmt.Errorf("purge: -n %d: keep at least %d snapshots (as zkCleanup.sh)", count, storage.MinRetainCount)
	}
	for _, d := range []string{dataDir, dataLogDir} {
		info, err := os.Stat(filepath.Join(d, storage.VersionDir))
		if err != nil || !info.IsDir() {
			return fmt.Errorf("purge: %s: %w", d, errNotDataDir)
		}
	}
	removed, err := storage.Purge(storage.OSFS{}, dataDir, dataLogDir, count)
	for _, path := range removed {
		fmt.Fprintf(out, "removed %s\n", path)
	}
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	snaps, err := storage.ListSnapshots(storage.OSFS{}, dataDir)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	logs, err := storage.ListLogs(storage.OSFS{}, dataLogDir)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if len(removed) == 0 {
		fmt.Fprintf(out, "nothing to remove: %s and %s, keeping the newest %d snapshots\n",
			plural(len(snaps), "snapshot"), plural(len(logs), "log"), count)
		return nil
	}
	fmt.Fprintf(out, "removed %s; kept %s and %s\n", plural(len(removed), "file"), plural(len(snaps), "snapshot"), plural(len(logs), "log"))
	return nil
}
