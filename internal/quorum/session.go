package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The data of the packets that carry client sessions between a learner and
// its leader (Learner.request, Learner.ping/LearnerSessionTracker,
// Learner.validateSession and LearnerHandler's answers). They are written
// with Java's DataOutputStream: big-endian, no framing of their own.

// ErrSessionData: a REQUEST, PING or REVALIDATE whose data is cut short.
var ErrSessionData = errors.New("quorum: session packet data too short")

// Request is a client write a learner forwards to its leader (REQUEST's
// data): the session, the client's xid, the opcode and the request record
// as the client sent it (without its header; a createSession carries the
// negotiated timeout as one int, a closeSession nothing).
type Request struct {
	Session int64
	Cxid    int32
	Type    int32
	Body    []byte
}

const requestHeaderLen = 16

// EncodeRequest returns REQUEST's data.
func EncodeRequest(r Request) []byte {
	b := make([]byte, 0, requestHeaderLen+len(r.Body))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Session))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Cxid))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Type))
	return append(b, r.Body...)
}

// DecodeRequest reads REQUEST's data; Body aliases data.
func DecodeRequest(data []byte) (Request, error) {
	if len(data) < requestHeaderLen {
		return Request{}, fmt.Errorf("%w: REQUEST of %d bytes", ErrSessionData, len(data))
	}
	return Request{
		Session: int64(binary.BigEndian.Uint64(data)),
		Cxid:    int32(binary.BigEndian.Uint32(data[8:])),
		Type:    int32(binary.BigEndian.Uint32(data[12:])),
		Body:    data[requestHeaderLen:],
	}, nil
}

// Touch is one session a learner's clients kept alive since its last ping.
type Touch struct {
	Session int64
	Timeout int32
}

const touchLen = 12

// EncodeTouches is a learner's PING answer: each touched session and its
// timeout. An empty list is empty data, never nil (Apache's leader reads
// the data without a null check).
func EncodeTouches(ts []Touch) []byte {
	b := make([]byte, 0, touchLen*len(ts))
	for _, t := range ts {
		b = binary.BigEndian.AppendUint64(b, uint64(t.Session))
		b = binary.BigEndian.AppendUint32(b, uint32(t.Timeout))
	}
	return b
}

// DecodeTouches reads a learner's PING answer. A leader's PING carries no
// touches; neither does an old learner's (nil data).
func DecodeTouches(data []byte) ([]Touch, error) {
	if len(data)%touchLen != 0 {
		return nil, fmt.Errorf("%w: PING of %d bytes is not whole touches", ErrSessionData, len(data))
	}
	ts := make([]Touch, 0, len(data)/touchLen)
	for i := 0; i < len(data); i += touchLen {
		ts = append(ts, Touch{Session: int64(binary.BigEndian.Uint64(data[i:])),
			Timeout: int32(binary.BigEndian.Uint32(data[i+8:]))})
	}
	return ts, nil
}

// EncodeRevalidate is a learner's REVALIDATE: a client reconnected to it
// with this session.
func EncodeRevalidate(session int64, timeout int32) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 12), uint64(session))
	return binary.BigEndian.AppendUint32(b, uint32(timeout))
}

// DecodeRevalidate reads a learner's REVALIDATE.
func DecodeRevalidate(data []byte) (session int64, timeout int32, err error) {
	if len(data) < 12 {
		return 0, 0, fmt.Errorf("%w: REVALIDATE of %d bytes", ErrSessionData, len(data))
	}
	return int64(binary.BigEndian.Uint64(data)), int32(binary.BigEndian.Uint32(data[8:])), nil
}

// EncodeRevalidateReply is the leader's answer: the session and whether it
// is still alive (a Java boolean, one byte).
func EncodeRevalidateReply(session int64, valid bool) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 9), uint64(session))
	if valid {
		return append(b, 1)
	}
	return append(b, 0)
}

// DecodeRevalidateReply reads the leader's answer.
func DecodeRevalidateReply(data []byte) (session int64, valid bool, err error) {
	if len(data) < 9 {
		return 0, false, fmt.Errorf("%w: REVALIDATE answer of %d bytes", ErrSessionData, len(data))
	}
	return int64(binary.BigEndian.Uint64(data)), data[8] != 0, nil
}
