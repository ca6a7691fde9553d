package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkd/zkd/internal/watch"
)

// telnetClose is the telnet interrupt sequence ZooKeeper lists among the words.
const telnetClose = 0xfff4fffd

var fourLetterWords = map[string]bool{
	"ruok": true, "isro": true, "srvr": true, "stat": true, "conf": true, "cons": true, "crst": true,
	"srst": true, "dirs": true, "dump": true, "envi": true, "wchs": true, "wchc": true, "wchp": true,
	"mntr": true, "hash": true, "gtmk": true, "stmk": true,
}

func isFourLetterWord(w string) bool { return fourLetterWords[w] }

// defaultTraceMask is ZooTrace's default mask (306).
const defaultTraceMask = 306

func (s *Server) whitelisted(word string) bool {
	if s.cfg.AllFourLetterWords {
		return true
	}
	return s.cfg.FourLetterWords[word]
}

// runFourLetterWord answers a four-letter word and closes the connection.
func (s *Server) runFourLetterWord(c *conn, word string) {
	defer c.nc.Close()
	var out bytes.Buffer
	if binary.BigEndian.Uint32([]byte(word)) == telnetClose {
		// ZooKeeper names it "telnet close"; whitelisted, it does nothing.
		if !s.cfg.AllFourLetterWords {
			out.WriteString("telnet close is not executed because it is not in the whitelist.\n")
			c.nc.Write(out.Bytes())
		}
		return
	}
	if !s.whitelisted(word) {
		fmt.Fprintf(&out, "%s is not executed because it is not in the whitelist.\n", word)
		c.nc.Write(out.Bytes())
		return
	}
	serving := s.serving.Load()
	notServing := func() { out.WriteString("This ZooKeeper instance is not currently serving requests\n") }
	switch word {
	case "ruok":
		out.WriteString("imok")
	case "isro":
		if serving {
			out.WriteString("rw")
		} else {
			out.WriteString("null")
		}
	case "gtmk":
		out.WriteString(strconv.FormatInt(s.traceMask.Load(), 10))
	case "stmk":
		var b [8]byte
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return
		}
		s.traceMask.Store(int64(binary.BigEndian.Uint64(b[:])))
		out.WriteString(strconv.FormatInt(s.traceMask.Load(), 10))
	case "srvr", "stat":
		if !serving {
			notServing()
			break
		}
		s.writeStat(&out, word == "stat")
	case "conf":
		if !serving {
			notServing()
			break
		}
		s.writeConf(&out)
	case "cons":
		if !serving {
			notServing()
			break
		}
		for _, cc := range s.connList() {
			cc.dumpInfo(&out, false)
			out.WriteByte('\n')
		}
		out.WriteByte('\n')
	case "crst":
		if !serving {
			notServing()
			break
		}
		for _, cc := range s.connList() {
			cc.stats.reset()
		}
		out.WriteString("Connection stats reset.\n")
	case "srst":
		if !serving {
			notServing()
			break
		}
		s.stats.reset()
		out.WriteString("Server stats reset.\n")
	case "dirs":
		if !serving {
			notServing()
			break
		}
		fmt.Fprintf(&out, "datadir_size: %d\nlogdir_size: %d\n", s.dirSize(s.snapDir()), s.dirSize(s.logDir()))
	case "dump":
		if !serving {
			notServing()
			break
		}
		s.writeDump(&out)
	case "envi":
		s.writeEnvi(&out)
	case "wchs", "wchc", "wchp":
		if !serving {
			notServing()
			break
		}
		s.writeWatches(&out, word)
	case "mntr":
		if !serving {
			notServing()
			break
		}
		s.writeMntr(&out)
	case "hash":
		if !serving {
			out.WriteString("This ZooKeeper instance is not currently serving requests")
			break
		}
		s.digestMu.Lock()
		for _, d := range s.digestLog {
			fmt.Fprintf(&out, "%x: %d\n", d.zxid, d.digest)
		}
		s.digestMu.Unlock()
	}
	c.nc.Write(out.Bytes())
}

