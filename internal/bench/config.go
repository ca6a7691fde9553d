package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	ErrUnknownWorkload = errors.New("bench: unknown workload")
	ErrBadConfig       = errors.New("bench: invalid configuration")
)

// Workload is the kind of request each session issues in a loop.
type Workload string

const (
	// WorkloadCreate creates new persistent znodes of ValueSize bytes; the
	// znodes are deleted again after the timed part of the run.
	WorkloadCreate Workload = "create"
	// WorkloadSet overwrites a random prepopulated znode.
	WorkloadSet Workload = "set"
	// WorkloadGet reads a random prepopulated znode.
	WorkloadGet Workload = "get"
	// WorkloadExistsWatch calls exists with watch=true on a random
	// prepopulated znode, the request a watch-heavy client repeats.
	WorkloadExistsWatch Workload = "exists-watch"
	// WorkloadMixed issues a get with probability ReadRatio and a set
	// otherwise.
	WorkloadMixed Workload = "mixed"
)

// AllWorkloads lists every workload in the order reports use.
var AllWorkloads = []Workload{WorkloadCreate, WorkloadSet, WorkloadGet, WorkloadExistsWatch, WorkloadMixed}

// ParseWorkload accepts a workload's name.
func ParseWorkload(name string) (Workload, error) {
	for _, w := range AllWorkloads {
		if string(w) == name {
			return w, nil
		}
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownWorkload, name, workloadNames())
}

func workloadNames() string {
	names := make([]string, len(AllWorkloads))
	for i, w := range AllWorkloads {
		names[i] = string(w)
	}
	return strings.Join(names, ", ")
}

// usesKeys tells whether the workload addresses the prepopulated znodes.
func (w Workload) usesKeys() bool { return w != WorkloadCreate }

// Config is one benchmark run.
type Config struct {
	// Endpoints are host:port pairs; every session may use any of them.
	Endpoints []string
	// Clients is the number of concurrent sessions, one request in flight
	// each.
	Clients   int
	Workload  Workload
	ReadRatio float64 // fraction of gets in WorkloadMixed, 0..1
	ValueSize int     // bytes written by create and set
	// Duration bounds the timed part of the run unless Ops is set.
	Duration time.Duration
	// Ops, when positive, ends the run after that many acknowledged
	// requests instead of after Duration.
	Ops int64
	// Prepopulate is the number of znodes under /zkbench/data that the
	// keyed workloads address (at least 1 for them).
	Prepopulate    int
	SessionTimeout time.Duration
	// Seed makes the key choices repeatable; runs with equal seeds issue the
	// same sequence of requests per session.
	Seed uint64
}

// DefaultConfig is the configuration `zkd bench` starts from.
func DefaultConfig() Config {
	return Config{
		Endpoints:      []string{"127.0.0.1:2181"},
		Clients:        32,
		Workload:       WorkloadMixed,
		ReadRatio:      0.9,
		ValueSize:      256,
		Duration:       10 * time.Second,
		Prepopulate:    1000,
		SessionTimeout: 30 * time.Second,
		Seed:           1,
	}
}

// Validate reports the first setting that makes the run impossible.
func (c Config) Validate() error {
	switch {
	case len(c.Endpoints) == 0:
		return fmt.Errorf("%w: no endpoints", ErrBadConfig)
	case c.Clients < 1:
		return fmt.Errorf("%w: clients must be at least 1, got %d", ErrBadConfig, c.Clients)
	case c.ReadRatio < 0 || c.ReadRatio > 1:
		return fmt.Errorf("%w: read ratio must be within 0..1, got %g", ErrBadConfig, c.ReadRatio)
	case c.ValueSize < 0:
		return fmt.Errorf("%w: value size must not be negative, got %d", ErrBadConfig, c.ValueSize)
	case c.Ops < 0:
		return fmt.Errorf("%w: ops must not be negative, got %d", ErrBadConfig, c.Ops)
	case c.Ops == 0 && c.Duration <= 0:
		return fmt.Errorf("%w: set a positive duration or an operation count", ErrBadConfig)
	case c.Prepopulate < 0:
		return fmt.Errorf("%w: prepopulate must not be negative, got %d", ErrBadConfig, c.Prepopulate)
	case c.Workload.usesKeys() && c.Prepopulate < 1:
		return fmt.Errorf("%w: workload %s needs at least one prepopulated znode", ErrBadConfig, c.Workload)
	case c.SessionTimeout <= 0:
		return fmt.Errorf("%w: session timeout must be positive", ErrBadConfig)
	}
	if _, err := ParseWorkload(string(c.Workload)); err != nil {
		return err
	}
	return nil
}
