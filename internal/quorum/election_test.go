package quorum

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/zab"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInitialMessageBytes(t *testing.T) {
	// QuorumCnxManager.startConnection: writeLong(protocolVersion),
	// writeLong(myId), writeInt(addr.length), write(addr).
	for _, tc := range []struct {
		name string
		m    InitialMessage
		hex  string
	}{
		{"v1", InitialMessage{ProtocolV1, 3, "127.0.0.1:3888"},
			"ffffffffffff0000 0000000000000003 0000000e" + hex.EncodeToString([]byte("127.0.0.1:3888"))},
		{"v2 two addresses", InitialMessage{ProtocolV2, 1, "a:1|[::1]:2"},
			"ffffffffffff0001 0000000000000001 0000000b" + hex.EncodeToString([]byte("a:1|[::1]:2"))},
		{"pre-3.5 bare sid", InitialMessage{ProtocolBareSID, 7, ""}, "0000000000000007"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got, err := EncodeInitialMessage(tc.m)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("encode = %x, %v; want %x", got, err, want)
			}
			// A frame follows the message on the stream: decoding stops at its end.
			stream := append(append([]byte{}, want...), 0, 0, 0, 1, 9)
			m, n, err := DecodeInitialMessage(stream)
			if err != nil || m != tc.m || n != len(want) {
				t.Fatalf("decode = %+v, %d, %v; want %+v, %d", m, n, err, tc.m, len(want))
			}
			r := bytes.NewReader(stream)
			m, err = ReadInitialMessage(r)
			if err != nil || m != tc.m || r.Len() != 5 {
				t.Fatalf("read = %+v, %v with %d bytes left; want %+v with 5 left", m, err, r.Len(), tc.m)
			}
			for cut := 1; cut < len(want); cut++ {
				if _, _, err := DecodeInitialMessage(want[:cut]); !errors.Is(err, ErrShort) {
					t.Fatalf("decode of %d of %d bytes: %v, want ErrShort", cut, len(want), err)
				}
				if _, err := ReadInitialMessage(bytes.NewReader(want[:cut])); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
					t.Fatalf("read of %d of %d bytes: %v, want EOF", cut, len(want), err)
				}
			}
		})
	}
}

func TestInitialMessageRefusals(t *testing.T) {
	msg := func(version int64, sid int64, size int32, addr string) []byte {
		b := make([]byte, 0, 20+len(addr))
		b = append(b, be64(uint64(version))...)
		b = append(b, be64(uint64(sid))...)
		b = append(b, be32(uint32(size))...)
		return append(b, addr...)
	}
	long := strings.Repeat("h", MaxAddressLength-5) + ":3888"
	if _, _, err := DecodeInitialMessage(msg(ProtocolV1, 1, int32(len(long)), long)); err != nil {
		t.Fatalf("a %d-byte address is allowed: %v", len(long), err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		// InitialMessage.parse: "Got unrecognized protocol version".
		{"unknown version", msg(-1, 1, 3, "a:1"), ErrProtocolVersion},
		// "remaining <= 0 || remaining > maxBuffer".
		{"empty address", msg(ProtocolV1, 1, 0, ""), ErrAddressLength},
		{"negative length", msg(ProtocolV1, 1, -1, ""), ErrAddressLength},
		{"address over 2048", msg(ProtocolV1, 1, MaxAddressLength+1, "h"+long), ErrAddressLength},
		// "Badly formed address" / "Bad port number".
		{"no port", msg(ProtocolV1, 1, 9, "127.0.0.1"), ErrAddress},
		{"port not a number", msg(ProtocolV1, 1, 3, "a:b"), ErrAddress},
		{"port too big", msg(ProtocolV1, 1, 7, "a:65536"), ErrAddress},
		{"three parts", msg(ProtocolV1, 1, 5, "a:1:2"), ErrAddress},
		{"bare ipv6", msg(ProtocolV1, 1, 8, "::1:3888"), ErrAddress},
		{"bracket without colon", msg(ProtocolV1, 1, 9, "[::1]3888"), ErrAddress},
		{"empty part", msg(ProtocolV2, 1, 4, "a:1|"), ErrAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := DecodeInitialMessage(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("decode: %v, want %v", err, tc.want)
			}
			if _, err := ReadInitialMessage(bytes.NewReader(tc.b)); !errors.Is(err, tc.want) {
				t.Fatalf("read: %v, want %v", err, tc.want)
			}
		})
	}
	for _, m := range []InitialMessage{
		{ProtocolV1, 1, ""}, {ProtocolV1, 1, "nohost"}, {-2, 1, "a:1"}, {ProtocolBareSID, -1, ""}, {ProtocolBareSID, 1, "a:1"},
	} {
		if b, err := EncodeInitialMessage(m); err == nil {
			t.Errorf("encode %+v = %x, want an error", m, b)
		}
	}
}

