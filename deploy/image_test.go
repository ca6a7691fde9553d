// Package deploy holds zkd's image, compose file and Kubernetes manifests;
// its tests build the image with the local Docker engine and check every
// manifest against the Kubernetes API types.
package deploy

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const maxImageBytes = 20 << 20

// docker runs the docker command and returns its trimmed output.
func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// requireDocker fails loudly: CI and development machines have an engine,
// so a missing one is a broken machine, not a reason to skip.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no image builds")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("docker is not installed; this test needs a Docker engine (CI has one)")
	}
	if _, err := docker(t, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the Docker engine does not answer: %v", err)
	}
}

// The image builds with no registry, stays small, runs zkd standalone and
// answers ruok on a published port; everything it made is removed.
func TestImage(t *testing.T) {
	requireDocker(t)
	name := fmt.Sprintf("zkd-imagetest-%d", time.Now().UnixNano())
	tag := name + ":test"
	t.Cleanup(func() {
		docker(t, "rm", "-f", "-v", name) // -v: the container's anonymous /data volume too
		docker(t, "rmi", "-f", tag)
	})
	if out, err := exec.Command("./build-image.sh", tag).CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh %s: %v\n%s", tag, err, out)
	}
	sizeText, err := docker(t, "image", "inspect", "--format", "{{.Size}}", tag)
	if err != nil {
		t.Fatal(err)
	}
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil {
		t.Fatalf("image size %q: %v", sizeText, err)
	}
	t.Logf("image %s: %.1f MB", tag, float64(size)/(1<<20))
	if size > maxImageBytes {
		t.Fatalf("image is %d bytes, over the %d byte budget", size, maxImageBytes)
	}
	user, err := docker(t, "image", "inspect", "--format", "{{.Config.User}}", tag)
	if err != nil || user == "" || user == "0" || strings.HasPrefix(user, "0:") || user == "root" {
		t.Errorf("image user %q (%v), want a non-root user", user, err)
	}

	if _, err := docker(t, "run", "-d", "--name", name, "-p", "127.0.0.1::2181", tag); err != nil {
		t.Fatal(err)
	}
	mapped, err := docker(t, "port", name, "2181/tcp")
	if err != nil {
		logs, _ := docker(t, "logs", name)
		t.Fatalf("%v (has the container stopped?); container log:\n%s", err, logs)
	}
	addr := strings.Fields(mapped)[0]
	deadline := time.Now().Add(30 * time.Second)
	var answer string
	for time.Now().Before(deadline) {
		if answer, err = fourLetterWord(addr, "ruok"); err == nil && answer == "imok" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, _ := docker(t, "logs", name)
	t.Fatalf("ruok on %s: %q, %v; container log:\n%s", addr, answer, err, logs)
}

func fourLetterWord(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}
