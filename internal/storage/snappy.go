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
	return io.ReadAll(newSnappyReader(bytes.NewReader(data)))
}

// snappyReader is a SnappyInputStream: it inflates one chunk at a time, so
// a snapshot is read without holding it whole. Errors name the offset in
// the compressed stream.
type snappyReader struct {
	r      io.Reader
	pos    int64  // offset in the compressed stream
	chunk  []byte // the compressed chunk, reused
	out    []byte // the inflated chunk, reused
	unread []byte // what of out is left to return
	header bool   // the stream header was read
	err    error
}

func newSnappyReader(r io.Reader) *snappyReader { return &snappyReader{r: r} }

func (s *snappyReader) Read(p []byte) (int, error) {
	for len(s.unread) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		s.err = s.next()
	}
	n := copy(p, s.unread)
	s.unread = s.unread[n:]
	return n, nil
}

// readFull reads len(b) bytes; a stream that ends first is reported as
// cut short at what.
func (s *snappyReader) readFull(b []byte, what string) error {
	n, err := io.ReadFull(s.r, b)
	s.pos += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s cut short at %d", errSnappyStream, what, s.pos-int64(n))
	}
	return err
}

// next inflates the next chunk into unread; io.EOF at a clean end.
func (s *snappyReader) next() error {
	if !s.header {
		var hdr [snappyHeaderSize]byte
		if err := s.readFull(hdr[:], "stream header"); err != nil {
			if errors.Is(err, errSnappyStream) {
				return fmt.Errorf("%w: missing stream header", errSnappyStream)
			}
			return err
		}
		if !bytes.Equal(hdr[:8], snappyMagic[:]) {
			return fmt.Errorf("%w: missing stream header", errSnappyStream)
		}
		if v := int32(binary.BigEndian.Uint32(hdr[8:])); v < snappyVersion {
			return fmt.Errorf("%w: stream version %d", errSnappyStream, v)
		}
		s.header = true
	}
	at := s.pos
	var lenBuf [4]byte
	n, err := io.ReadFull(s.r, lenBuf[:])
	s.pos += int64(n)
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: chunk length cut short at %d", errSnappyStream, at)
	case err != nil:
		return err
	}
	if bytes.Equal(lenBuf[:], snappyMagic[:4]) {
		// A concatenated stream's header: SnappyInputStream skips it.
		var rest [snappyHeaderSize - 4]byte
		if err := s.readFull(rest[:], "concatenated header"); err != nil || !bytes.Equal(rest[:4], snappyMagic[4:]) {
			if err != nil && !errors.Is(err, errSnappyStream) {
				return err
			}
			return fmt.Errorf("%w: bad concatenated header at %d", errSnappyStream, at)
		}
		return nil
	}
	size := int64(int32(binary.BigEndian.Uint32(lenBuf[:])))
	// SnappyOutputStream compresses 32 KiB blocks; snappy's worst case for
	// one is under 38 KiB, so a longer chunk is corrupt (a hostile length
	// must not make the reader allocate).
	if size < 0 || size > int64(snappy.MaxEncodedLen(snappyBlockSize))*32 {
		return fmt.Errorf("%w: chunk of %d bytes at %d", errSnappyStream, size, at)
	}
	if int64(cap(s.chunk)) < size {
		s.chunk = make([]byte, size)
	}
	s.chunk = s.chunk[:size]
	if err := s.readFull(s.chunk, "chunk"); err != nil {
		if errors.Is(err, errSnappyStream) {
			return fmt.Errorf("%w: chunk of %d bytes at %d", errSnappyStream, size, at)
		}
		return err
	}
	// A snappy block expands at most ~22 times; refuse to allocate for a
	// length prefix that claims more (hostile or corrupt input).
	dlen, err := snappy.DecodedLen(s.chunk)
	if err != nil || dlen > 32*len(s.chunk)+64 {
		return fmt.Errorf("%w: bad chunk at %d", errSnappyStream, at)
	}
	if cap(s.out) < dlen {
		s.out = make([]byte, dlen)
	}
	out, err := snappy.Decode(s.out[:dlen], s.chunk)
	if err != nil {
		return fmt.Errorf("%w: chunk at %d: %v", errSnappyStream, at, err)
	}
	s.unread = out
	return nil
}
