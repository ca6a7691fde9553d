package quorum_test

// TestApacheFollowsAGoPeer settles the byte formats on the wire: two
// Apache ZooKeeper 3.8 servers (ids 1 and 2) and this test, playing server
// 3 with plain net code and the codecs, make a three-server ensemble on
// loopback. Apache's servers must dial the test's election port, take its
// vote (a newer epoch than theirs) and follow it: FOLLOWERINFO on the
// test's quorum port, then ACKEPOCH for its LEADERINFO. The sync after
// that is not played.
//
// Server 1 starts alone, so that 1 and 2 cannot elect each other before
// the test's vote reaches them; server 2 starts once server 1 follows, and
// joins the election that server 1 has left.
//
//	go test -run TestApacheFollowsAGoPeer -v ./internal/quorum/   # -v logs the bytes seen

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/quorum"
	"github.com/zkd/zkd/internal/zab"
)

const (
	// This package's slice of the loopback ports (test/interop has
	// 21810-21899, test/durability 24810-24899).
	portLow  = 23810
	portHigh = 23899

	// testDeadline bounds the whole scene: two JVM starts and the
	// handshakes take about 10 s on an idle machine.
	testDeadline = 55 * time.Second

	ourID = 3
	// Apache's epoch files (currentEpoch, acceptedEpoch) are set so that
	// every field on the wire has a value of its own.
	server1CurrentEpoch, server1AcceptedEpoch = 5, 6
	server2CurrentEpoch, server2AcceptedEpoch = 4, 7
	// newEpoch is the epoch the test proposes in LEADERINFO: above server
	// 1's acceptedEpoch (it acks with its currentEpoch) and equal to
	// server 2's (it answers -1).
	newEpoch = 7
	// ourRound is the test's election round, above Apache's first (1), so
	// that Apache adopts it.
	ourRound = 3
)

// ourVote beats Apache's: a newer epoch than either server's currentEpoch.
var ourVote = zab.Vote{Leader: ourID, Zxid: zab.MakeZxid(8, 0x2a), PeerEpoch: 8}

var ports = &launch.Ports{Low: portLow, High: portHigh}

func TestApacheFollowsAGoPeer(t *testing.T) {
	requireApache(t)
	deadline := time.Now().Add(testDeadline)

	members := make([]quorum.Member, 3)
	for i := range members {
		members[i] = quorum.Member{
			ID:         int64(i + 1),
			Addresses:  []quorum.PeerAddress{{Host: "127.0.0.1", QuorumPort: allocPort(t), ElectionPort: allocPort(t)}},
			ClientHost: "127.0.0.1",
			ClientPort: allocPort(t),
		}
	}
	config := quorum.QuorumConfig{Members: members}
	// Server 2 gets the test's vote in the 3.4 shape (40 bytes, no version,
	// no config), which 3.8 must still read.
	me := newFakePeer(t, config, 2)
	sc := &scene{t: t, deadline: deadline, peer: me}

	s1 := sc.start(1, server1CurrentEpoch, server1AcceptedEpoch)
	sc.checkElection(s1, server1CurrentEpoch, false)
	learner1 := sc.checkFollowerInfo(1, server1AcceptedEpoch)
	sc.checkAckEpoch(learner1, 1, server1CurrentEpoch)

	// Server 1 waits for the sync (initLimit × tickTime) while server 2
	// starts; server 1 answers server 2 as a follower of the test (and may
	// first hand it the vote for the test it queued for server 2 while
	// server 2 was down).
	s2 := sc.start(2, server2CurrentEpoch, server2AcceptedEpoch)
	sc.checkElection(s2, server2CurrentEpoch, true)
	learner2 := sc.checkFollowerInfo(2, server2AcceptedEpoch)
	sc.checkAckEpoch(learner2, 2, quorum.AckEpochAlreadyAccepted)
	// FastLeaderElection.WorkerReceiver logs how it read the 40 bytes
	// (whether or not server 1's queued notification came first).
	sc.expectLog(s2, "Backward compatibility mode (36 bits), server id: 3")
}

