package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zkd/zkd/internal/proto"
)

// The ceiling is the limit every report sets beside zkd and Apache
// ZooKeeper: a server that speaks just enough of the client protocol to
// answer the benchmark's requests with fixed replies and keeps nothing. No
// server that does the work of one can answer faster on the same machine
// with the same client, so a figure's fraction of the ceiling's says how
// much room the machine leaves.
//
// It is built for speed the way a real server's read path would be: one
// goroutine per connection, one read buffer and one write buffer per
// connection reused for every frame, replies written in request order and
// flushed once the requests already read are answered (so pipelined
// requests share a write). Requests it does not serve get UNIMPLEMENTED;
// a frame it cannot parse closes the connection, as Apache does.

var ErrCeilingConfig = errors.New("bench: ceiling configuration")

// ceilingMaxFrame bounds a request frame as jute.maxbuffer's default
// (0xfffff) does, plus room for the request's own fields.
const ceilingMaxFrame = 0xfffff + 1024

// Session timeouts a ceiling grants: Apache's defaults for tickTime 2000
// (2 to 20 ticks), so clients run with the timeouts they would get.
const (
	ceilingMinSessionTimeout = 4000
	ceilingMaxSessionTimeout = 40000
)

// statLen is a Stat record's encoded size: czxid, mzxid, ctime, mtime,
// version, cversion, aversion, ephemeralOwner, dataLength, numChildren,
// pzxid.
const statLen = 8 + 8 + 8 + 8 + 4 + 4 + 4 + 8 + 4 + 4 + 8

// pingXid is the xid of every ping's reply, whatever the request's.
const pingXid int32 = -2

// Ceiling is a running fixed-reply server.
type Ceiling struct {
	ln    net.Listener
	value []byte         // the data of every getData reply
	stat  [statLen]byte  // the Stat of every reply that carries one
	next  atomic.Int64   // session ids handed out
	wg    sync.WaitGroup // the accept loop and the connections
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
	log   *ceilingLog // with a log directory: writes are fdatasynced before their replies
}

// ListenCeiling listens on addr; getData replies carry valueSize bytes,
// as the benchmark's own values are (a get costs its reply's bytes).
func ListenCeiling(addr string, valueSize int) (*Ceiling, error) {
	return ListenDurableCeiling(addr, valueSize, "")
}

// ListenDurableCeiling is ListenCeiling with, when logDir is not empty,
// every write request (create, delete, setData, closeSession) appended to
// a log in logDir and fdatasynced before its reply leaves (see ceilingLog):
// the limit for a server that acknowledges only durable writes.
func ListenDurableCeiling(addr string, valueSize int, logDir string) (*Ceiling, error) {
	if valueSize < 0 || valueSize > 0xfffff {
		return nil, fmt.Errorf("%w: value size %d", ErrCeilingConfig, valueSize)
	}
	var log *ceilingLog
	if logDir != "" {
		var err error
		if log, err = openCeilingLog(logDir); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if log != nil {
			log.close()
		}
		return nil, err
	}
	c := &Ceiling{ln: ln, value: payload(valueSize, 3), conns: map[net.Conn]struct{}{}, log: log}
	// A Stat that reads as a plain persistent znode holding the value.
	s := c.stat[:]
	binary.BigEndian.PutUint64(s[0:], 1)                          // czxid
	binary.BigEndian.PutUint64(s[8:], 1)                          // mzxid
	binary.BigEndian.PutUint64(s[16:], uint64(1_700_000_000_000)) // ctime
	binary.BigEndian.PutUint64(s[24:], uint64(1_700_000_000_000)) // mtime
	// version, cversion, aversion and ephemeralOwner stay 0.
	binary.BigEndian.PutUint32(s[52:], uint32(valueSize)) // dataLength
	binary.BigEndian.PutUint64(s[60:], 1)                 // pzxid
	c.next.Store(0x7a6b640000000000)
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Addr is the address the ceiling listens on.
func (c *Ceiling) Addr() net.Addr { return c.ln.Addr() }

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (c *Ceiling) Close() error {
	c.mu.Lock()
	c.done = true
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	err := c.ln.Close()
	c.wg.Wait()
	if c.log != nil {
		if lerr := c.log.close(); err == nil {
			err = lerr
		}
	}
	return err
}

// Synced is what the log has done so far: fdatasyncs and the write
// records they covered (zero without a log).
func (c *Ceiling) Synced() (syncs, records int64) {
	if c.log == nil {
		return 0, 0
	}
	return c.log.counts()
}

func (c *Ceiling) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.done {
			c.mu.Unlock()
			conn.Close()
			return
		}
		c.conns[conn] = struct{}{}
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			c.serve(conn)
			c.mu.Lock()
			delete(c.conns, conn)
			c.mu.Unlock()
			conn.Close()
		}()
	}
}

