package interop

import (
	"bytes"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Scenarios for github.com/go-zookeeper/zk v1.0.4. Each prints results, error
// strings as go-zookeeper returns them, Stat fields and watch events.

func TestGoZookeeper(t *testing.T) {
	compare(t, "create-modes", gozkCreateModes)
	compare(t, "stat-evolution", gozkStatEvolution)
	compare(t, "errors", gozkErrors)
	compare(t, "sequential", gozkSequential)
	compare(t, "children-exists-data", gozkChildrenExistsData)
	compare(t, "watches", gozkWatches)
	compare(t, "multi", gozkMulti)
	compare(t, "acl", gozkACL)
	compare(t, "session-close-and-expiry", gozkSessionEnd)
	compare(t, "watches-across-reconnect", gozkSetWatches)
	compare(t, "sync", gozkSync)
	compare(t, "large-data", gozkLargeData)
}

var openACL = zk.WorldACL(zk.PermAll)

type silentLogger struct{}

func (silentLogger) Printf(string, ...any) {}

// gozkSession is a go-zookeeper connection plus the session events it saw.
type gozkSession struct {
	*zk.Conn
	states chan zk.State
}

// gozkConnect opens a session and waits until it is established.
func gozkConnect(t *testing.T, addr string, timeout time.Duration) *gozkSession {
	t.Helper()
	return gozkConnectVia(t, addr, timeout, nil)
}

// gozkConnectVia is gozkConnect with a custom dialer (nil: the default).
func gozkConnectVia(t *testing.T, addr string, timeout time.Duration, dialer zk.Dialer) *gozkSession {
	t.Helper()
	states := make(chan zk.State, 256)
	onEvent := zk.WithEventCallback(func(ev zk.Event) {
		if ev.Type == zk.EventSession {
			select {
			case states <- ev.State:
			default:
			}
		}
	})
	if dialer == nil {
		dialer = net.DialTimeout
	}
	conn, _, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(silentLogger{}), onEvent, zk.WithDialer(dialer))
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	s := &gozkSession{Conn: conn, states: states}
	t.Cleanup(conn.Close)
	if !s.waitState(zk.StateHasSession, 15*time.Second) {
		t.Fatalf("no session with %s after 15 s", addr)
	}
	return s
}

