package admin

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// peerTimeout bounds how long the status page waits for another server's
// figures; a server that does not answer in time is shown as unreachable.
const peerTimeout = 800 * time.Millisecond

// peerFigures are another server's figures as its srvr and mntr answers
// give them (srvr is always whitelisted; mntr may not be).
type peerFigures struct {
	Err                 string // why there are none ("" when there are)
	Serving             bool
	Mode                string
	Zxid                int64
	Nodes, Connections  int
	Sessions            int // -1 when mntr is not whitelisted
	AvgLatency          float64
	MaxLatency          int64
	PacketsReceived     int64
	OutstandingRequests int
}

// peerClientAddr is where to ask member m: its client address, with an
// unspecified host (0.0.0.0, ::) replaced by its quorum address' host;
// without a client address, the quorum host and this server's client port.
func peerClientAddr(m Member, clientPort int) string {
	qhost, _, _ := net.SplitHostPort(m.QuorumAddress)
	host, port, err := net.SplitHostPort(m.ClientAddress)
	if err != nil {
		if qhost == "" || clientPort == 0 {
			return ""
		}
		return net.JoinHostPort(qhost, strconv.Itoa(clientPort))
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if qhost == "" {
			return ""
		}
		host = qhost
	}
	return net.JoinHostPort(host, port)
}

// fourLetterWord sends word to addr and reads the answer until the server
// closes the connection.
func fourLetterWord(addr, word string, deadline time.Time) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := io.WriteString(c, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(c, 64<<10))
	return string(b), err
}

// fetchPeer asks addr for srvr and mntr.
func fetchPeer(addr string) peerFigures {
	if addr == "" {
		return peerFigures{Err: "no client address configured"}
	}
	deadline := time.Now().Add(peerTimeout)
	var f peerFigures
	var mntr string
	var mntrErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		mntr, mntrErr = fourLetterWord(addr, "mntr", deadline)
	}()
	srvr, err := fourLetterWord(addr, "srvr", deadline)
	wg.Wait()
	if err != nil {
		return peerFigures{Err: shortErr(err)}
	}
	f = parseSrvr(srvr)
	f.Sessions = -1
	if mntrErr == nil {
		if v, ok := mntrValue(mntr, "zk_global_sessions"); ok {
			f.Sessions, _ = strconv.Atoi(v)
		}
	}
	return f
}

// shortErr drops the "dial tcp a->b:" prefix of a network error.
func shortErr(err error) string {
	if op, ok := err.(*net.OpError); ok && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// parseSrvr reads srvr's lines (Apache's and zkd's are the same).
func parseSrvr(text string) peerFigures {
	f := peerFigures{}
	if strings.HasPrefix(text, notServingText) {
		f.Mode = "not serving"
		return f
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch k {
		case "Mode":
			f.Mode, f.Serving = v, true
		case "Zxid":
			f.Zxid, _ = strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64)
		case "Node count":
			f.Nodes, _ = strconv.Atoi(v)
		case "Connections":
			f.Connections, _ = strconv.Atoi(v)
		case "Received":
			f.PacketsReceived, _ = strconv.ParseInt(v, 10, 64)
		case "Outstanding":
			f.OutstandingRequests, _ = strconv.Atoi(v)
		case "Latency min/avg/max":
			if parts := strings.Split(v, "/"); len(parts) == 3 {
				f.AvgLatency, _ = strconv.ParseFloat(parts[1], 64)
				f.MaxLatency, _ = strconv.ParseInt(parts[2], 10, 64)
			}
		}
	}
	if f.Mode == "" {
		f.Err = "unexpected srvr answer: " + firstLine(text)
	}
	return f
}

// mntrValue is the value of one key of mntr's tab-separated lines.
func mntrValue(text, key string) (string, bool) {
	for line := range strings.Lines(text) {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\n"), "\t"); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 80 {
		line = line[:80] + "…"
	}
	return line
}