// VersionBanner is the "version, built on date" text of srvr, stat, envi and mntr.
func VersionBanner() string { return Version + ", built on " + BuildDate }

// javaDouble formats like Java's Double.toString for the small values 4lw prints.
func javaDouble(v float64) string {
	v = math.Round(v*10000) / 10000
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func (s *Server) connList() []*conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].stats.establ.Before(out[j].stats.establ) })
	return out
}

func (s *Server) writeStat(out *bytes.Buffer, withClients bool) {
	fmt.Fprintf(out, "Zookeeper version: %s\n", VersionBanner())
	if withClients {
		out.WriteString("Clients:\n")
		for _, c := range s.connList() {
			c.dumpInfo(out, true)
			out.WriteByte('\n')
		}
		out.WriteByte('\n')
	}
	min, avg, max := s.stats.latency()
	fmt.Fprintf(out, "Latency min/avg/max: %d/%s/%d\n", min, javaDouble(avg), max)
	fmt.Fprintf(out, "Received: %d\n", s.stats.received.Load())
	fmt.Fprintf(out, "Sent: %d\n", s.stats.sent.Load())
	fmt.Fprintf(out, "Connections: %d\n", len(s.connList()))
	fmt.Fprintf(out, "Outstanding: %d\n", s.outstanding())
	fmt.Fprintf(out, "Zxid: 0x%x\n", s.LastZxid())
	fmt.Fprintf(out, "Mode: %s\n", s.Mode())
	var n int
	s.withTree(func(t *treeT) { n = t.NodeCount() })
	fmt.Fprintf(out, "Node count: %d\n", n)
}

// Mode is the server state zkServer.sh status and srvr print.
func (s *Server) Mode() string { return "standalone" }

func (s *Server) outstanding() int { return int(s.inPipeline.Load()) }

func (c *conn) dumpInfo(out *bytes.Buffer, brief bool) {
	cs := &c.stats
	cs.mu.Lock()
	defer cs.mu.Unlock()
	interest := "1"
	if cs.sessionID == 0 {
		interest = "0"
	}
	fmt.Fprintf(out, " /%s[%s](queued=%d,recved=%d,sent=%d", c.remote, interest, cs.outstanding, cs.packetsRecv, cs.packetsSent)
	if !brief && cs.sessionID != 0 {
		fmt.Fprintf(out, ",sid=0x%x,lop=%s,est=%d,to=%d", uint64(cs.sessionID), cs.lastOp, cs.establ.UnixMilli(), cs.timeout)
		if cs.lastCxid >= 0 {
			fmt.Fprintf(out, ",lcxid=0x%x", cs.lastCxid)
		}
		minLat := cs.minLat
		if minLat < 0 {
			minLat = 0
		}
		avg := 0.0
		if cs.count > 0 {
			avg = float64(cs.totalLat) / float64(cs.count)
		}
		lresp := int64(0)
		if !cs.lastResp.IsZero() {
			lresp = cs.lastResp.UnixMilli()
		}
		fmt.Fprintf(out, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%s,maxlat=%d",
			uint64(cs.lastZxid), lresp, cs.lastLat, minLat, javaDouble(avg), cs.maxLat)
	}
	out.WriteString(")")
}

func (s *Server) snapDir() string { return filepath.Join(s.cfg.DataDir, "version-2") }
func (s *Server) logDir() string  { return filepath.Join(s.cfg.DataLogDir, "version-2") }

// dirSize sums the sizes of the files in dir, through the server's FS.
func (s *Server) dirSize(dir string) int64 {
	var n int64
	names, _ := s.fsys.ReadDir(dir)
	for _, name := range names {
		if info, err := s.fsys.Stat(filepath.Join(dir, name)); err == nil && !info.IsDir() {
			n += info.Size()
		}
	}
	return n
}

