package watch

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zkd/zkd/internal/proto"
	"pgregory.net/rapid"
)

type conn int64

const (
	created  = proto.EventNodeCreated
	deleted  = proto.EventNodeDeleted
	changed  = proto.EventNodeDataChanged
	children = proto.EventNodeChildrenChanged
)

func clients(cs ...conn) []Client {
	if len(cs) == 0 {
		return nil
	}
	out := make([]Client, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

// trigger returns the clients of m.Trigger after checking that every
// delivery carries the event itself.
func trigger(t interface {
	Helper()
	Fatalf(string, ...any)
}, m *Manager, path string, ev proto.EventType) []Client {
	t.Helper()
	var out []Client
	for _, d := range m.Trigger(path, ev) {
		if d.Path != path || d.Type != ev {
			t.Fatalf("Trigger(%s, %v) delivered %+v", path, ev, d)
		}
		out = append(out, d.Client)
	}
	return out
}

func expect(t *testing.T, m *Manager, path string, ev proto.EventType, want ...conn) {
	t.Helper()
	if got := trigger(t, m, path, ev); !slices.Equal(got, clients(want...)) {
		t.Fatalf("Trigger(%s, %v) = %v, want %v", path, ev, got, want)
	}
}

// The scenarios below were also run against Apache ZooKeeper 3.8.0 with a
// raw-protocol client counting the notifications each connection receives;
// the results were the same.

func TestOneShotWatches(t *testing.T) {
	m := NewManager()
	w := conn(1)
	m.Add("/n1", w, Data) // getData
	m.Add("/n1", w, Child)
	m.Add("/n1", w, Exist) // same table, same watch
	expect(t, m, "/n1", children, w)
	expect(t, m, "/n1", children) // used up
	m.Add("/n1", w, Child)
	// delete: data, exist and child watchers, each connection once.
	expect(t, m, "/n1", deleted, w)
	expect(t, m, "/n1", deleted)
	if n := m.WatchCount(); n != 0 {
		t.Fatalf("%d watches left", n)
	}
}

func TestExistWatchFiresOnCreate(t *testing.T) {
	m := NewManager()
	m.Add("/n2", conn(1), Data)
	m.Add("/n2", conn(1), Data)
	m.Add("/n2", conn(2), Data)
	expect(t, m, "/n2", created, 1, 2)
	expect(t, m, "/n2", changed)
}

func TestDataWatchIgnoresChildEvents(t *testing.T) {
	m := NewManager()
	m.Add("/a", conn(1), Data)
	expect(t, m, "/a", children)
	m.Add("/a", conn(2), Child)
	expect(t, m, "/a", changed, 1)
	expect(t, m, "/a", created)
}

func TestPersistentWatch(t *testing.T) {
	m := NewManager()
	w := conn(1)
	m.Add("/p", w, Persistent)
	expect(t, m, "/p", created, w)
	expect(t, m, "/p", children, w) // create /p/c
	expect(t, m, "/p", changed, w)
	expect(t, m, "/p", children, w) // delete /p/c
	expect(t, m, "/p", deleted, w)
	expect(t, m, "/p/c", created)  // not recursive
	expect(t, m, "/p", changed, w) // still there
}

func TestPersistentRecursiveWatch(t *testing.T) {
	m := NewManager()
	w := conn(1)
	m.Add("/r", w, PersistentRecursive)
	expect(t, m, "/r", created, w)
	expect(t, m, "/r", children) // never NodeChildrenChanged
	expect(t, m, "/r/c", created, w)
	expect(t, m, "/r/c/d", created, w)
	expect(t, m, "/r/c", changed, w)
	expect(t, m, "/r/c/d", deleted, w)
	expect(t, m, "/r/c", deleted, w)
	expect(t, m, "/r", deleted, w)
	expect(t, m, "/rr", created) // a sibling with a common prefix is not a descendant
	expect(t, m, "/", changed)
	m.Add("/", w, PersistentRecursive)
	expect(t, m, "/q", created, w)
	expect(t, m, "/", changed, w)
}

func TestEachClientOncePerTrigger(t *testing.T) {
	m := NewManager()
	w := conn(1)
	m.Add("/a", w, PersistentRecursive)
	m.Add("/a/b", w, PersistentRecursive)
	m.Add("/a/b", w, Persistent)
	m.Add("/a/b", w, Data)
	m.Add("/a/b", w, Child)
	expect(t, m, "/a/b", deleted, w)
	// The one-shot watches are gone, the others stay.
	for typ, want := range map[int32]bool{
		proto.WatcherData: false, proto.WatcherChildren: false,
		proto.WatcherPersistent: true, proto.WatcherPersistentRecursive: true,
	} {
		if got := m.Contains("/a/b", w, typ); got != want {
			t.Errorf("Contains(type %d) = %v, want %v", typ, got, want)
		}
	}
}

func TestStandardAndPersistentOnSamePath(t *testing.T) {
	// ZOOKEEPER-4466: modes on one path are independent.
	m := NewManager()
	w := conn(1)
	m.Add("/x", w, Persistent)
	m.Add("/x", w, Data)
	expect(t, m, "/x", changed, w)
	if m.Contains("/x", w, proto.WatcherData) || !m.Contains("/x", w, proto.WatcherPersistent) {
		t.Fatal("the one-shot watch must go and the persistent one stay")
	}
}

func TestDeliveryOrderIsRegistrationOrder(t *testing.T) {
	m := NewManager()
	for _, c := range []conn{5, 3, 9, 1} {
		m.Add("/o", c, Data)
	}
	m.Add("/o", conn(7), PersistentRecursive)
	m.Add("/", conn(2), PersistentRecursive)
	expect(t, m, "/o", changed, 5, 3, 9, 1, 7, 2)
}

func TestRemoveAndContainsByWatcherType(t *testing.T) {
	m := NewManager()
	w := conn(1)
	m.Add("/q", w, Data)
	m.Add("/q", w, Child)
	for _, tc := range []struct {
		typ  int32
		want bool
	}{{proto.WatcherData, true}, {proto.WatcherChildren, true}, {proto.WatcherAny, true}, {proto.WatcherPersistent, false}, {proto.WatcherPersistentRecursive, false}} {
		if got := m.Contains("/q", w, tc.typ); got != tc.want {
			t.Errorf("Contains(/q, %d) = %v, want %v", tc.typ, got, tc.want)
		}
	}
	if m.Contains("/nope", w, proto.WatcherAny) {
		t.Error("watch on a path never watched")
	}
	if !m.Remove("/q", w, proto.WatcherData) || m.Remove("/q", w, proto.WatcherData) {
		t.Error("remove data twice: want true then false")
	}
	if !m.Remove("/q", w, proto.WatcherAny) || m.Remove("/q", w, proto.WatcherAny) {
		t.Error("remove any twice: want true then false")
	}

	// ZOOKEEPER-4471/4472 (3.9): Data and Children no longer touch persistent
	// watches (Apache 3.8.0 still answers OK and removes the child half).
	m.Add("/q", w, Persistent)
	if m.Contains("/q", w, proto.WatcherData) || m.Contains("/q", w, proto.WatcherChildren) {
		t.Error("a persistent watch is not a standard watch")
	}
	if m.Remove("/q", w, proto.WatcherChildren) || m.Remove("/q", w, proto.WatcherData) {
		t.Error("standard removal took a persistent watch")
	}
	if m.Remove("/q", w, proto.WatcherPersistentRecursive) {
		t.Error("removed a recursive watch that does not exist")
	}
	if !m.Remove("/q", w, proto.WatcherPersistent) || m.WatchCount() != 0 {
		t.Error("persistent removal must take both halves")
	}
	m.Add("/q", w, PersistentRecursive)
	if !m.Remove("/q", w, proto.WatcherPersistentRecursive) {
		t.Error("recursive removal failed")
	}
	expect(t, m, "/q/x", created)
	if m.Remove("/q", w, 42) || m.Contains("/q", w, 42) {
		t.Error("unknown watcher type")
	}
}

func TestRemoveClient(t *testing.T) {
	m := NewManager()
	m.Add("/a", conn(1), Data)
	m.Add("/a", conn(1), PersistentRecursive)
	m.Add("/b", conn(1), Child)
	m.Add("/a", conn(2), Data)
	m.RemoveClient(conn(1))
	expect(t, m, "/a/x", created)
	expect(t, m, "/a", changed, 2)
	expect(t, m, "/b", children)
	if m.WatchCount() != 0 {
		t.Fatalf("%d watches left", m.WatchCount())
	}
}

func TestFourLetterWordCounts(t *testing.T) {
	// Apache 3.8.0 after stat -w /w, get -w /x, ls -w /x,
	// addWatch -m PERSISTENT /p, addWatch /r from one zkCli session:
	//   wchs: "1 connections watching 4 paths" / "Total watches:4"
	//   wchc / wchp: /p /r /w /x
	// mntr zk_watch_count was 7 on 3.8.0, which also put recursive watches in
	// the child table; 3.9 (ZOOKEEPER-4466) does not, giving 6.
	m := NewManager()
	w := conn(0x1000006e03a0014)
	m.Add("/w", w, Data)
	m.Add("/x", w, Data)
	m.Add("/x", w, Child)
	m.Add("/p", w, Persistent)
	m.Add("/r", w, PersistentRecursive)
	if c, p, n := m.Stats(); c != 1 || p != 4 || n != 4 {
		t.Errorf("Stats = %d, %d, %d; want 1, 4, 4", c, p, n)
	}
	if n := m.WatchCount(); n != 6 {
		t.Errorf("WatchCount = %d, want 6", n)
	}
	if got := m.ByClient(); len(got) != 1 || !slices.Equal(got[w], []string{"/p", "/r", "/w", "/x"}) {
		t.Errorf("ByClient = %v", got)
	}
	byPath := m.ByPath()
	if got := slices.Sorted(maps.Keys(byPath)); !slices.Equal(got, []string{"/p", "/r", "/w", "/x"}) {
		t.Errorf("ByPath paths = %v", got)
	}
	m.Add("/w", conn(3), Data)
	m.Add("/only-children", conn(4), Child)
	if got := m.ByPath()["/w"]; !slices.Equal(got, clients(w, 3)) {
		t.Errorf("ByPath[/w] = %v", got)
	}
	if c, p, n := m.Stats(); c != 2 || p != 4 || n != 5 {
		t.Errorf("Stats = %d, %d, %d; want 2, 4, 5 (child watches are not counted)", c, p, n)
	}
}

func TestKindForAddWatch(t *testing.T) {
	if k, ok := KindForAddWatch(proto.AddWatchPersistent); !ok || k != Persistent {
		t.Error("PERSISTENT")
	}
	if k, ok := KindForAddWatch(proto.AddWatchPersistentRecursive); !ok || k != PersistentRecursive {
		t.Error("PERSISTENT_RECURSIVE")
	}
	if _, ok := KindForAddWatch(2); ok {
		t.Error("mode 2 accepted")
	}
}

// reg is one watch in the naive model: a (table, path, client, mode) tuple.
type reg struct {
	child  bool
	path   string
	client conn
	mode   modes
}

// naive keeps watches as a flat set and answers every question by scanning.
type naive map[reg]bool

func isAncestor(a, p string) bool {
	return a == "/" && p != "/" || strings.HasPrefix(p, a+"/")
}

func (n naive) trigger(path string, ev proto.EventType) []conn {
	var tables []bool
	switch ev {
	case created, changed:
		tables = []bool{false}
	case deleted:
		tables = []bool{false, true}
	case children:
		tables = []bool{true}
	}
	hit := map[conn]bool{}
	for r := range n {
		if !slices.Contains(tables, r.child) {
			continue
		}
		if r.path == path || r.mode == recursive && isAncestor(r.path, path) {
			hit[r.client] = true
		}
		if r.path == path && r.mode == standard {
			delete(n, r)
		}
	}
	return slices.Sorted(maps.Keys(hit))
}

func (n naive) add(path string, c conn, k Kind) {
	switch k {
	case Data:
		n[reg{false, path, c, standard}] = true
	case Child:
		n[reg{true, path, c, standard}] = true
	case Persistent:
		n[reg{false, path, c, persistent}] = true
		n[reg{true, path, c, persistent}] = true
	case PersistentRecursive:
		n[reg{false, path, c, recursive}] = true
	}
}

// selectors lists the (child table?, mode) pairs a WatcherType names.
func selectors(typ int32, forRemove bool) []reg {
	switch typ {
	case proto.WatcherChildren:
		return []reg{{child: true, mode: standard}}
	case proto.WatcherData:
		return []reg{{mode: standard}}
	case proto.WatcherPersistent:
		if forRemove {
			return []reg{{mode: persistent}, {child: true, mode: persistent}}
		}
		return []reg{{mode: persistent}}
	case proto.WatcherPersistentRecursive:
		return []reg{{mode: recursive}}
	case proto.WatcherAny:
		var all []reg
		for _, child := range []bool{false, true} {
			for _, m := range []modes{standard, persistent, recursive} {
				all = append(all, reg{child: child, mode: m})
			}
		}
		return all
	}
	return nil
}

func (n naive) find(path string, c conn, typ int32, remove bool) bool {
	found := false
	for _, s := range selectors(typ, remove) {
		r := reg{s.child, path, c, s.mode}
		if n[r] {
			found = true
			if remove {
				delete(n, r)
			}
		}
	}
	return found
}

func TestManagerMatchesNaiveModel(t *testing.T) {
	paths := []string{"/", "/a", "/a/b", "/a/b/c", "/b", "/ab"}
	events := []proto.EventType{created, deleted, changed, children}
	rapid.Check(t, func(rt *rapid.T) {
		m := NewManager()
		n := naive{}
		path := rapid.SampledFrom(paths)
		client := rapid.Custom(func(t *rapid.T) conn { return conn(rapid.IntRange(1, 4).Draw(t, "client")) })
		for range rapid.IntRange(1, 80).Draw(rt, "steps") {
			switch rapid.IntRange(0, 4).Draw(rt, "op") {
			case 0:
				p, c, k := path.Draw(rt, "path"), client.Draw(rt, "c"), Kind(rapid.IntRange(1, 4).Draw(rt, "kind"))
				m.Add(p, c, k)
				n.add(p, c, k)
			case 1:
				p, ev := path.Draw(rt, "path"), rapid.SampledFrom(events).Draw(rt, "event")
				got := trigger(rt, m, p, ev)
				slices.SortFunc(got, func(a, b Client) int { return int(a.(conn) - b.(conn)) })
				if want := clients(n.trigger(p, ev)...); !slices.Equal(got, want) {
					rt.Fatalf("Trigger(%s, %v) = %v, want %v", p, ev, got, want)
				}
			case 2:
				p, c, typ := path.Draw(rt, "path"), client.Draw(rt, "c"), rapid.Int32Range(0, 6).Draw(rt, "type")
				if got, want := m.Remove(p, c, typ), n.find(p, c, typ, true); got != want {
					rt.Fatalf("Remove(%s, %d, %d) = %v, want %v", p, c, typ, got, want)
				}
			case 3:
				p, c, typ := path.Draw(rt, "path"), client.Draw(rt, "c"), rapid.Int32Range(0, 6).Draw(rt, "type")
				if got, want := m.Contains(p, c, typ), n.find(p, c, typ, false); got != want {
					rt.Fatalf("Contains(%s, %d, %d) = %v, want %v", p, c, typ, got, want)
				}
			case 4:
				c := client.Draw(rt, "c")
				m.RemoveClient(c)
				for r := range n {
					if r.client == c {
						delete(n, r)
					}
				}
			}
			checkCounts(rt, m, n)
		}
	})
}

func checkCounts(rt *rapid.T, m *Manager, n naive) {
	byClient := map[Client]map[string]bool{}
	byPath := map[string]map[Client]bool{}
	pairs := map[string]bool{}
	recursives, active := 0, map[Client]bool{}
	for r := range n {
		active[r.client] = true
		pairs[fmt.Sprint(r.child, r.path, r.client)] = true
		if r.mode == recursive {
			recursives++
		}
		if r.child {
			continue
		}
		if byClient[r.client] == nil {
			byClient[r.client] = map[string]bool{}
		}
		byClient[r.client][r.path] = true
		if byPath[r.path] == nil {
			byPath[r.path] = map[Client]bool{}
		}
		byPath[r.path][r.client] = true
	}
	total := 0
	for _, ps := range byClient {
		total += len(ps)
	}
	if c, p, tot := m.Stats(); c != len(byClient) || p != len(byPath) || tot != total {
		rt.Fatalf("Stats = %d, %d, %d; want %d, %d, %d", c, p, tot, len(byClient), len(byPath), total)
	}
	if got := m.WatchCount(); got != len(pairs) {
		rt.Fatalf("WatchCount = %d, want %d", got, len(pairs))
	}
	gotByClient := m.ByClient()
	if len(gotByClient) != len(byClient) {
		rt.Fatalf("ByClient = %v, want %v", gotByClient, byClient)
	}
	for c, ps := range byClient {
		if !slices.Equal(gotByClient[c], slices.Sorted(maps.Keys(ps))) {
			rt.Fatalf("ByClient[%v] = %v, want %v", c, gotByClient[c], ps)
		}
	}
	gotByPath := m.ByPath()
	if len(gotByPath) != len(byPath) {
		rt.Fatalf("ByPath = %v, want %v", gotByPath, byPath)
	}
	for p, cs := range byPath {
		if len(gotByPath[p]) != len(cs) {
			rt.Fatalf("ByPath[%s] = %v, want %v", p, gotByPath[p], cs)
		}
	}
	// White-box: the ancestor walk is skipped exactly when no recursive
	// watch exists, and clients with no watch are forgotten.
	if m.data.recursive != recursives || m.child.recursive != 0 {
		rt.Fatalf("recursive counts %d/%d, want %d/0", m.data.recursive, m.child.recursive, recursives)
	}
	if len(m.order) != len(active) {
		rt.Fatalf("order tracks %d clients, %d have watches", len(m.order), len(active))
	}
}

func TestConcurrentUse(t *testing.T) {
	m := NewManager()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := conn(g)
			for i := range 500 {
				p := fmt.Sprintf("/n%d", i%7)
				m.Add(p, c, Kind(1+i%4))
				m.Trigger(p, proto.EventType(1+i%4))
				m.Contains(p, c, proto.WatcherAny)
				if i%50 == 0 {
					m.Stats()
					m.ByPath()
					m.RemoveClient(c)
				}
			}
		}()
	}
	wg.Wait()
	for g := range 4 {
		m.RemoveClient(conn(g))
	}
	if m.WatchCount() != 0 {
		t.Fatalf("%d watches left", m.WatchCount())
	}
}

func BenchmarkTriggerNoRecursive(b *testing.B) {
	m := NewManager()
	for i := range 1000 {
		m.Add(fmt.Sprintf("/a/b/c/d/e/%d", i), conn(i), Persistent)
	}
	b.ResetTimer()
	for b.Loop() {
		m.Trigger("/a/b/c/d/e/f/g/h", proto.EventNodeDataChanged)
	}
}
