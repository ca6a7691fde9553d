package tree

// Scenario scripts in testdata/scripts/*.txt, in the style of etcd raft's
// interaction tests: each block is a command, "----", and the printed
// result. Regenerate the expected output with
//
//	go test ./internal/tree -run TestScripts -rewrite
//
// and review the diff. Writes get zxid LastZxid()+1 and time zxid*1000.
//
// Writes:  create PATH [data=S|data=null] [eph=SESSION] [container] [ttl=MS]
//                       [pcv=N] [acl=open|read|digest|null] [op=create2]
//          delete PATH [op=deleteContainer]
//          set PATH DATA|data=S [version=N] (default: current version + 1)
//          setacl PATH acl=... [version=N]  (default: current aversion + 1)
//          check PATH
//          close SESSION [paths=P1,P2|nopaths]
//          session ID
//          error CODE
//          multi, with one sub-command per line before "----"
// Queries: stat PATH, ls PATH, ephemerals, containers, ttls now=MS, counts,
//          snapshot (ACL cache and znode order as Serialize writes them)

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/scripts")

type scriptBlock struct {
	cmd  []string // command line(s)
	want string
}

func parseScript(t *testing.T, name string) []scriptBlock {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []scriptBlock
	var cur *scriptBlock
	inOutput := false
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && (line == "" || strings.HasPrefix(line, "#")):
			if line != "" {
				blocks = append(blocks, scriptBlock{cmd: []string{line}})
			}
		case cur == nil:
			cur = &scriptBlock{cmd: []string{line}}
		case !inOutput && line == "----":
			inOutput = true
		case !inOutput:
			cur.cmd = append(cur.cmd, line)
		case line == "":
			cur.want = strings.Join(out, "\n")
			blocks = append(blocks, *cur)
			cur, inOutput, out = nil, false, nil
		default:
			out = append(out, line)
		}
	}
	if cur != nil {
		cur.want = strings.Join(out, "\n")
		blocks = append(blocks, *cur)
	}
	return blocks
}

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/scripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			blocks := parseScript(t, name)
			r := &scriptRunner{tr: New()}
			var rewritten strings.Builder
			for _, b := range blocks {
				if strings.HasPrefix(b.cmd[0], "#") {
					rewritten.WriteString(b.cmd[0] + "\n")
					continue
				}
				got := r.run(t, b.cmd)
				if got != b.want && !*rewrite {
					t.Errorf("%s\n----\ngot:\n%s\nwant:\n%s", strings.Join(b.cmd, "\n"), got, b.want)
				}
				fmt.Fprintf(&rewritten, "%s\n----\n%s\n\n", strings.Join(b.cmd, "\n"), got)
				checkConsistent(t, r.tr)
			}
			if *rewrite {
				if err := os.WriteFile(name, []byte(strings.TrimRight(rewritten.String(), "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

type scriptRunner struct {
	tr *Tree
}

// args splits "k=v" options from positional words.
func args(fields []string) (pos []string, opt map[string]string) {
	opt = map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			opt[k] = v
		} else if len(pos) > 0 && (f == "container" || f == "nopaths") {
			opt[f] = ""
		} else {
			pos = append(pos, f)
		}
	}
	return pos, opt
}

func scriptACL(t *testing.T, name string) []proto.ACL {
	switch name {
	case "", "open":
		return proto.OpenACLUnsafe
	case "read":
		return proto.ReadACLUnsafe
	case "digest":
		return []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "digest", ID: "user:hash"}}}
	case "null":
		return nil
	}
	t.Fatalf("unknown acl %q", name)
	return nil
}