func TestFrames(t *testing.T) {
	b, err := AppendFrame([]byte{0xaa}, []byte("xyz"))
	if want := unhex(t, "aa 00000003 78797a"); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("AppendFrame = %x, %v; want %x", b, err, want)
	}
	payload, n, err := DecodeFrame(b[1:])
	if err != nil || string(payload) != "xyz" || n != 7 {
		t.Fatalf("DecodeFrame = %q, %d, %v", payload, n, err)
	}
	if _, _, err := DecodeFrame(b[1:6]); !errors.Is(err, ErrShort) {
		t.Fatalf("DecodeFrame of a cut frame: %v, want ErrShort", err)
	}
	big := make([]byte, MaxFrameLength)
	if _, err := AppendFrame(nil, big); err != nil {
		t.Fatalf("a %d-byte frame is allowed: %v", MaxFrameLength, err)
	}
	// RecvWorker: "length <= 0 || length > PACKETMAXSIZE" breaks the connection.
	for _, size := range []int32{0, -1, MaxFrameLength + 1} {
		prefix := be32(uint32(size))
		if _, _, err := DecodeFrame(append(prefix, big...)); !errors.Is(err, ErrFrameLength) {
			t.Errorf("DecodeFrame with length %d: %v, want ErrFrameLength", size, err)
		}
		if _, err := ReadFrame(bytes.NewReader(prefix)); !errors.Is(err, ErrFrameLength) {
			t.Errorf("ReadFrame with length %d: %v, want ErrFrameLength", size, err)
		}
	}
	if _, err := AppendFrame(nil, nil); !errors.Is(err, ErrFrameLength) {
		t.Errorf("AppendFrame of nothing: %v, want ErrFrameLength", err)
	}
	if _, err := AppendFrame(nil, append(big, 0)); !errors.Is(err, ErrFrameLength) {
		t.Errorf("AppendFrame over the bound: %v, want ErrFrameLength", err)
	}
}

func TestNotificationCurrentShape(t *testing.T) {
	// FastLeaderElection.buildMsg: state, leader, zxid, electionEpoch,
	// epoch, CURRENTVERSION (2), configData.length, configData.
	cfg := "server.1=a:2888:3888:participant\nversion=0"
	n := Notification{
		Notification: zab.Notification{
			State:         zab.Following,
			Vote:          zab.Vote{Leader: 3, Zxid: 0x500000007, PeerEpoch: 5},
			ElectionEpoch: 9,
			Version:       zab.NotificationVersion,
		},
		Config: cfg,
	}
	want := unhex(t, "00000001 0000000000000003 0000000500000007 0000000000000009 0000000000000005 00000002"+
		"0000002a"+hex.EncodeToString([]byte(cfg)))
	got, err := EncodeNotification(n)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("encode = %x, %v\nwant     %x", got, err, want)
	}
	back, err := DecodeNotification(want)
	if err != nil || back != n {
		t.Fatalf("decode = %+v, %v; want %+v", back, err, n)
	}
	// Bytes after the config are not read.
	back, err = DecodeNotification(append(want, 1, 2, 3))
	if err != nil || back != n {
		t.Fatalf("decode with trailing bytes = %+v, %v", back, err)
	}
}

