package interop

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/zkd/zkd/internal/launch"
)

// pair is one Apache server and one zkd server started with the same Options.
type pair struct {
	apache, zkd *Server
}

// stop shuts both servers down gracefully, in parallel.
func (p *pair) stop() {
	var wg sync.WaitGroup
	for _, s := range []*Server{p.apache, p.zkd} {
		if s != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.Stop() }()
		}
	}
	wg.Wait()
}

func (p *pair) kill() {
	for _, s := range []*Server{p.apache, p.zkd} {
		if s != nil {
			s.Kill()
		}
	}
}

// sharedOptions is the configuration of the servers most scenarios share.
var sharedOptions = Options{ExtendedTypes: true, SuperDigest: superDigest}

// shared is started on first use and stopped by TestMain, so the whole package
// starts one Apache and one zkd for all ordinary scenarios.
var shared struct {
	sync.Mutex
	p    *pair
	dirs []string
	err  error
}

func sharedPair(t testing.TB) *pair {
	t.Helper()
	requireApache(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.p == nil && shared.err == nil {
		shared.p, shared.err = startPair(sharedOptions)
	}
	if shared.err != nil {
		t.Fatalf("start shared servers: %v", shared.err)
	}
	for _, s := range []*Server{shared.p.apache, shared.p.zkd} {
		if !s.Alive() {
			t.Fatalf("shared %s server %s died earlier (%v); log tail:\n%s", s.Kind, s.Addr(), s.proc.ExitErr(), s.LogTail(40))
		}
	}
	return shared.p
}

// startPair starts both servers concurrently in directories that survive until
// stopShared.
func startPair(o Options) (*pair, error) {
	base := os.Getenv(envOutputDir)
	mk := func(kind string) (string, error) {
		dir, err := os.MkdirTemp(base, "shared-"+kind+"-")
		if err == nil && base == "" {
			shared.dirs = append(shared.dirs, dir)
		}
		return dir, err
	}
	apacheDir, err := mk("apache")
	if err != nil {
		return nil, err
	}
	zkdDir, err := mk("zkd")
	if err != nil {
		return nil, err
	}
	p := &pair{}
	var apacheErr, zkdErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.apache, apacheErr = startApache(o, apacheDir) }()
	go func() { defer wg.Done(); p.zkd, zkdErr = startZkd(o, zkdDir) }()
	wg.Wait()
	if err := errors.Join(apacheErr, zkdErr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func stopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.p != nil {
		shared.p.stop()
	}
	for _, dir := range shared.dirs {
		os.RemoveAll(dir)
	}
}

// startTestPair starts a pair owned by one test (for options the shared pair
// does not have).
func startTestPair(t *testing.T, o Options) *pair {
	t.Helper()
	var p pair
	var wg sync.WaitGroup
	wg.Add(2)
	// StartApache/StartZkd call t.Fatal, which must run on the test goroutine,
	// so the goroutines use the error-returning forms.
	var apacheErr, zkdErr error
	apacheDir, zkdDir := serverDir(t, "apache"), serverDir(t, "zkd")
	requireApache(t)
	go func() { defer wg.Done(); p.apache, apacheErr = startApache(o, apacheDir) }()
	go func() { defer wg.Done(); p.zkd, zkdErr = startZkd(o, zkdDir) }()
	wg.Wait()
	t.Cleanup(p.kill)
	if err := errors.Join(apacheErr, zkdErr); err != nil {
		t.Fatalf("start servers: %v", err)
	}
	return &p
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopShared()
	launch.RemoveZkdBuild()
	os.Exit(code)
}
