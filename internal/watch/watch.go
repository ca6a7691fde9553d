package watch

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/zkd/zkd/internal/proto"
)

// Client is a watcher: in zkd, one client connection. The Manager only uses
// clients as map keys, so the dynamic type must be comparable (a pointer is
// the natural choice; anything else panics on Add).
type Client any

// Delivery is one notification Trigger asks the server to send: a
// WatcherEvent{Type, SyncConnected, Path} to Client. Path is the event's
// node, so its ACL decides the 3.9.2+ READ check, also for recursive
// watches set on an ancestor.
type Delivery struct {
	Client Client
	Path   string
	Type   proto.EventType
}

// Kind is what a request registers.
type Kind uint8

// Watch kinds.
const (
	// Data is the watch of getData and of exists (on an existing or a
	// missing node alike): one-shot, data table.
	Data Kind = iota + 1
	// Child is the watch of getChildren: one-shot, child table.
	Child
	// Persistent is addWatch mode PERSISTENT: stays, in both tables, so it
	// sees the node's data events and its NodeChildrenChanged.
	Persistent
	// PersistentRecursive is addWatch mode PERSISTENT_RECURSIVE: stays, data
	// table only, and also fires for events on descendants.
	PersistentRecursive
)

// Exist is the watch of exists. ZooKeeper keeps it in the data table with
// getData watches, so it is the same kind as Data.
const Exist = Data

// KindForAddWatch maps an addWatch mode (proto.AddWatch*) to its Kind.
func KindForAddWatch(mode int32) (Kind, bool) {
	switch mode {
	case proto.AddWatchPersistent:
		return Persistent, true
	case proto.AddWatchPersistentRecursive:
		return PersistentRecursive, true
	}
	return 0, false
}

// modes is the set of watch modes one client holds on one path of a table
// (ZooKeeper's WatchStats).
type modes uint8

const (
	standard modes = 1 << iota
	persistent
	recursive

	anyMode = standard | persistent | recursive
)

// table is one of ZooKeeper's two WatchManagers.
type table struct {
	// watchers maps a path to the clients watching it and their modes.
	// Invariant: no empty inner map and no zero modes are stored.
	watchers map[string]map[Client]modes
	// paths is the reverse index, client -> watched paths.
	// Invariant: p is in paths[c] iff c is in watchers[p]; no empty sets.
	paths map[Client]map[string]struct{}
	// recursive counts (path, client) pairs holding the recursive mode;
	// Trigger skips the ancestor walk while it is zero.
	recursive int
}

func newTable() table {
	return table{watchers: make(map[string]map[Client]modes), paths: make(map[Client]map[string]struct{})}
}

func (t *table) add(path string, c Client, m modes) {
	ws := t.watchers[path]
	if ws == nil {
		ws = make(map[Client]modes)
		t.watchers[path] = ws
	}
	old := ws[c]
	if old&m == m {
		return
	}
	ws[c] = old | m
	if old == 0 {
		ps := t.paths[c]
		if ps == nil {
			ps = make(map[string]struct{})
			t.paths[c] = ps
		}
		ps[path] = struct{}{}
	}
	if m&recursive != 0 && old&recursive == 0 {
		t.recursive++
	}
}

// set stores the modes a client holds on a path, dropping the entry when
// none are left, and keeps the indexes and the recursive count in step.
func (t *table) set(path string, c Client, old, m modes) {
	if old&recursive != 0 && m&recursive == 0 {
		t.recursive--
	}
	if m != 0 {
		t.watchers[path][c] = m
		return
	}
	ws := t.watchers[path]
	delete(ws, c)
	if len(ws) == 0 {
		delete(t.watchers, path)
	}
	ps := t.paths[c]
	delete(ps, path)
	if len(ps) == 0 {
		delete(t.paths, c)
	}
}

// remove takes the modes rm off (path, c) and reports whether anything
// changed (WatchManager.removeWatcher with a mode).
func (t *table) remove(path string, c Client, rm modes) bool {
	old := t.watchers[path][c]
	if old&rm == 0 {
		return false
	}
	t.set(path, c, old, old&^rm)
	return true
}

func (t *table) contains(path string, c Client, m modes) bool {
	return t.watchers[path][c]&m != 0
}

func (t *table) removeClient(c Client) {
	for path := range t.paths[c] {
		t.set(path, c, t.watchers[path][c], 0)
	}
}

// trigger adds to hit every client this table notifies for an event on
// path, using up standard watches on path itself (WatchManager.triggerWatch).
func (t *table) trigger(path string, hit map[Client]struct{}) {
	for c, m := range t.watchers[path] {
		hit[c] = struct{}{}
		if m&standard != 0 {
			t.set(path, c, m, m&^standard)
		}
	}
	if t.recursive == 0 {
		return
	}
	for p := path; p != "/"; {
		p = parent(p)
		for c, m := range t.watchers[p] {
			if m&recursive != 0 {
				hit[c] = struct{}{}
			}
		}
	}
}

// parent returns the parent of an absolute path other than "/".
func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (t *table) size() int {
	n := 0
	for _, ws := range t.watchers {
		n += len(ws)
	}
	return n
}

// Manager holds every watch of a server. Its methods are safe for
// concurrent use.
type Manager struct {
	mu    sync.Mutex
	data  table
	child table
	// order gives each client a number when it first registers, so that
	// Trigger and ByPath list clients in a deterministic order.
	// Invariant: c is in order iff c is in data.paths or child.paths.
	order map[Client]uint64
	seq   uint64
}

// NewManager returns a Manager with no watches.
func NewManager() *Manager {
	return &Manager{data: newTable(), child: newTable(), order: make(map[Client]uint64)}
}