// expectLog waits for the server to log text.
func (sc *scene) expectLog(s *apacheServer, text string) {
	sc.t.Helper()
	for !strings.Contains(s.log(), text) {
		if time.Now().After(sc.deadline) {
			sc.fail("server %d did not log %q", s.id, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scene is one run: the Apache servers started so far and the fake peer.
type scene struct {
	t        *testing.T
	deadline time.Time
	peer     *fakePeer
	servers  []*apacheServer
}

func (sc *scene) start(id, currentEpoch, acceptedEpoch int64) *apacheServer {
	sc.t.Helper()
	s := startApache(sc.t, id, sc.peer.config, currentEpoch, acceptedEpoch)
	sc.servers = append(sc.servers, s)
	return s
}

// fail ends the test with what each Apache server logged last.
func (sc *scene) fail(format string, args ...any) {
	sc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, format, args...)
	for _, s := range sc.servers {
		state := "running"
		if !s.alive() {
			state = fmt.Sprintf("exited: %v", s.waitErr)
		}
		fmt.Fprintf(&b, "\n--- Apache server %d (%s), %s ---\n%s", s.id, state, s.logPath, s.logTail(25))
	}
	sc.t.Fatal(b.String())
}

// expect waits for the first event on ch that match accepts, failing on a
// protocol error of the fake peer, an Apache exit or the deadline. Events
// it skips are logged.
func expect[T any](sc *scene, ch <-chan T, what string, match func(T) bool) T {
	sc.t.Helper()
	timer := time.NewTimer(time.Until(sc.deadline))
	defer timer.Stop()
	for {
		var exited <-chan struct{}
		for _, s := range sc.servers {
			if !s.alive() {
				sc.fail("waiting for %s: Apache server %d exited", what, s.id)
			}
			exited = s.exited // the newest server is the likeliest to fail
		}
		select {
		case ev := <-ch:
			if match(ev) {
				return ev
			}
			sc.t.Logf("while waiting for %s, skipped %+v", what, ev)
		case err := <-sc.peer.failures:
			sc.fail("waiting for %s: %v", what, err)
		case <-exited:
		case <-timer.C:
			sc.fail("no %s within %v of the test's start", what, testDeadline)
		}
	}
}

// checkElection follows one Apache server's election: it dials the test's
// election port and drops that connection (the test's sid is larger),
// then on the connection the test dials back it sends its own vote and,
// once it has the test's, a vote for the test. With mayKnowOurVote, its
// first notification may already be that vote: a server joining late
// gets, from a peer's send queue, the LOOKING notification that peer had
// queued for it during the peer's own election.
func (sc *scene) checkElection(s *apacheServer, currentEpoch int64, mayKnowOurVote bool) {
	sc.t.Helper()
	sid := s.id
	dial := expect(sc, sc.peer.dialedUs, fmt.Sprintf("server %d's election connection", sid),
		func(ev dialEvent) bool { return ev.msg.SID == sid })
	sc.t.Logf("server %d's initial message: %s", sid, hex.EncodeToString(dial.raw))
	wantAddr := fmt.Sprintf("127.0.0.1:%d", sc.peer.config.Members[sid-1].Addresses[0].ElectionPort)
	if dial.msg.ProtocolVersion != quorum.ProtocolV1 || dial.msg.Address != wantAddr {
		sc.fail("server %d's initial message = %+v, want protocol %d, address %s", sid, dial.msg, quorum.ProtocolV1, wantAddr)
	}
	if !dial.droppedByDialer {
		sc.fail("server %d kept the connection it dialed to the larger sid %d", sid, ourID)
	}

	own := zab.Notification{
		State:         zab.Looking,
		Vote:          zab.Vote{Leader: sid, Zxid: 0, PeerEpoch: currentEpoch},
		ElectionEpoch: 1,
		Version:       zab.NotificationVersion,
	}
	adopted := zab.Notification{State: zab.Looking, Vote: ourVote, ElectionEpoch: ourRound, Version: zab.NotificationVersion}
	first := expect(sc, sc.peer.notes, fmt.Sprintf("server %d's first notification", sid),
		func(ev noteEvent) bool { return ev.from == sid })
	sc.t.Logf("server %d's first notification: %s", sid, hex.EncodeToString(first.raw))
	switch {
	case first.n.Notification == own:
	case first.n.Notification == adopted && mayKnowOurVote:
		sc.t.Logf("server %d had the test's vote from server 1 before the test's reached it", sid)
	default:
		sc.fail("server %d's first notification = %v (version %d), want its own vote %v (version %d)",
			sid, first.n.Notification, first.n.Version, own, own.Version)
	}
	cfg, err := quorum.ParseConfig(first.n.Config)
	if err != nil {
		sc.fail("server %d's config text %q: %v", sid, first.n.Config, err)
	}
	if got, want := cfg.String(), sc.peer.config.String(); got != want || first.n.Config != want {
		sc.fail("server %d's config text =\n%s\nwant (as the test's zoo.cfg and encoder have it)\n%s", sid, first.n.Config, want)
	}
	if len(cfg.Voters()) != 3 {
		sc.fail("server %d's config has voters %v, want 1, 2, 3", sid, cfg.Voters())
	}
	if first.n.Notification == adopted {
		return
	}

	next := expect(sc, sc.peer.notes, fmt.Sprintf("server %d's vote for %d", sid, ourID),
		func(ev noteEvent) bool { return ev.from == sid && ev.n.Vote.Leader == ourID })
	sc.t.Logf("server %d's vote for the test: %s", sid, hex.EncodeToString(next.raw))
	if next.n.Notification != adopted || next.n.Config != first.n.Config {
		sc.fail("server %d's vote for the test = %v, want %v: the test's round and vote, adopted", sid, next.n.Notification, adopted)
	}
}

// checkFollowerInfo waits for the server's learner connection and its
// FOLLOWERINFO.
func (sc *scene) checkFollowerInfo(sid, acceptedEpoch int64) *learnerConn {
	sc.t.Helper()
	ev := expect(sc, sc.peer.packets, fmt.Sprintf("FOLLOWERINFO from server %d", sid),
		func(ev packetEvent) bool { return ev.p.Type == quorum.PacketFollowerInfo })
	sc.t.Logf("FOLLOWERINFO: %s", hex.EncodeToString(ev.raw))
	li, err := quorum.DecodeLearnerInfo(ev.p.Data)
	if err != nil {
		sc.fail("FOLLOWERINFO's data %x: %v", ev.p.Data, err)
	}
	wantLi := quorum.LearnerInfo{SID: sid, ProtocolVersion: quorum.ZabProtocolVersion, ConfigVersion: 0}
	if li != wantLi || len(ev.p.Data) != 20 {
		sc.fail("FOLLOWERINFO's LearnerInfo = %+v in %d bytes, want %+v in 20", li, len(ev.p.Data), wantLi)
	}
	if want := zab.MakeZxid(acceptedEpoch, 0); ev.p.Zxid != want || ev.p.AuthInfo != nil {
		sc.fail("FOLLOWERINFO zxid 0x%x, authinfo %v; want makeZxid(acceptedEpoch %d, 0) = 0x%x and none",
			ev.p.Zxid, ev.p.AuthInfo, acceptedEpoch, want)
	}
	return ev.conn
}

// checkAckEpoch proposes newEpoch in LEADERINFO and checks the answer.
func (sc *scene) checkAckEpoch(l *learnerConn, sid int64, wantEpoch int32) {
	sc.t.Helper()
	leaderInfo := quorum.QuorumPacket{
		Type: quorum.PacketLeaderInfo,
		Zxid: zab.MakeZxid(newEpoch, 0),
		Data: quorum.EncodeLeaderInfo(quorum.ZabProtocolVersion),
	}
	if err := l.write(leaderInfo); err != nil {
		sc.fail("send LEADERINFO to server %d: %v", sid, err)
	}
	ev := expect(sc, sc.peer.packets, fmt.Sprintf("ACKEPOCH from server %d", sid),
		func(ev packetEvent) bool { return ev.conn == l })
	sc.t.Logf("ACKEPOCH: %s", hex.EncodeToString(ev.raw))
	if ev.p.Type != quorum.PacketAckEpoch {
		sc.fail("server %d answered LEADERINFO with %s, want ACKEPOCH", sid, ev.p.Type)
	}
	epoch, err := quorum.DecodeAckEpoch(ev.p.Data)
	if err != nil || epoch != wantEpoch || len(ev.p.Data) != 4 {
		sc.fail("server %d's ACKEPOCH data %x = %d, %v; want the int %d", sid, ev.p.Data, epoch, err, wantEpoch)
	}
	// The learner's last logged zxid: nothing was ever logged.
	if ev.p.Zxid != 0 {
		sc.fail("server %d's ACKEPOCH zxid = 0x%x, want its last logged zxid 0", sid, ev.p.Zxid)
	}
}

// fakePeer plays server 3: it listens on its election and quorum ports,
// dials back every server that dials it, votes for itself and hands what
// it reads to the test.
type fakePeer struct {
	t      *testing.T
	config quorum.QuorumConfig
	// oldShape are the sids that get the peer's vote in the 40-byte shape.
	oldShape map[int64]bool
	dialedUs chan dialEvent
	notes    chan noteEvent
	packets  chan packetEvent
	failures chan error
	done     chan struct{}

	mu       sync.Mutex
	outgoing map[int64]net.Conn // live election connections the peer dialed
	closers  []io.Closer
}

type dialEvent struct {
	msg quorum.InitialMessage
	raw []byte
	// droppedByDialer: the dialer closed the connection after its
	// initial message.
	droppedByDialer bool
}

type noteEvent struct {
	from int64
	n    quorum.Notification
	raw  []byte
}

type packetEvent struct {
	conn *learnerConn
	p    quorum.QuorumPacket
	raw  []byte
}

type learnerConn struct{ net.Conn }

func (l *learnerConn) write(p quorum.QuorumPacket) error {
	if err := l.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	_, err := l.Write(quorum.EncodePacket(p))
	return err
}

func newFakePeer(t *testing.T, config quorum.QuorumConfig, oldShape ...int64) *fakePeer {
	me := config.Members[ourID-1].Addresses[0]
	p := &fakePeer{
		t:        t,
		config:   config,
		oldShape: map[int64]bool{},
		dialedUs: make(chan dialEvent, 16),
		notes:    make(chan noteEvent, 64),
		packets:  make(chan packetEvent, 16),
		failures: make(chan error, 16),
		done:     make(chan struct{}),
		outgoing: map[int64]net.Conn{},
	}
	for _, sid := range oldShape {
		p.oldShape[sid] = true
	}
	election := p.listen(me.ElectionPort)
	quorumLn := p.listen(me.QuorumPort)
	t.Cleanup(func() {
		close(p.done)
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.closers {
			c.Close()
		}
	})
	go p.acceptElection(election)
	go p.acceptLearners(quorumLn)
	return p
}

func (p *fakePeer) listen(port int) net.Listener {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		p.t.Fatalf("listen as server %d: %v", ourID, err)
	}
	p.track(l)
	return l
}

func (p *fakePeer) track(c io.Closer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closers = append(p.closers, c)
}

// report hands an event to the test unless the test is over.
func report[T any](p *fakePeer, ch chan<- T, ev T) {
	select {
	case ch <- ev:
	case <-p.done:
	}
}

func (p *fakePeer) failf(format string, args ...any) {
	select {
	case p.failures <- fmt.Errorf(format, args...):
	default:
	}
}

// acceptElection is QuorumCnxManager.receiveConnection for a server with
// the largest sid: read the initial message, close, dial back.
func (p *fakePeer) acceptElection(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		p.track(c)
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			rec := &recorder{r: c}
			msg, err := quorum.ReadInitialMessage(rec)
			if err != nil {
				p.failf("initial message on the election port (%x): %v", rec.buf, err)
				return
			}
			// Learner side of the tie-break (startConnection): "Have smaller
			// server identifier, so dropping the connection".
			var one [1]byte
			_, err = c.Read(one[:])
			report(p, p.dialedUs, dialEvent{msg: msg, raw: rec.buf, droppedByDialer: err == io.EOF})
			p.dial(msg.SID)
		}()
	}
}