// waitState consumes session states until want shows up.
func (s *gozkSession) waitState(want zk.State, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case st := <-s.states:
			if st == want {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

func errStr(err error) string {
	if err == nil {
		return "ok"
	}
	return "err=" + err.Error()
}

func fmtStat(s *zk.Stat) string {
	if s == nil {
		return "stat=nil"
	}
	return fmt.Sprintf("czxid=0x%x mzxid=0x%x pzxid=0x%x ctime=%d mtime=%d version=%d cversion=%d aversion=%d ephemeralOwner=0x%x dataLength=%d numChildren=%d",
		s.Czxid, s.Mzxid, s.Pzxid, s.Ctime, s.Mtime, s.Version, s.Cversion, s.Aversion, s.EphemeralOwner, s.DataLength, s.NumChildren)
}

func fmtACL(acl []zk.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = fmt.Sprintf("%s:%s perms=%d", a.Scheme, a.ID, a.Perms)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func fmtEvent(ev zk.Event) string {
	s := fmt.Sprintf("%s path=%s state=%s", ev.Type, ev.Path, ev.State)
	if ev.Err != nil {
		s += " " + errStr(ev.Err)
	}
	return s
}

// pollEvent reports the event on ch if one is already there.
func pollEvent(ch <-chan zk.Event) string {
	select {
	case ev, ok := <-ch:
		if !ok {
			return "channel closed"
		}
		return fmtEvent(ev)
	default:
		return "no event"
	}
}

func waitEvent(ch <-chan zk.Event, timeout time.Duration) string {
	select {
	case ev, ok := <-ch:
		if !ok {
			return "channel closed"
		}
		return fmtEvent(ev)
	case <-time.After(timeout):
		return fmt.Sprintf("no event within %v", timeout)
	}
}

func (s *gozkSession) statOf(path string) string {
	ok, st, err := s.Exists(path)
	if err != nil {
		return errStr(err)
	}
	if !ok {
		return "exists=false"
	}
	return fmtStat(st)
}

func gozkCreateModes(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	tr.printf("session=0x%x", c.SessionID())
	root := "/gozk-modes"
	p, err := c.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create %s: %q %s", root, p, errStr(err))

	type creation struct {
		label string
		do    func() (string, error)
	}
	creations := []creation{
		{"persistent", func() (string, error) { return c.Create(root+"/persistent", []byte("p"), zk.FlagPersistent, openACL) }},
		{"ephemeral", func() (string, error) { return c.Create(root+"/ephemeral", []byte("e"), zk.FlagEphemeral, openACL) }},
		{"sequential", func() (string, error) { return c.Create(root+"/seq-", []byte("s1"), zk.FlagSequence, openACL) }},
		{"sequential", func() (string, error) { return c.Create(root+"/seq-", []byte("s2"), zk.FlagSequence, openACL) }},
		{"ephemeral-sequential", func() (string, error) {
			return c.Create(root+"/eseq-", []byte("es"), zk.FlagEphemeralSequential, openACL)
		}},
		{"container", func() (string, error) {
			return c.CreateContainer(root+"/container", []byte("c"), zk.FlagContainer, openACL)
		}},
		{"ttl", func() (string, error) {
			return c.CreateTTL(root+"/ttl", []byte("t"), zk.FlagTTL, openACL, 10*time.Minute)
		}},
		{"ttl-sequential", func() (string, error) {
			return c.CreateTTL(root+"/tseq-", []byte("ts"), zk.FlagPersistentSequentialWithTTL, openACL, 10*time.Minute)
		}},
		{"ttl 0 ms", func() (string, error) { return c.CreateTTL(root+"/ttl0", nil, zk.FlagTTL, openACL, 0) }},
		{"ttl 2^40 ms (above the 40-bit limit)", func() (string, error) {
			return c.CreateTTL(root+"/ttlbig", nil, zk.FlagTTL, openACL, time.Duration(1<<40)*time.Millisecond)
		}},
		{"ttl 2^40-1 ms (largest)", func() (string, error) {
			return c.CreateTTL(root+"/ttlmax", nil, zk.FlagTTL, openACL, time.Duration(1<<40-1)*time.Millisecond)
		}},
		{"container under ephemeral", func() (string, error) {
			return c.CreateContainer(root+"/ephemeral/c", nil, zk.FlagContainer, openACL)
		}},
		{"ttl under ephemeral", func() (string, error) {
			return c.CreateTTL(root+"/ephemeral/t", nil, zk.FlagTTL, openACL, time.Minute)
		}},
	}
	// Create (opcode 1) with a container or TTL flag: go-zookeeper sends
	// container flags with the plain create opcode, and TTL flags only inside
	// a multi.
	creations = append(creations,
		creation{"container flag via plain create", func() (string, error) {
			return c.Create(root+"/container-op1", []byte("c1"), zk.FlagContainer, openACL)
		}},
		creation{"container flag in multi create", func() (string, error) { return multiCreate(c, root+"/container-multi", zk.FlagContainer) }},
		creation{"ttl flag in multi create", func() (string, error) { return multiCreate(c, root+"/ttl-multi", zk.FlagTTL) }},
		creation{"ttl-sequential flag in multi create", func() (string, error) {
			return multiCreate(c, root+"/ttlseq-multi-", zk.FlagPersistentSequentialWithTTL)
		}},
		creation{"flag 7 in multi create", func() (string, error) { return multiCreate(c, root+"/flag7", 7) }},
		creation{"flag -1 in multi create", func() (string, error) { return multiCreate(c, root+"/flagneg", -1) }},
	)
	var created []string
	for _, cr := range creations {
		p, err := cr.do()
		tr.printf("create %s: %q %s", cr.label, p, errStr(err))
		if err == nil {
			created = append(created, p)
		}
	}
	for _, p := range created {
		data, st, err := c.Get(p)
		tr.printf("get %s: data=%q %s %s", p, data, fmtStat(st), errStr(err))
	}
	children, st, err := c.Children(root)
	sort.Strings(children)
	tr.printf("children %s: %v %s %s", root, children, fmtStat(st), errStr(err))
	return tr.String()
}

// multiCreate sends a create op (type 1) with arbitrary flags inside a multi,
// which go-zookeeper does not check.
func multiCreate(c *gozkSession, path string, flags int32) (string, error) {
	res, err := c.Multi(&zk.CreateRequest{Path: path, Data: []byte("m"), Acl: openACL, Flags: flags})
	if err != nil {
		return "", err
	}
	if len(res) != 1 {
		return "", fmt.Errorf("%d results", len(res))
	}
	return res[0].String, res[0].Error
}

func gozkStatEvolution(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	root := "/gozk-stat"
	step := func(what string, err error) {
		tr.printf("%s: %s", what, errStr(err))
		tr.printf("  %s %s", root, c.statOf(root))
	}
	_, err := c.Create(root, []byte(""), zk.FlagPersistent, openACL)
	step("create root with empty data", err)
	_, err = c.Create(root+"/a", []byte("aa"), zk.FlagPersistent, openACL)
	step("create child a", err)
	tr.printf("  a: %s", c.statOf(root+"/a"))
	_, err = c.Create(root+"/b", nil, zk.FlagEphemeral, openACL)
	step("create ephemeral child b", err)
	st, err := c.Set(root, []byte("hello"), 0)
	tr.printf("set root version 0 returned: %s %s", fmtStat(st), errStr(err))
	st, err = c.Set(root, []byte("hello world"), -1)
	tr.printf("set root version -1 returned: %s %s", fmtStat(st), errStr(err))
	st, err = c.Set(root, nil, 2)
	tr.printf("set root nil data version 2 returned: %s %s", fmtStat(st), errStr(err))
	err = c.Delete(root+"/a", -1)
	step("delete child a", err)
	err = c.Delete(root+"/b", 0)
	step("delete child b version 0", err)
	st, err = c.SetACL(root, zk.WorldACL(zk.PermAll), 0)
	tr.printf("setACL root version 0 returned: %s %s", fmtStat(st), errStr(err))
	st, err = c.SetACL(root, zk.WorldACL(zk.PermAll), -1)
	tr.printf("setACL root version -1 returned: %s %s", fmtStat(st), errStr(err))
	_, err = c.Create(root+"/a", nil, zk.FlagPersistent, openACL)
	step("re-create child a", err)

	// Does a failed write consume a zxid? Bracket it with two writes to root.
	st1, err1 := c.Set(root, []byte("x"), -1)
	_, err = c.Create(root+"/a", nil, zk.FlagPersistent, openACL)
	tr.printf("create existing a: %s", errStr(err))
	st2, err2 := c.Set(root, []byte("y"), -1)
	if err1 == nil && err2 == nil {
		tr.printf("mzxid advance across (set, failed create, set): %d", st2.Mzxid-st1.Mzxid)
	} else {
		tr.printf("bracketing sets: %s %s", errStr(err1), errStr(err2))
	}
	st1, err1 = c.Set(root, []byte("x"), -1)
	_, _, err = c.Get(root + "/missing")
	tr.printf("get missing: %s", errStr(err))
	st2, err2 = c.Set(root, []byte("y"), -1)
	if err1 == nil && err2 == nil {
		tr.printf("mzxid advance across (set, failed read, set): %d", st2.Mzxid-st1.Mzxid)
	}
	return tr.String()
}

func gozkErrors(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	root := "/gozk-errors"
	missing := root + "/missing"
	_, err := c.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create root: %s", errStr(err))

	_, _, err = c.Get(missing)
	tr.printf("get missing: %s", errStr(err))
	_, err = c.Set(missing, []byte("x"), -1)
	tr.printf("set missing: %s", errStr(err))
	err = c.Delete(missing, -1)
	tr.printf("delete missing: %s", errStr(err))
	_, _, err = c.Children(missing)
	tr.printf("children missing: %s", errStr(err))
	_, _, err = c.GetACL(missing)
	tr.printf("getACL missing: %s", errStr(err))
	_, err = c.SetACL(missing, openACL, -1)
	tr.printf("setACL missing: %s", errStr(err))
	_, err = c.Create(missing+"/child", nil, zk.FlagPersistent, openACL)
	tr.printf("create under missing parent: %s", errStr(err))
	_, err = c.Create(missing+"/seq-", nil, zk.FlagSequence, openACL)
	tr.printf("create sequential under missing parent: %s", errStr(err))

	_, err = c.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create existing: %s", errStr(err))
	_, err = c.Create(root+"/child", []byte("c"), zk.FlagPersistent, openACL)
	tr.printf("create child: %s", errStr(err))
	err = c.Delete(root, -1)
	tr.printf("delete non-empty: %s", errStr(err))

	_, err = c.Set(root, []byte("x"), 5)
	tr.printf("set version 5 (is 0): %s", errStr(err))
	err = c.Delete(root+"/child", 7)
	tr.printf("delete version 7 (is 0): %s", errStr(err))
	_, err = c.SetACL(root, openACL, 3)
	tr.printf("setACL version 3 (is 0): %s", errStr(err))
	_, err = c.Set(root, []byte("x"), -2)
	tr.printf("set version -2: %s", errStr(err))

	_, err = c.Create(root+"/eph", nil, zk.FlagEphemeral, openACL)
	tr.printf("create ephemeral: %s", errStr(err))
	_, err = c.Create(root+"/eph/child", nil, zk.FlagPersistent, openACL)
	tr.printf("create child of ephemeral: %s", errStr(err))
	_, err = c.Create(root+"/eph/seq-", nil, zk.FlagEphemeralSequential, openACL)
	tr.printf("create ephemeral-sequential child of ephemeral: %s", errStr(err))

	_, err = c.Create(root+"/emptyacl", nil, zk.FlagPersistent, []zk.ACL{})
	tr.printf("create with empty ACL: %s", errStr(err))
	_, err = c.Create(root+"/nilacl", nil, zk.FlagPersistent, nil)
	tr.printf("create with nil ACL: %s", errStr(err))
	_, err = c.SetACL(root+"/child", []zk.ACL{}, -1)
	tr.printf("setACL empty: %s", errStr(err))
	_, err = c.Create(root+"/authacl", nil, zk.FlagPersistent, zk.AuthACL(zk.PermAll))
	tr.printf("create with auth ACL and no auth: %s", errStr(err))
	_, err = c.Create(root+"/badscheme", nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "bogus", ID: "x"}})
	tr.printf("create with unknown ACL scheme: %s", errStr(err))
	_, err = c.Create(root+"/baddigest", nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "nocolon"}})
	tr.printf("create with malformed digest id: %s", errStr(err))
	_, err = c.Create(root+"/badip", nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "300.1.2.3"}})
	tr.printf("create with malformed ip id: %s", errStr(err))
	_, err = c.Create(root+"/badworld", nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "world", ID: "someone"}})
	tr.printf("create with world:someone: %s", errStr(err))
	_, err = c.Create(root+"/noperms", nil, zk.FlagPersistent, zk.WorldACL(0))
	tr.printf("create with world:anyone perms 0: %s", errStr(err))
	_, _, err = c.Get(root + "/noperms")
	tr.printf("get node with perms 0: %s", errStr(err))

	err = c.Delete("/", -1)
	tr.printf("delete /: %s", errStr(err))
	_, err = c.Create("/", nil, zk.FlagPersistent, openACL)
	tr.printf("create /: %s", errStr(err))
	err = c.Delete("/zookeeper", -1)
	tr.printf("delete /zookeeper: %s", errStr(err))
	err = c.Delete("/zookeeper/quota", -1)
	tr.printf("delete /zookeeper/quota: %s", errStr(err))
	_, err = c.Set("/zookeeper/config", []byte("x"), -1)
	tr.printf("set /zookeeper/config: %s", errStr(err))
	_, err = c.Create("/zookeeper/gozk-errors", nil, zk.FlagEphemeral, openACL)
	tr.printf("create ephemeral /zookeeper/gozk-errors: %s", errStr(err))
	return tr.String()
}

