package sim

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/zkd/zkd/internal/zab"
)

var (
	flagSeeds = flag.Int("sim.seeds", 0, "seeds per ensemble shape for TestSimulation (0: the CI default, or $ZKD_SIM_SEEDS)")
	flagSeed  = flag.Int64("sim.seed", -1, "run only this seed, printing every event with -v (a replay)")
	flagTicks = flag.Int("sim.ticks", 600, "ticks of faults per run")
)

// defaultSeeds keeps the package within about three minutes under -race
// on CI's two cores.
const defaultSeeds = 1000

type shape struct {
	name              string
	voters, observers []int64
}

var shapes = []shape{
	{"3voters-1observer", []int64{1, 2, 3}, []int64{4}},
	{"5voters-1observer", []int64{1, 2, 3, 4, 5}, []int64{6}},
}

func seedCount(t *testing.T) int {
	if *flagSeeds > 0 {
		return *flagSeeds
	}
	if v := os.Getenv("ZKD_SIM_SEEDS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			t.Fatalf("ZKD_SIM_SEEDS=%q is not a positive number", v)
		}
		return n
	}
	if testing.Short() {
		return defaultSeeds / 10
	}
	return defaultSeeds
}

func config(sh shape, seed uint64, bugs zab.Bugs) Config {
	return Config{Seed: seed, Voters: sh.voters, Observers: sh.observers, FaultTicks: *flagTicks, Clients: 3, Bugs: bugs}
}

// replayCommand is what a failing seed prints: it reruns that seed alone
// with every event traced.
func replayCommand(test, sub string, seed uint64) string {
	ticks := ""
	if *flagTicks != 600 {
		ticks = fmt.Sprintf(" -sim.ticks=%d", *flagTicks)
	}
	run := "^" + test + "$"
	if sub != "" {
		run += "/^" + sub + "$"
	}
	return fmt.Sprintf("go test ./internal/sim -run '%s' -sim.seed=%d%s -v", run, seed, ticks)
}

// runSeeds runs fn over seeds on every core; the first failure (lowest
// seed) is returned. Runs share nothing, so each is as deterministic as
// it is alone.
func runSeeds(seeds []uint64, fn func(seed uint64) error) (failSeed uint64, err error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next int
	)
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(seeds) || (err != nil && seeds[next] > failSeed) {
					mu.Unlock()
					return
				}
				seed := seeds[next]
				next++
				mu.Unlock()
				if e := fn(seed); e != nil {
					mu.Lock()
					if err == nil || seed < failSeed {
						failSeed, err = seed, e
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failSeed, err
}

func seedList(t *testing.T) []uint64 {
	if *flagSeed >= 0 {
		return []uint64{uint64(*flagSeed)}
	}
	n := seedCount(t)
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	return seeds
}

// TestSimulation runs whole ensembles (three voters and an observer; five
// voters and an observer) through crashes with torn log tails, power
// failures, partitions, one-way links, lost and duplicated election
// notifications and slow fsyncs, with clients writing and reading
// throughout; see doc.go for what is checked.
func TestSimulation(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			var sum Result
			var mu sync.Mutex
			seeds := seedList(t)
			seed, err := runSeeds(seeds, func(seed uint64) error {
				cfg := config(sh, seed, zab.Bugs{})
				if len(seeds) == 1 && testing.Verbose() {
					cfg.Trace = os.Stdout
				}
				res, err := Run(cfg)
				mu.Lock()
				sum.Committed += res.Committed
				sum.Ops += res.Ops
				sum.OpenOps += res.OpenOps
				sum.Crashes += res.Crashes
				sum.TornTails += res.TornTails
				sum.Leaders += res.Leaders
				mu.Unlock()
				return err
			})
			if err != nil {
				t.Fatalf("%v\n\nreplay: %s", err, replayCommand("TestSimulation", sh.name, seed))
			}
			t.Logf("%d seeds: %d txns committed, %d epochs, %d client ops (%d open), %d crashes (%d torn tails)",
				len(seeds), sum.Committed, sum.Leaders, sum.Ops, sum.OpenOps, sum.Crashes, sum.TornTails)
			if sum.Ops < len(seeds)*50 || sum.TornTails == 0 && len(seeds) >= 20 {
				t.Errorf("the runs did too little to prove anything: %+v", sum)
			}
		})
	}
}

// TestSimulationIsDeterministic: a seed replays exactly, event for event.
func TestSimulationIsDeterministic(t *testing.T) {
	trace := func() string {
		var b strings.Builder
		cfg := config(shapes[1], 7, zab.Bugs{})
		cfg.Trace = &b
		if _, err := Run(cfg); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := trace(), trace()
	if a != b {
		al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("two runs of seed 7 differ at event %d:\n%s\n%s", i, al[i], bl[i])
			}
		}
		t.Fatalf("two runs of seed 7 differ in length: %d and %d events", len(al), len(bl))
	}
	if n := strings.Count(a, "\n"); n < 1000 {
		t.Fatalf("only %d events traced", n)
	}
}