// dial opens the election connection to sid unless one is up, sends the
// initial message and the peer's vote, then reads notifications.
func (p *fakePeer) dial(sid int64) {
	if sid < 1 || sid > int64(len(p.config.Members)) || sid == ourID {
		p.failf("election connection from unknown sid %d", sid)
		return
	}
	p.mu.Lock()
	if p.outgoing[sid] != nil {
		p.mu.Unlock()
		return
	}
	addr := p.config.Members[sid-1].Addresses[0]
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr.Host, strconv.Itoa(addr.ElectionPort)), 5*time.Second)
	if err != nil {
		p.mu.Unlock()
		p.failf("dial server %d's election port: %v", sid, err)
		return
	}
	p.outgoing[sid] = c
	p.closers = append(p.closers, c)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.outgoing, sid)
		p.mu.Unlock()
		c.Close()
	}()

	me := p.config.Members[ourID-1].Addresses[0]
	initial, err := quorum.EncodeInitialMessage(quorum.InitialMessage{
		ProtocolVersion: quorum.ProtocolV1,
		SID:             ourID,
		Address:         net.JoinHostPort(me.Host, strconv.Itoa(me.ElectionPort)),
	})
	if err != nil {
		p.failf("encode the initial message: %v", err)
		return
	}
	if _, err := c.Write(initial); err != nil {
		p.failf("write the initial message to server %d: %v", sid, err)
		return
	}
	if err := p.sendVote(c, sid); err != nil {
		p.failf("send the vote to server %d: %v", sid, err)
		return
	}
	for {
		payload, err := quorum.ReadFrame(c)
		if err != nil {
			select {
			case <-p.done:
			default:
				p.t.Logf("election connection to server %d ended: %v", sid, err)
			}
			return
		}
		n, err := quorum.DecodeNotification(payload)
		if err != nil {
			p.failf("notification from server %d (%x): %v", sid, payload, err)
			return
		}
		report(p, p.notes, noteEvent{from: sid, n: n, raw: payload})
		// A LOOKING server answers LOOKING notifications with its vote,
		// so that a peer that missed it catches up.
		if n.State == zab.Looking && n.Vote != ourVote {
			if err := p.sendVote(c, sid); err != nil {
				p.failf("answer server %d: %v", sid, err)
				return
			}
		}
	}
}

