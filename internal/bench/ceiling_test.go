package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
)

// Ports of the ceiling's tests (this branch's range, 29000-29199).
const (
	testCeilingPort        = 29001
	testCeilingRawPort     = 29002
	testCeilingCommandPort = 29003
	testCeilingDurablePort = 29004
	testCeilingComparePort = 29010 // and the next three
)

func startCeiling(t *testing.T, port, valueSize int) *Ceiling {
	t.Helper()
	c, err := ListenCeiling(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), valueSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCeilingAnswersGoZooKeeper drives the ceiling with the client the
// benchmark uses: every op it serves comes back well formed, every other
// op is refused with UNIMPLEMENTED and the session goes on.
func TestCeilingAnswersGoZooKeeper(t *testing.T) {
	c := startCeiling(t, testCeilingPort, 100)
	conn, err := openSession(context.Background(), []string{c.Addr().String()}, 10*time.Second, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if id := conn.SessionID(); id == 0 {
		t.Errorf("session id 0")
	}

	if p, err := conn.Create("/a/b", []byte("x"), 0, openACL); err != nil || p != "/a/b" {
		t.Errorf("create: %q, %v; want the path asked for", p, err)
	}
	p1, err1 := conn.Create("/q/n-", nil, zk.FlagSequence, openACL)
	p2, err2 := conn.Create("/q/n-", nil, zk.FlagSequence|zk.FlagEphemeral, zk.DigestACL(zk.PermAll, "u", "p"))
	if err1 != nil || err2 != nil || !strings.HasPrefix(p1, "/q/n-") || len(p1) != len("/q/n-")+10 || p1 == p2 {
		t.Errorf("sequential creates: %q (%v), %q (%v); want two distinct 10-digit suffixes", p1, err1, p2, err2)
	}
	data, st, err := conn.Get("/a/b")
	if err != nil || len(data) != 100 || st.DataLength != 100 || st.Czxid == 0 {
		t.Errorf("get: %d bytes, stat %+v, %v; want 100 bytes and a Stat saying so", len(data), st, err)
	}
	if st, err := conn.Set("/a/b", []byte("y"), -1); err != nil || st == nil || st.Mzxid == 0 {
		t.Errorf("set: %+v, %v", st, err)
	}
	if ok, st, err := conn.Exists("/a/b"); err != nil || !ok || st.DataLength != 100 {
		t.Errorf("exists: %v, %+v, %v", ok, st, err)
	}
	if ok, _, _, err := conn.ExistsW("/a/b"); err != nil || !ok {
		t.Errorf("exists with a watch: %v, %v", ok, err)
	}
	if err := conn.Delete("/a/b", -1); err != nil {
		t.Errorf("delete: %v", err)
	}

	// Not served: refused with ZooKeeper's code, never left unanswered.
	done := make(chan error, 1)
	go func() {
		_, _, err := conn.Children("/a")
		done <- err
	}()
	select {
	case err := <-done:
		if !unimplemented(err) {
			t.Errorf("getChildren: %v, want UNIMPLEMENTED", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("getChildren got no reply")
	}
	if _, _, err := conn.GetACL("/a"); !unimplemented(err) {
		t.Errorf("getACL: %v, want UNIMPLEMENTED", err)
	}
	if _, _, err := conn.Get("/a"); err != nil {
		t.Errorf("get after a refused request: %v", err)
	}
}

// unimplemented says whether err is ZooKeeper's UNIMPLEMENTED (-6), which
// go-zookeeper has no sentinel for.
func unimplemented(err error) bool {
	return err != nil && strings.HasSuffix(err.Error(), "unknown error: -6")
}

// rawCeiling speaks frames to a ceiling directly, for what go-zookeeper
// does not show: the ping's reply and the connection's end.
type rawCeiling struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, c *Ceiling) *rawCeiling {
	t.Helper()
	nc, err := net.Dial("tcp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawCeiling{t: t, nc: nc}
}

func (r *rawCeiling) send(body []byte) {
	r.t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := r.nc.Write(append(frame, body...)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawCeiling) recv() []byte {
	r.t.Helper()
	var n [4]byte
	if _, err := io.ReadFull(r.nc, n[:]); err != nil {
		r.t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(r.nc, body); err != nil {
		r.t.Fatal(err)
	}
	return body
}

func (r *rawCeiling) connect(timeoutMS int32) []byte {
	var b []byte
	b = appendInt32(b, 0)
	b = appendInt64(b, 0)
	b = appendInt32(b, timeoutMS)
	b = appendInt64(b, 0)
	b = appendInt32(b, 16)
	b = append(b, make([]byte, 16)...)
	r.send(b)
	return r.recv()
}

// header is a reply's xid, zxid and err.
func header(t *testing.T, reply []byte) (xid int32, zxid int64, code int32) {
	t.Helper()
	if len(reply) < 16 {
		t.Fatalf("reply of %d bytes, shorter than a header", len(reply))
	}
	return int32(binary.BigEndian.Uint32(reply)), int64(binary.BigEndian.Uint64(reply[4:])), int32(binary.BigEndian.Uint32(reply[12:]))
}

func request(xid, op int32, body ...byte) []byte {
	return append(appendInt32(appendInt32(nil, xid), op), body...)
}

func TestCeilingFrames(t *testing.T) {
	c := startCeiling(t, testCeilingRawPort, 8)
	r := dialRaw(t, c)
	// The timeout is bounded as Apache bounds it at tickTime 2000.
	resp := r.connect(100)
	if len(resp) != 4+4+8+4+16+1 || int32(binary.BigEndian.Uint32(resp[4:])) != ceilingMinSessionTimeout {
		t.Fatalf("connect response %x", resp)
	}

	// Pipelined: a ping, a getData and an unknown op, answered in order.
	var pipelined []byte
	for _, req := range [][]byte{request(-2, 11), request(7, 4, append(appendInt32(nil, 2), "/x"...)...), request(8, 9999)} {
		pipelined = binary.BigEndian.AppendUint32(pipelined, uint32(len(req)))
		pipelined = append(pipelined, req...)
	}
	if _, err := r.nc.Write(pipelined); err != nil {
		t.Fatal(err)
	}
	if xid, _, code := header(t, r.recv()); xid != -2 || code != 0 {
		t.Errorf("ping reply xid %d err %d", xid, code)
	}
	get := r.recv()
	if xid, _, code := header(t, get); xid != 7 || code != 0 || len(get) != 16+4+8+statLen {
		t.Errorf("getData reply xid %d err %d, %d bytes", xid, code, len(get))
	}
	if xid, _, code := header(t, r.recv()); xid != 8 || code != -6 {
		t.Errorf("unknown op: xid %d err %d, want UNIMPLEMENTED (-6)", xid, code)
	}

	// closeSession is answered, then the connection ends.
	r.send(request(9, -11))
	if xid, zxid, code := header(t, r.recv()); xid != 9 || code != 0 || zxid == 0 {
		t.Errorf("closeSession reply xid %d zxid %d err %d", xid, zxid, code)
	}
	if n, err := r.nc.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after closeSession: read %d, %v; want EOF", n, err)
	}

	// A truncated create and a four-letter word close the connection
	// instead of leaving it waiting.
	for name, frame := range map[string][]byte{
		"truncated create": func() []byte {
			req := request(1, 1, append(appendInt32(nil, 50), "/short"...)...)
			return append(binary.BigEndian.AppendUint32(nil, uint32(len(req))), req...)
		}(),
		"srvr": []byte("srvr"),
	} {
		r := dialRaw(t, c)
		r.connect(10_000)
		if _, err := r.nc.Write(frame); err != nil {
			t.Fatal(err)
		}
		if n, err := r.nc.Read(make([]byte, 64)); err != io.EOF {
			t.Errorf("%s: read %d, %v; want the connection closed", name, n, err)
		}
	}
}

func TestCeilingCommandListensWhereZooCfgSays(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(zooCfg(dir, strconv.Itoa(testCeilingCommandPort))), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := Command()
	var errOut bytes.Buffer
	cmd.SetArgs([]string{"ceiling", "--config", cfg, "--value-size", "10"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(&errOut)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	endpoint := net.JoinHostPort("127.0.0.1", strconv.Itoa(testCeilingCommandPort))
	conn, err := openSession(ctx, []string{endpoint}, 10*time.Second, 10*time.Second)
	if err != nil {
		cancel()
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if data, _, err := conn.Get("/zkbench"); err != nil || len(data) != 10 {
		t.Errorf("get: %d bytes, %v; want --value-size 10", len(data), err)
	}
	conn.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ceiling ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ceiling did not stop when its context ended")
	}
	if c, err := net.DialTimeout("tcp", endpoint, time.Second); err == nil {
		c.Close()
		t.Errorf("the ceiling still listens after it stopped")
	}
}

// TestCompareCeilingCommand runs `bench compare --ceiling` tiny (one 1 s
// run per workload and system) through the command line: the reports
// carry zkd, ZooKeeper and the limit side by side.
func TestCompareCeilingCommand(t *testing.T) {
	requireApache(t)
	bin, err := launch.BuildZkd(t.TempDir())
	if err != nil {
		t.Fatalf("build zkd: %v", err)
	}
	out := t.TempDir()
	began := time.Now()
	runBenchCommand(t, "compare", "--durable-ceiling", "--zkd-bin", bin, "--workloads", "set,get", "--clients", "4",
		"--duration", "1s", "--warmup", "0s", "--repeats", "1", "--startup-repeats", "1", "--prepopulate", "50",
		"--out", out, "--work-dir", t.TempDir(), "--port-base", strconv.Itoa(testCeilingComparePort), "--quiet")
	t.Logf("compare --ceiling took %v", time.Since(began).Round(time.Second))

	data, err := os.ReadFile(filepath.Join(out, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report CompareReport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&report); err != nil {
		t.Fatalf("compare.json: %v", err)
	}
	if !report.Settings.Ceiling || !slices.Contains(report.Commands[roleCeiling], "ceiling") ||
		!report.Settings.DurableCeiling || !slices.Contains(report.Commands[roleDurableCeiling], "--durable") {
		t.Errorf("settings %+v and commands %q do not name both ceilings", report.Settings, report.Commands)
	}
	if len(report.Runs) != 4*2 {
		t.Errorf("%d runs, want 4 systems × 2 workloads", len(report.Runs))
	}
	if len(report.Throughput) != 2 {
		t.Fatalf("%d throughput rows, want 2", len(report.Throughput))
	}
	for _, row := range report.Throughput {
		if row.Ceiling == nil || row.ZkdOfCeiling == nil || row.ZooKeeperOfCeiling == nil ||
			row.DurableCeiling == nil || row.ZkdOfDurableCeiling == nil || row.ZooKeeperOfDurableCeiling == nil {
			t.Fatalf("%s: no ceiling figures: %+v", row.Workload, row)
		}
		for role, f := range map[string]SystemFigures{roleZkd: row.Zkd, roleZooKeeper: row.ZooKeeper, roleCeiling: *row.Ceiling, roleDurableCeiling: *row.DurableCeiling} {
			if f.OpsPerSecond.N != 1 || f.OpsPerSecond.Min <= 0 || f.Errors != 0 || f.ClientCPUUSPerOp.N != 1 {
				t.Errorf("%s %s: ops/s %+v, %d errors, client CPU %+v", role, row.Workload, f.OpsPerSecond, f.Errors, f.ClientCPUUSPerOp)
			}
		}
		if row.ZkdOfCeiling.N != 1 || row.ZkdOfCeiling.Median <= 0 || row.ZooKeeperOfCeiling.Median <= 0 {
			t.Errorf("%s: fractions of the limit %+v, %+v", row.Workload, *row.ZkdOfCeiling, *row.ZooKeeperOfCeiling)
		}
		t.Logf("%s at 4 clients: zkd %.0f, ZooKeeper %.0f, limit %.0f, durable limit %.0f ops/s (zkd %.0f %% of the limit, %.0f %% of the durable one)", row.Workload,
			row.Zkd.OpsPerSecond.Median, row.ZooKeeper.OpsPerSecond.Median, row.Ceiling.OpsPerSecond.Median, row.DurableCeiling.OpsPerSecond.Median,
			100*row.ZkdOfCeiling.Median, 100*row.ZkdOfDurableCeiling.Median)
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| zkd ops/s | ZooKeeper ops/s | limit ops/s |", "| zkd ÷ limit |", "| set | 4 |", "| get | 4 |", "limit µs", "| zkd ÷ durable limit |", "durable limit µs"} {
		if !bytes.Contains(summary, []byte(want)) {
			t.Errorf("summary.md lacks %q:\n%s", want, summary)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "throughput.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(svg, []byte("<polyline")); lines != 4*2 {
		t.Errorf("throughput.svg has %d series lines, want 4 per workload", lines)
	}
	for port := testCeilingComparePort; port < testCeilingComparePort+4; port++ {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("something still listens on port %d after the comparison", port)
		}
	}
}

func TestCompareRefusesTheCeilingWithAnEnsemble(t *testing.T) {
	cfg := DefaultEnsembleCompareConfig()
	cfg.Zkd, cfg.ZooKeeper, cfg.Ceiling = ZkdSpec("/bin/zkd"), ZkdSpec("/bin/zkd"), CeilingSpec("/bin/zkd", 256)
	if _, err := Compare(context.Background(), cfg); !errors.Is(err, ErrCompareConfig) {
		t.Fatalf("ceiling with an ensemble: err = %v, want ErrCompareConfig", err)
	}
}

// FuzzCeilingRequest: any request frame gets one well-formed reply (its
// length right, the request's xid, or -2 for a ping), or ends the
// connection; never a panic.
func FuzzCeilingRequest(f *testing.F) {
	f.Add(request(1, 1, append(appendInt32(nil, 2), "/a"...)...)) // truncated create
	f.Add(request(2, 4, append(appendInt32(nil, 2), "/a"...)...))
	f.Add(request(-2, 11))
	f.Add(request(3, -11))
	f.Add(request(4, 1, 0, 0, 0, 1, '/', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5, 'w', 'o', 'r', 'l', 'd', 0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e', 0, 0, 0, 2))
	f.Add([]byte{0, 0, 0})
	c := &Ceiling{value: payload(16, 3)}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var out bytes.Buffer
		cc := &ceilingConn{w: bufio.NewWriter(&out), zxid: 1}
		_, err := c.answer(cc, frame)
		cc.w.Flush()
		if err != nil {
			if out.Len() != 0 {
				t.Fatalf("a refused frame was answered: %x", out.Bytes())
			}
			return
		}
		reply := out.Bytes()
		if len(reply) < 20 || int(binary.BigEndian.Uint32(reply)) != len(reply)-4 {
			t.Fatalf("reply %x: bad length prefix", reply)
		}
		xid := int32(binary.BigEndian.Uint32(reply[4:]))
		if want := int32(binary.BigEndian.Uint32(frame)); xid != want && xid != pingXid {
			t.Fatalf("reply xid %d to request xid %d", xid, want)
		}
	})
}

// setDataRequest is a SetDataRequest frame body: path, data, version -1.
func setDataRequest(xid int32, path string, data []byte) []byte {
	b := appendInt32(nil, int32(len(path)))
	b = append(b, path...)
	b = appendInt32(b, int32(len(data)))
	b = append(b, data...)
	return request(xid, 5, appendInt32(b, -1)...)
}

// TestDurableCeilingRepliesAfterTheSync: with --durable a write's reply
// leaves only once an fdatasync covering its log record has returned (the
// sync is held here, and the reply must wait for it), a read on another
// connection is not held by it, the log holds the request with its
// checksum, and a failed sync answers nothing and closes the connection.
func TestDurableCeilingRepliesAfterTheSync(t *testing.T) {
	dir := t.TempDir()
	c, err := ListenDurableCeiling(net.JoinHostPort("127.0.0.1", strconv.Itoa(testCeilingDurablePort)), 8, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	gate := make(chan error)
	entered := make(chan struct{}, 16)
	c.log.sync = func(f *os.File) error {
		entered <- struct{}{}
		if err := <-gate; err != nil {
			return err
		}
		return datasync(f)
	}

	w := dialRaw(t, c)
	w.connect(10_000)
	set := setDataRequest(1, "/zkbench/k", []byte("value-1"))
	w.send(set)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the write started no sync")
	}
	w.nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := w.nc.Read(make([]byte, 64)); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the write's reply came while its sync was held: read %d, %v", n, err)
	}
	// Another connection's read is answered meanwhile.
	r := dialRaw(t, c)
	r.connect(10_000)
	r.send(request(-2, 11))
	if xid, _, code := header(t, r.recv()); xid != -2 || code != 0 {
		t.Errorf("ping during a held sync: xid %d err %d", xid, code)
	}
	gate <- nil
	w.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if xid, zxid, code := header(t, w.recv()); xid != 1 || code != 0 || zxid == 0 {
		t.Errorf("setData reply after the sync: xid %d zxid %d err %d", xid, zxid, code)
	}
	if syncs, records := c.Synced(); syncs != 1 || records != 1 {
		t.Errorf("Synced() = %d syncs, %d records; want 1 and 1", syncs, records)
	}
	data, err := os.ReadFile(filepath.Join(dir, "ceiling.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != ceilingLogPrealloc {
		t.Errorf("log file of %d bytes, want one preallocation block of %d", len(data), ceilingLogPrealloc)
	}
	n := binary.BigEndian.Uint32(data)
	if int(n) != len(set) || !bytes.Equal(data[8:8+n], set) || binary.BigEndian.Uint32(data[4:]) != crc32.Checksum(set, castagnoli) {
		t.Errorf("log record %x, want length, CRC-32C and the request %x", data[:min(len(data), 8+len(set))], set)
	}

	// A failed sync: no reply, the connection ends.
	w.send(setDataRequest(2, "/zkbench/k", []byte("value-2")))
	<-entered
	gate <- errors.New("injected: sync failed")
	if n, err := w.nc.Read(make([]byte, 64)); err != io.EOF {
		t.Errorf("after a failed sync: read %d bytes, %v; want the connection closed and nothing answered", n, err)
	}
}

func TestCeilingCommandDurableFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(zooCfg(dir, strconv.Itoa(testCeilingCommandPort))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"ceiling", "--log-dir", dir},
		{"ceiling", "--durable", "--listen", "127.0.0.1:0"},
	} {
		cmd := Command()
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); !errors.Is(err, ErrCeilingConfig) {
			t.Errorf("%q: %v, want ErrCeilingConfig", args, err)
		}
	}

	// With --config it logs to the zoo.cfg's dataDir.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := Command()
	var errOut bytes.Buffer
	cmd.SetArgs([]string{"ceiling", "--config", cfg, "--durable"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(&errOut)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	conn, err := openSession(ctx, []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(testCeilingCommandPort))}, 10*time.Second, 10*time.Second)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for i := range 3 {
		if _, err := conn.Set("/zkbench/k", []byte{byte(i)}, -1); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ceiling ended with %v", err)
	}
	// Three sets and the closeSession.
	if !strings.Contains(errOut.String(), "ceiling: 4 writes logged in ") {
		t.Errorf("the durable ceiling's closing line is missing:\n%s", errOut.String())
	}
	if st, err := os.Stat(filepath.Join(dir, "ceiling.log")); err != nil || st.Size() == 0 {
		t.Errorf("no log in the zoo.cfg's dataDir: %v", err)
	}
}

// TestCompareCommandsNameEveryRole: the report's commands carry every
// system that runs, the plain ceiling with or without the durable one.
func TestCompareCommandsNameEveryRole(t *testing.T) {
	cfg := DefaultCompareConfig()
	cfg.Zkd, cfg.ZooKeeper = ZkdSpec("/bin/zkd"), ZkdSpec("/bin/zk")
	if got := cfg.commands(); len(got) != 2 || got[roleZkd] == nil || got[roleZooKeeper] == nil {
		t.Errorf("two servers: commands %q", got)
	}
	cfg.Ceiling = CeilingSpec("/bin/zkd", 256)
	if got := cfg.commands(); len(got) != 3 || !slices.Contains(got[roleCeiling], "ceiling") || slices.Contains(got[roleCeiling], "--durable") {
		t.Errorf("with the ceiling: commands %q", got)
	}
	cfg.DurableCeiling = DurableCeilingSpec("/bin/zkd", 256)
	if got := cfg.commands(); len(got) != 4 || !slices.Contains(got[roleDurableCeiling], "--durable") || slices.Contains(got[roleCeiling], "--durable") {
		t.Errorf("with both ceilings: commands %q", got)
	}
}
