package quorum

// Every decoder is fuzzed for two properties: it never panics (nor
// allocates past its bounds), and what it accepts encodes back to what it
// read, byte for byte where the format is not lossy and to the same value
// where it is (older notification shapes, LearnerInfo's absent fields, a
// null Id string).
//
//	go test -fuzz FuzzNotification ./internal/quorum/

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/zkd/zkd/internal/zab"
)

func FuzzInitialMessage(f *testing.F) {
	for _, m := range []InitialMessage{
		{ProtocolV1, 3, "127.0.0.1:3888"}, {ProtocolV2, 1, "a:1|[::1]:2"}, {ProtocolBareSID, 7, ""},
		{ProtocolV1, ObserverSID, "[fe80::1%eth0]:3888"},
	} {
		b, err := EncodeInitialMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(cat(be64(uint64(0xffffffffffff0000)), be64(1), be32(0xffffffff)))
	f.Add(unhex(f, capturedInitialMessage))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := DecodeInitialMessage(b)
		read, readErr := ReadInitialMessage(bytes.NewReader(b))
		if err != nil {
			if readErr == nil {
				t.Fatalf("ReadInitialMessage accepted %x as %+v; DecodeInitialMessage: %v", b, read, err)
			}
			return
		}
		if readErr != nil || read != m {
			t.Fatalf("ReadInitialMessage = %+v, %v; DecodeInitialMessage = %+v", read, readErr, m)
		}
		enc, err := EncodeInitialMessage(m)
		if err != nil || !bytes.Equal(enc, b[:n]) {
			t.Fatalf("decoded %x as %+v, which encodes to %x, %v", b[:n], m, enc, err)
		}
	})
}

func FuzzFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c', 'd'})
	f.Add([]byte{0, 8, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, n, err := DecodeFrame(b)
		read, readErr := ReadFrame(bytes.NewReader(b))
		if err != nil {
			if readErr == nil {
				t.Fatalf("ReadFrame accepted %x; DecodeFrame: %v", b, err)
			}
			return
		}
		if readErr != nil || !bytes.Equal(read, payload) {
			t.Fatalf("ReadFrame = %x, %v; DecodeFrame = %x", read, readErr, payload)
		}
		enc, err := AppendFrame(nil, payload)
		if err != nil || !bytes.Equal(enc, b[:n]) {
			t.Fatalf("frame %x encodes back to %x, %v", b[:n], enc, err)
		}
	})
}

func FuzzNotification(f *testing.F) {
	cfg := "server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.1:2889:3889:participant\nversion=0"
	for _, n := range []Notification{
		{Notification: zab.Notification{State: zab.Looking, Vote: zab.Vote{Leader: 1, Zxid: 0, PeerEpoch: 5}, ElectionEpoch: 1, Version: 2}, Config: cfg},
		{Notification: zab.Notification{State: zab.Leading, Vote: zab.Vote{Leader: 3, Zxid: 0x800000002, PeerEpoch: 8}, ElectionEpoch: 3, Version: 2}},
		{Notification: zab.Notification{State: zab.Following, Vote: zab.Vote{Leader: 2, Zxid: 7, PeerEpoch: 1}}},
		{Notification: zab.Notification{State: zab.Observing, Version: 1}},
	} {
		b, err := EncodeNotification(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(unhex(f, capturedNotification))
	f.Add(make([]byte, 28))
	f.Add(append(make([]byte, 36), 0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNotification(b)
		if err != nil {
			return
		}
		enc, err := EncodeNotification(n)
		if err != nil {
			t.Fatalf("decoded %x as %+v, which does not encode: %v", b, n, err)
		}
		back, err := DecodeNotification(enc)
		if err != nil || back != n {
			t.Fatalf("decoded %x as %+v; its encoding %x decodes to %+v, %v", b, n, enc, back, err)
		}
		if n.Version > 1 && len(b) == notificationHeader+len(n.Config) && !bytes.Equal(enc, b) {
			t.Fatalf("%x encodes back to %x", b, enc)
		}
	})
}

func FuzzConfig(f *testing.F) {
	f.Add("server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nserver.2=[::1]:2889:3889:observer\nversion=100000000")
	f.Add("server.3=a:1:2|b:3:4;2181\n# c\nversion=0")
	f.Add("server.1 = x:1:2:Participant\r\n")
	if n, err := DecodeNotification(unhex(f, capturedNotification)); err == nil {
		f.Add(n.Config)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseConfig(text)
		if err != nil {
			return
		}
		s := c.String()
		back, err := ParseConfig(s)
		if err != nil {
			t.Fatalf("%q parses to %+v, whose text %q does not parse: %v", text, c, s, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("%q parses to %+v; its text %q parses to %+v", text, c, s, back)
		}
		if back.String() != s {
			t.Fatalf("text %q is not stable: %q", s, back.String())
		}
	})
}

func FuzzPacket(f *testing.F) {
	for _, p := range []QuorumPacket{
		{Type: PacketCommit, Zxid: zab.MakeZxid(2, 5)},
		{Type: PacketFollowerInfo, Zxid: zab.MakeZxid(6, 0), Data: EncodeLearnerInfo(LearnerInfo{SID: 1, ProtocolVersion: ZabProtocolVersion})},
		{Type: PacketRequest, Zxid: -1, Data: []byte{1, 2}, AuthInfo: []ID{{"digest", "u:h"}}},
		{Type: PacketPing, AuthInfo: []ID{}},
	} {
		f.Add(EncodePacket(p))
	}
	f.Add(cat(be32(1), be64(0), be32(0xffffffff), be32(1), be32(0xffffffff), be32(0xffffffff)))
	for _, h := range []string{capturedFollowerInfo1, capturedAckEpoch1, capturedAckEpoch2} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 1 << 16
		p, err := DecodePacket(b, max)
		if err != nil {
			return
		}
		read, err := ReadPacket(bytes.NewReader(b), max)
		if err != nil || !reflect.DeepEqual(read, p) {
			t.Fatalf("DecodePacket(%x) = %+v; ReadPacket = %+v, %v", b, p, read, err)
		}
		enc := EncodePacket(p)
		back, err := DecodePacket(enc, max)
		if err != nil || !reflect.DeepEqual(back, p) {
			t.Fatalf("decoded %x as %+v; its encoding %x decodes to %+v, %v", b, p, enc, back, err)
		}
		if len(enc) > len(b) {
			t.Fatalf("%x re-encodes longer: %x", b, enc)
		}
	})
}

