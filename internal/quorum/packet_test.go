package quorum

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/zab"
)

func TestPacketBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    QuorumPacket
		hex  string
	}{
		// "a COMMIT is 4+8+4+4 = 20 bytes: type 4, zxid, 0xFFFFFFFF, 0xFFFFFFFF".
		{"commit", QuorumPacket{Type: PacketCommit, Zxid: zab.MakeZxid(2, 5)},
			"00000004 0000000200000005 ffffffff ffffffff"},
		// LearnerHandler: new QuorumPacket(Leader.LEADERINFO, newLeaderZxid, ver, null), ver = int 0x10000.
		{"leaderinfo", QuorumPacket{Type: PacketLeaderInfo, Zxid: zab.MakeZxid(8, 0), Data: EncodeLeaderInfo(ZabProtocolVersion)},
			"00000011 0000000800000000 00000004 00010000 ffffffff"},
		{"request with authinfo", QuorumPacket{Type: PacketRequest, Zxid: -1, Data: []byte{},
			AuthInfo: []ID{{"digest", "u:h"}, {"ip", ""}}},
			"00000001 ffffffffffffffff 00000000 00000002 00000006 646967657374 00000003 753a68 00000002 6970 00000000"},
		{"empty authinfo", QuorumPacket{Type: PacketPing, AuthInfo: []ID{}},
			"00000005 0000000000000000 ffffffff 00000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			if got := EncodePacket(tc.p); !bytes.Equal(got, want) {
				t.Fatalf("encode = %x\nwant     %x", got, want)
			}
			got, err := DecodePacket(want, 0)
			if err != nil || !reflect.DeepEqual(got, tc.p) {
				t.Fatalf("decode = %+v, %v; want %+v", got, err, tc.p)
			}
			// Packets follow each other on the stream with no framing.
			r := bytes.NewReader(append(append([]byte{}, want...), want...))
			for i := range 2 {
				got, err := ReadPacket(r, 0)
				if err != nil || !reflect.DeepEqual(got, tc.p) {
					t.Fatalf("read %d = %+v, %v", i, got, err)
				}
			}
			if _, err := ReadPacket(r, 0); err != io.EOF {
				t.Fatalf("read past the end: %v, want EOF", err)
			}
			for cut := 1; cut < len(want); cut++ {
				if _, err := ReadPacket(bytes.NewReader(want[:cut]), 0); err != io.ErrUnexpectedEOF {
					t.Fatalf("read of %d of %d bytes: %v, want ErrUnexpectedEOF", cut, len(want), err)
				}
				if _, err := DecodePacket(want[:cut], 0); err == nil {
					t.Fatalf("decode of %d of %d bytes succeeded", cut, len(want))
				}
			}
		})
	}
}

func TestPacketBounds(t *testing.T) {
	// BinaryInputArchive.checkLength: "len < 0 || len > maxBufferSize + extraMaxBufferSize".
	withData := func(n int) []byte {
		return EncodePacket(QuorumPacket{Type: PacketProposal, Data: make([]byte, n)})
	}
	if _, err := DecodePacket(withData(DefaultMaxPacketData), 0); err != nil {
		t.Fatalf("data of jute.maxbuffer + extrasize bytes: %v", err)
	}
	if _, err := ReadPacket(bytes.NewReader(withData(100)), 100); err != nil {
		t.Fatalf("data of max bytes: %v", err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"data over max", withData(101)},
		{"data length -2", unhex(t, "00000002 0000000000000000 fffffffe ffffffff")},
		{"a billion ids", unhex(t, "00000001 0000000000000000 ffffffff 40000000 00000000 00000000")},
		{"id string over max", unhex(t, "00000001 0000000000000000 ffffffff 00000001 00000065")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodePacket(tc.b, 100); !errors.Is(err, jute.ErrLength) {
				t.Errorf("decode: %v, want jute.ErrLength", err)
			}
			if _, err := ReadPacket(bytes.NewReader(tc.b), 100); !errors.Is(err, jute.ErrLength) {
				t.Errorf("read: %v, want jute.ErrLength", err)
			}
		})
	}
	if _, err := DecodePacket(append(withData(1), 0), 0); err == nil {
		t.Error("decode accepted a trailing byte")
	}
}