func gozkSequential(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	root := "/gozk-seq"
	create := func(path string, flags int32) string {
		p, err := c.Create(path, nil, flags, openACL)
		tr.printf("create %s flags=%d: %q %s", path, flags, p, errStr(err))
		return p
	}
	create(root, zk.FlagPersistent)
	var seqs []string
	for range 3 {
		seqs = append(seqs, create(root+"/n-", zk.FlagSequence))
	}
	tr.printf("delete %s: %s", seqs[1], errStr(c.Delete(seqs[1], -1)))
	create(root+"/n-", zk.FlagSequence)
	create(root+"/plain", zk.FlagPersistent)
	create(root+"/n-", zk.FlagSequence)
	create(root+"/m-", zk.FlagSequence)
	create(root+"/e-", zk.FlagEphemeralSequential)
	create(root+"/", zk.FlagSequence)
	children, _, err := c.Children(root)
	sort.Strings(children)
	tr.printf("children: %v %s", children, errStr(err))
	for _, ch := range children {
		tr.printf("delete %s: %s", ch, errStr(c.Delete(root+"/"+ch, -1)))
	}
	tr.printf("root after deleting all: %s", c.statOf(root))
	create(root+"/n-", zk.FlagSequence)
	tr.printf("delete root's child and root: %s %s", errStr(c.Delete(root+"/n-0000000009", -1)), errStr(c.Delete(root, -1)))
	create(root, zk.FlagPersistent)
	create(root+"/n-", zk.FlagSequence)
	// A sequential node's name carries the parent's counter, not a per-prefix one.
	create(root+"/sub", zk.FlagPersistent)
	create(root+"/sub/n-", zk.FlagSequence)
	create(root+"/n-", zk.FlagSequence)
	return tr.String()
}

func gozkChildrenExistsData(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	root := "/gozk-children"
	_, err := c.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create root: %s", errStr(err))
	children, st, err := c.Children(root)
	tr.printf("children of empty: %v (nil=%v) %s %s", children, children == nil, fmtStat(st), errStr(err))
	for _, name := range []string{"zeta", "alpha", "mid", "b10", "b9"} {
		_, err := c.Create(root+"/"+name, []byte(name), zk.FlagPersistent, openACL)
		tr.printf("create %s: %s", name, errStr(err))
	}
	children, st, err = c.Children(root)
	sort.Strings(children)
	tr.printf("children (sorted): %v %s %s", children, fmtStat(st), errStr(err))

	ok, st, err := c.Exists(root + "/nope")
	tr.printf("exists missing: %v %s %s", ok, fmtStat(st), errStr(err))
	ok, st, err = c.Exists(root + "/nope/deeper")
	tr.printf("exists missing deeper: %v %s %s", ok, fmtStat(st), errStr(err))
	ok, st, err = c.Exists(root + "/alpha")
	tr.printf("exists alpha: %v %s %s", ok, fmtStat(st), errStr(err))

	// null data and empty data are distinct on the wire.
	for _, d := range []struct {
		name string
		data []byte
	}{{"nil", nil}, {"empty", []byte{}}, {"binary", []byte{0, 1, 2, 0xff}}, {"utf8", []byte("héllo ☃")}} {
		path := root + "/data-" + d.name
		_, err := c.Create(path, d.data, zk.FlagPersistent, openACL)
		got, st, gerr := c.Get(path)
		tr.printf("data %s: create %s, get %q nil=%v dataLength=%d %s", d.name, errStr(err), got, got == nil, statDataLength(st), errStr(gerr))
	}
	st, err = c.Set(root+"/data-empty", nil, -1)
	got, _, gerr := c.Get(root + "/data-empty")
	tr.printf("set empty->nil: %s, get %q nil=%v dataLength=%d %s", errStr(err), got, got == nil, statDataLength(st), errStr(gerr))

	children, st, err = c.Children("/")
	tr.printf("root / has zookeeper child: %v, stat numChildren>=2: %v %s", contains(children, "zookeeper"), st != nil && st.NumChildren >= 2, errStr(err))
	children, _, err = c.Children("/zookeeper")
	sort.Strings(children)
	tr.printf("children /zookeeper: %v %s", children, errStr(err))
	data, st, err := c.Get("/zookeeper")
	tr.printf("get /zookeeper: %q %s %s", data, fmtStatNoTimes(st), errStr(err))
	acl, _, err := c.GetACL("/zookeeper/config")
	tr.printf("getACL /zookeeper/config: %s %s", fmtACL(acl), errStr(err))
	acl, _, err = c.GetACL("/")
	tr.printf("getACL /: %s %s", fmtACL(acl), errStr(err))
	return tr.String()
}

