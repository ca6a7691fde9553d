package statuspage

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
)

// memberRows are the ensemble table's rows: server id, role.
var memberRows = regexp.MustCompile(`(?s)<tr class="member[^"]*" data-id="(\d+)" data-role="([^"]*)">`)

// The status page of a real three-server zkd ensemble (three processes on
// loopback), in Chromium: every server's page shows every member with the
// role srvr gives it, and after the leader is killed the page of a
// survivor shows the new leader and the old one unreachable.
func TestStatusPageOfAnEnsemble(t *testing.T) {
	bin, err := launch.ZkdBinary()
	if err != nil {
		t.Fatal(err)
	}
	type srv struct {
		id                   int
		dir, client, adminAt string
		proc                 *launch.Process
	}
	port := func() int {
		p, err := ports.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var servers []*srv
	var lines []string
	for id := 1; id <= 3; id++ {
		q, e, c, a := port(), port(), port(), port()
		s := &srv{id: id, dir: t.TempDir(), client: launch.Loopback(c), adminAt: fmt.Sprintf("http://127.0.0.1:%d/", a)}
		servers = append(servers, s)
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d", id, q, e, c))
	}
	for i, s := range servers {
		admin := strings.TrimSuffix(strings.TrimPrefix(s.adminAt, "http://127.0.0.1:"), "/")
		cfg := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\n4lw.commands.whitelist=*\n"+
			"admin.serverAddress=127.0.0.1\nadmin.serverPort=%s\n%s\n", s.dir, admin, strings.Join(lines, "\n"))
		if err := os.WriteFile(filepath.Join(s.dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range servers {
		p, err := launch.Start(launch.Options{Name: fmt.Sprintf("zkd%d", s.id), Argv: launch.ZkdArgv(bin, filepath.Join(s.dir, "zoo.cfg")),
			Dir: s.dir, LogPath: filepath.Join(s.dir, "server.out"), Addr: s.client})
		if err != nil {
			t.Fatal(err)
		}
		s.proc = p
		t.Cleanup(func() {
			if s.proc != nil {
				s.proc.Kill()
			}
		})
	}
	var list []ops.Server
	for _, s := range servers {
		list = append(list, ops.Server{Name: fmt.Sprint(s.id), Addr: s.client})
	}
	// roles waits until the servers up show one leader and the others
	// following, and returns each one's mode by id.
	roles := func(up []ops.Server) map[string]string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			a := ops.Assess(ops.Observer{Timeout: time.Second}.ObserveAll(up))
			modes := map[string]string{}
			for _, o := range a.Observations {
				modes[o.Server.Name] = o.Mode
			}
			if a.Leaders == 1 && a.VotingUp == len(up) {
				return modes
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ensemble: %v", modes)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	page := func(s *srv, shot string) map[string]string {
		t.Helper()
		p := load(t, s.adminAt, launch.PageOptions{Settle: 2 * time.Second, Screenshot: shot})
		got := map[string]string{}
		for _, r := range memberRows.FindAllStringSubmatch(p.DOM, -1) {
			got[r[1]] = r[2]
		}
		return got
	}
	modes := roles(list)
	leader := ""
	for id, m := range modes {
		if m == "leader" {
			leader = id
		}
	}
	for _, s := range servers {
		shot := ""
		if fmt.Sprint(s.id) == leader {
			shot = filepath.Join(t.TempDir(), "ensemble.png")
		}
		if got := page(s, shot); fmt.Sprint(got) != fmt.Sprint(modes) {
			t.Errorf("server %d's page shows %v, srvr says %v", s.id, got, modes)
		}
		if shot != "" {
			if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
				t.Errorf("no screenshot of the ensemble page: %v", err)
			}
		}
	}

	// Kill the leader: a survivor's page shows the new roles.
	var up []ops.Server
	var survivor *srv
	for _, s := range servers {
		if fmt.Sprint(s.id) == leader {
			s.proc.Kill()
			s.proc = nil
			continue
		}
		up = append(up, ops.Server{Name: fmt.Sprint(s.id), Addr: s.client})
		survivor = s
	}
	modes = roles(up)
	modes[leader] = "unreachable"
	if got := page(survivor, ""); fmt.Sprint(got) != fmt.Sprint(modes) {
		t.Errorf("after the leader %s was killed, server %d's page shows %v, want %v", leader, survivor.id, got, modes)
	}
}
