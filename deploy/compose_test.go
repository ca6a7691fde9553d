package deploy

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/zkd/zkd/internal/config"
)

// composeFile is the part of the compose format compose.yaml uses.
type composeFile struct {
	XZkd     map[string]any            `json:"x-zkd"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Restart     string            `json:"restart"`
	Hostname    string            `json:"hostname"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	Healthcheck struct {
		Test        []string `json:"test"`
		Interval    string   `json:"interval"`
		Timeout     string   `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod string   `json:"start_period"`
	} `json:"healthcheck"`
}

func TestCompose(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	zkd := buildZkd(t)
	hostPorts := map[string]bool{}
	for _, name := range []string{"zookeeper1", "zookeeper2", "zookeeper3"} {
		s, ok := f.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		env := append([]string{"HOSTNAME=" + s.Hostname}, imageEnv...)
		for k, v := range s.Environment {
			env = append(env, k+"="+v)
		}
		cfg, err := config.FromEnvironment(env)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !cfg.IsQuorum() || cfg.MyID < 1 || cfg.Servers[cfg.MyID-1].Host != s.Hostname || s.Hostname != name {
			t.Errorf("%s: hostname %q is server %d of %v", name, s.Hostname, cfg.MyID, cfg.Servers)
		}
		if len(s.Ports) != 1 || !strings.HasSuffix(s.Ports[0], fmt.Sprintf(":%d", cfg.ClientPort)) || hostPorts[s.Ports[0]] {
			t.Errorf("%s: ports %v, want one distinct host port for the client port %d", name, s.Ports, cfg.ClientPort)
		}
		hostPorts[s.Ports[0]] = true
		if len(s.Volumes) != 1 {
			t.Fatalf("%s: volumes %v", name, s.Volumes)
		}
		volume, mount, _ := strings.Cut(s.Volumes[0], ":")
		if _, declared := f.Volumes[volume]; !declared || mount != cfg.DataDir {
			t.Errorf("%s: volume %q (declared %v) at %q, want a named volume at %s", name, volume, declared, mount, cfg.DataDir)
		}
		test := s.Healthcheck.Test
		if len(test) < 2 || test[0] != "CMD" || !slices.Contains(test, "--ready") {
			t.Fatalf("%s: health check %q, want [CMD zkd status --ready]", name, test)
		}
		checkCommand(t, name, zkd, test[1:])
	}
}
