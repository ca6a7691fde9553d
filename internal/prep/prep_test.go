package prep

// Scenario scripts in testdata/*.txt (cockroachdb/datadriven, as etcd raft's
// interaction tests). Regenerate with
//
//	go test ./internal/prep -run TestScripts -rewrite
//
// and review the diff.
//
//	prep [session=N] [ids=scheme:id,...] [sessionerr=CODE]   one op per input
//	                                       line; prepares (sessionerr: what
//	                                       checkSession says, a code number)
//	multi [session=N] [ids=...] [sessionerr=CODE]   each line is one op of one multi
//	   ops: create PATH [data=S] [mode=M] [ttl=MS] [acl=open|read|auth]
//	        delete PATH [version=N] | deleteContainer PATH
//	        set PATH [data=S] [version=N] | setacl PATH acl=A [version=N]
//	        check PATH version=N | createSession timeout=MS | closeSession
//	apply [upto=ZXID]   applies the prepared txns (all, or up to a zxid) to
//	                    the tree and tells the State (Applied)
//	reset               drops every outstanding change (leader change)
//	outstanding         lists the outstanding changes
//	ls PATH             the applied tree's stat of PATH
//
// Prepared txns get zxid 1, 2, ... and time zxid*1000.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{tree: tree.New(), state: New(Config{ExtendedTypes: true, MaxBuffer: 64})}
		datadriven.RunTest(t, path, h.run)
	})
}

type harness struct {
	tree     *tree.Tree
	state    *State
	zxid     int64
	prepared []*txn.Txn
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "prep", "multi":
		req := Request{Session: 1, IDs: []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}}}
		for _, a := range d.CmdArgs {
			switch a.Key {
			case "session":
				req.Session = mustInt(t, a.Vals[0])
			case "sessionerr":
				req.SessionErr = proto.Code(mustInt(t, a.Vals[0]))
			case "ids":
				for _, v := range a.Vals {
					scheme, id, _ := strings.Cut(v, ":")
					req.IDs = append(req.IDs, proto.ID{Scheme: scheme, ID: id})
				}
			}
		}
		lines := strings.Split(strings.TrimSpace(d.Input), "\n")
		var b strings.Builder
		if d.Cmd == "multi" {
			mr := &proto.MultiRequest{}
			for _, l := range lines {
				mr.Ops = append(mr.Ops, multiOpOf(t, l))
			}
			req.Op, req.Body = proto.OpMulti, mr
			h.prep(&b, &req)
			return b.String()
		}
		for _, l := range lines {
			r := req
			r.Op, r.Body, r.Timeout = requestOf(t, l)
			h.prep(&b, &r)
		}
		return b.String()
	case "apply":
		upto := h.zxid
		if d.HasArg("upto") {
			var s string
			d.ScanArgs(t, "upto", &s)
			upto = mustInt(t, s)
		}
		var b strings.Builder
		for len(h.prepared) > 0 && h.prepared[0].Header.Zxid <= upto {
			tx := h.prepared[0]
			h.prepared = h.prepared[1:]
			res := h.tree.Apply(tx)
			fmt.Fprintf(&b, "applied 0x%x: %s\n", tx.Header.Zxid, res.Err.Error())
		}
		h.state.Applied(upto)
		fmt.Fprintf(&b, "outstanding %d\n", h.state.Outstanding())
		return b.String()
	case "reset":
		h.state.Reset()
		h.prepared = nil
		return fmt.Sprintf("outstanding %d\n", h.state.Outstanding())
	case "outstanding":
		var b strings.Builder
		paths := slices.Sorted(func(yield func(string) bool) {
			for p := range h.state.changes {
				if !yield(p) {
					return
				}
			}
		})
		for _, p := range paths {
			c := h.state.changes[p]
			if !c.exists {
				fmt.Fprintf(&b, "%s 0x%x deleted\n", p, c.zxid)
				continue
			}
			fmt.Fprintf(&b, "%s 0x%x version=%d cversion=%d aversion=%d children=%d owner=0x%x\n",
				p, c.zxid, c.stat.Version, c.stat.Cversion, c.stat.Aversion, c.childCount, uint64(c.stat.EphemeralOwner))
		}
		var sessions []int64
		for sid := range h.state.ephemerals {
			sessions = append(sessions, sid)
		}
		slices.Sort(sessions)
		for _, sid := range sessions {
			var es []string
			for p, c := range h.state.ephemerals[sid] {
				es = append(es, fmt.Sprintf("%s(added=%t)", p, c.added))
			}
			sort.Strings(es)
			fmt.Fprintf(&b, "session %d ephemerals %s\n", sid, strings.Join(es, " "))
		}
		fmt.Fprintf(&b, "pending %d\n", len(h.state.pending))
		return b.String()
	case "ls":
		n := h.tree.Get(d.CmdArgs[0].Key)
		if n == nil {
			return "no node\n"
		}
		return fmt.Sprintf("version=%d cversion=%d children=%d owner=0x%x\n",
			n.Stat.Version, n.Stat.Cversion, n.NumChildren(), uint64(n.Stat.EphemeralOwner))
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func (h *harness) prep(b *strings.Builder, r *Request) {
	h.zxid++
	p := h.state.Prepare(TreeView{h.tree}, r, h.zxid, h.zxid*1000)
	// A txn must survive its own encoding: it goes to the log as bytes.
	e := jute.NewEncoder(nil)
	p.Txn.Encode(e)
	tx, err := txn.Unmarshal(e.Bytes(), 1<<20)
	if err != nil {
		fmt.Fprintf(b, "0x%x: txn does not decode: %v\n", h.zxid, err)
		return
	}
	h.prepared = append(h.prepared, tx)
	fmt.Fprintf(b, "0x%x %s\n", h.zxid, fmtTxn(tx.Header.Type, tx.Body))
	if p.MultiTypes != nil {
		var ts []string
		for _, t := range p.MultiTypes {
			ts = append(ts, t.String())
		}
		fmt.Fprintf(b, "  prepared as %s\n", strings.Join(ts, " "))
	}
}

