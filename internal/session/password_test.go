package session

import (
	"encoding/hex"
	"testing"
)

// Session ids and passwords handed out by a real Apache ZooKeeper 3.8.0
// standalone server (Debian package, started with
// `java -cp "/etc/zookeeper/conf:/usr/share/java/*" org.apache.zookeeper.server.ZooKeeperServerMain 21980 <dir> 2000`),
// captured with kazoo: six KazooClient connections in a row, printing
// client.client_id (session id, password) of each.
var apacheSessions = []struct {
	id       uint64
	password string
}{
	{0x01000006e03a0000, "94fd64f29121d8d9925cdb46c2decbc8"},
	{0x01000006e03a0001, "a71e5ff2316db71e879f42729667e095"},
	{0x01000006e03a0002, "6ebb70f2518a1950a8d60cf01bcda22e"},
	{0x01000006e03a0003, "81dc6af2f1d5f8949d19741bef55b7fb"},
	{0x01000006e03a0004, "e0814df2115055ed676878f411021efd"},
	{0x01000006e03a0005, "f3a247f2b19b34325cabdf1fe48a32ca"},
}

// Edge ids no live server hands out, computed with OpenJDK 17:
// new java.util.Random(id ^ 0xB3415C00L).nextBytes(new byte[16]).
var javaRandomPasswords = []struct {
	id       uint64
	password string
}{
	{0x0000000000000000, "f22acd4a97e69d6d20a49bb638eadb38"},
	{0x0000000000000001, "054cc74a37327db215e702e20c73f005"},
	{0xffffffffffffffff, "20f62cb5648dc2d771471c8a2486a9ee"},
	{0x8000000000000000, "f22acd4a97e69d6d20a49bb638eadb38"},
	{0x7fffffffffffffff, "20f62cb5648dc2d771471c8a2486a9ee"},
	{0xff0000000000ea60, "b27a4bda447eaab6a34a0ebf37da36a1"},
	{0x8000000000000001, "054cc74a37327db215e702e20c73f005"},
	{0x7f00012345670001, "5e058fd21c1319ff96668b75f9a288e2"},
}

func TestPasswordMatchesApache(t *testing.T) {
	for _, tc := range append(apacheSessions, javaRandomPasswords...) {
		got := hex.EncodeToString(Password(int64(tc.id)))
		if got != tc.password {
			t.Errorf("Password(%#016x) = %s, want %s", tc.id, got, tc.password)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	id := int64(apacheSessions[0].id)
	good, _ := hex.DecodeString(apacheSessions[0].password)
	if !CheckPassword(id, good) {
		t.Fatal("the captured password was rejected")
	}
	bad := append([]byte(nil), good...)
	bad[15] ^= 1
	for _, tc := range []struct {
		name   string
		id     int64
		passwd []byte
	}{
		{"one bit flipped", id, bad},
		{"short", id, good[:15]},
		{"empty", id, nil},
		{"another session's", int64(apacheSessions[1].id), good},
		{"session 0", 0, Password(0)},
	} {
		if CheckPassword(tc.id, tc.passwd) {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
