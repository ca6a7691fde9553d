package drill

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/txn"
)

// Mixed ensembles compare each other's TxnDigests: "A server applying a txn
// compares it with its own tree's digest (DataTree.compareDigest) ... on a
// mismatch it increments digest_mismatches_count". After a varied workload
// written through every server, every member, Apache's and zkd's, shows
// zk_digest_mismatches_count 0, and the follower's log holds the leader's
// digests (so they were there to compare). Server 3 is started first with
// server 2, so that it leads: zkd leading an Apache follower, then Apache
// leading zkd followers.
func TestMixedDigestsZkdLeader(t *testing.T) {
	mixedDigests(t, map[int]bool{1: true, 2: true})
}

func TestMixedDigestsApacheLeader(t *testing.T) {
	mixedDigests(t, map[int]bool{3: true})
}

func mixedDigests(t *testing.T, apache map[int]bool) {
	c := newMixedCluster(t, 3, 0, 500, apache)
	for _, nd := range c.nodes {
		// TTL znodes need extended types on the leader (zoo.cfg keys are
		// Apache's zookeeper.* system properties).
		f, err := os.OpenFile(filepath.Join(nd.dir, "zoo.cfg"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, "extendedTypesEnabled=true")
		f.Close()
	}
	c.start(3)
	c.start(2)
	if leader, modes := c.waitRoles(90 * time.Second); leader != 3 {
		t.Fatalf("server 3 should lead the first quorum of 2 and 3: roles %v", modes)
	}
	c.start(1)
	_, modes := c.waitRoles(90 * time.Second)
	t.Logf("roles %v (Apache: %v)", modes, apache)

	acl := zk.WorldACL(zk.PermAll)
	for _, nd := range c.nodes {
		cl := connect(t, nd.client)
		eph := connect(t, nd.client)
		p := fmt.Sprintf("/d%d", nd.id)
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s through server %d (apache=%v): %v", what, nd.id, nd.apache, err)
			}
		}
		_, err := cl.Create(p, []byte("v0"), 0, acl)
		must("create", err)
		_, err = cl.Create(p+"/seq-", []byte("s"), zk.FlagSequence, acl)
		must("create sequential", err)
		_, err = eph.Create(p+"/eph", []byte("e"), zk.FlagEphemeral, acl)
		must("create ephemeral", err)
		_, err = eph.Create(p+"/ephs-", nil, zk.FlagEphemeral|zk.FlagSequence, acl)
		must("create ephemeral sequential", err)
		_, err = cl.CreateContainer(p+"/cont", nil, zk.FlagContainer, acl)
		must("create container", err)
		_, err = cl.Create(p+"/cont/in", nil, 0, acl)
		must("create in container", err)
		_, err = cl.CreateTTL(p+"/ttl", []byte("t"), zk.FlagTTL, acl, time.Hour)
		must("create TTL", err)
		_, err = cl.Set(p, []byte("v1"), 0)
		must("set", err)
		if _, err = cl.Set(p, nil, 9); err == nil {
			t.Fatal("set with a wrong version succeeded")
		}
		_, err = cl.SetACL(p+"/seq-0000000000", zk.WorldACL(zk.PermRead|zk.PermAdmin), 0)
		must("setACL", err)
		must("delete", cl.Delete(p+"/cont/in", -1))
		_, err = cl.Multi(&zk.CreateRequest{Path: p + "/m", Data: []byte("m"), Acl: acl},
			&zk.SetDataRequest{Path: p + "/m", Data: []byte("m2"), Version: 0},
			&zk.CheckVersionRequest{Path: p, Version: 1})
		must("multi", err)
		if _, err = cl.Multi(&zk.CreateRequest{Path: p + "/m2", Acl: acl}, &zk.DeleteRequest{Path: "/none", Version: -1}); err == nil {
			t.Fatal("a multi with a failing op succeeded")
		}
		// closeSession deletes the two ephemerals.
		eph.Close()
		cl.Close()
	}
	done := connect(t, c.nodes[0].client)
	if _, err := done.Create("/done", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.nodes {
		cl := connect(t, nd.client)
		if _, err := cl.Sync("/"); err != nil {
			t.Fatalf("sync on %d: %v", nd.id, err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			// Applied through the last closeSession and /done.
			eph, _, err := cl.Exists("/d3/eph")
			ok, _, err2 := cl.Exists("/done")
			if err == nil && err2 == nil && ok && !eph {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d did not apply the workload: /d3/eph %v %v, /done %v %v", nd.id, eph, err, ok, err2)
			}
			time.Sleep(50 * time.Millisecond)
		}
		kv := mntr(t, nd.client)
		got, ok := kv["zk_digest_mismatches_count"]
		if !ok {
			t.Errorf("server %d (apache=%v, %s): mntr has no zk_digest_mismatches_count", nd.id, nd.apache, kv["zk_server_state"])
		} else if got != "0" {
			t.Errorf("server %d (apache=%v, %s): zk_digest_mismatches_count %s", nd.id, nd.apache, kv["zk_server_state"], got)
		}
	}
	// Server 2 follows 3: every txn but an error txn came with a digest,
	// and its log keeps it.
	follower := c.nodes[1]
	dir := filepath.Join(follower.dir, "data")
	n, withDigest := 0, 0
	if _, err := storage.ReadLog(storage.OSFS{}, dir, 0, storage.ReadOptions{}, func(zxid int64, entry []byte) error {
		tx, err := txn.Unmarshal(entry, 1<<21)
		if err != nil {
			return err
		}
		n++
		switch {
		case tx.Header.Type == proto.OpError && tx.Digest != nil:
			t.Errorf("server 2's log: error txn 0x%x with a digest", zxid)
		case tx.Header.Type != proto.OpError && tx.Digest == nil:
			t.Errorf("server 2's log: %s txn 0x%x without a digest", tx.Header.Type, zxid)
		case tx.Digest != nil:
			withDigest++
		}
		return nil
	}); err != nil {
		t.Fatalf("reading server 2's log: %v", err)
	}
	t.Logf("server 2 (apache=%v) logged %d txns, %d with the leader's digest", follower.apache, n, withDigest)
	if withDigest < 30 {
		t.Errorf("server 2 logged %d txns with digests, want the workload's", withDigest)
	}
}