func (s *Server) writeConf(out *bytes.Buffer) {
	cfg := s.cfg
	fmt.Fprintf(out, "clientPort=%d\n", cfg.ClientPort)
	fmt.Fprintf(out, "secureClientPort=-1\n")
	fmt.Fprintf(out, "dataDir=%s\n", s.snapDir())
	fmt.Fprintf(out, "dataDirSize=%d\n", s.dirSize(s.snapDir()))
	fmt.Fprintf(out, "dataLogDir=%s\n", s.logDir())
	fmt.Fprintf(out, "dataLogSize=%d\n", s.dirSize(s.logDir()))
	fmt.Fprintf(out, "tickTime=%d\n", cfg.TickTime)
	fmt.Fprintf(out, "maxClientCnxns=%d\n", cfg.MaxClientCnxns)
	fmt.Fprintf(out, "minSessionTimeout=%d\n", cfg.MinSessionTimeout)
	fmt.Fprintf(out, "maxSessionTimeout=%d\n", cfg.MaxSessionTimeout)
	fmt.Fprintf(out, "clientPortListenBacklog=%d\n", cfg.ClientPortListenBacklog)
	fmt.Fprintf(out, "serverId=%d\n", cfg.MyID)
	fmt.Fprintf(out, "zookeeper.version=%s\n", VersionBanner())
}

