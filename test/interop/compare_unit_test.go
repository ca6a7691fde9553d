package interop

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{
			name: "zkCli stat",
			in: "cZxid = 0x1b\nctime = Thu Nov 26 14:48:17 UTC 2026\nmZxid = 0x21\nmtime = Thu Nov 26 14:48:17 UTC 2026\n" +
				"pZxid = 0x1b\nephemeralOwner = 0x1000002212f0003\n",
			want: "cZxid = Z1\nctime = T\nmZxid = Z2\nmtime = T\npZxid = Z1\nephemeralOwner = s1\n",
		},
		{
			name: "cli_mt stat: hex zxids without 0x, C ctime, bare session id",
			in:   "\tctime = Thu Nov 26 14:46:50 2026\n\tczxid=14\n\tmzxid=e\n\tephemeralOwner = 1000002212f0003\nGot a new session id: 0x1000002212f0003\n",
			want: "\tctime = T\n\tczxid=Z2\n\tmzxid=Z1\n\tephemeralOwner = s1\nGot a new session id: s1\n",
		},
		{
			name: "sessions numbered by first appearance, zero kept",
			in:   "session=0x1000002212f0009 other=0x1000002212f0003 again=0x1000002212f0009 ephemeralOwner=0x0 czxid=0x0",
			want: "session=s1 other=s2 again=s1 ephemeralOwner=0x0 czxid=0x0",
		},
		{
			name: "epoch ms timestamps are not sessions",
			in:   "ctime=1764168376000 mtime=1764168377000 dataLength=1048575",
			want: "ctime=T mtime=T dataLength=1048575",
		},
		{
			name: "zkd zxids with an epoch rank like any other",
			in:   "czxid=0x100000003 mzxid=0x100000007 pzxid=0x100000003",
			want: "czxid=Z1 mzxid=Z2 pzxid=Z1",
		},
		{
			name: "versions",
			in:   "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\nzk_version\t3.9.3-zkd-0.1.0, built on 01/02/2025 10:00 GMT\n",
			want: "Zookeeper version: VERSION\nzk_version\tVERSION\n",
		},
		{
			name: "sequential names and short hex stay",
			in:   "/seq-0000000001 /x0000000012 0xdeadbeef",
			want: "/seq-0000000001 /x0000000012 0xdeadbeef",
		},
	}
	for _, c := range cases {
		if got := normalize(c.in); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestNormalizeKeepsRealDifferences(t *testing.T) {
	// Different versions, counts or event orders must survive normalization.
	pairs := [][2]string{
		{"version=1 cversion=2", "version=1 cversion=3"},
		{"event NodeDeleted /a\nevent NodeChildrenChanged /", "event NodeChildrenChanged /\nevent NodeDeleted /a"},
		{"czxid=0x5 mzxid=0x5", "czxid=0x5 mzxid=0x6"},
		{"owner=0x1000002212f0003 owner=0x1000002212f0003", "owner=0x1000002212f0003 owner=0x1000002212f0004"},
	}
	for _, p := range pairs {
		if normalize(p[0]) == normalize(p[1]) {
			t.Errorf("normalize hides the difference between %q and %q", p[0], p[1])
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	b := "1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n"
	got := unifiedDiff("apache", "zkd", a, b)
	want := `--- apache
+++ zkd
@@ -3,7 +3,7 @@
 3
 4
 5
-6
+six
 7
 8
 9
@@ -13,3 +13,4 @@
 13
 14
 15
+16
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := unifiedDiff("a", "b", a, a); strings.Contains(d, "@@") {
		t.Errorf("identical inputs produced hunks:\n%s", d)
	}
}

func TestCountGoTestResults(t *testing.T) {
	out := `=== RUN   TestA
--- PASS: TestA (0.01s)
=== RUN   TestB
    --- PASS: TestB/sub (0.00s)
    --- FAIL: TestB/other (0.00s)
--- FAIL: TestB (0.02s)
--- SKIP: TestC (0.00s)
FAIL
`
	c := countGoTestResults(out)
	if c.passed != 2 || c.skipped != 1 || strings.Join(c.failed, ",") != "TestB/other,TestB" {
		t.Errorf("counts = %+v", c)
	}
}

// FuzzNormalize checks that normalizing twice changes nothing: tokens the
// normalizer writes (VERSION, T, Z<n>, s<n>, PORT) must not match its own rules,
// or two transcripts could be rewritten differently depending on their history.
func FuzzNormalize(f *testing.F) {
	for _, seed := range []string{
		"cZxid = 0x1b\nctime = Thu Nov 26 14:48:17 UTC 2026\nephemeralOwner = 0x1000002212f0003\n",
		"\tczxid=14\n\tmzxid=e\n\tephemeralOwner = 1000002212f0003\n",
		"Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\nConnecting to 127.0.0.1:21860",
		"ctime=1764168376000 mzxid=0x100000007 session=0xff00000000000001",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := normalize(s)
		if twice := normalize(once); twice != once {
			t.Errorf("normalize is not idempotent:\n in: %q\nonce: %q\ntwice: %q", s, once, twice)
		}
	})
}