// sendVote sends the peer's vote to sid: in the current shape with the
// config text, or in the 40-byte shape of 3.4 to the sids in oldShape.
func (p *fakePeer) sendVote(c net.Conn, sid int64) error {
	n := quorum.Notification{
		Notification: zab.Notification{
			State:         zab.Looking,
			Vote:          ourVote,
			ElectionEpoch: ourRound,
			Version:       zab.NotificationVersion,
		},
		Config: p.config.String(),
	}
	if p.oldShape[sid] {
		n.Version, n.Config = 0, ""
	}
	payload, err := quorum.EncodeNotification(n)
	if err != nil {
		return err
	}
	frame, err := quorum.AppendFrame(nil, payload)
	if err != nil {
		return err
	}
	_, err = c.Write(frame)
	return err
}

// acceptLearners reads the packets of each learner connection.
func (p *fakePeer) acceptLearners(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		p.track(c)
		go func() {
			lc := &learnerConn{Conn: c}
			for {
				rec := &recorder{r: c}
				pkt, err := quorum.ReadPacket(rec, 0)
				if err != nil {
					select {
					case <-p.done:
					default:
						if !errors.Is(err, io.EOF) {
							p.failf("packet on the quorum port (%x): %v", rec.buf, err)
						}
					}
					return
				}
				report(p, p.packets, packetEvent{conn: lc, p: pkt, raw: rec.buf})
			}
		}()
	}
}

