package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zkd/zkd/internal/zab"
)

// Sentinel errors of the election port.
var (
	// ErrShort: the input ends inside a message.
	ErrShort = errors.New("quorum: input ends inside a message")
	// ErrProtocolVersion: an initial message's first long is negative but
	// neither V1 nor V2 (Apache logs "Got unrecognized protocol version"
	// and closes the connection).
	ErrProtocolVersion = errors.New("quorum: unknown election protocol version")
	// ErrAddressLength: an initial message's address is empty or longer
	// than MaxAddressLength.
	ErrAddressLength = errors.New("quorum: election address length out of bounds")
	// ErrAddress: an initial message's address is not host:port.
	ErrAddress = errors.New("quorum: badly formed election address")
	// ErrFrameLength: a frame's length is not in 1..MaxFrameLength.
	ErrFrameLength = errors.New("quorum: election frame length out of bounds")
	// ErrState: a notification's state is none of LOOKING, FOLLOWING,
	// LEADING, OBSERVING (Apache drops the message).
	ErrState = errors.New("quorum: unknown peer state in notification")
	// ErrConfigLength: a notification's config length is negative or
	// larger than what the frame holds (Apache skips the message).
	ErrConfigLength = errors.New("quorum: notification config length out of bounds")
	// ErrConfigWithoutVersion: only notifications of version 2 and later
	// carry the config text.
	ErrConfigWithoutVersion = errors.New("quorum: notification of version <= 1 cannot carry a config")
)

// Election protocol versions: the first long of an initial message.
const (
	// ProtocolV1 is what Apache 3.5+ sends by default (ZOOKEEPER-107).
	ProtocolV1 int64 = -65536
	// ProtocolV2 is sent when multiAddress.enabled is set: the address may
	// list several host:port joined by '|' (ZOOKEEPER-3188, 3.6).
	ProtocolV2 int64 = -65535
	// ProtocolBareSID marks a pre-3.5 initial message: the sid (>= 0)
	// alone, in place of the protocol version.
	ProtocolBareSID int64 = 0
)

// Bounds of the election port (QuorumCnxManager.maxBuffer and PACKETMAXSIZE).
const (
	MaxAddressLength = 2048
	MaxFrameLength   = 512 * 1024
)

// ObserverSID is the sid an observer without an id announces
// (QuorumPeer.OBSERVER_ID, Long.MAX_VALUE); Apache gives such a connection
// a negative sid of its own.
const ObserverSID int64 = 1<<63 - 1

// InitialMessage is what the dialer of an election connection writes first.
type InitialMessage struct {
	// ProtocolVersion is ProtocolV1, ProtocolV2 or ProtocolBareSID.
	ProtocolVersion int64
	SID             int64
	// Address is the dialer's election address, "host:port" with IPv6
	// hosts in brackets (V2: several joined by '|'); empty for a bare sid.
	Address string
}

// EncodeInitialMessage returns m's bytes.
func EncodeInitialMessage(m InitialMessage) ([]byte, error) {
	if m.ProtocolVersion == ProtocolBareSID {
		if m.SID < 0 || m.Address != "" {
			return nil, fmt.Errorf("%w: a bare sid is non-negative and has no address", ErrProtocolVersion)
		}
		return binary.BigEndian.AppendUint64(nil, uint64(m.SID)), nil
	}
	if m.ProtocolVersion != ProtocolV1 && m.ProtocolVersion != ProtocolV2 {
		return nil, fmt.Errorf("%w: %d", ErrProtocolVersion, m.ProtocolVersion)
	}
	if err := checkAddress(m.Address); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 20+len(m.Address))
	b = binary.BigEndian.AppendUint64(b, uint64(m.ProtocolVersion))
	b = binary.BigEndian.AppendUint64(b, uint64(m.SID))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Address)))
	return append(b, m.Address...), nil
}

