package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// scenario drives one client against the server at addr and returns the
// transcript a user of that client would see.
type scenario func(t *testing.T, addr string) string

// compare runs scenario against the shared Apache server and the shared zkd
// server (in parallel), normalizes both transcripts and fails with a diff when
// they differ.
func compare(t *testing.T, name string, sc func(t *testing.T, addr string) string) {
	t.Helper()
	comparePair(t, sharedPair(t), name, sc)
}

// comparePair is compare against a given pair of servers.
func comparePair(t *testing.T, p *pair, name string, sc scenario) {
	t.Helper()
	comparePairWith(t, p, name, sc, normalize)
}

// comparePairWith is comparePair with a custom normalization (four-letter words
// reduce their output to structure).
func comparePairWith(t *testing.T, p *pair, name string, sc scenario, norm func(string) string) {
	t.Helper()
	compareSides(t, name, norm, side{p.apache.Kind, func(t *testing.T) string { return sc(t, p.apache.Addr()) },
		func() string { return logTail(p.apache) }},
		side{p.zkd.Kind, func(t *testing.T) string { return sc(t, p.zkd.Addr()) },
			func() string { return logTail(p.zkd) }})
}

// side is one half of a comparison: what runs the scenario, and the server
// log a failure shows.
type side struct {
	kind string
	run  func(t *testing.T) string
	logs func() string
}

func logTail(s *Server) string {
	return fmt.Sprintf("%s log tail (%s):\n%s", s.Kind, s.LogPath(), s.LogTail(15))
}

// compareSides runs Apache's and zkd's side of a scenario in parallel
// subtests, normalizes both transcripts and fails with a diff when they
// differ.
func compareSides(t *testing.T, name string, norm func(string) string, apache, zkd side) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		var apacheOut, zkdOut string
		// The parallel subtests below start only after this function returns,
		// so the comparison waits in a cleanup, which runs after both.
		t.Cleanup(func() {
			a, z := norm(apacheOut), norm(zkdOut)
			dir := transcriptDir(t)
			for file, text := range map[string]string{
				"apache.raw.txt": apacheOut, "zkd.raw.txt": zkdOut,
				"apache.txt": a, "zkd.txt": z,
			} {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
					t.Errorf("save transcript: %v", err)
				}
			}
			if a == "" && z == "" {
				t.Errorf("%s: both transcripts are empty", name)
				return
			}
			if a != z {
				t.Errorf("%s: zkd (%s) differs from Apache ZooKeeper (%s); transcripts in %s\n%s",
					name, zkd.kind, apache.kind, dir, unifiedDiff("apache", "zkd", a, z))
				t.Logf("apache transcript (normalized):\n%s", a)
				t.Logf("zkd transcript (normalized):\n%s", z)
				t.Logf("%s", apache.logs())
				t.Logf("%s", zkd.logs())
			}
		})
		t.Run("apache", func(t *testing.T) {
			t.Parallel()
			apacheOut = apache.run(t)
		})
		t.Run("zkd", func(t *testing.T) {
			t.Parallel()
			zkdOut = zkd.run(t)
		})
	})
}

// transcriptDir keeps transcripts under $ZKD_INTEROP_OUT when set, else in the
// test's temp dir.
func transcriptDir(t *testing.T) string {
	if out := os.Getenv(envOutputDir); out != "" {
		dir := filepath.Join(out, "transcripts", sanitize(t.Name()))
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir
		}
	}
	return t.TempDir()
}

// transcript accumulates what a user sees, one line per printf.
type transcript struct {
	b strings.Builder
}

func (tr *transcript) printf(format string, args ...any) {
	fmt.Fprintf(&tr.b, format, args...)
	if !strings.HasSuffix(format, "\n") {
		tr.b.WriteByte('\n')
	}
}

func (tr *transcript) String() string { return tr.b.String() }