// recorder keeps the bytes read through it, for the log.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.buf = append(r.buf, b[:n]...)
	return n, err
}

func allocPort(t *testing.T) int {
	port, err := ports.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// ---------------------------------------------------------------------------
// A minimal launcher for Apache ZooKeeper in quorum mode. Temporary: it
// copies the classpath logic of test/interop/harness.go and goes once
// internal/launch (being written on another branch) can start a quorum
// member.

const (
	apacheJar   = "/usr/share/java/zookeeper.jar"
	apacheMain  = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	installHint = "install the Debian package zookeeper (and a Java runtime)"
	// tickTime × initLimit is how long a follower waits for the sync:
	// server 1 waits while server 2 starts.
	tickTime  = 2000
	initLimit = 15
)

// apacheClasspath is zookeeper.jar (its manifest names the other Debian
// jars it needs) plus a log4j 1.2 binding so the server logs to a file.
var apacheClasspath = []string{apacheJar, "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}

// requireApache fails, never skips: a missing Java or ZooKeeper would
// otherwise hide every disagreement this test exists to find.
func requireApache(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java not found (%v): %s", err, installHint)
	}
	for _, jar := range apacheClasspath {
		if _, err := os.Stat(jar); err != nil {
			t.Fatalf("Apache ZooKeeper jar missing (%v): %s", err, installHint)
		}
	}
}

type apacheServer struct {
	id      int64
	logPath string
	exited  chan struct{}
	waitErr error
}

func (s *apacheServer) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *apacheServer) log() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	return string(data)
}

