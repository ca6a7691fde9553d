package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
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

// TestComposeUp starts compose.yaml as it is (with the test's image and
// loopback host ports in place of zkd:dev and 2181-2183) under
// docker-compose, and checks that the three servers form an ensemble and
// that the health checks, `zkd status --ready` run inside the scratch
// image, turn healthy. `docker-compose down -v` and the image removal run
// also when it fails.
func TestComposeUp(t *testing.T) {
	requireDocker(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatal("docker-compose is not installed (Debian package docker-compose); test.sh installs it")
	}
	project := fmt.Sprintf("zkdcompose%d", time.Now().UnixNano())
	image := project + ":test"
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "image: zkd:dev", "image: "+image)
	var addrs []string
	for i := 1; i <= 3; i++ {
		port, err := clusterPorts.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		published := fmt.Sprintf(`ports: ["%d:2181"]`, 2180+i)
		if !strings.Contains(text, published) {
			t.Fatalf("compose.yaml has no %s", published)
		}
		text = strings.Replace(text, published, fmt.Sprintf(`ports: ["127.0.0.1:%d:2181"]`, port), 1)
		addrs = append(addrs, launch.Loopback(port))
	}
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) (string, error) {
		out, err := exec.Command("docker-compose", append([]string{"-p", project, "-f", file}, args...)...).CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("docker-compose %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			if logs, err := compose("logs", "--tail", "60"); err == nil {
				t.Logf("compose logs:\n%s", logs)
			}
		}
		if _, err := compose("down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("%v", err)
		}
		docker(t, "rmi", "-f", image)
	})
	if out, err := exec.Command("./build-image.sh", image).CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh %s: %v\n%s", image, err, out)
	}
	if _, err := compose("up", "-d"); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(90 * time.Second)
	var health map[string]string
	for time.Now().Before(deadline) {
		health = map[string]string{}
		healthy := 0
		for _, name := range []string{"zookeeper1", "zookeeper2", "zookeeper3"} {
			id, err := compose("ps", "-q", name)
			if err != nil {
				t.Fatal(err)
			}
			status, _ := docker(t, "inspect", "--format", "{{.State.Health.Status}}", strings.TrimSpace(id))
			health[name] = status
			if status == "healthy" {
				healthy++
			}
		}
		if healthy == 3 {
			break
		}
		time.Sleep(time.Second)
	}
	if len(health) != 3 || health["zookeeper1"] != "healthy" || health["zookeeper2"] != "healthy" || health["zookeeper3"] != "healthy" {
		t.Fatalf("health checks after 90s: %v", health)
	}
	var servers []ops.Server
	for i, a := range addrs {
		servers = append(servers, ops.Server{Name: fmt.Sprintf("zookeeper%d", i+1), Addr: a})
	}
	a := ops.Assess(ops.Observer{Timeout: 2 * time.Second, Mntr: true, Conf: true}.ObserveAll(servers))
	if !a.OK() || a.VotingUp != 3 || a.Leader < 0 {
		var table strings.Builder
		a.WriteTable(&table)
		t.Fatalf("compose ensemble is not whole:\n%s", table.String())
	}
	if err := createAndRead(addrs[0], "/compose", addrs); err != nil {
		t.Fatal(err)
	}
}
