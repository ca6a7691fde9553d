package jute

import (
	"errors"
	"fmt"
	"io"
)

// ErrRead wraps an error from a stream decoder's reader: the input could
// not be read, which says nothing about whether it is well formed.
var ErrRead = errors.New("jute: reading the input")

// streamWindow is how much a stream decoder reads at a time; a value
// longer than it grows the window to the value's length (at most max).
const streamWindow = 256 << 10

// stream is a Decoder's source when it reads from an io.Reader: the window
// d.buf holds the bytes read and not yet dropped; d.off indexes it.
type stream struct {
	r     io.Reader
	limit int64     // the most bytes the stream may hold
	base  int64     // the stream offset of d.buf[0]
	eof   bool      // r has nothing more
	sum   io.Writer // receives every consumed byte once, in order; may be nil
	// summed is how much of d.buf has gone to sum.
	summed int
}

// NewStreamDecoder reads jute values from r through a window of a few
// hundred KiB, so that a long input (a snapshot) never has to be in memory
// whole. Lengths above max are errors, as for NewDecoder; limit is the most
// bytes r may hold (a file's size, or a bound on what it decompresses to),
// which Remaining reports as what is left and which a longer stream fails
// against with ErrLength. Every value read is a copy, never a view of the
// window.
//
// When sum is set it receives every byte the decoder consumes, exactly
// once and in order, by the time the window moves on or SumConsumed is
// called: a checksum of the stream can thus be checked at any offset (a
// snapshot's seals) without a second pass.
func NewStreamDecoder(r io.Reader, max int, limit int64, sum io.Writer) *Decoder {
	if max <= 0 {
		max = DefaultMaxBuffer
	}
	return &Decoder{buf: make([]byte, 0, streamWindow), max: max, src: &stream{r: r, limit: limit, sum: sum}}
}

// SumConsumed passes the bytes consumed so far and not yet passed to the
// stream decoder's sum; afterwards the sum covers exactly Offset() bytes.
// It does nothing for a byte-slice decoder.
func (d *Decoder) SumConsumed() {
	if s := d.src; s != nil && s.sum != nil && s.summed < d.off {
		s.sum.Write(d.buf[s.summed:d.off])
		s.summed = d.off
	}
}

// AtEnd says whether no byte is left to read; a stream is read to learn
// it. After an error nothing is left to read either, so a caller that
// tells a clean end from a failure checks Err too.
func (d *Decoder) AtEnd() bool {
	if d.err != nil {
		return true
	}
	if d.off < len(d.buf) {
		return false
	}
	return d.src == nil || !d.src.fill(d, 1)
}

func (s *stream) remaining(d *Decoder) int {
	left := s.limit - (s.base + int64(d.off))
	return int(max(min(left, int64(maxInt)), 0))
}

const maxInt = int(^uint(0) >> 1)

// fill makes at least n unread bytes available in d.buf; false when the
// stream ends first or fails (a failure is recorded in d.err).
func (s *stream) fill(d *Decoder, n int) bool {
	if d.err != nil {
		return false
	}
	if len(d.buf)-d.off >= n {
		return true
	}
	// Drop what was consumed, after passing it to the sum.
	d.SumConsumed()
	unread := copy(d.buf[:cap(d.buf)], d.buf[d.off:])
	s.base += int64(d.off)
	d.buf, d.off, s.summed = d.buf[:unread], 0, 0
	if n > cap(d.buf) {
		grown := make([]byte, unread, n)
		copy(grown, d.buf)
		d.buf = grown
	}
	for len(d.buf) < n && !s.eof {
		// Read no further than the limit, so that a stream is refused for
		// its length only when a read needs the bytes beyond it.
		room := s.limit - s.base - int64(len(d.buf))
		if room <= 0 {
			var probe [1]byte
			k, err := io.ReadFull(s.r, probe[:])
			switch {
			case k > 0:
				d.err = fmt.Errorf("%w: stream longer than its bound of %d bytes", ErrLength, s.limit)
			case errors.Is(err, io.EOF):
				s.eof = true
			default:
				d.err = fmt.Errorf("%w: %w", ErrRead, err)
			}
			return false
		}
		k, err := s.r.Read(d.buf[len(d.buf):min(int64(cap(d.buf)), int64(len(d.buf))+room)])
		d.buf = d.buf[:len(d.buf)+k]
		switch {
		case errors.Is(err, io.EOF):
			s.eof = true
		case err != nil:
			d.err = fmt.Errorf("%w: %w", ErrRead, err)
			return false
		}
	}
	return len(d.buf) >= n
}

// fillAll reads the rest of the stream into the window.
func (s *stream) fillAll(d *Decoder) {
	for !s.eof && d.err == nil {
		s.fill(d, len(d.buf)-d.off+max(cap(d.buf)-len(d.buf), streamWindow))
	}
}
