package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

var errUsage = errors.New("treeload: -dir must name a directory treeload created (or a new one)")

// marker is left in every directory treeload creates, so it never loads or
// overwrites a real data directory.
const marker = "TREELOAD"

func main() {
	dir := flag.String("dir", "", "data directory to create or reuse")
	znodes := flag.Int("znodes", 1_000_000, "znodes below /zkbench/data")
	valueSize := flag.Int("value-size", 100, "bytes of data per znode")
	rounds := flag.Int("rounds", 3, "loads to time")
	flag.Parse()
	if err := run(*dir, *znodes, *valueSize, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir string, znodes, valueSize, rounds int) error {
	if dir == "" {
		return errUsage
	}
	if _, err := os.Stat(filepath.Join(dir, storage.VersionDir)); err == nil {
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return errUsage
		}
	} else {
		if err := generate(dir, znodes, valueSize); err != nil {
			return err
		}
	}
	for i := 0; i < rounds; i++ {
		runtime.GC()
		base := heap()
		start := time.Now()
		var t *tree.Tree
		var treeTime time.Duration
		_, info, err := storage.LoadNewestSnapshot(storage.OSFS{}, dir, storage.SnapshotOptions{},
			func(d *jute.Decoder) error {
				ts := time.Now()
				var err error
				t, err = tree.Deserialize(d)
				treeTime = time.Since(ts)
				return err
			})
		if err != nil {
			return err
		}
		total := time.Since(start)
		runtime.GC()
		live := heap() - base
		n := t.CountDescendants("/zkbench/data")
		fmt.Printf("load %s: %d znodes, total %v (Deserialize %v), live heap %.1f MB = %.1f B/znode (%.1f beyond data), peak RSS %.1f MB\n",
			filepath.Base(info.Path), n, total.Round(time.Millisecond), treeTime.Round(time.Millisecond),
			float64(live)/1e6, float64(live)/float64(n), float64(live)/float64(n)-float64(valueSize), peakRSS()/1e6)
		runtime.KeepAlive(t)
	}
	return nil
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// peakRSS is VmHWM from /proc/self/status, in bytes (0 if unknown).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb)
			return kb * 1024
		}
	}
	return 0
}

func generate(dir string, znodes, valueSize int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, marker), nil, 0o644); err != nil {
		return err
	}
	t := tree.New()
	zxid := int64(1)
	create := func(path string, data []byte) error {
		r := t.Apply(&txn.Txn{
			Header: txn.Header{ClientID: 1, Zxid: zxid, Time: 1_700_000_000_000 + zxid, Type: proto.OpCreate},
			Body:   &txn.Create{Path: path, Data: data, ACL: proto.OpenACLUnsafe, ParentCVersion: -1},
		})
		zxid++
		if r.Err != proto.OK {
			return fmt.Errorf("create %s: %v", path, r.Err)
		}
		return nil
	}
	if err := create("/zkbench", nil); err != nil {
		return err
	}
	if err := create("/zkbench/data", nil); err != nil {
		return err
	}
	for i := 0; i < znodes; i++ {
		data := make([]byte, valueSize)
		for j := range data {
			data[j] = byte('a' + (i+j)%26)
		}
		if err := create(fmt.Sprintf("/zkbench/data/k%07d", i), data); err != nil {
			return err
		}
	}
	zx := t.LastZxid()
	info, err := storage.WriteSnapshot(storage.OSFS{}, dir, storage.Snapshot{Zxid: zx, Sessions: map[int64]int32{},
		Digest: &storage.ZxidDigest{Zxid: zx, Version: 2, Digest: t.Digest()}},
		t.SerializeStream, storage.SnapshotOptions{})
	if err != nil {
		return err
	}
	st, err := os.Stat(info.Path)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (%.1f MB)\n", info.Path, float64(st.Size())/1e6)
	return nil
}