func FuzzLearnerInfo(f *testing.F) {
	f.Add(EncodeLearnerInfo(LearnerInfo{SID: 2, ProtocolVersion: ZabProtocolVersion, ConfigVersion: 0x100000003}))
	f.Add(be64(1))
	f.Add(append(be64(1), 0, 1, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		li, err := DecodeLearnerInfo(data)
		if err == nil {
			enc := EncodeLearnerInfo(li)
			if back, err := DecodeLearnerInfo(enc); err != nil || back != li {
				t.Fatalf("decoded %x as %+v; its encoding %x decodes to %+v, %v", data, li, enc, back, err)
			}
			if len(data) >= learnerInfoLen && !bytes.Equal(enc, data[:learnerInfoLen]) {
				t.Fatalf("%x encodes back to %x", data, enc)
			}
		}
		for _, codec := range []struct {
			decode func([]byte) (int32, error)
			encode func(int32) []byte
		}{{DecodeAckEpoch, EncodeAckEpoch}, {DecodeLeaderInfo, EncodeLeaderInfo}} {
			v, err := codec.decode(data)
			if err == nil && !bytes.Equal(codec.encode(v), data[:4]) {
				t.Fatalf("%x: %d encodes to %x", data, v, codec.encode(v))
			}
		}
	})
}

func FuzzSessionPackets(f *testing.F) {
	f.Add(EncodeRequest(Request{Session: 0x100000000000001, Cxid: 3, Type: 1, Body: []byte{0, 0, 0, 1, '/'}}))
	f.Add(EncodeTouches([]Touch{{1, 4000}, {2, 30000}}))
	f.Add(EncodeRevalidate(7, 4000))
	f.Add(EncodeRevalidateReply(7, true))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeRequest(b); err == nil && !bytes.Equal(EncodeRequest(r), b) {
			t.Fatalf("REQUEST %x re-encodes as %x", b, EncodeRequest(r))
		}
		if ts, err := DecodeTouches(b); err == nil && !bytes.Equal(EncodeTouches(ts), b) {
			t.Fatalf("touches %x re-encode as %x", b, EncodeTouches(ts))
		}
		if s, to, err := DecodeRevalidate(b); err == nil && !bytes.Equal(EncodeRevalidate(s, to), b[:12]) {
			t.Fatalf("REVALIDATE %x re-encodes differently", b)
		}
		if s, v, err := DecodeRevalidateReply(b); err == nil && !bytes.Equal(EncodeRevalidateReply(s, v), b[:9]) && b[8] <= 1 {
			t.Fatalf("REVALIDATE answer %x re-encodes differently", b)
		}
	})
}