func atoi(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// op turns one write command into a sub-txn; client is the header session.
func (r *scriptRunner) op(t *testing.T, line string) (op txn.Op, client int64) {
	fields := strings.Fields(line)
	pos, opt := args(fields[1:])
	client = 1
	switch fields[0] {
	case "create":
		data := []byte(opt["data"])
		if opt["data"] == "null" {
			data = nil
		}
		acl := scriptACL(t, opt["acl"])
		pcv := int32(-1)
		if v, ok := opt["pcv"]; ok {
			pcv = int32(atoi(t, v))
		}
		switch {
		case opt["ttl"] != "":
			return txn.Op{Type: proto.OpCreateTTL, Body: &txn.CreateTTL{Path: pos[0], Data: data, ACL: acl, ParentCVersion: pcv, TTL: atoi(t, opt["ttl"])}}, client
		case hasKey(opt, "container"):
			return txn.Op{Type: proto.OpCreateContainer, Body: &txn.CreateContainer{Path: pos[0], Data: data, ACL: acl, ParentCVersion: pcv}}, client
		}
		typ := proto.OpCreate
		if opt["op"] == "create2" {
			typ = proto.OpCreate2
		}
		body := &txn.Create{Path: pos[0], Data: data, ACL: acl, ParentCVersion: pcv}
		if s, ok := opt["eph"]; ok {
			body.Ephemeral, client = true, atoi(t, s)
		}
		return txn.Op{Type: typ, Body: body}, client
	case "delete":
		typ := proto.OpDelete
		if opt["op"] == "deleteContainer" {
			typ = proto.OpDeleteContainer
		}
		return txn.Op{Type: typ, Body: &txn.Delete{Path: pos[0]}}, client
	case "set":
		v := int32(0)
		if n := r.tr.Get(pos[0]); n != nil {
			v = n.Stat.Version + 1
		}
		if s, ok := opt["version"]; ok {
			v = int32(atoi(t, s))
		}
		data := opt["data"]
		if len(pos) > 1 {
			data = pos[1]
		}
		return txn.Op{Type: proto.OpSetData, Body: &txn.SetData{Path: pos[0], Data: []byte(data), Version: v}}, client
	case "setacl":
		v := int32(0)
		if n := r.tr.Get(pos[0]); n != nil {
			v = n.Stat.Aversion + 1
		}
		if s, ok := opt["version"]; ok {
			v = int32(atoi(t, s))
		}
		return txn.Op{Type: proto.OpSetACL, Body: &txn.SetACL{Path: pos[0], ACL: scriptACL(t, opt["acl"]), Version: v}}, client
	case "check":
		return txn.Op{Type: proto.OpCheck, Body: &txn.CheckVersion{Path: pos[0], Version: 1}}, client
	case "close":
		body := &txn.CloseSession{HasPaths: !hasKey(opt, "nopaths")}
		if p, ok := opt["paths"]; ok {
			body.Paths = strings.Split(p, ",")
		} else if body.HasPaths {
			body.Paths = r.tr.Ephemerals(atoi(t, pos[0]))
		}
		return txn.Op{Type: proto.OpCloseSession, Body: body}, atoi(t, pos[0])
	case "session":
		return txn.Op{Type: proto.OpCreateSession, Body: &txn.CreateSession{TimeOut: 30000}}, atoi(t, pos[0])
	case "error":
		return txn.Op{Type: proto.OpError, Body: &txn.Error{Err: proto.Code(atoi(t, pos[0]))}}, client
	}
	t.Fatalf("unknown command %q", line)
	return txn.Op{}, 0
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func (r *scriptRunner) run(t *testing.T, cmd []string) string {
	fields := strings.Fields(cmd[0])
	pos, opt := args(fields[1:])
	var b strings.Builder
	switch fields[0] {
	case "stat":
		n := r.tr.Get(pos[0])
		if n == nil {
			return "no node"
		}
		st := n.ClientStat()
		return fmtStat(&st) + "\n" + fmtStored(n)
	case "ls":
		kids := r.tr.Children(pos[0])
		if kids == nil {
			return "no node"
		}
		return "[" + strings.Join(kids, " ") + "]"
	case "ephemerals":
		sessions := r.tr.EphemeralSessions()
		var ids []int64
		for s := range sessions {
			ids = append(ids, s)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, s := range ids {
			fmt.Fprintf(&b, "%#x: %v\n", s, r.tr.Ephemerals(s))
		}
		return b.String() + fmt.Sprintf("%d sessions, %d ephemerals", len(ids), r.tr.EphemeralCount())
	case "containers":
		return fmt.Sprint(r.tr.Containers())
	case "ttls":
		return fmt.Sprint(r.tr.ExpiredTTLs(atoi(t, opt["now"])))
	case "counts":
		return fmt.Sprintf("NodeCount=%d ApproximateDataSize=%d EphemeralCount=%d CountDescendants(/)=%d digest=%d",
			r.tr.NodeCount(), r.tr.ApproximateDataSize(), r.tr.EphemeralCount(), r.tr.CountDescendants("/"), r.tr.Digest())
	case "snapshot":
		return fmtSnapshot(t, serializeTree(r.tr))
	}

	zxid := r.tr.LastZxid() + 1
	hdr := txn.Header{Zxid: zxid, Time: zxid * 1000}
	var res Result
	if fields[0] == "multi" {
		var ops []txn.Op
		for _, line := range cmd[1:] {
			op, client := r.op(t, line)
			hdr.ClientID = client
			ops = append(ops, op)
		}
		hdr.Type = proto.OpMulti
		res = r.tr.Apply(&txn.Txn{Header: hdr, Body: &txn.Multi{Ops: ops}})
	} else {
		op, client := r.op(t, cmd[0])
		hdr.ClientID, hdr.Type = client, op.Type
		res = r.tr.Apply(&txn.Txn{Header: hdr, Body: op.Body})
	}
	fmt.Fprintf(&b, "zxid=%#x ", zxid)
	fmtResult(&b, res, "")
	if len(res.Events) > 0 {
		var ev []string
		for _, e := range res.Events {
			ev = append(ev, e.Type.String()+" "+e.Path)
		}
		fmt.Fprintf(&b, "\nevents: %s", strings.Join(ev, ", "))
	}
	return b.String()
}

func fmtResult(b *strings.Builder, r Result, indent string) {
	fmt.Fprintf(b, "%s %s", r.Type, r.Err.Error())
	if r.Path != "" {
		fmt.Fprintf(b, " %s", r.Path)
	}
	if r.Stat != nil {
		fmt.Fprintf(b, "\n%s  %s", indent, fmtStat(r.Stat))
	}
	for i, sub := range r.Multi {
		fmt.Fprintf(b, "\n%s  [%d] ", indent, i)
		fmtResult(b, sub, indent+"  ")
	}
}

func fmtStat(s *proto.Stat) string {
	return fmt.Sprintf("stat czxid=%#x mzxid=%#x pzxid=%#x ctime=%d mtime=%d version=%d cversion=%d aversion=%d owner=%#x len=%d children=%d",
		s.Czxid, s.Mzxid, s.Pzxid, s.Ctime, s.Mtime, s.Version, s.Cversion, s.Aversion, uint64(s.EphemeralOwner), s.DataLength, s.NumChildren)
}

func fmtStored(n *Node) string {
	var acl []string
	for _, a := range n.ACL {
		acl = append(acl, fmt.Sprintf("%s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms))
	}
	data := strconv.Quote(string(n.Data))
	if n.Data == nil {
		data = "null"
	}
	return fmt.Sprintf("stored cversion=%d owner=%#x data=%s acl=%v", n.Stat.Cversion, uint64(n.Stat.EphemeralOwner), data, acl)
}

func fmtSnapshot(t *testing.T, b []byte) string {
	d := jute.NewDecoder(b, 0)
	var out []string
	n := d.Int()
	for i := int32(0); i < n; i++ {
		id := d.Long()
		var acl []string
		for _, a := range proto.DecodeACLs(d) {
			acl = append(acl, fmt.Sprintf("%s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms))
		}
		out = append(out, fmt.Sprintf("acl %d %v", id, acl))
	}
	for {
		p := d.String()
		if p == "/" || d.Err() != nil {
			break
		}
		d.Buffer()
		id := d.Long()
		var st proto.StatPersisted
		st.Decode(d)
		out = append(out, fmt.Sprintf("%q acl=%d", p, id))
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return strings.Join(out, "\n")
}
