package quorum

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/zkd/zkd/internal/zab"
)

// Bytes Apache ZooKeeper 3.8.0 (Debian) sent to TestApacheFollowsAGoPeer
// (its -v output), server 1 with currentEpoch 5 and acceptedEpoch 6,
// server 2 with 4 and 7, in answer to LEADERINFO(makeZxid(7, 0)).
const (
	capturedInitialMessage = "ffffffffffff000000000000000000010000000f3132372e302e302e313a3233383535"
	capturedNotification   = "00000000000000000000000100000000000000000000000000000001000000000000000500000002000000ba7365727665722e313d3132372e302e302e313a32333834303a32333835353a7061727469636970616e743b3132372e302e302e313a32333835340a7365727665722e323d3132372e302e302e313a32333839343a32333837383a7061727469636970616e743b3132372e302e302e313a32333833380a7365727665722e333d3132372e302e302e313a32333833373a32333832383a7061727469636970616e743b3132372e302e302e313a32333832340a76657273696f6e3d30"
	capturedFollowerInfo1  = "0000000b0000000600000000000000140000000000000001000100000000000000000000ffffffff"
	capturedAckEpoch1      = "0000001200000000000000000000000400000005ffffffff"
	capturedAckEpoch2      = "00000012000000000000000000000004ffffffffffffffff"
)

func TestBytesCapturedFromApache(t *testing.T) {
	raw := unhex(t, capturedInitialMessage)
	m, n, err := DecodeInitialMessage(raw)
	if want := (InitialMessage{ProtocolV1, 1, "127.0.0.1:23855"}); err != nil || m != want || n != len(raw) {
		t.Fatalf("initial message = %+v, %d, %v; want %+v", m, n, err, want)
	}
	if enc, _ := EncodeInitialMessage(m); !bytes.Equal(enc, raw) {
		t.Fatalf("initial message re-encodes to %x", enc)
	}

	raw = unhex(t, capturedNotification)
	note, err := DecodeNotification(raw)
	want := zab.Notification{State: zab.Looking, Vote: zab.Vote{Leader: 1, PeerEpoch: 5}, ElectionEpoch: 1, Version: 2}
	if err != nil || note.Notification != want {
		t.Fatalf("notification = %+v, %v; want %+v", note, err, want)
	}
	cfg, err := ParseConfig(note.Config)
	wantCfg := QuorumConfig{Members: []Member{
		{ID: 1, Addresses: []PeerAddress{{"127.0.0.1", 23840, 23855}}, ClientHost: "127.0.0.1", ClientPort: 23854},
		{ID: 2, Addresses: []PeerAddress{{"127.0.0.1", 23894, 23878}}, ClientHost: "127.0.0.1", ClientPort: 23838},
		{ID: 3, Addresses: []PeerAddress{{"127.0.0.1", 23837, 23828}}, ClientHost: "127.0.0.1", ClientPort: 23824},
	}}
	if err != nil || !reflect.DeepEqual(cfg, wantCfg) || cfg.String() != note.Config {
		t.Fatalf("config %q = %+v, %v; want %+v", note.Config, cfg, err, wantCfg)
	}
	if enc, _ := EncodeNotification(note); !bytes.Equal(enc, raw) {
		t.Fatalf("notification re-encodes to %x", enc)
	}

	for _, tc := range []struct {
		hex  string
		want QuorumPacket
	}{
		{capturedFollowerInfo1, QuorumPacket{Type: PacketFollowerInfo, Zxid: zab.MakeZxid(6, 0),
			Data: EncodeLearnerInfo(LearnerInfo{SID: 1, ProtocolVersion: ZabProtocolVersion, ConfigVersion: 0})}},
		{capturedAckEpoch1, QuorumPacket{Type: PacketAckEpoch, Data: EncodeAckEpoch(5)}},
		{capturedAckEpoch2, QuorumPacket{Type: PacketAckEpoch, Data: EncodeAckEpoch(AckEpochAlreadyAccepted)}},
	} {
		raw := unhex(t, tc.hex)
		p, err := DecodePacket(raw, 0)
		if err != nil || !reflect.DeepEqual(p, tc.want) {
			t.Errorf("%s = %+v, %v; want %+v", tc.hex, p, err, tc.want)
		}
		if enc := EncodePacket(p); !bytes.Equal(enc, raw) {
			t.Errorf("%s re-encodes to %x", tc.hex, enc)
		}
	}
}
