package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/zkd/zkd/internal/jute"
)

// The readers below cut one message out of a stream for the codecs. They
// check each length before reading what it announces, so a peer can make
// them allocate no more than the bounds allow.

// ReadInitialMessage reads an election connection's initial message.
func ReadInitialMessage(r io.Reader) (InitialMessage, error) {
	buf := make([]byte, 0, 20+MaxAddressLength)
	// Each step reads what the bytes so far announce, until the codec
	// has a whole message or an error.
	for _, want := range []int{8, 20, -1} {
		if want < 0 {
			want = 20 + int(int32(binary.BigEndian.Uint32(buf[16:]))) // checked by the codec
		}
		var err error
		if buf, err = readN(r, buf, want-len(buf)); err != nil {
			return InitialMessage{}, err
		}
		m, _, err := DecodeInitialMessage(buf)
		if !errors.Is(err, ErrShort) {
			return m, err
		}
	}
	return InitialMessage{}, ErrShort // not reached: the third step is whole
}

// ReadFrame reads one election frame and returns its payload.
func ReadFrame(r io.Reader) ([]byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(prefix[:]))
	if size <= 0 || size > MaxFrameLength {
		return nil, fmt.Errorf("%w: %d", ErrFrameLength, size)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	return payload, nil
}

// ReadPacket reads one QuorumPacket; max bounds its data and strings as in
// DecodePacket, and the authinfo as a whole is held to max bytes too.
func ReadPacket(r io.Reader, max int) (QuorumPacket, error) {
	if max <= 0 {
		max = DefaultMaxPacketData
	}
	buf, err := readN(r, make([]byte, 0, 64), 16)
	if err != nil {
		return QuorumPacket{}, err
	}
	if buf, err = readLengthPrefixed(r, buf, 12, max); err != nil {
		return QuorumPacket{}, err
	}
	start := len(buf)
	if buf, err = readN(r, buf, 4); err != nil {
		return QuorumPacket{}, err
	}
	count := int32(binary.BigEndian.Uint32(buf[start:]))
	if count < -1 || int64(count)*8 > int64(max) {
		return QuorumPacket{}, fmt.Errorf("quorum: packet: %w: authinfo of %d ids", jute.ErrLength, count)
	}
	for i := int32(0); i < 2*count; i++ {
		off := len(buf)
		if buf, err = readN(r, buf, 4); err != nil {
			return QuorumPacket{}, err
		}
		if buf, err = readLengthPrefixed(r, buf, off, max); err != nil {
			return QuorumPacket{}, err
		}
		if len(buf)-start > max {
			return QuorumPacket{}, fmt.Errorf("quorum: packet: %w: authinfo over %d bytes", jute.ErrLength, max)
		}
	}
	return DecodePacket(buf, max)
}

// readLengthPrefixed reads the bytes announced by the int at buf[off:],
// after checking the length as jute does (-1 is none).
func readLengthPrefixed(r io.Reader, buf []byte, off, max int) ([]byte, error) {
	n := int32(binary.BigEndian.Uint32(buf[off:]))
	if n == -1 {
		return buf, nil
	}
	if n < -1 || int(n) > max {
		return nil, fmt.Errorf("quorum: packet: %w: %d (max %d)", jute.ErrLength, n, max)
	}
	return readN(r, buf, int(n))
}

// readN appends n bytes read from r to buf. The stream ending inside a
// message (after the bytes already in buf) is io.ErrUnexpectedEOF; io.EOF
// means it ended between messages.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	off := len(buf)
	buf = slices.Grow(buf, n)[:off+n]
	if _, err := io.ReadFull(r, buf[off:]); err != nil {
		if err == io.EOF && off > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}