func TestPacketTypeNames(t *testing.T) {
	// The Leader class's constants, checked with javap -constants.
	want := map[PacketType]string{1: "REQUEST", 2: "PROPOSAL", 3: "ACK", 4: "COMMIT", 5: "PING", 6: "REVALIDATE",
		7: "SYNC", 8: "INFORM", 9: "COMMITANDACTIVATE", 10: "NEWLEADER", 11: "FOLLOWERINFO", 12: "UPTODATE",
		13: "DIFF", 14: "TRUNC", 15: "SNAP", 16: "OBSERVERINFO", 17: "LEADERINFO", 18: "ACKEPOCH",
		19: "INFORMANDACTIVATE"}
	for typ, name := range want {
		if typ.String() != name {
			t.Errorf("%d: %s, want %s", int32(typ), typ, name)
		}
	}
	if s := PacketType(20).String(); s != "UNKNOWN(20)" {
		t.Errorf("20: %s", s)
	}
}

func TestLearnerInfo(t *testing.T) {
	// Learner.registerWithLeader: new LearnerInfo(myId, 0x10000, qv.getVersion()).
	li := LearnerInfo{SID: 2, ProtocolVersion: ZabProtocolVersion, ConfigVersion: 0x100000003}
	want := unhex(t, "0000000000000002 00010000 0000000100000003")
	if b := EncodeLearnerInfo(li); !bytes.Equal(b, want) {
		t.Fatalf("encode = %x, want %x", b, want)
	}
	// LearnerHandler: ">= 8 sid, >= 12 protocolVersion, >= 20 configVersion".
	for _, tc := range []struct {
		data []byte
		want LearnerInfo
	}{
		{want, li},
		{append(want, 0xff), li},
		{want[:19], LearnerInfo{SID: 2, ProtocolVersion: ZabProtocolVersion, ConfigVersion: -1}},
		{want[:12], LearnerInfo{SID: 2, ProtocolVersion: ZabProtocolVersion, ConfigVersion: -1}},
		{want[:11], LearnerInfo{SID: 2, ProtocolVersion: 1, ConfigVersion: -1}},
		{want[:8], LearnerInfo{SID: 2, ProtocolVersion: 1, ConfigVersion: -1}},
	} {
		got, err := DecodeLearnerInfo(tc.data)
		if err != nil || got != tc.want {
			t.Errorf("decode %x = %+v, %v; want %+v", tc.data, got, err, tc.want)
		}
	}
	for _, data := range [][]byte{nil, want[:7]} {
		if _, err := DecodeLearnerInfo(data); !errors.Is(err, ErrLearnerInfo) {
			t.Errorf("decode %x: %v, want ErrLearnerInfo", data, err)
		}
	}
}

func TestEpochData(t *testing.T) {
	// Learner.registerWithLeader: ACKEPOCH carries (int) currentEpoch, or -1
	// when newEpoch == acceptedEpoch.
	if b := EncodeAckEpoch(AckEpochAlreadyAccepted); !bytes.Equal(b, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("EncodeAckEpoch(-1) = %x", b)
	}
	if v, err := DecodeAckEpoch([]byte{0, 0, 0, 5, 9}); err != nil || v != 5 {
		t.Fatalf("DecodeAckEpoch = %d, %v", v, err)
	}
	if v, err := DecodeLeaderInfo(EncodeLeaderInfo(ZabProtocolVersion)); err != nil || v != 0x10000 {
		t.Fatalf("DecodeLeaderInfo = %x, %v", v, err)
	}
	for _, data := range [][]byte{nil, {0, 0, 1}} {
		if _, err := DecodeAckEpoch(data); !errors.Is(err, ErrEpochData) {
			t.Errorf("DecodeAckEpoch(%x): %v, want ErrEpochData", data, err)
		}
		if _, err := DecodeLeaderInfo(data); !errors.Is(err, ErrEpochData) {
			t.Errorf("DecodeLeaderInfo(%x): %v, want ErrEpochData", data, err)
		}
	}
}