// Add registers a watch of the given kind on path for c. Adding a watch a
// client already holds changes nothing. Add does not know whether the
// connection is still open: the caller must not register watches for a
// closed connection (ZooKeeper checks ServerCnxn.isStale).
func (m *Manager) Add(path string, c Client, kind Kind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.order[c]; !ok {
		m.seq++
		m.order[c] = m.seq
	}
	switch kind {
	case Data:
		m.data.add(path, c, standard)
	case Child:
		m.child.add(path, c, standard)
	case Persistent:
		m.data.add(path, c, persistent)
		m.child.add(path, c, persistent)
	case PersistentRecursive:
		m.data.add(path, c, recursive)
	}
	m.forgetIfIdle(c) // an unknown kind added nothing
}

// forgetIfIdle drops the order entry of a client with no watches left.
func (m *Manager) forgetIfIdle(c Client) {
	if _, ok := m.data.paths[c]; ok {
		return
	}
	if _, ok := m.child.paths[c]; ok {
		return
	}
	delete(m.order, c)
}

// Trigger returns who gets one tree event on path: each client once, in
// the order the clients first registered, and uses up their standard watches
// on path. For a create or delete the caller also triggers
// NodeChildrenChanged on the parent path. Other event types notify nobody.
func (m *Manager) Trigger(path string, ev proto.EventType) []Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	hit := make(map[Client]struct{})
	switch ev {
	case proto.EventNodeCreated, proto.EventNodeDataChanged:
		m.data.trigger(path, hit)
	case proto.EventNodeDeleted:
		m.data.trigger(path, hit)
		m.child.trigger(path, hit)
	case proto.EventNodeChildrenChanged:
		m.child.trigger(path, hit)
	}
	if len(hit) == 0 {
		return nil
	}
	cs := slices.Collect(maps.Keys(hit))
	slices.SortFunc(cs, func(a, b Client) int { return cmp.Compare(m.order[a], m.order[b]) })
	out := make([]Delivery, len(cs))
	for i, c := range cs {
		m.forgetIfIdle(c)
		out[i] = Delivery{Client: c, Path: path, Type: ev}
	}
	return out
}

// Remove is removeWatches: it takes watches of the given WatcherType
// (proto.Watcher*) off (path, c) and reports whether any existed, else the
// server answers NoWatcher. Children and Data remove only the one-shot
// watch of that table, Persistent the persistent watch (both tables),
// PersistentRecursive the recursive one, Any everything on the path. Other
// types remove nothing.
func (m *Manager) Remove(path string, c Client, watcherType int32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	var removed bool
	switch watcherType {
	case proto.WatcherChildren:
		removed = m.child.remove(path, c, standard)
	case proto.WatcherData:
		removed = m.data.remove(path, c, standard)
	case proto.WatcherPersistent:
		removedChild := m.child.remove(path, c, persistent)
		removed = m.data.remove(path, c, persistent) || removedChild
	case proto.WatcherPersistentRecursive:
		removed = m.data.remove(path, c, recursive)
	case proto.WatcherAny:
		removedChild := m.child.remove(path, c, anyMode)
		removed = m.data.remove(path, c, anyMode) || removedChild
	}
	if removed {
		m.forgetIfIdle(c)
	}
	return removed
}

// Contains is checkWatches: whether c holds a watch of the given
// WatcherType on path (else the server answers NoWatcher). Children and
// Data look for the one-shot watch of that table, Persistent and
// PersistentRecursive for those modes in the data table, Any for anything.
func (m *Manager) Contains(path string, c Client, watcherType int32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch watcherType {
	case proto.WatcherChildren:
		return m.child.contains(path, c, standard)
	case proto.WatcherData:
		return m.data.contains(path, c, standard)
	case proto.WatcherPersistent:
		return m.data.contains(path, c, persistent)
	case proto.WatcherPersistentRecursive:
		return m.data.contains(path, c, recursive)
	case proto.WatcherAny:
		return m.child.contains(path, c, anyMode) || m.data.contains(path, c, anyMode)
	}
	return false
}

// RemoveClient drops every watch of a closed connection.
func (m *Manager) RemoveClient(c Client) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data.removeClient(c)
	m.child.removeClient(c)
	delete(m.order, c)
}

// Stats is the wchs summary, which like ZooKeeper covers the data table
// only (getData, exists, persistent and recursive watches): connections
// with such a watch, watched paths, and (path, connection) pairs.
func (m *Manager) Stats() (connections, paths, total int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ps := range m.data.paths {
		total += len(ps)
	}
	return len(m.data.paths), len(m.data.watchers), total
}

// WatchCount is mntr's zk_watch_count: (path, connection) pairs of both
// tables, so a persistent watch counts twice.
func (m *Manager) WatchCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data.size() + m.child.size()
}

// ByClient lists, for wchc, each connection's watched paths (sorted) in the
// data table, as ZooKeeper does.
func (m *Manager) ByClient() map[Client][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[Client][]string, len(m.data.paths))
	for c, ps := range m.data.paths {
		out[c] = slices.Sorted(maps.Keys(ps))
	}
	return out
}

// ByPath lists, for wchp, the connections watching each path in the data
// table, in registration order.
func (m *Manager) ByPath() map[string][]Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]Client, len(m.data.watchers))
	for p, ws := range m.data.watchers {
		cs := slices.Collect(maps.Keys(ws))
		slices.SortFunc(cs, func(a, b Client) int { return cmp.Compare(m.order[a], m.order[b]) })
		out[p] = cs
	}
	return out
}