func fmtTxn(typ proto.OpCode, body txn.Body) string {
	switch b := body.(type) {
	case *txn.Error:
		return "error " + b.Err.Error()
	case *txn.Create:
		return fmt.Sprintf("%s %s data=%q ephemeral=%t pcv=%d acl=%s", typ, b.Path, b.Data, b.Ephemeral, b.ParentCVersion, fmtACL(b.ACL))
	case *txn.CreateContainer:
		return fmt.Sprintf("%s %s pcv=%d", typ, b.Path, b.ParentCVersion)
	case *txn.CreateTTL:
		return fmt.Sprintf("%s %s pcv=%d ttl=%d", typ, b.Path, b.ParentCVersion, b.TTL)
	case *txn.Delete:
		return fmt.Sprintf("%s %s", typ, b.Path)
	case *txn.SetData:
		return fmt.Sprintf("%s %s data=%q version=%d", typ, b.Path, b.Data, b.Version)
	case *txn.SetACL:
		return fmt.Sprintf("%s %s acl=%s version=%d", typ, b.Path, fmtACL(b.ACL), b.Version)
	case *txn.CheckVersion:
		return fmt.Sprintf("%s %s version=%d", typ, b.Path, b.Version)
	case *txn.CreateSession:
		return fmt.Sprintf("%s timeout=%d", typ, b.TimeOut)
	case *txn.CloseSession:
		return fmt.Sprintf("%s paths=%v", typ, b.Paths)
	case *txn.Multi:
		var s strings.Builder
		s.WriteString("multi")
		for _, op := range b.Ops {
			s.WriteString("\n  " + fmtTxn(op.Type, op.Body))
		}
		return s.String()
	}
	return fmt.Sprintf("%s %T", typ, body)
}