func (s *apacheServer) logTail(n int) string {
	data := s.log()
	// Stack frames crowd out the messages: keep the exceptions' first lines.
	var lines []string
	for line := range strings.SplitSeq(strings.TrimRight(data, "\n"), "\n") {
		if !strings.HasPrefix(line, "\tat ") && !strings.HasPrefix(line, "\t... ") {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startApache starts QuorumPeerMain as server id of config, with the
// given epoch files in a fresh data directory. It is killed when the test
// ends.
func startApache(t *testing.T, id int64, config quorum.QuorumConfig, currentEpoch, acceptedEpoch int64) *apacheServer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("apache%d", id))
	dataDir := filepath.Join(dir, "data")
	// QuorumPeer reads the epoch files from the snapshot directory, <dataDir>/version-2.
	if err := os.MkdirAll(filepath.Join(dataDir, "version-2"), 0o755); err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "tickTime=%d\ninitLimit=%d\nsyncLimit=5\ndataDir=%s\nadmin.enableServer=false\n", tickTime, initLimit, dataDir)
	// The server lines of the config text are zoo.cfg's too.
	text := config.String()
	cfg.WriteString(text[:strings.LastIndex(text, "version=")])
	logPath := filepath.Join(dir, "zookeeper.log")
	files := map[string]string{
		filepath.Join(dir, "zoo.cfg"):                        cfg.String(),
		filepath.Join(dataDir, "myid"):                       fmt.Sprintf("%d\n", id),
		filepath.Join(dataDir, "version-2", "currentEpoch"):  fmt.Sprintf("%d\n", currentEpoch),
		filepath.Join(dataDir, "version-2", "acceptedEpoch"): fmt.Sprintf("%d\n", acceptedEpoch),
		filepath.Join(dir, "log4j.properties"): "log4j.rootLogger=INFO, FILE\n" +
			"log4j.appender.FILE=org.apache.log4j.FileAppender\n" +
			"log4j.appender.FILE.File=" + logPath + "\n" +
			"log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n" +
			"log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] %m%n\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dlog4j.configuration=file:"+filepath.Join(dir, "log4j.properties"),
		"-cp", strings.Join(apacheClasspath, ":"), apacheMain, filepath.Join(dir, "zoo.cfg"))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start Apache ZooKeeper server %d: %v", id, err)
	}
	s := &apacheServer{id: id, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		out.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
	})
	return s
}