// Normalization. Values that legitimately differ between two servers (or two
// runs) are replaced by stable tokens; everything else must match exactly.
var (
	// "3.8.0-<hash>, built on 2024-12-29 17:54 UTC", "3.9.3-zkd-0.1.0, built on 01/02/2025 10:00 GMT".
	versionRE = regexp.MustCompile(`\b\d+\.\d+\.\d+(-[^\s,]*)?, built on [^\n]*`)
	// ctime/mtime as epoch ms, Java Date.toString() or C ctime().
	timeRE = regexp.MustCompile(`(?i)\b([cm]time)(\s*[=:]\s*)(\d+|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d( [A-Z]{2,5})? \d{4})`)
	// zxid-valued fields; the value is hex, with or without 0x (cli_mt prints %llx).
	zxidRE = regexp.MustCompile(`(?i)\b([cmp]?zxid)(\s*[=:]\s*)(?:0x)?([0-9a-f]+)\b`)
	// Server addresses: each server has its own port.
	loopbackRE = regexp.MustCompile(`\b127\.0\.0\.1:\d+`)
	// Session ids: 12-16 hex digits (serverId<<56 | time bits), with or without 0x.
	sessionRE = regexp.MustCompile(`(?i)\b(?:0x)?([0-9a-f]{12,16})\b`)
)

// normalize rewrites a transcript so that two correct servers produce the same
// text: version strings become VERSION, 127.0.0.1:<port> 127.0.0.1:PORT, timestamps T, zxids Z<rank> (rank among
// the distinct zxids of this transcript, so order and equality survive), and
// session ids s<n> in order of first appearance. Zero stays zero.
const zkCliClosedEvent = "\n  [event] WatchedEvent state:Closed type:None path:null"

func normalize(s string) string {
	// zkCli prints the Closed event of its own quit only when its event
	// thread runs before the JVM exits: a race in the client, with either
	// server.
	if body := strings.TrimRight(s, "\n"); strings.HasSuffix(body, zkCliClosedEvent) {
		s = strings.TrimSuffix(body, zkCliClosedEvent) + s[len(body):]
	}
	s = versionRE.ReplaceAllString(s, "VERSION")
	s = loopbackRE.ReplaceAllString(s, "127.0.0.1:PORT")
	s = timeRE.ReplaceAllString(s, "${1}${2}T")

	var zxids []uint64
	seen := map[uint64]bool{}
	for _, m := range zxidRE.FindAllStringSubmatch(s, -1) {
		v, err := strconv.ParseUint(m[3], 16, 64)
		if err == nil && !seen[v] {
			seen[v] = true
			zxids = append(zxids, v)
		}
	}
	sort.Slice(zxids, func(i, j int) bool { return zxids[i] < zxids[j] })
	rank := map[uint64]int{}
	for _, v := range zxids {
		if v != 0 {
			rank[v] = len(rank) + 1
		}
	}
	s = zxidRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := zxidRE.FindStringSubmatch(m)
		v, err := strconv.ParseUint(sub[3], 16, 64)
		if err != nil || v == 0 {
			return m
		}
		return sub[1] + sub[2] + "Z" + strconv.Itoa(rank[v])
	})

	labels := map[uint64]string{}
	s = sessionRE.ReplaceAllStringFunc(s, func(m string) string {
		v, err := strconv.ParseUint(sessionRE.FindStringSubmatch(m)[1], 16, 64)
		if err != nil || v == 0 {
			return m
		}
		if _, ok := labels[v]; !ok {
			labels[v] = "s" + strconv.Itoa(len(labels)+1)
		}
		return labels[v]
	})
	return s
}

// unifiedDiff renders a line diff of a and b in unified style with three lines
// of context. It is meant for transcripts of a few hundred lines.
func unifiedDiff(aName, bName, a, b string) string {
	al := splitLines(a)
	bl := splitLines(b)
	ops := diffLines(al, bl)

	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	const context = 3
	for i := 0; i < len(ops); {
		// Find the next change.
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(i-context, 0)
		end := i
		// Extend the hunk while changes are closer than 2*context apart.
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		aStart, bStart, aLen, bLen := ops[start].aLine, ops[start].bLine, 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", aStart+1, aLen, bStart+1, bLen)
		for _, op := range ops[start:end] {
			fmt.Fprintf(&out, "%c%s\n", op.kind, op.text)
		}
		i = end
	}
	return out.String()
}

type diffOp struct {
	kind         byte // ' ', '-', '+'
	text         string
	aLine, bLine int // 0-based positions before this op
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// diffLines is a longest-common-subsequence diff (quadratic, fine for
// transcripts).
func diffLines(a, b []string) []diffOp {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j], i, j})
			j++
		}
	}
	return ops
}