// ceilingConn is one connection's state; only its goroutine touches it.
type ceilingConn struct {
	r     *bufio.Reader
	w     *bufio.Writer
	frame []byte // the current request, reused
	reply []byte // the current reply, reused
	zxid  int64  // counts this connection's writes, so replies' zxids grow
	seq   int64  // the sequence number of the next sequential create
	// logged is the log's length after this connection's last write not
	// yet known durable; replies are flushed only once it is.
	logged int64
}

func (c *Ceiling) serve(nc net.Conn) {
	cc := &ceilingConn{
		r:     bufio.NewReaderSize(nc, 64<<10),
		w:     bufio.NewWriterSize(nc, 64<<10),
		frame: make([]byte, 0, 4096),
		reply: make([]byte, 0, 4096),
		zxid:  1,
	}
	if err := c.handshake(cc); err != nil {
		return
	}
	for {
		frame, err := cc.readFrame()
		if err != nil {
			return
		}
		closing, err := c.answer(cc, frame)
		if err != nil {
			return
		}
		// Flush once the requests already read are answered: a client with
		// several requests in flight gets their replies in one write.
		if closing || cc.r.Buffered() == 0 {
			if cc.logged > 0 {
				if err := c.log.waitDurable(cc.logged); err != nil {
					return
				}
				cc.logged = 0
			}
			if err := cc.w.Flush(); err != nil || closing {
				return
			}
		}
	}
}

var errCeilingFrame = errors.New("bench: ceiling: bad frame")