// DecodeInitialMessage reads an initial message from the start of b and
// returns it with the number of bytes it took. ErrShort means b holds only
// part of one.
func DecodeInitialMessage(b []byte) (InitialMessage, int, error) {
	if len(b) < 8 {
		return InitialMessage{}, 0, ErrShort
	}
	first := int64(binary.BigEndian.Uint64(b))
	if first >= 0 {
		return InitialMessage{ProtocolVersion: ProtocolBareSID, SID: first}, 8, nil
	}
	if first != ProtocolV1 && first != ProtocolV2 {
		return InitialMessage{}, 0, fmt.Errorf("%w: %d", ErrProtocolVersion, first)
	}
	if len(b) < 20 {
		return InitialMessage{}, 0, ErrShort
	}
	sid := int64(binary.BigEndian.Uint64(b[8:]))
	n := int32(binary.BigEndian.Uint32(b[16:]))
	if n <= 0 || n > MaxAddressLength {
		return InitialMessage{}, 0, fmt.Errorf("%w: %d", ErrAddressLength, n)
	}
	if len(b) < 20+int(n) {
		return InitialMessage{}, 0, ErrShort
	}
	addr := string(b[20 : 20+n])
	if err := checkAddress(addr); err != nil {
		return InitialMessage{}, 0, err
	}
	return InitialMessage{ProtocolVersion: first, SID: sid, Address: addr}, 20 + int(n), nil
}

// checkAddress accepts what InitialMessage.parse accepts: '|'-separated
// host:port pairs, IPv6 hosts in brackets, ports 0..65535.
func checkAddress(addr string) error {
	if len(addr) == 0 || len(addr) > MaxAddressLength {
		return fmt.Errorf("%w: %d", ErrAddressLength, len(addr))
	}
	for _, hp := range strings.Split(addr, "|") {
		parts, err := splitHostPorts(hp)
		if err != nil || len(parts) != 2 {
			return fmt.Errorf("%w: %q", ErrAddress, hp)
		}
		if _, err := parsePort(parts[1]); err != nil {
			return fmt.Errorf("%w: %q", ErrAddress, hp)
		}
	}
	return nil
}

// splitHostPorts splits "host:a:b..." or "[v6]:a:b..." into the host and
// what follows it (ConfigUtils.getHostAndPort, with the host required).
func splitHostPorts(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 2 || strings.IndexByte(s[1:end], '[') >= 0 || !strings.HasPrefix(s[end+1:], ":") {
			return nil, errors.New("want [host]:port")
		}
		return append([]string{s[1:end]}, strings.Split(s[end+2:], ":")...), nil
	}
	parts := strings.Split(s, ":")
	if parts[0] == "" {
		return nil, errors.New("no host")
	}
	return parts, nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad port %q", s)
	}
	p, err := strconv.Atoi(s)
	if err != nil || p > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}

// joinHostPort puts IPv6 hosts in brackets, as NetUtils.formatInetAddr
// and QuorumServer.delimitedHostString do.
func joinHostPort(host string, ports ...int) string {
	var b strings.Builder
	if strings.Contains(host, ":") {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	for _, p := range ports {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p))
	}
	return b.String()
}

// AppendFrame appends payload with its length prefix to dst.
func AppendFrame(dst, payload []byte) ([]byte, error) {
	if len(payload) == 0 || len(payload) > MaxFrameLength {
		return dst, fmt.Errorf("%w: %d", ErrFrameLength, len(payload))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...), nil
}

// DecodeFrame reads one frame from the start of b and returns its payload
// (a sub-slice of b) and the number of bytes the frame took.
func DecodeFrame(b []byte) (payload []byte, n int, err error) {
	if len(b) < 4 {
		return nil, 0, ErrShort
	}
	size := int32(binary.BigEndian.Uint32(b))
	if size <= 0 || size > MaxFrameLength {
		return nil, 0, fmt.Errorf("%w: %d", ErrFrameLength, size)
	}
	if len(b) < 4+int(size) {
		return nil, 0, ErrShort
	}
	return b[4 : 4+size], 4 + int(size), nil
}

// Notification shapes, by payload length.
const (
	// notificationLen28 is the pre-3.4 shape: no peerEpoch.
	notificationLen28 = 28
	// notificationLen40 is the 3.4 shape: peerEpoch and an int that
	// receivers ignore (3.4.6+ write version 1 there; exactly 40 bytes
	// reads as version 0).
	notificationLen40 = 40
	// notificationHeader is everything before the config text.
	notificationHeader = 44
)