func TestNotificationOlderShapes(t *testing.T) {
	head := unhex(t, "00000000 0000000000000002 0000000700000010 0000000000000004")
	peerEpoch := unhex(t, "0000000000000006")
	for _, tc := range []struct {
		name string
		b    []byte
		want Notification
	}{
		// "backCompatibility28": no peer epoch, taken from the zxid.
		{"28 bytes", head, Notification{Notification: zab.Notification{
			Vote: zab.Vote{Leader: 2, Zxid: 0x700000010, PeerEpoch: 7}, ElectionEpoch: 4}}},
		// "backCompatibility40": peer epoch, and the int 3.4.6+ write as
		// version 1 is not read.
		{"40 bytes", cat(head, peerEpoch, be32(1)), Notification{Notification: zab.Notification{
			Vote: zab.Vote{Leader: 2, Zxid: 0x700000010, PeerEpoch: 6}, ElectionEpoch: 4}}},
		// Longer, version <= 1: no config is read, the rest is ignored.
		{"version 1", cat(head, peerEpoch, be32(1), be32(0xffffffff)), Notification{Notification: zab.Notification{
			Vote: zab.Vote{Leader: 2, Zxid: 0x700000010, PeerEpoch: 6}, ElectionEpoch: 4, Version: 1}}},
		{"41 bytes, version 0", cat(head, peerEpoch, be32(0), []byte{9}), Notification{Notification: zab.Notification{
			Vote: zab.Vote{Leader: 2, Zxid: 0x700000010, PeerEpoch: 6}, ElectionEpoch: 4}}},
		{"version 2, empty config", cat(head, peerEpoch, be32(2), be32(0)), Notification{Notification: zab.Notification{
			Vote: zab.Vote{Leader: 2, Zxid: 0x700000010, PeerEpoch: 6}, ElectionEpoch: 4, Version: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeNotification(tc.b)
			if err != nil || got != tc.want {
				t.Fatalf("decode = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	// Encoding the older versions: version 0 is the 40-byte shape, version 1
	// needs more than 40 bytes to be read at all.
	for _, version := range []int32{0, 1, -3} {
		n := Notification{Notification: zab.Notification{Vote: zab.Vote{Leader: 2, Zxid: 1, PeerEpoch: 3}, Version: version}}
		b, err := EncodeNotification(n)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeNotification(b)
		if err != nil || back != n {
			t.Errorf("version %d: %d bytes decode to %+v, %v", version, len(b), back, err)
		}
	}
	if _, err := EncodeNotification(Notification{Config: "version=0"}); !errors.Is(err, ErrConfigWithoutVersion) {
		t.Errorf("a config on a version-0 notification: %v, want ErrConfigWithoutVersion", err)
	}
}

func TestNotificationRefusals(t *testing.T) {
	full := cat(unhex(t, "00000000 0000000000000002 0000000700000010 0000000000000004 0000000000000006 00000002"), be32(3), []byte("abc"))
	withState := func(s uint32) []byte { return cat(be32(s), full[4:]) }
	withConfigLen := func(n uint32) []byte { return cat(full[:40], be32(n), full[44:]) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		// "capacity < 28": "Got a short response".
		{"27 bytes", full[:27], ErrShort},
		// BufferUnderflowException: "Skipping the processing of a partial / malformed response".
		{"32 bytes", full[:32], ErrShort},
		{"38 bytes", full[:38], ErrShort},
		{"version 2 in 42 bytes", full[:42], ErrShort},
		// "Invalid configLength in notification message".
		{"config length -1", withConfigLen(0xffffffff), ErrConfigLength},
		{"config past the end", withConfigLen(4), ErrConfigLength},
		// WorkerReceiver: "default: continue".
		{"state 4", withState(4), ErrState},
		{"state -1", withState(0xffffffff), ErrState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := DecodeNotification(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("decode = %+v, %v; want %v", n, err, tc.want)
			}
		})
	}
	if _, err := DecodeNotification(full); err != nil {
		t.Fatalf("the unbroken notification: %v", err)
	}
	huge := Notification{Notification: zab.Notification{Version: 2}, Config: strings.Repeat("x", MaxFrameLength)}
	if _, err := EncodeNotification(huge); !errors.Is(err, ErrConfigLength) {
		t.Errorf("a config that overflows a frame: %v, want ErrConfigLength", err)
	}
	if _, err := EncodeNotification(Notification{Notification: zab.Notification{State: 4}}); !errors.Is(err, ErrState) {
		t.Errorf("state 4: %v, want ErrState", err)
	}
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func be64(v uint64) []byte { return append(be32(uint32(v>>32)), be32(uint32(v))...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