func (s *Server) writeDump(out *bytes.Buffer) {
	s.sessMu.Lock()
	buckets := s.sessions.Buckets()
	total := s.sessions.Len()
	out.WriteString("SessionTracker dump:\n")
	fmt.Fprintf(out, "Session Sets (%d)/(%d):\n", len(buckets), total)
	for _, b := range buckets {
		fmt.Fprintf(out, "%d expire at %s:\n", len(b.Sessions), javaDate(b.Expiry))
		for _, id := range b.Sessions {
			fmt.Fprintf(out, "\t0x%x\n", uint64(id))
		}
	}
	s.sessMu.Unlock()
	out.WriteString("ephemeral nodes dump:\n")
	s.withTree(func(t *treeT) {
		sessions := t.EphemeralSessions()
		ids := make([]int64, 0, len(sessions))
		for id := range sessions {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		fmt.Fprintf(out, "Sessions with Ephemerals (%d):\n", len(ids))
		for _, id := range ids {
			fmt.Fprintf(out, "0x%x:\n", uint64(id))
			for _, p := range t.Ephemerals(id) {
				fmt.Fprintf(out, "\t%s\n", p)
			}
		}
	})
	conns := s.connList()
	out.WriteString("Connections dump:\n")
	fmt.Fprintf(out, "Connections Sets (%d)/(%d):\n", min(1, len(conns)), len(conns))
	if len(conns) > 0 {
		fmt.Fprintf(out, "%d expire at %s:\n", len(conns), javaDate(time.Now().Add(time.Duration(s.cfg.TickTime)*time.Millisecond).UnixMilli()))
		for _, c := range conns {
			fmt.Fprintf(out, "\tip: /%s sessionId: 0x%x\n", c.remote, uint64(c.sessionID))
		}
	}
}

// javaDate formats like java.util.Date.toString: "Thu Nov 26 14:44:03 UTC 2026".
func javaDate(ms int64) string {
	return time.UnixMilli(ms).Format("Mon Jan 02 15:04:05 MST 2006")
}

func (s *Server) writeEnvi(out *bytes.Buffer) {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	home, _ := os.UserHomeDir()
	user := os.Getenv("USER")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var uts syscall.Utsname
	osVersion := ""
	if syscall.Uname(&uts) == nil {
		osVersion = utsString(uts.Release[:])
	}
	out.WriteString("Environment:\n")
	kv := [][2]string{
		{"zookeeper.version", VersionBanner()},
		{"host.name", host},
		{"java.version", "n/a (zkd is a Go program, " + runtime.Version() + ")"},
		{"java.vendor", "n/a"},
		{"java.home", "n/a"},
		{"java.class.path", exe},
		{"java.library.path", ""},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", "<NA>"},
		{"os.name", osName()},
		{"os.arch", runtime.GOARCH},
		{"os.version", osVersion},
		{"user.name", user},
		{"user.home", home},
		{"user.dir", wd},
		{"os.memory.free", fmt.Sprintf("%dMB", (ms.HeapIdle)>>20)},
		{"os.memory.max", fmt.Sprintf("%dMB", ms.Sys>>20)},
		{"os.memory.total", fmt.Sprintf("%dMB", ms.HeapSys>>20)},
	}
	for _, p := range kv {
		fmt.Fprintf(out, "%s=%s\n", p[0], p[1])
	}
}

func osName() string {
	if runtime.GOOS == "linux" {
		return "Linux"
	}
	return runtime.GOOS
}

func utsString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func (s *Server) writeWatches(out *bytes.Buffer, word string) {
	switch word {
	case "wchs":
		conns, paths, total := s.watches.Stats()
		fmt.Fprintf(out, "%d connections watching %d paths\nTotal watches:%d\n", conns, paths, total)
	case "wchc":
		bySession := map[int64][]string{}
		for cl, paths := range s.watches.ByClient() {
			if c, ok := cl.(*conn); ok {
				bySession[c.sessionID] = append(bySession[c.sessionID], paths...)
			}
		}
		ids := make([]int64, 0, len(bySession))
		for id := range bySession {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			fmt.Fprintf(out, "0x%x\n", uint64(id))
			paths := bySession[id]
			sort.Strings(paths)
			for _, p := range paths {
				fmt.Fprintf(out, "\t%s\n", p)
			}
		}
		out.WriteByte('\n')
	case "wchp":
		byPath := s.watches.ByPath()
		paths := make([]string, 0, len(byPath))
		for p := range byPath {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(out, "%s\n", p)
			for _, cl := range byPath[p] {
				if c, ok := cl.(*conn); ok {
					fmt.Fprintf(out, "\t0x%x\n", uint64(c.sessionID))
				}
			}
		}
		out.WriteByte('\n')
	}
}

func (s *Server) writeMntr(out *bytes.Buffer) {
	line := func(k string, v any) { fmt.Fprintf(out, "zk_%s\t%v\n", k, v) }
	min, avg, max := s.stats.latency()
	var nodes, ephemerals int
	var dataSize int64
	s.withTree(func(t *treeT) {
		nodes = t.NodeCount()
		dataSize = t.ApproximateDataSize()
		for _, n := range t.EphemeralSessions() {
			ephemerals += n
		}
	})
	watches := s.watches.WatchCount()
	s.sessMu.Lock()
	sessions := len(s.sessions.Snapshot())
	s.sessMu.Unlock()
	line("version", VersionBanner())
	line("server_state", s.Mode())
	line("ephemerals_count", ephemerals)
	line("num_alive_connections", len(s.connList()))
	line("avg_latency", javaDouble(avg))
	line("max_latency", max)
	line("min_latency", min)
	line("packets_received", s.stats.received.Load())
	line("packets_sent", s.stats.sent.Load())
	line("outstanding_requests", s.outstanding())
	line("znode_count", nodes)
	line("watch_count", watches)
	line("approximate_data_size", dataSize)
	open, maxFD := fdCounts()
	line("open_file_descriptor_count", open)
	line("max_file_descriptor_count", maxFD)
	line("uptime", time.Since(s.started).Milliseconds())
	line("global_sessions", sessions)
	line("local_sessions", 0)
	line("connection_drop_probability", "0.0")
	last, minSize, maxSize := s.stats.responseSizes()
	line("last_client_response_size", last)
	line("max_client_response_size", maxSize)
	line("min_client_response_size", minSize)
	line("outstanding_tls_handshake", 0)
	line("auth_failed_count", s.stats.authFail.Load())
	line("non_mtls_remote_conn_count", 0)
	line("non_mtls_local_conn_count", 0)
	line("txn_count", s.stats.txns.Load())
	line("last_proposal_size", -1)
}

func fdCounts() (open int, max uint64) {
	entries, _ := os.ReadDir("/proc/self/fd")
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return len(entries), rl.Cur
}

var _ = watch.NewManager
