package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zkd/zkd/internal/jute"
)

// Sentinel errors of the quorum port.
var (
	// ErrLearnerInfo: FOLLOWERINFO/OBSERVERINFO data too short to hold a sid.
	ErrLearnerInfo = errors.New("quorum: learner info shorter than a sid")
	// ErrEpochData: LEADERINFO/ACKEPOCH data shorter than an int.
	ErrEpochData = errors.New("quorum: packet data shorter than an int")
)

// PacketType is a QuorumPacket's type (the Leader class's constants).
type PacketType int32

// Packet types.
const (
	PacketRequest           PacketType = 1  // learner → leader: a client write to propose
	PacketProposal          PacketType = 2  // leader → follower: a txn to log
	PacketAck               PacketType = 3  // follower → leader: logged up to zxid
	PacketCommit            PacketType = 4  // leader → follower: apply up to zxid
	PacketPing              PacketType = 5  // both ways: liveness and session touches
	PacketRevalidate        PacketType = 6  // both ways: a reconnecting session's check
	PacketSync              PacketType = 7  // leader → learner: a forwarded sync is done
	PacketInform            PacketType = 8  // leader → observer: a committed txn
	PacketCommitAndActivate PacketType = 9  // leader → follower: commit of a reconfig
	PacketNewLeader         PacketType = 10 // leader → learner: end of the sync, with the config text
	PacketFollowerInfo      PacketType = 11 // follower → leader: LearnerInfo, makeZxid(acceptedEpoch, 0)
	PacketUpToDate          PacketType = 12 // leader → learner: start serving
	PacketDiff              PacketType = 13 // leader → learner: sync by the txns that follow
	PacketTrunc             PacketType = 14 // leader → learner: truncate the log to zxid
	PacketSnap              PacketType = 15 // leader → learner: a snapshot follows on the stream
	PacketObserverInfo      PacketType = 16 // observer → leader: LearnerInfo
	PacketLeaderInfo        PacketType = 17 // leader → learner: makeZxid(newEpoch, 0), protocol version
	PacketAckEpoch          PacketType = 18 // learner → leader: last logged zxid, currentEpoch
	PacketInformAndActivate PacketType = 19 // leader → observer: a committed reconfig
)

var packetNames = [...]string{
	PacketRequest: "REQUEST", PacketProposal: "PROPOSAL", PacketAck: "ACK", PacketCommit: "COMMIT",
	PacketPing: "PING", PacketRevalidate: "REVALIDATE", PacketSync: "SYNC", PacketInform: "INFORM",
	PacketCommitAndActivate: "COMMITANDACTIVATE", PacketNewLeader: "NEWLEADER",
	PacketFollowerInfo: "FOLLOWERINFO", PacketUpToDate: "UPTODATE", PacketDiff: "DIFF",
	PacketTrunc: "TRUNC", PacketSnap: "SNAP", PacketObserverInfo: "OBSERVERINFO",
	PacketLeaderInfo: "LEADERINFO", PacketAckEpoch: "ACKEPOCH", PacketInformAndActivate: "INFORMANDACTIVATE",
}

// String is Apache's name for the type (Leader.getPacketType).
func (t PacketType) String() string {
	if t > 0 && int(t) < len(packetNames) {
		return packetNames[t]
	}
	return fmt.Sprintf("UNKNOWN(%d)", int32(t))
}

// ZabProtocolVersion is the Zab 1.0 protocol version learners announce in
// LearnerInfo and leaders in LEADERINFO; a learner below it gets the
// pre-1.0 handshake (no LEADERINFO/ACKEPOCH).
const ZabProtocolVersion int32 = 0x10000

// DefaultMaxPacketData bounds a packet's data and strings the way a Java
// server with the default jute.maxbuffer does: BinaryInputArchive refuses
// lengths above jute.maxbuffer plus zookeeper.jute.maxbuffer.extrasize,
// whose default is jute.maxbuffer itself.
const DefaultMaxPacketData = 2 * jute.DefaultMaxBuffer

// ID is the jute Id record (org.apache.zookeeper.data.Id) of a REQUEST's
// authinfo: proto.ID's twin, so that quorum needs only zab and jute.
type ID struct {
	Scheme string
	ID     string
}

// QuorumPacket is the one record of the quorum port.
type QuorumPacket struct {
	Type PacketType
	Zxid int64
	// Data is the type's payload; nil is sent as length -1 (none).
	Data []byte
	// AuthInfo is the session's auth ids on REQUEST; nil is sent as
	// count -1 (none), as every other packet has it.
	AuthInfo []ID
}

// Encode writes the packet as jute.
func (p *QuorumPacket) Encode(e *jute.Encoder) {
	e.Int(int32(p.Type))
	e.Long(p.Zxid)
	e.Buffer(p.Data)
	if p.AuthInfo == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(p.AuthInfo)))
	for _, id := range p.AuthInfo {
		e.String(id.Scheme)
		e.String(id.ID)
	}
}