func fmtACL(acls []proto.ACL) string {
	var s []string
	for _, a := range acls {
		s = append(s, fmt.Sprintf("%s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms))
	}
	return strings.Join(s, ",")
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return v
}

var modes = map[string]int32{
	"persistent": proto.ModePersistent, "ephemeral": proto.ModeEphemeral,
	"sequential": proto.ModePersistentSequential, "ephemeral_sequential": proto.ModeEphemeralSequential,
	"container": proto.ModeContainer, "ttl": proto.ModePersistentWithTTL,
	"ttl_sequential": proto.ModePersistentSequentialWithTTL, "bad": 99,
}

func opts(t *testing.T, fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("bad option %q", f)
		}
		m[k] = v
	}
	return m
}

func aclOf(t *testing.T, name string) []proto.ACL {
	switch name {
	case "", "open":
		return proto.OpenACLUnsafe
	case "read":
		return proto.ReadACLUnsafe
	case "auth":
		return []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "auth", ID: ""}}}
	case "none":
		return nil
	}
	t.Fatalf("unknown acl %q", name)
	return nil
}

func version(t *testing.T, o map[string]string) int32 {
	if v, ok := o["version"]; ok {
		return int32(mustInt(t, v))
	}
	return -1
}

// requestOf parses one op line into a request.
func requestOf(t *testing.T, line string) (proto.OpCode, jute.Record, int32) {
	f := strings.Fields(line)
	var path string
	if len(f) > 1 && strings.HasPrefix(f[1], "/") {
		path, f = f[1], append(f[:1:1], f[2:]...)
	}
	o := opts(t, f[1:])
	switch f[0] {
	case "create":
		mode, ok := modes[o["mode"]]
		if !ok && o["mode"] != "" {
			t.Fatalf("unknown mode %q", o["mode"])
		}
		if ttl, ok := o["ttl"]; ok {
			return proto.OpCreateTTL, &proto.CreateTTLRequest{Path: path, Data: []byte(o["data"]), ACL: aclOf(t, o["acl"]), Flags: mode, TTL: mustInt(t, ttl)}, 0
		}
		op := proto.OpCreate
		if mode == proto.ModeContainer {
			op = proto.OpCreateContainer
		}
		return op, &proto.CreateRequest{Path: path, Data: []byte(o["data"]), ACL: aclOf(t, o["acl"]), Flags: mode}, 0
	case "delete":
		return proto.OpDelete, &proto.PathVersionRequest{Path: path, Version: version(t, o)}, 0
	case "deleteContainer":
		return proto.OpDeleteContainer, &proto.PathRequest{Path: path}, 0
	case "set":
		return proto.OpSetData, &proto.SetDataRequest{Path: path, Data: []byte(o["data"]), Version: version(t, o)}, 0
	case "setacl":
		return proto.OpSetACL, &proto.SetACLRequest{Path: path, ACL: aclOf(t, o["acl"]), Version: version(t, o)}, 0
	case "check":
		return proto.OpCheck, &proto.PathVersionRequest{Path: path, Version: version(t, o)}, 0
	case "createSession":
		return proto.OpCreateSession, nil, int32(mustInt(t, o["timeout"]))
	case "closeSession":
		return proto.OpCloseSession, nil, 0
	case "reconfig":
		return proto.OpReconfig, &proto.ReconfigRequest{}, 0
	}
	t.Fatalf("unknown op %q", f[0])
	return 0, nil, 0
}

func multiOpOf(t *testing.T, line string) proto.MultiOp {
	op, body, _ := requestOf(t, line)
	m := proto.MultiOp{Type: op}
	switch b := body.(type) {
	case *proto.CreateRequest:
		m.Create = b
	case *proto.CreateTTLRequest:
		m.CreateTTL = b
	case *proto.PathVersionRequest:
		m.Version = b
	case *proto.SetDataRequest:
		m.SetData = b
	default:
		t.Fatalf("op %q cannot be in a multi", line)
	}
	return m
}
