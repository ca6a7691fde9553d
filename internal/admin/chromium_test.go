package admin

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

// This package's ports for pages a browser loads (test/statuspage has
// 27850-27899).
var browserPorts = &launch.Ports{Low: 27800, High: 27849}

// The ensemble view in a real browser: the AdminServer of a leader whose
// followers answer srvr and mntr on their client ports, one member down.
// Each row shows its own server's role, the page logs nothing to the
// console, and a screenshot is taken.
func TestEnsemblePageInChromium(t *testing.T) {
	self, _ := ensembleOfFour(t)
	port, err := browserPorts.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAdmin(self.fakeSource, fmt.Sprintf("admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", port))
	a.src = self
	h, err := StartHTTP(a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dir := t.TempDir()
	shot := filepath.Join(dir, "ensemble.png")
	p, err := launch.LoadPage("http://"+h.AdminAddr+"/", launch.PageOptions{Dir: dir, Settle: 3 * time.Second, Screenshot: shot})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(p.Console, "\n"))
	}
	rows := memberRows.FindAllStringSubmatch(p.DOM, -1)
	var got []string
	for _, r := range rows {
		got = append(got, r[1]+"="+r[2])
	}
	if strings.Join(got, " ") != "1=leader 2=follower 3=follower 4=unreachable" {
		t.Errorf("members in the browser: %v\n%s", got, p.DOM)
	}
	if !strings.Contains(p.DOM, `id="mode">leader</span>`) || !strings.Contains(p.DOM, `<table id="elections">`) {
		t.Errorf("banner or elections missing:\n%s", p.DOM)
	}
	if !strings.Contains(p.DOM, `data-refreshed="1"`) {
		t.Errorf("the live part did not refresh once in 3 s of page time")
	}
}
