package statuspage

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/server"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "also write the screenshot to docs/status-page.png")

// This package's ports (internal/admin's browser test has 27800-27849).
var ports = &launch.Ports{Low: 27850, High: 27899}

// zkdWithAdmin runs a durable zkd server in-process with its AdminServer on
// loopback and returns the client and AdminServer addresses.
func zkdWithAdmin(t *testing.T) (clientAddr, adminURL string) {
	t.Helper()
	client, err := ports.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	adm, err := ports.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPortAddress=127.0.0.1\nclientPort=%d\n"+
		"admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", t.TempDir(), client, adm)
	cfg, err := config.Parse(strings.NewReader(text), "zoo.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.OpenDurable(cfg, log, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", launch.Loopback(client))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Start()
	go srv.Serve(l)
	h, err := admin.StartHTTP(srv.Admin(), nil, log)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return launch.Loopback(client), "http://" + h.AdminAddr
}

// populate makes the znodes the tests browse and a few seconds of traffic
// for the charts.
func populate(t *testing.T, addr string) {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	open := zk.WorldACL(zk.PermAll)
	for _, n := range []struct {
		path string
		data []byte
		acl  []zk.ACL
	}{
		{"/app", []byte(`{"name": "demo", "replicas": 3}`), open},
		{"/app/config", []byte("tickTime=2000\ninitLimit=10\n"), open},
		{"/app/blob", []byte{0x00, 0x01, 0xfe, 0xff, 'z', 'k', 'd'}, open},
		{"/app/locks", nil, open},
		{"/secret", []byte("hunter2"), zk.DigestACL(zk.PermAll, "ops", "pw")},
	} {
		if _, err := c.Create(n.path, n.data, 0, n.acl); err != nil {
			t.Fatalf("create %s: %v", n.path, err)
		}
	}
	if _, err := c.Create("/app/locks/lock-", nil, zk.FlagEphemeral|zk.FlagSequence, open); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		if _, err := c.Set("/app/config", []byte("tickTime=2000\ninitLimit=10\n"), -1); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, _, err := c.Get("/app"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func load(t *testing.T, url string, o launch.PageOptions) launch.Page {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	p, err := launch.LoadPage(url, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Console) > 0 {
		t.Errorf("%s: console messages:\n%s", url, strings.Join(p.Console, "\n"))
	}
	return p
}

func TestStatusPageInChromium(t *testing.T) {
	clientAddr, base := zkdWithAdmin(t)
	populate(t, clientAddr)

	// Five seconds of the page's time: the live part refreshes twice.
	p := load(t, base+"/", launch.PageOptions{Settle: 5 * time.Second})
	for _, want := range []string{
		`id="mode">standalone</span>`,
		`data-role="standalone"`,
		`<a href="/?path=/app">app</a>`, `<a href="/?path=/secret">secret</a>`, `<a href="/?path=/zookeeper">zookeeper</a>`,
		`<td class="mono">` + clientAddr + `</td>`,
	} {
		if !strings.Contains(p.DOM, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if m := regexp.MustCompile(`<div id="live" data-refreshed="(\d+)">`).FindStringSubmatch(p.DOM); m == nil || m[1] == "0" {
		t.Errorf("the live part never refreshed:\n%s", p.DOM)
	}
	if !regexp.MustCompile(`<span id="stale" class="err" hidden="">`).MatchString(p.DOM) {
		t.Error("the page says its live refresh failed")
	}
	// The traffic above shows in the request chart: some point is above
	// the bottom line.
	m := regexp.MustCompile(`<polyline class="s0" points="([^"]*)"`).FindStringSubmatch(p.DOM)
	if m == nil || !regexp.MustCompile(`,(\d|[1-9]\d)\.\d `).MatchString(m[1]+" ") {
		t.Errorf("the request chart shows no traffic: %v", m)
	}

	blob := load(t, base+"/?path=/app/blob", launch.PageOptions{})
	if !strings.Contains(blob.DOM, "00000000  00 01 fe ff 7a 6b 64") || !strings.Contains(blob.DOM, "|....zkd|") {
		t.Errorf("/app/blob is not shown in hex:\n%s", blob.DOM)
	}
	cfg := load(t, base+"/?path=/app/config", launch.PageOptions{})
	if !strings.Contains(cfg.DOM, "<pre id=\"data\">tickTime=2000\ninitLimit=10\n</pre>") || !strings.Contains(cfg.DOM, "<th>dataVersion</th>") {
		t.Errorf("/app/config is not shown as text:\n%s", cfg.DOM)
	}
	secret := load(t, base+"/?path=/secret", launch.PageOptions{})
	if strings.Contains(secret.DOM, "hunter2") || !strings.Contains(secret.DOM, "the ACL does not grant this address READ") {
		t.Errorf("/secret shows what its ACL hides:\n%s", secret.DOM)
	}
	locks := load(t, base+"/?path=/app/locks", launch.PageOptions{})
	if !strings.Contains(locks.DOM, `<a href="/?path=/app/locks/lock-0000000000">lock-0000000000</a>`) {
		t.Errorf("/app/locks lacks its ephemeral child:\n%s", locks.DOM)
	}
}

func TestStatusPageScreenshot(t *testing.T) {
	clientAddr, base := zkdWithAdmin(t)
	populate(t, clientAddr)
	// Traffic goes on while the page is taken, so the charts show some.
	c, _, err := zk.Connect([]string{clientAddr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(4 * time.Millisecond):
			}
			if i%4 == 0 {
				c.Set("/app/config", []byte("tickTime=2000\ninitLimit=10\n"), -1)
			} else {
				c.Get("/app")
			}
		}
	}()
	defer func() {
		close(stop)
		<-stopped
	}()
	shot := filepath.Join(t.TempDir(), "status-page.png")
	load(t, base+"/?path=/app", launch.PageOptions{Screenshot: shot})
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1200x900", b)
	}
	// Not a blank page: many distinct colours.
	colours := map[uint32]bool{}
	for y := 0; y < 900; y += 7 {
		for x := 0; x < 1200; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("screenshot has %d colours: blank?", len(colours))
	}
	t.Logf("screenshot %s (%d bytes)", shot, len(data))
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "status-page.png"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
