package main

// Operator tools for the files in a data directory (Apache ZooKeeper 3.8's
// format, which zkd reads and writes as they are):
//
//	zkd log dump FILE [--json]              every txn of a transaction log
//	zkd log verify FILE|DIR...              checksums and structure of logs
//	zkd snapshot dump FILE [--json] [--data] header, sessions and znodes
//	zkd snapshot verify FILE...             checksums and tree of snapshots
//	zkd snapshot restore --from D --to D    import an Apache ZooKeeper data dir
//	zkd purge -n N (--config | --dataDir)   keep the newest N snapshots (zkCleanup.sh)
//
// The tools only read the files they are given, except purge (which deletes
// what PurgeTxnLog would) and restore (which writes one snapshot into its
// target). A corrupt file ends the command with exit status 2 and a message
// naming the file and the offset; other failures exit with 1.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/storage"
)

// exitCorrupt is the exit status of a tool that met a corrupt file.
const exitCorrupt = 2

func toolCommands() []*cobra.Command {
	logCmd := &cobra.Command{
		Use:   "log",
		Short: "Inspect transaction log files (dataLogDir/version-2/log.<zxid>)",
		Args:  cobra.NoArgs,
	}
	logCmd.AddCommand(logDumpCommand(), logVerifyCommand())
	snapCmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Inspect snapshot files and import Apache ZooKeeper data directories",
		Args:  cobra.NoArgs,
	}
	snapCmd.AddCommand(snapshotDumpCommand(), snapshotVerifyCommand(), restoreCommand())
	return []*cobra.Command{logCmd, snapCmd, purgeCommand()}
}

// corruptExit turns an error matching storage.ErrCorrupt into exit status
// exitCorrupt; the message (from storage.CorruptError) names the file and
// the offset. Other errors are returned as they are.
func corruptExit(err error) error {
	if err == nil || !errors.Is(err, storage.ErrCorrupt) {
		return err
	}
	return &exitError{code: exitCorrupt, msg: err.Error()}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// progress prints a status line on stderr while a long operation runs:
// every 200ms, overwriting itself on a terminal, or every 2s as plain lines
// otherwise. status is called from the progress goroutine and must be safe
// for that (read atomics).
type progress struct {
	w      io.Writer
	tty    bool
	status func() string
	stop   chan struct{}
	done   sync.WaitGroup
}

// startProgress starts printing status() on stderr: always when forced
// (--progress); otherwise only when stderr is a terminal and stdout is not
// (when both are the same terminal the output itself shows progress, and a
// status line would tear it). finish must be called; it does nothing when
// no progress is shown.
func startProgress(stdout, stderr io.Writer, forced bool, status func() string) *progress {
	p := &progress{w: stderr, tty: isTerminal(stderr), status: status}
	if !forced && !(p.tty && !isTerminal(stdout)) {
		return p
	}
	p.stop = make(chan struct{})
	interval := 2 * time.Second
	if p.tty {
		interval = 200 * time.Millisecond
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.print(p.status())
			}
		}
	}()
	return p
}

func (p *progress) print(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// finish stops the status line and prints the final status once.
func (p *progress) finish() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.done.Wait()
	p.stop = nil
	p.print(p.status())
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// mib formats a byte count for progress lines.
func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// hexID prints a zxid or session id as ZooKeeper does: 0x and lowercase
// hex of the unsigned value.
func hexID(v int64) string { return fmt.Sprintf("0x%x", uint64(v)) }

// formatMs prints a ZooKeeper time (ms since the epoch) as RFC 3339 in UTC
// with milliseconds.
func formatMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// plural formats "1 node", "2 nodes".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