// fmtStatNoTimes is for nodes created when the server started: their zxids
// and times depend on server history, not on the scenario.
func fmtStatNoTimes(s *zk.Stat) string {
	if s == nil {
		return "stat=nil"
	}
	return fmt.Sprintf("version=%d aversion=%d ephemeralOwner=0x%x dataLength=%d numChildren=%d",
		s.Version, s.Aversion, s.EphemeralOwner, s.DataLength, s.NumChildren)
}

func statDataLength(st *zk.Stat) int32 {
	if st == nil {
		return -1
	}
	return st.DataLength
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func gozkWatches(t *testing.T, addr string) string {
	var tr transcript
	w := gozkConnect(t, addr, 10*time.Second) // sets watches
	m := gozkConnect(t, addr, 10*time.Second) // changes things
	root := "/gozk-watch"
	must := func(what string, err error) {
		if err != nil {
			tr.printf("%s: %s", what, errStr(err))
		}
	}
	_, err := m.Create(root, nil, zk.FlagPersistent, openACL)
	must("create root", err)
	_, err = m.Create(root+"/d", []byte("1"), zk.FlagPersistent, openACL)
	must("create d", err)

	// settle makes sure every notification caused by m's completed writes has
	// reached w: the server answers w's sync only after those.
	settle := func() {
		_, err := w.Sync(root)
		must("sync", err)
	}
	report := func(label string, ch <-chan zk.Event) {
		tr.printf("  %s: %s", label, pollEvent(ch))
	}

	tr.printf("data watch, other session sets data twice:")
	_, _, dw, err := w.GetW(root + "/d")
	must("getw", err)
	_, err = m.Set(root+"/d", []byte("2"), -1)
	must("set", err)
	settle()
	report("data watch", dw)
	_, err = m.Set(root+"/d", []byte("3"), -1)
	must("set", err)
	settle()
	report("data watch after 2nd set (one-shot)", dw)

	tr.printf("exist watch on missing node, then create and delete:")
	ok, _, ew, err := w.ExistsW(root + "/e")
	tr.printf("  exists=%v %s", ok, errStr(err))
	_, err = m.Create(root+"/e", nil, zk.FlagPersistent, openACL)
	must("create e", err)
	settle()
	report("exist watch", ew)
	must("delete e", m.Delete(root+"/e", -1))
	settle()
	report("exist watch after delete (one-shot)", ew)

	tr.printf("exist watch on existing node, set then delete:")
	_, err = m.Create(root+"/e2", nil, zk.FlagPersistent, openACL)
	must("create e2", err)
	ok, _, ew, err = w.ExistsW(root + "/e2")
	tr.printf("  exists=%v %s", ok, errStr(err))
	_, err = m.Set(root+"/e2", []byte("x"), -1)
	must("set e2", err)
	settle()
	report("exist watch after set", ew)
	_, _, ew, err = w.ExistsW(root + "/e2")
	must("existsw e2", err)
	must("delete e2", m.Delete(root+"/e2", -1))
	settle()
	report("exist watch after delete", ew)

	tr.printf("child watch: set data on parent, then create a child:")
	_, _, cw, err := w.ChildrenW(root)
	must("childrenw", err)
	_, err = m.Set(root, []byte("x"), -1)
	must("set root", err)
	settle()
	report("child watch after parent setData", cw)
	_, err = m.Create(root+"/c1", nil, zk.FlagPersistent, openACL)
	must("create c1", err)
	settle()
	report("child watch after create", cw)

	tr.printf("child watch: set data on a child (no event), then delete it:")
	_, _, cw, err = w.ChildrenW(root)
	must("childrenw", err)
	_, err = m.Set(root+"/c1", []byte("y"), -1)
	must("set c1", err)
	settle()
	report("child watch after child setData", cw)
	must("delete c1", m.Delete(root+"/c1", -1))
	settle()
	report("child watch after child delete", cw)

	tr.printf("delete a node watched every way, and its parent's children:")
	_, err = m.Create(root+"/x", []byte("x"), zk.FlagPersistent, openACL)
	must("create x", err)
	_, _, xd, err := w.GetW(root + "/x")
	must("getw x", err)
	_, _, xe, err := w.ExistsW(root + "/x")
	must("existsw x", err)
	_, _, xc, err := w.ChildrenW(root + "/x")
	must("childrenw x", err)
	_, _, pc, err := w.ChildrenW(root)
	must("childrenw root", err)
	must("delete x", m.Delete(root+"/x", -1))
	settle()
	report("data watch on x", xd)
	report("exist watch on x", xe)
	report("child watch on x", xc)
	report("child watch on parent", pc)

	tr.printf("setACL fires nothing:")
	_, _, dw, err = w.GetW(root + "/d")
	must("getw d", err)
	_, err = m.SetACL(root+"/d", openACL, -1)
	must("setacl d", err)
	settle()
	report("data watch after setACL", dw)
	_, err = m.Set(root+"/d", []byte("4"), -1)
	must("set d", err)
	settle()
	report("same data watch after set", dw)

	tr.printf("one multi creating two children fires one child event:")
	_, _, cw, err = w.ChildrenW(root)
	must("childrenw", err)
	_, err = m.Multi(
		&zk.CreateRequest{Path: root + "/m1", Acl: openACL},
		&zk.CreateRequest{Path: root + "/m2", Acl: openACL},
	)
	must("multi", err)
	settle()
	report("child watch", cw)
	report("child watch again", cw)

	tr.printf("own session's write: the event is there when the write returns:")
	_, _, dw, err = w.GetW(root + "/d")
	must("getw d", err)
	_, err = w.Set(root+"/d", []byte("5"), -1)
	must("own set", err)
	report("data watch right after own set", dw)

	tr.printf("ephemeral deleted by its session's close:")
	e := gozkConnect(t, addr, 10*time.Second)
	_, err = e.Create(root+"/eph", nil, zk.FlagEphemeral, openACL)
	must("create eph", err)
	_, _, ed, err := w.GetW(root + "/eph")
	must("getw eph", err)
	_, _, pc, err = w.ChildrenW(root)
	must("childrenw root", err)
	e.Close()
	tr.printf("  data watch: %s", waitEvent(ed, 10*time.Second))
	tr.printf("  parent child watch: %s", waitEvent(pc, 10*time.Second))
	return tr.String()
}

func fmtMulti(res []zk.MultiResponse) string {
	var b strings.Builder
	for i, r := range res {
		st := "stat=nil"
		if r.Stat != nil {
			st = fmtStat(r.Stat)
		}
		fmt.Fprintf(&b, "  op[%d]: string=%q %s %s\n", i, r.String, st, errStr(r.Error))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func gozkMulti(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	root := "/gozk-multi"
	_, err := c.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create root: %s", errStr(err))

	res, err := c.Multi(
		&zk.CreateRequest{Path: root + "/a", Data: []byte("a"), Acl: openACL},
		&zk.CreateRequest{Path: root + "/b", Data: []byte("b"), Acl: openACL, Flags: zk.FlagEphemeral},
		&zk.CreateRequest{Path: root + "/s-", Acl: openACL, Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: root + "/a", Data: []byte("a2"), Version: 0},
		&zk.CheckVersionRequest{Path: root + "/b", Version: 0},
		&zk.DeleteRequest{Path: root + "/a", Version: -1},
	)
	tr.printf("multi success: %s (%d results)", errStr(err), len(res))
	tr.printf("%s", fmtMulti(res))
	tr.printf("root after: %s", c.statOf(root))

	res, err = c.Multi(
		&zk.CreateRequest{Path: root + "/c", Acl: openACL},
		&zk.SetDataRequest{Path: root + "/b", Data: []byte("b2"), Version: -1},
		&zk.CheckVersionRequest{Path: root + "/b", Version: 5},
		&zk.CreateRequest{Path: root + "/d", Acl: openACL},
		&zk.DeleteRequest{Path: root + "/b", Version: -1},
	)
	tr.printf("multi failing at check: %s (%d results)", errStr(err), len(res))
	tr.printf("%s", fmtMulti(res))
	tr.printf("c after failed multi: %s", c.statOf(root+"/c"))
	tr.printf("b after failed multi: %s", c.statOf(root+"/b"))

	res, err = c.Multi(
		&zk.CreateRequest{Path: root + "/b", Acl: openACL},
		&zk.CreateRequest{Path: root + "/e", Acl: openACL},
	)
	tr.printf("multi failing at first op: %s (%d results)", errStr(err), len(res))
	tr.printf("%s", fmtMulti(res))

	res, err = c.Multi(
		&zk.CreateRequest{Path: root + "/f", Acl: openACL},
		&zk.DeleteRequest{Path: root + "/missing", Version: -1},
	)
	tr.printf("multi failing at last op: %s (%d results)", errStr(err), len(res))
	tr.printf("%s", fmtMulti(res))

	res, err = c.Multi(
		&zk.CreateRequest{Path: root + "/g", Acl: openACL},
		&zk.CreateRequest{Path: root + "/g/h", Acl: openACL},
		&zk.DeleteRequest{Path: root + "/g/h", Version: 0},
		&zk.DeleteRequest{Path: root + "/g", Version: 0},
	)
	tr.printf("multi seeing its own earlier ops: %s (%d results)", errStr(err), len(res))
	tr.printf("%s", fmtMulti(res))

	res, err = c.Multi(
		&zk.CreateRequest{Path: root + "/acl", Acl: []zk.ACL{}},
	)
	tr.printf("multi with empty ACL: %s (%d results)", errStr(err), len(res))
	tr.printf("%s", fmtMulti(res))

	res, err = c.Multi()
	tr.printf("empty multi: %s (%d results)", errStr(err), len(res))

	children, _, err := c.Children(root)
	sort.Strings(children)
	tr.printf("children: %v %s", children, errStr(err))
	tr.printf("root: %s", c.statOf(root))
	return tr.String()
}

func gozkACL(t *testing.T, addr string) string {
	var tr transcript
	root := "/gozk-acl"
	alice := gozkConnect(t, addr, 10*time.Second)
	anon := gozkConnect(t, addr, 10*time.Second)
	tr.printf("alice addAuth: %s", errStr(alice.AddAuth("digest", []byte("alice:secret"))))
	_, err := alice.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create root: %s", errStr(err))

	private := root + "/private"
	_, err = alice.Create(private, []byte("secret"), zk.FlagPersistent, zk.AuthACL(zk.PermAll))
	tr.printf("alice creates private with auth ACL: %s", errStr(err))
	acl, st, err := alice.GetACL(private)
	tr.printf("alice getACL private: %s aversion=%d %s", fmtACL(acl), statAversion(st), errStr(err))
	tr.printf("digest id computed by the client: %s", fmtACL(zk.DigestACL(zk.PermAll, "alice", "secret")))

	_, _, err = anon.Get(private)
	tr.printf("anon get private: %s", errStr(err))
	_, err = anon.Set(private, []byte("x"), -1)
	tr.printf("anon set private: %s", errStr(err))
	_, _, err = anon.Children(private)
	tr.printf("anon children private: %s", errStr(err))
	ok, st, err := anon.Exists(private)
	tr.printf("anon exists private (no ACL check): %v %s %s", ok, fmtStat(st), errStr(err))
	acl, _, err = anon.GetACL(private)
	tr.printf("anon getACL private: %s %s", fmtACL(acl), errStr(err))
	_, err = anon.SetACL(private, openACL, -1)
	tr.printf("anon setACL private: %s", errStr(err))
	_, err = anon.Create(private+"/c", nil, zk.FlagPersistent, openACL)
	tr.printf("anon create under private: %s", errStr(err))
	tr.printf("anon addAuth alice with wrong password: %s", errStr(anon.AddAuth("digest", []byte("alice:wrong"))))
	_, _, err = anon.Get(private)
	tr.printf("anon (wrong password) get private: %s", errStr(err))

	// One node per permission: world:anyone has only that bit, alice has all.
	perms := []struct {
		name string
		bit  int32
	}{{"read", zk.PermRead}, {"write", zk.PermWrite}, {"create", zk.PermCreate}, {"delete", zk.PermDelete}, {"admin", zk.PermAdmin}}
	for _, p := range perms {
		node := root + "/only-" + p.name
		acl := append(zk.WorldACL(p.bit), zk.DigestACL(zk.PermAll, "alice", "secret")...)
		_, err := alice.Create(node, []byte(p.name), zk.FlagPersistent, acl)
		if err != nil {
			tr.printf("create %s: %s", node, errStr(err))
			continue
		}
		_, err = alice.Create(node+"/victim", nil, zk.FlagPersistent, openACL)
		if err != nil {
			tr.printf("create %s/victim: %s", node, errStr(err))
		}
		_, _, getErr := anon.Get(node)
		_, setErr := anon.Set(node, []byte("w"), -1)
		_, createErr := anon.Create(node+"/new", nil, zk.FlagPersistent, openACL)
		deleteErr := anon.Delete(node+"/victim", -1)
		_, _, childrenErr := anon.Children(node)
		gotACL, _, getACLErr := anon.GetACL(node)
		_, setACLErr := anon.SetACL(node, acl, -1)
		tr.printf("world:anyone %s only -> get %s | set %s | create child %s | delete child %s | children %s | getACL %s %s | setACL %s",
			p.name, errStr(getErr), errStr(setErr), errStr(createErr), errStr(deleteErr), errStr(childrenErr),
			fmtACL(gotACL), errStr(getACLErr), errStr(setACLErr))
	}

	st, err = alice.SetACL(private, zk.AuthACL(zk.PermAll), 0)
	tr.printf("alice setACL private version 0: aversion=%d %s", statAversion(st), errStr(err))
	st, err = alice.SetACL(private, zk.AuthACL(zk.PermAll), 0)
	tr.printf("alice setACL private version 0 again: aversion=%d %s", statAversion(st), errStr(err))
	tr.printf("alice private stat: %s", alice.statOf(private))

	tr.printf("alice adds carol: %s", errStr(alice.AddAuth("digest", []byte("carol:pw2"))))
	_, err = alice.Create(root+"/shared", nil, zk.FlagPersistent, zk.AuthACL(zk.PermRead|zk.PermWrite))
	tr.printf("create shared with auth ACL (two identities): %s", errStr(err))
	acl, _, err = alice.GetACL(root + "/shared")
	tr.printf("getACL shared: %s %s", fmtACL(acl), errStr(err))
	_, err = alice.Create(root+"/mixed", nil, zk.FlagPersistent,
		append(zk.AuthACL(zk.PermRead), zk.WorldACL(zk.PermRead)...))
	tr.printf("create mixed auth+world ACL: %s", errStr(err))
	acl, _, err = alice.GetACL(root + "/mixed")
	tr.printf("getACL mixed: %s %s", fmtACL(acl), errStr(err))
	_, err = alice.Create(root+"/bob", nil, zk.FlagPersistent, zk.DigestACL(zk.PermAll, "bob", "pw"))
	tr.printf("alice creates node only bob may use: %s", errStr(err))
	_, _, err = alice.Get(root + "/bob")
	tr.printf("alice get bob's node: %s", errStr(err))

	super := gozkConnect(t, addr, 10*time.Second)
	tr.printf("super addAuth: %s", errStr(super.AddAuth("digest", []byte(superPassword))))
	data, _, err := super.Get(root + "/bob")
	tr.printf("super get bob's node: %q %s", data, errStr(err))
	data, _, err = super.Get(private)
	tr.printf("super get private: %q %s", data, errStr(err))
	_, err = super.SetACL(root+"/bob", openACL, -1)
	tr.printf("super setACL bob's node to open: %s", errStr(err))
	_, _, err = anon.Get(root + "/bob")
	tr.printf("anon get bob's node now: %s", errStr(err))

	for _, ip := range []struct{ id, label string }{
		{"127.0.0.1", "own address"}, {"127.0.0.0/8", "own /8"}, {"10.1.2.3", "other address"}, {"10.0.0.0/8", "other /8"},
	} {
		node := root + "/ip-" + strings.NewReplacer(".", "_", "/", "_").Replace(ip.id)
		_, err := alice.Create(node, []byte("ip"), zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: ip.id}})
		_, _, getErr := anon.Get(node)
		acl, _, _ := super.GetACL(node)
		tr.printf("ip:%s (%s): create %s, anon get %s, acl %s", ip.id, ip.label, errStr(err), errStr(getErr), fmtACL(acl))
	}

	// An unknown auth scheme: the server answers AuthFailed and closes the connection.
	bad := gozkConnect(t, addr, 10*time.Second)
	done := make(chan error, 1)
	go func() { done <- bad.AddAuth("nosuchscheme", []byte("x")) }()
	select {
	case err := <-done:
		tr.printf("addAuth unknown scheme: %s", errStr(err))
	case <-time.After(10 * time.Second):
		tr.printf("addAuth unknown scheme: no answer within 10 s")
	}
	sawAuthFailed := bad.waitState(zk.StateAuthFailed, 3*time.Second)
	tr.printf("session saw StateAuthFailed: %v", sawAuthFailed)
	return tr.String()
}

func statAversion(st *zk.Stat) int32 {
	if st == nil {
		return -1
	}
	return st.Aversion
}

// switchableDialer lets a test cut a client's TCP connection and keep it from
// reconnecting, while the session lives on in the server.
type switchableDialer struct {
	mu      sync.Mutex
	blocked bool
	conns   []net.Conn
}

func (d *switchableDialer) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blocked {
		return nil, fmt.Errorf("interop: dialing blocked by the test")
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *switchableDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blocked = true
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

func (d *switchableDialer) restore() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blocked = false
}

func gozkSessionEnd(t *testing.T, addr string) string {
	var tr transcript
	root := "/gozk-session"
	obs := gozkConnect(t, addr, 10*time.Second)
	_, err := obs.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create root: %s", errStr(err))

	// Close() ends the session at once and deletes its ephemerals.
	closer := gozkConnect(t, addr, 10*time.Second)
	_, err = closer.Create(root+"/closer", nil, zk.FlagEphemeral, openACL)
	tr.printf("closer creates ephemeral: %s", errStr(err))
	_, _, w1, err := obs.GetW(root + "/closer")
	tr.printf("observer watches it: %s", errStr(err))
	closer.Close()
	tr.printf("after Close: observer %s", waitEvent(w1, 5*time.Second))
	tr.printf("after Close: exists %s", obs.statOf(root+"/closer"))

	// Losing the connection for longer than the session timeout expires the
	// session: the server deletes its ephemerals; the client learns it on reconnect.
	dialer := &switchableDialer{}
	victim := gozkConnectVia(t, addr, 4*time.Second, dialer.dial)
	oldID := victim.SessionID()
	_, err = victim.Create(root+"/victim", []byte("v"), zk.FlagEphemeral, openACL)
	tr.printf("victim (4 s timeout) creates ephemeral: %s", errStr(err))
	tr.printf("victim ephemeral owner is victim: %v", ownerIs(obs, root+"/victim", oldID))
	_, _, vw, err := victim.GetW(root)
	tr.printf("victim watches root data: %s", errStr(err))
	_, _, w2, err := obs.ExistsW(root + "/victim")
	tr.printf("observer watches victim's node: %s", errStr(err))
	_, _, w3, err := obs.ChildrenW(root)
	tr.printf("observer watches root children: %s", errStr(err))
	start := time.Now()
	dialer.cut()
	tr.printf("victim connection cut; observer %s", waitEvent(w2, 30*time.Second))
	tr.printf("observer child watch: %s", waitEvent(w3, 5*time.Second))
	t.Logf("ephemeral removed %v after the cut", time.Since(start))
	tr.printf("victim node now: %s", obs.statOf(root+"/victim"))
	dialer.restore()
	tr.printf("victim saw StateExpired: %v", victim.waitState(zk.StateExpired, 30*time.Second))
	tr.printf("victim's data watch: %s", waitEvent(vw, 5*time.Second))
	if victim.waitState(zk.StateHasSession, 30*time.Second) {
		tr.printf("victim has a new session: %v", victim.SessionID() != oldID && victim.SessionID() != 0)
		ok, _, err := victim.Exists(root + "/victim")
		tr.printf("victim exists own old node: %v %s", ok, errStr(err))
	} else {
		tr.printf("victim did not get a new session")
	}
	return tr.String()
}

// gozkSetWatches loses a connection (not the session) while another session
// changes watched nodes; on reconnect go-zookeeper sends SetWatches with the
// last zxid it saw, and the server fires what was missed.
func gozkSetWatches(t *testing.T, addr string) string {
	var tr transcript
	root := "/gozk-setwatches"
	m := gozkConnect(t, addr, 10*time.Second)
	for _, p := range []string{root, root + "/changed", root + "/deleted", root + "/parent", root + "/same", root + "/quiet-parent", root + "/created-late"} {
		if _, err := m.Create(p, []byte("0"), zk.FlagPersistent, openACL); err != nil {
			tr.printf("create %s: %s", p, errStr(err))
		}
	}
	if err := m.Delete(root+"/created-late", -1); err != nil {
		tr.printf("delete created-late: %s", errStr(err))
	}
	dialer := &switchableDialer{}
	w := gozkConnectVia(t, addr, 10*time.Second, dialer.dial)
	id := w.SessionID()
	watches := []struct {
		label string
		set   func() (<-chan zk.Event, error)
	}{
		{"data watch on changed", func() (<-chan zk.Event, error) { _, _, ch, err := w.GetW(root + "/changed"); return ch, err }},
		{"data watch on deleted", func() (<-chan zk.Event, error) { _, _, ch, err := w.GetW(root + "/deleted"); return ch, err }},
		{"exist watch on created", func() (<-chan zk.Event, error) { _, _, ch, err := w.ExistsW(root + "/created"); return ch, err }},
		{"child watch on parent", func() (<-chan zk.Event, error) { _, _, ch, err := w.ChildrenW(root + "/parent"); return ch, err }},
		{"child watch on deleted", func() (<-chan zk.Event, error) { _, _, ch, err := w.ChildrenW(root + "/deleted"); return ch, err }},
		{"data watch on same", func() (<-chan zk.Event, error) { _, _, ch, err := w.GetW(root + "/same"); return ch, err }},
		{"exist watch on created-late", func() (<-chan zk.Event, error) {
			_, _, ch, err := w.ExistsW(root + "/created-late")
			return ch, err
		}},
		{"exist watch on missing", func() (<-chan zk.Event, error) { _, _, ch, err := w.ExistsW(root + "/missing"); return ch, err }},
		{"child watch on quiet-parent", func() (<-chan zk.Event, error) {
			_, _, ch, err := w.ChildrenW(root + "/quiet-parent")
			return ch, err
		}},
	}
	chans := make([]<-chan zk.Event, len(watches))
	for i, wt := range watches {
		ch, err := wt.set()
		if err != nil {
			tr.printf("%s: %s", wt.label, errStr(err))
		}
		chans[i] = ch
	}
	// Enough long paths that go-zookeeper splits SetWatches into several
	// packets (it caps each at 128 KB of paths, as the Java client does).
	many := manyWatchedNodes(t, &tr, m, w, root+"/many", 1200)
	dialer.cut()
	_, err := m.Set(root+"/changed", []byte("1"), -1)
	tr.printf("while disconnected: set changed %s", errStr(err))
	tr.printf("while disconnected: delete deleted %s", errStr(m.Delete(root+"/deleted", -1)))
	_, err = m.Create(root+"/created", nil, zk.FlagPersistent, openACL)
	tr.printf("while disconnected: create created %s", errStr(err))
	_, err = m.Create(root+"/parent/child", nil, zk.FlagPersistent, openACL)
	tr.printf("while disconnected: create parent/child %s", errStr(err))
	tr.printf("while disconnected: set %d watched nodes: %s", len(many.paths), errStr(many.setAll(m)))
	for i := range chans {
		if ev := pollEvent(chans[i]); ev != "no event" {
			tr.printf("%s fired before reconnect: %s", watches[i].label, ev)
		}
	}
	dialer.restore()
	tr.printf("reconnected with the same session: %v", w.waitState(zk.StateHasSession, 20*time.Second) && w.SessionID() == id)
	// The four missed changes fire on reconnect; wait for them, then check
	// that the others stayed quiet.
	for i := range 5 {
		tr.printf("%s: %s", watches[i].label, waitEvent(chans[i], 10*time.Second))
	}
	tr.printf("data watches on the %d nodes: %s", len(many.paths), many.collect(10*time.Second))
	_, err = w.Sync(root)
	tr.printf("sync: %s", errStr(err))
	for i := 5; i < len(chans); i++ {
		tr.printf("%s: %s", watches[i].label, pollEvent(chans[i]))
	}
	_, err = m.Set(root+"/same", []byte("1"), -1)
	tr.printf("after reconnect: set same %s", errStr(err))
	_, err = m.Create(root+"/created-late", nil, zk.FlagPersistent, openACL)
	tr.printf("after reconnect: create created-late %s", errStr(err))
	_, err = w.Sync(root)
	tr.printf("sync: %s", errStr(err))
	tr.printf("%s: %s", watches[5].label, pollEvent(chans[5]))
	tr.printf("%s: %s", watches[6].label, pollEvent(chans[6]))
	return tr.String()
}

// watchedNodes are many nodes with one data watch each.
type watchedNodes struct {
	paths []string
	chans []<-chan zk.Event
}

func manyWatchedNodes(t *testing.T, tr *transcript, m, w *gozkSession, dir string, n int) *watchedNodes {
	t.Helper()
	if _, err := m.Create(dir, nil, zk.FlagPersistent, openACL); err != nil {
		tr.printf("create %s: %s", dir, errStr(err))
	}
	nodes := &watchedNodes{}
	const batch = 100
	for i := 0; i < n; i += batch {
		var ops []any
		for j := i; j < min(i+batch, n); j++ {
			p := fmt.Sprintf("%s/%0110d", dir, j)
			nodes.paths = append(nodes.paths, p)
			ops = append(ops, &zk.CreateRequest{Path: p, Acl: openACL})
		}
		if _, err := m.Multi(ops...); err != nil {
			tr.printf("create batch at %d: %s", i, errStr(err))
		}
	}
	for _, p := range nodes.paths {
		_, _, ch, err := w.GetW(p)
		if err != nil {
			tr.printf("getw %s: %s", p, errStr(err))
		}
		nodes.chans = append(nodes.chans, ch)
	}
	return nodes
}

func (nodes *watchedNodes) setAll(m *gozkSession) error {
	const batch = 100
	for i := 0; i < len(nodes.paths); i += batch {
		var ops []any
		for _, p := range nodes.paths[i:min(i+batch, len(nodes.paths))] {
			ops = append(ops, &zk.SetDataRequest{Path: p, Data: []byte("x"), Version: -1})
		}
		if _, err := m.Multi(ops...); err != nil {
			return err
		}
	}
	return nil
}

// collect waits for one event per node and summarizes them.
func (nodes *watchedNodes) collect(timeout time.Duration) string {
	deadline := time.After(timeout)
	counts := map[string]int{}
	for i, ch := range nodes.chans {
		select {
		case ev, ok := <-ch:
			switch {
			case !ok:
				counts["channel closed"]++
			case ev.Path != nodes.paths[i]:
				counts["wrong path"]++
			default:
				counts[ev.Type.String()]++
			}
		case <-deadline:
			counts["missing"] += len(nodes.chans) - i
			return fmt.Sprint(counts)
		}
	}
	return fmt.Sprint(counts)
}

func ownerIs(c *gozkSession, path string, session int64) bool {
	_, st, err := c.Exists(path)
	return err == nil && st != nil && st.EphemeralOwner == session
}

func gozkSync(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	root := "/gozk-sync"
	_, err := c.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create root: %s", errStr(err))
	for _, p := range []string{root, "/", root + "/missing", "/zookeeper"} {
		got, err := c.Sync(p)
		tr.printf("sync %s: %q %s", p, got, errStr(err))
	}
	other := gozkConnect(t, addr, 10*time.Second)
	_, err = other.Set(root, []byte("after"), -1)
	tr.printf("other session sets root: %s", errStr(err))
	_, err = c.Sync(root)
	data, _, gerr := c.Get(root)
	tr.printf("sync then get sees it: %s %q %s", errStr(err), data, errStr(gerr))
	return tr.String()
}

func gozkLargeData(t *testing.T, addr string) string {
	var tr transcript
	c := gozkConnect(t, addr, 10*time.Second)
	root := "/gozk-large"
	_, err := c.Create(root, nil, zk.FlagPersistent, openACL)
	tr.printf("create root: %s", errStr(err))
	id := c.SessionID()

	// jute.maxbuffer (1048575) bounds the whole request frame, not just the data.
	// A create frame is 4 (length) + 8 (header) + 4+len(path) + 4+len(data) +
	// 4+1*(4+4+5+4+6) (world:anyone ACL) + 4 (flags).
	// Node names have the same length, so the overhead is the same for all.
	nodeName := func(i int) string { return fmt.Sprintf("%s/n%d", root, i) }
	overhead := 8 + 4 + len(nodeName(0)) + 4 + 4 + (4 + 4 + 5 + 4 + 6) + 4
	sizes := []struct {
		label string
		n     int
	}{
		{"1000000 bytes", 1000000},
		{"largest frame (1048575 - overhead)", 1048575 - overhead},
		{"one byte over the frame limit", 1048575 - overhead + 1},
		{"1 MiB", 1 << 20},
		{"1 MiB + 1", 1<<20 + 1},
	}
	for i, sz := range sizes {
		node := nodeName(i)
		data := bytes.Repeat([]byte{'z'}, sz.n)
		_, err := c.Create(node, data, zk.FlagPersistent, openACL)
		tr.printf("create %s (%d bytes): %s", sz.label, sz.n, errStr(err))
		if err != nil {
			ok := c.waitState(zk.StateHasSession, 15*time.Second)
			tr.printf("  session back: %v, same session id: %v", ok, c.SessionID() == id)
		}
		got, st, err := c.Get(node)
		tr.printf("  get: len=%d dataLength=%d %s", len(got), statDataLength(st), errStr(err))
	}
	st, err := c.Set(root, bytes.Repeat([]byte{'y'}, 1<<20), -1)
	tr.printf("set root to 1 MiB: %s %s", fmtStatOrNil(st, err), errStr(err))
	if err != nil {
		ok := c.waitState(zk.StateHasSession, 15*time.Second)
		tr.printf("  session back: %v, same session id: %v", ok, c.SessionID() == id)
	}
	tr.printf("root: %s", c.statOf(root))
	return tr.String()
}

func fmtStatOrNil(st *zk.Stat, err error) string {
	if err != nil {
		return ""
	}
	return fmtStat(st)
}