// Decode reads the packet as jute; lengths are bounded by d's maximum.
// A null ustring in an Id reads as "", as jute.Decoder's strings do.
func (p *QuorumPacket) Decode(d *jute.Decoder) {
	p.Type = PacketType(d.Int())
	p.Zxid = d.Long()
	p.Data = d.Buffer()
	n := d.VectorLen(8) // an Id is two strings of at least 4 bytes
	if n < 0 {
		p.AuthInfo = nil
		return
	}
	p.AuthInfo = make([]ID, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		p.AuthInfo = append(p.AuthInfo, ID{Scheme: d.String(), ID: d.String()})
	}
}

// EncodePacket returns p's bytes.
func EncodePacket(p QuorumPacket) []byte { return jute.Marshal(&p) }

// DecodePacket reads exactly one packet from b; max bounds the data and
// string lengths (<= 0: DefaultMaxPacketData).
func DecodePacket(b []byte, max int) (QuorumPacket, error) {
	if max <= 0 {
		max = DefaultMaxPacketData
	}
	var p QuorumPacket
	if err := jute.Unmarshal(b, max, &p); err != nil {
		return QuorumPacket{}, fmt.Errorf("quorum: packet: %w", err)
	}
	return p, nil
}

// LearnerInfo is the data of FOLLOWERINFO and OBSERVERINFO.
type LearnerInfo struct {
	SID int64
	// ProtocolVersion is ZabProtocolVersion from 3.4 on; a learner that
	// sends none reads as 1, as LearnerHandler's default.
	ProtocolVersion int32
	// ConfigVersion is the version of the learner's quorum config; -1 when
	// it sends none (pre-3.5), which no leader's config version is below.
	ConfigVersion int64
}

// Apache's readings of absent LearnerInfo fields.
const (
	learnerInfoOldProtocol     int32 = 1
	learnerInfoNoConfigVersion int64 = -1
	learnerInfoLen                   = 20
	learnerInfoWithProtocolLen       = 12
	learnerInfoSIDLen                = 8
)

// EncodeLearnerInfo returns the 20-byte jute record Apache sends.
func EncodeLearnerInfo(li LearnerInfo) []byte {
	b := make([]byte, 0, learnerInfoLen)
	b = binary.BigEndian.AppendUint64(b, uint64(li.SID))
	b = binary.BigEndian.AppendUint32(b, uint32(li.ProtocolVersion))
	return binary.BigEndian.AppendUint64(b, uint64(li.ConfigVersion))
}

// DecodeLearnerInfo reads the data as LearnerHandler does: 8 bytes or more
// hold the sid, 12 or more the protocol version, 20 or more the config
// version; anything after is ignored.
func DecodeLearnerInfo(data []byte) (LearnerInfo, error) {
	if len(data) < learnerInfoSIDLen {
		return LearnerInfo{}, fmt.Errorf("%w: %d bytes", ErrLearnerInfo, len(data))
	}
	li := LearnerInfo{
		SID:             int64(binary.BigEndian.Uint64(data)),
		ProtocolVersion: learnerInfoOldProtocol,
		ConfigVersion:   learnerInfoNoConfigVersion,
	}
	if len(data) >= learnerInfoWithProtocolLen {
		li.ProtocolVersion = int32(binary.BigEndian.Uint32(data[8:]))
	}
	if len(data) >= learnerInfoLen {
		li.ConfigVersion = int64(binary.BigEndian.Uint64(data[12:]))
	}
	return li, nil
}

// EncodeLeaderInfo is LEADERINFO's data: the leader's protocol version
// (ZabProtocolVersion).
func EncodeLeaderInfo(protocolVersion int32) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(protocolVersion))
}

// DecodeLeaderInfo reads LEADERINFO's data (its first int; the learner
// ignores the rest).
func DecodeLeaderInfo(data []byte) (int32, error) { return firstInt(data) }

// AckEpochAlreadyAccepted is ACKEPOCH's data from a learner that had
// already accepted the proposed epoch: the ack does not count.
const AckEpochAlreadyAccepted int32 = -1

// EncodeAckEpoch is ACKEPOCH's data: the learner's currentEpoch, or
// AckEpochAlreadyAccepted. Apache casts currentEpoch to an int.
func EncodeAckEpoch(currentEpoch int32) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(currentEpoch))
}

// DecodeAckEpoch reads ACKEPOCH's data (its first int; the leader ignores
// the rest).
func DecodeAckEpoch(data []byte) (int32, error) { return firstInt(data) }

func firstInt(data []byte) (int32, error) {
	if len(data) < 4 {
		return 0, fmt.Errorf("%w: %d bytes", ErrEpochData, len(data))
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}
