package admin

import (
	"os"
	"sync/atomic"

	"github.com/zkd/zkd/internal/config"
)

// defaultTraceMask is ZooTrace's default mask (306).
const defaultTraceMask = 306

// Options configure an Admin.
type Options struct {
	Config *config.Config
	// Version is the "<version>, built on <date>" banner of srvr, envi and
	// mntr.
	Version string
	// Metrics are the server's recorders; nil gets a fresh set.
	Metrics *Metrics
}

// Admin renders one server's admin data: four-letter words, AdminServer
// JSON and Prometheus metrics read the same Source.
type Admin struct {
	src     Source
	cfg     *config.Config
	version string
	metrics *Metrics
	// initialConfig is the zoo.cfg text as it was at start
	// (initial_configuration).
	initialConfig string
	traceMask     atomic.Int64
	// samples feed the status page's charts while the AdminServer runs.
	samples atomic.Pointer[sampler]
}

// New builds the admin surface of the server that src describes.
func New(src Source, o Options) *Admin {
	a := &Admin{src: src, cfg: o.Config, version: o.Version, metrics: o.Metrics}
	if a.cfg == nil {
		a.cfg = config.Default()
	}
	if a.metrics == nil {
		a.metrics = NewMetrics()
	}
	a.initialConfig = initialConfig(a.cfg)
	a.traceMask.Store(defaultTraceMask)
	return a
}

// Metrics returns the recorders the server feeds.
func (a *Admin) Metrics() *Metrics { return a.metrics }

// Config is the configuration the server runs on.
func (a *Admin) Config() *config.Config { return a.cfg }

// initialConfig reads the zoo.cfg the server started on, as Apache keeps
// its text for initial_configuration; the embedded default's text when
// there is no file.
func initialConfig(cfg *config.Config) string {
	if cfg.Path == "" {
		return config.DefaultText()
	}
	data, err := os.ReadFile(cfg.Path)
	if err != nil {
		return ""
	}
	return string(data)
}