// TestSimulationCatchesBugs: the simulation is worth its seeds only if it
// fails on the mistakes it exists to find. Each deliberate bug of
// zab.Bugs must break an invariant within a bounded number of seeds.
func TestSimulationCatchesBugs(t *testing.T) {
	for _, c := range []struct {
		name  string
		bugs  zab.Bugs
		shape shape
		seeds int
	}{
		// The bounds are many times the seeds a catch takes (measured over
		// 300 seeds of three voters: 2% catch AckBeforeFsync, 23%
		// SameEpoch, 1.3% LazyAcceptedEpoch).
		{"AckBeforeFsync", zab.Bugs{AckBeforeFsync: true}, shapes[0], 1000},
		{"SameEpoch", zab.Bugs{SameEpoch: true}, shapes[0], 200},
		{"LazyAcceptedEpoch", zab.Bugs{LazyAcceptedEpoch: true}, shapes[0], 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			seeds := make([]uint64, c.seeds)
			for i := range seeds {
				seeds[i] = uint64(i)
			}
			if *flagSeed >= 0 {
				seeds = []uint64{uint64(*flagSeed)}
			}
			seed, err := runSeeds(seeds, func(seed uint64) error {
				cfg := config(c.shape, seed, c.bugs)
				if len(seeds) == 1 && testing.Verbose() {
					cfg.Trace = os.Stdout
				}
				_, err := Run(cfg)
				return err
			})
			var f *Failure
			if !errors.As(err, &f) {
				t.Fatalf("%d seeds ran clean with the bug %s", len(seeds), c.name)
			}
			t.Logf("caught at seed %d (of %d), tick %d: %s\nreplay: %s", seed, len(seeds), f.Tick, f.What,
				replayCommand("TestSimulationCatchesBugs", c.name, seed))
		})
	}
}

// TestSimulationCatchesLocalReads: the clients' history check can fail
// on a whole run. Reads answered by any server from its own state (no
// sync) see a follower's lag behind writes already acknowledged, which
// porcupine must reject.
func TestSimulationCatchesLocalReads(t *testing.T) {
	seeds := make([]uint64, 100)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	if *flagSeed >= 0 {
		seeds = []uint64{uint64(*flagSeed)}
	}
	seed, err := runSeeds(seeds, func(seed uint64) error {
		cfg := config(shapes[0], seed, zab.Bugs{})
		cfg.LocalReads = true
		_, err := Run(cfg)
		return err
	})
	var f *Failure
	if !errors.As(err, &f) || !strings.Contains(f.What, "not linearizable") {
		t.Fatalf("%d seeds with reads served locally: %v", len(seeds), err)
	}
	t.Logf("caught at seed %d: %s\nreplay: %s", seed, f.What, replayCommand("TestSimulationCatchesLocalReads", "", seed))
}

// TestCheckerRejects: the linearizability check can fail. A read that
// misses a write acknowledged before it began, or a conditional write
// that succeeds on a version already gone, is not linearizable; with the
// first write's reply missing (left open), the same read is fine.
func TestCheckerRejects(t *testing.T) {
	w := func(call, ret int64, value string, expect int32, out Output) porcupine.Operation {
		return porcupine.Operation{ClientId: 0, Input: Input{Key: 1, Expect: expect, Value: value}, Call: call, Output: out, Return: ret}
	}
	r := func(call, ret int64, value string, version int32) porcupine.Operation {
		return porcupine.Operation{ClientId: 1, Input: Input{Read: true, Key: 1}, Call: call,
			Output: Output{Value: value, Version: version}, Return: ret}
	}
	for _, c := range []struct {
		name string
		ops  []porcupine.Operation
		ok   bool
	}{
		{"stale read", []porcupine.Operation{w(1, 2, "a", 0, Output{OK: true, Version: 1}), r(3, 4, "", 0)}, false},
		{"fresh read", []porcupine.Operation{w(1, 2, "a", 0, Output{OK: true, Version: 1}), r(3, 4, "a", 1)}, true},
		{"two writes win one version", []porcupine.Operation{
			w(1, 2, "a", 0, Output{OK: true, Version: 1}), w(3, 4, "b", 0, Output{OK: true, Version: 1})}, false},
		{"BadVersion after a write", []porcupine.Operation{
			w(1, 2, "a", 0, Output{OK: true, Version: 1}), w(3, 4, "b", 0, Output{Version: 0})}, true},
		{"BadVersion on the first write", []porcupine.Operation{w(1, 2, "a", 0, Output{Version: 0})}, false},
		{"read of a write never made", []porcupine.Operation{r(1, 2, "x", 1)}, false},
		{"open write seen", []porcupine.Operation{w(1, 100, "a", 0, Output{Unknown: true}), r(3, 4, "a", 1)}, true},
		{"open write unseen", []porcupine.Operation{w(1, 100, "a", 0, Output{Unknown: true}), r(3, 4, "", 0)}, true},
		{"open write seen then unseen", []porcupine.Operation{
			w(1, 100, "a", 0, Output{Unknown: true}), r(3, 4, "a", 1), r(5, 6, "", 0)}, false},
	} {
		ok, why := CheckLinearizable(c.ops)
		if ok != c.ok {
			t.Errorf("%s: linearizable %v, want %v (%s)", c.name, ok, c.ok, why)
		}
	}
}
