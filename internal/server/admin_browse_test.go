package server

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/admin"
)

func zkDigest(userPassword string) string {
	d := acl.Digest(userPassword)
	_, hash, _ := strings.Cut(d, ":")
	return hash
}

// The status page's tree browser sees what a client without credentials
// from the same address would: getData, getChildren and getACL's checks.
func TestBrowserSeesWhatAnAnonymousClientMay(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	big := bytes.Repeat([]byte("z"), 3000)
	for _, n := range []struct {
		path string
		data []byte
		acl  []zk.ACL
	}{
		{"/app", big, zk.WorldACL(zk.PermAll)},
		{"/app/b", nil, zk.WorldACL(zk.PermAll)},
		{"/app/a", nil, zk.WorldACL(zk.PermAll)},
		{"/app/c", nil, zk.WorldACL(zk.PermAll)},
		{"/locked", []byte("secret"), zk.DigestACL(zk.PermAll, "u", "p")},
		{"/adminonly", []byte("x"), append(zk.DigestACL(zk.PermAll, "u", "p"), zk.ACL{Perms: zk.PermAdmin, Scheme: "world", ID: "anyone"})},
		{"/readonly", []byte("r"), append(zk.DigestACL(zk.PermAll, "u", "p"), zk.ACL{Perms: zk.PermRead, Scheme: "world", ID: "anyone"})},
		{"/mine", []byte("ip"), []zk.ACL{{Perms: zk.PermRead, Scheme: "ip", ID: "127.0.0.1"}}},
	} {
		if _, err := c.Create(n.path, n.data, 0, n.acl); err != nil {
			t.Fatalf("create %s: %v", n.path, err)
		}
	}
	b := admin.Browser(adminSource{s.Server})
	z, ok := b.Znode("/app", "127.0.0.1", 1024, 2)
	if !ok || !z.Readable || !z.ACLReadable || !bytes.Equal(z.Data, big[:1024]) || z.Stat.DataLength != 3000 ||
		!slices.Equal(z.Children, []string{"a", "b"}) || z.Stat.NumChildren != 3 ||
		len(z.ACL) != 1 || z.ACL[0] != (admin.ACL{Perms: 31, Scheme: "world", ID: "anyone"}) {
		t.Errorf("/app: %v %+v", ok, z)
	}
	_, stat, err := c.Get("/app")
	if err != nil || z.Stat.Czxid != stat.Czxid || z.Stat.Pzxid != stat.Pzxid || z.Stat.Cversion != stat.Cversion || z.Stat.Ctime != stat.Ctime {
		t.Errorf("/app's Stat %+v, client's %+v (%v)", z.Stat, stat, err)
	}
	if z, ok := b.Znode("/locked", "127.0.0.1", 1024, 10); !ok || z.Readable || z.ACLReadable || z.Data != nil || z.ACL != nil || z.Stat.DataLength != 6 {
		t.Errorf("/locked: %+v", z)
	}
	// ADMIN without READ: the ACL as it is, no data.
	if z, ok := b.Znode("/adminonly", "127.0.0.1", 1024, 10); !ok || z.Readable || !z.ACLReadable || z.Data != nil ||
		len(z.ACL) != 2 || z.ACL[0].ID != "u:"+zkDigest("u:p") {
		t.Errorf("/adminonly: %+v", z)
	}
	// READ without ADMIN: the data, and the ACL with its digests masked.
	if z, ok := b.Znode("/readonly", "127.0.0.1", 1024, 10); !ok || !z.Readable || string(z.Data) != "r" ||
		len(z.ACL) != 2 || z.ACL[0] != (admin.ACL{Perms: 31, Scheme: "digest", ID: "u:x"}) {
		t.Errorf("/readonly: %+v", z)
	}
	if z, _ := b.Znode("/mine", "127.0.0.1", 1024, 10); !z.Readable || string(z.Data) != "ip" || z.ACLReadable != true {
		t.Errorf("/mine from 127.0.0.1: %+v", z)
	}
	if z, _ := b.Znode("/mine", "10.1.2.3", 1024, 10); z.Readable || z.Data != nil {
		t.Errorf("/mine from 10.1.2.3: %+v", z)
	}
	if _, ok := b.Znode("/nope", "127.0.0.1", 1, 1); ok {
		t.Error("/nope found")
	}
	if z, ok := b.Znode("/", "127.0.0.1", 1, 100); !ok || !slices.Contains(z.Children, "zookeeper") {
		t.Errorf("/: %+v", z)
	}
}
