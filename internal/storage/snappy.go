package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/golang/snappy"
)

// ZooKeeper compresses snapshots with xerial snappy-java's
// SnappyOutputStream, which is not the snappy framing format: a 16-byte
// stream header (magic 0x82 "SNAPPY" 0x00, int version 1, int minimum
// compatible version 1), then chunks of int compressed length (big-endian)
// + one raw snappy block, each block compressing up to 32 KiB of input.
// A header may reappear where a chunk length is expected (concatenated
// streams); SnappyInputStream skips it.

var errSnappyStream = errors.New("storage: bad snappy-java stream")

var snappyMagic = [8]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	snappyHeaderSize = 16
	snappyBlockSize  = 32 << 10 // SnappyOutputStream's default block size
	snappyVersion    = 1
)

// snappyWriter is a SnappyOutputStream.
type snappyWriter struct {
	w     io.Writer
	block []byte
	out   []byte
	err   error
}

func newSnappyWriter(w io.Writer) *snappyWriter {
	s := &snappyWriter{w: w, block: make([]byte, 0, snappyBlockSize)}
	var hdr [snappyHeaderSize]byte
	copy(hdr[:], snappyMagic[:])
	binary.BigEndian.PutUint32(hdr[8:], snappyVersion)
	binary.BigEndian.PutUint32(hdr[12:], snappyVersion)
	_, s.err = w.Write(hdr[:])
	return s
}

func (s *snappyWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && s.err == nil {
		k := copy(s.block[len(s.block):cap(s.block)], p)
		s.block = s.block[:len(s.block)+k]
		p = p[k:]
		n += k
		if len(s.block) == cap(s.block) {
			s.writeChunk()
		}
	}
	return n, s.err
}

func (s *snappyWriter) writeChunk() {
	if len(s.block) == 0 || s.err != nil {
		return
	}
	s.out = snappy.Encode(s.out[:cap(s.out)], s.block)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s.out)))
	if _, s.err = s.w.Write(n[:]); s.err == nil {
		_, s.err = s.w.Write(s.out)
	}
	s.block = s.block[:0]
}

// Close writes the last chunk; it does not close the underlying writer.
func (s *snappyWriter) Close() error {
	s.writeChunk()
	return s.err
}

// decodeSnappyStream inflates a whole SnappyOutputStream.
func decodeSnappyStream(data []byte) ([]byte, error) {
	if len(data) < snappyHeaderSize || !bytes.Equal(data[:8], snappyMagic[:]) {
		return nil, fmt.Errorf("%w: missing stream header", errSnappyStream)
	}
	if v := int32(binary.BigEndian.Uint32(data[8:])); v < snappyVersion {
		return nil, fmt.Errorf("%w: stream version %d", errSnappyStream, v)
	}
	var out []byte
	for pos := snappyHeaderSize; pos < len(data); {
		if len(data)-pos < 4 {
			return nil, fmt.Errorf("%w: chunk length cut short at %d", errSnappyStream, pos)
		}
		if bytes.Equal(data[pos:pos+4], snappyMagic[:4]) {
			if len(data)-pos < snappyHeaderSize || !bytes.Equal(data[pos:pos+8], snappyMagic[:]) {
				return nil, fmt.Errorf("%w: bad concatenated header at %d", errSnappyStream, pos)
			}
			pos += snappyHeaderSize
			continue
		}
		n := int64(int32(binary.BigEndian.Uint32(data[pos:])))
		pos += 4
		if n < 0 || n > int64(len(data)-pos) {
			return nil, fmt.Errorf("%w: chunk of %d bytes at %d", errSnappyStream, n, pos-4)
		}
		chunk := data[pos : pos+int(n)]
		pos += int(n)
		// A snappy block expands at most ~22 times; refuse to allocate for
		// a length prefix that claims more (hostile or corrupt input).
		dlen, err := snappy.DecodedLen(chunk)
		if err != nil || dlen > 32*len(chunk)+64 {
			return nil, fmt.Errorf("%w: bad chunk at %d", errSnappyStream, pos-int(n)-4)
		}
		start := len(out)
		out = append(out, make([]byte, dlen)...)
		if _, err := snappy.Decode(out[start:], chunk); err != nil {
			return nil, fmt.Errorf("%w: chunk at %d: %v", errSnappyStream, pos-int(n)-4, err)
		}
	}
	return out, nil
}