// Notification is one election message as it travels in a frame: zab's
// notification and the sender's quorum config text. From and To are not on
// the wire (they are the connection's sids): decoding leaves them zero and
// encoding ignores them.
type Notification struct {
	zab.Notification
	// Config is the sender's quorum config text (see ParseConfig); only
	// notifications of version 2 and later carry it.
	Config string
}

// EncodeNotification returns n's payload. Version 2 and later is the 3.5+
// shape with the config text; version 0 is the 40-byte 3.4 shape (which
// receivers read as version 0); any other version is sent in a 44-byte
// payload, since an exactly 40-byte one would read as version 0.
func EncodeNotification(n Notification) ([]byte, error) {
	if n.State > zab.Observing {
		return nil, fmt.Errorf("%w: %d", ErrState, n.State)
	}
	withConfig := n.Version > 1
	if !withConfig && n.Config != "" {
		return nil, fmt.Errorf("%w (version %d)", ErrConfigWithoutVersion, n.Version)
	}
	size := notificationHeader + len(n.Config)
	if n.Version == 0 {
		size = notificationLen40
	}
	if size > MaxFrameLength {
		return nil, fmt.Errorf("%w: config of %d bytes", ErrConfigLength, len(n.Config))
	}
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(n.State))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Vote.Leader))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Vote.Zxid))
	b = binary.BigEndian.AppendUint64(b, uint64(n.ElectionEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Vote.PeerEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(n.Version))
	if n.Version == 0 {
		return b, nil
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(n.Config)))
	return append(b, n.Config...), nil
}

// DecodeNotification reads a frame's payload the way Apache's
// FastLeaderElection.WorkerReceiver does: exactly 28 bytes has no
// peerEpoch (it is the zxid's epoch), exactly 40 bytes has no version,
// version <= 1 has no config, and bytes after what the shape reads are
// ignored. What Apache drops (shorter than 28 bytes, truncated fields, a
// config length out of bounds, an unknown state) is an error.
func DecodeNotification(b []byte) (Notification, error) {
	if len(b) < notificationLen28 {
		return Notification{}, fmt.Errorf("%w: notification of %d bytes", ErrShort, len(b))
	}
	state := int32(binary.BigEndian.Uint32(b))
	if state < int32(zab.Looking) || state > int32(zab.Observing) {
		return Notification{}, fmt.Errorf("%w: %d", ErrState, state)
	}
	var n Notification
	n.State = zab.Role(state)
	n.Vote.Leader = int64(binary.BigEndian.Uint64(b[4:]))
	n.Vote.Zxid = int64(binary.BigEndian.Uint64(b[12:]))
	n.ElectionEpoch = int64(binary.BigEndian.Uint64(b[20:]))
	if len(b) == notificationLen28 {
		n.Vote.PeerEpoch = zab.EpochOf(n.Vote.Zxid)
		return n, nil
	}
	if len(b) < 36 {
		return Notification{}, fmt.Errorf("%w: notification of %d bytes", ErrShort, len(b))
	}
	n.Vote.PeerEpoch = int64(binary.BigEndian.Uint64(b[28:]))
	if len(b) == notificationLen40 {
		return n, nil
	}
	if len(b) < 40 {
		return Notification{}, fmt.Errorf("%w: notification of %d bytes", ErrShort, len(b))
	}
	n.Version = int32(binary.BigEndian.Uint32(b[36:]))
	if n.Version <= 1 {
		return n, nil
	}
	if len(b) < notificationHeader {
		return Notification{}, fmt.Errorf("%w: notification of %d bytes", ErrShort, len(b))
	}
	size := int32(binary.BigEndian.Uint32(b[40:]))
	if size < 0 || int(size) > len(b)-notificationHeader {
		return Notification{}, fmt.Errorf("%w: %d in a %d-byte notification", ErrConfigLength, size, len(b))
	}
	n.Config = string(b[notificationHeader : notificationHeader+size])
	return n, nil
}