func (cc *ceilingConn) readFrame() ([]byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(cc.r, lenBuf[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(lenBuf[:]))
	if n < 0 || n > ceilingMaxFrame {
		// Also what a four-letter word looks like: not served here.
		return nil, errCeilingFrame
	}
	if cap(cc.frame) < int(n) {
		cc.frame = make([]byte, n)
	}
	cc.frame = cc.frame[:n]
	if _, err := io.ReadFull(cc.r, cc.frame); err != nil {
		return nil, err
	}
	return cc.frame, nil
}

// handshake answers the ConnectRequest: protocolVersion, lastZxidSeen,
// timeOut, sessionId, passwd (and readOnly, ignored). A reconnecting client
// keeps its session id; a new one gets the next.
func (c *Ceiling) handshake(cc *ceilingConn) error {
	frame, err := cc.readFrame()
	if err != nil {
		return err
	}
	d := decoder{b: frame}
	d.int32() // protocolVersion
	d.int64() // lastZxidSeen
	timeout := d.int32()
	session := d.int64()
	d.buffer() // passwd
	if d.err != nil {
		return d.err
	}
	timeout = min(max(timeout, ceilingMinSessionTimeout), ceilingMaxSessionTimeout)
	if session == 0 {
		session = c.next.Add(1)
	}
	b := cc.reply[:0]
	b = appendInt32(b, 0) // the frame's length, set below
	b = appendInt32(b, 0) // protocolVersion
	b = appendInt32(b, timeout)
	b = appendInt64(b, session)
	b = appendInt32(b, 16)
	b = append(b, make([]byte, 16)...) // passwd
	b = append(b, 0)                   // readOnly: false
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	cc.reply = b
	if _, err := cc.w.Write(b); err != nil {
		return err
	}
	return cc.w.Flush()
}

// answer writes the reply to one request; closing is set after
// closeSession's reply, when the connection ends.
func (c *Ceiling) answer(cc *ceilingConn, frame []byte) (closing bool, err error) {
	d := decoder{b: frame}
	xid := d.int32()
	op := proto.OpCode(d.int32())
	if d.err != nil {
		return false, d.err
	}
	code := proto.Code(0)
	if c.log != nil {
		switch op {
		case proto.OpCreate, proto.OpDelete, proto.OpSetData, proto.OpCloseSession:
			cc.logged = c.log.append(frame)
		}
	}
	b := cc.reply[:0]
	b = appendInt32(b, 0) // length, set below
	b = appendInt32(b, xid)
	b = appendInt64(b, 0) // zxid, set below
	b = appendInt32(b, 0) // err, set below
	switch op {
	case proto.OpPing:
		xid = pingXid
		binary.BigEndian.PutUint32(b[4:], uint32(xid))
	case proto.OpCreate:
		// CreateRequest: path, data, acl vector, flags. The reply is the
		// path created: with the sequential flag, the path and a counter.
		path := d.str()
		d.buffer()
		for n := d.int32(); n > 0 && d.err == nil; n-- {
			d.int32() // perms
			d.str()   // scheme
			d.str()   // id
		}
		flags := d.int32()
		if d.err != nil {
			return false, d.err
		}
		cc.zxid++
		// CreateMode: 2 persistent sequential, 3 ephemeral sequential, 6
		// persistent sequential with TTL.
		if flags == 2 || flags == 3 || flags == 6 {
			b = appendInt32(b, int32(len(path)+10))
			b = append(b, path...)
			b = fmt.Appendf(b, "%010d", cc.seq)
			cc.seq++
		} else {
			b = appendInt32(b, int32(len(path)))
			b = append(b, path...)
		}
	case proto.OpDelete:
		cc.zxid++
	case proto.OpExists:
		b = append(b, c.stat[:]...)
	case proto.OpGetData:
		b = appendInt32(b, int32(len(c.value)))
		b = append(b, c.value...)
		b = append(b, c.stat[:]...)
	case proto.OpSetData:
		cc.zxid++
		b = append(b, c.stat[:]...)
	case proto.OpCloseSession:
		cc.zxid++
		closing = true
	default:
		code = proto.ErrUnimplemented
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	binary.BigEndian.PutUint64(b[8:], uint64(cc.zxid))
	binary.BigEndian.PutUint32(b[16:], uint32(int32(code)))
	cc.reply = b
	if cc.logged > 0 && cc.w.Available() < len(b) {
		// The buffer would flush by itself: not before the writes whose
		// replies it holds are durable.
		if err := c.log.waitDurable(cc.logged); err != nil {
			return false, err
		}
		cc.logged = 0
	}
	_, err = cc.w.Write(b)
	return closing, err
}

// decoder reads jute fields from a frame; the first short read sets err
// and every later read returns zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = errCeilingFrame
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) int32() int32 {
	if p := d.take(4); p != nil {
		return int32(binary.BigEndian.Uint32(p))
	}
	return 0
}

func (d *decoder) int64() int64 {
	if p := d.take(8); p != nil {
		return int64(binary.BigEndian.Uint64(p))
	}
	return 0
}

// buffer reads a length-prefixed byte string; -1 is jute's null.
func (d *decoder) buffer() []byte {
	n := d.int32()
	if n == -1 {
		return nil
	}
	return d.take(int(n))
}

func (d *decoder) str() []byte { return d.buffer() }

func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// ceilingAddr is where `zkd bench ceiling --config zoo.cfg` listens: the
// file's clientPortAddress and clientPort, as the servers it stands beside
// read them (no address: every interface, as Apache binds). logDir is
// where a durable ceiling logs: dataLogDir, or else dataDir, as the
// servers put their transaction logs.
func ceilingAddr(zooCfg string) (addr, logDir string, err error) {
	data, err := os.ReadFile(zooCfg)
	if err != nil {
		return "", "", err
	}
	var host, port, dataDir, dataLogDir string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "clientPort":
			port = strings.TrimSpace(value)
		case "clientPortAddress":
			host = strings.TrimSpace(value)
		case "dataDir":
			dataDir = strings.TrimSpace(value)
		case "dataLogDir":
			dataLogDir = strings.TrimSpace(value)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("%w: %s has no valid clientPort (%q)", ErrCeilingConfig, zooCfg, port)
	}
	logDir = dataLogDir
	if logDir == "" {
		logDir = dataDir
	}
	return net.JoinHostPort(host, port), logDir, nil
}
