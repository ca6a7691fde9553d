package jute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

var (
	// ErrShort means the input ended inside a value.
	ErrShort = errors.New("jute: input ends inside a value")
	// ErrLength means a length prefix is negative (other than -1) or above the bound.
	ErrLength = errors.New("jute: length out of bounds")
)

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer (0xfffff bytes).
const DefaultMaxBuffer = 0xfffff

// Record is a jute record with hand-written codecs.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// Encoder appends jute values to a byte slice. It never fails.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an encoder that appends to buf (which may be nil).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns everything encoded so far.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset empties the encoder, keeping its storage.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// Byte writes one byte.
func (e *Encoder) Byte(v byte) { e.buf = append(e.buf, v) }

// Bool writes a boolean as 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// Int writes a 32-bit int.
func (e *Encoder) Int(v int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }

// Long writes a 64-bit int.
func (e *Encoder) Long(v int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }

// Buffer writes a length-prefixed buffer; nil is written as length -1.
func (e *Encoder) Buffer(v []byte) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	e.buf = append(e.buf, v...)
}

// String writes a length-prefixed UTF-8 string.
func (e *Encoder) String(v string) {
	e.Int(int32(len(v)))
	e.buf = append(e.buf, v...)
}

// Strings writes a vector of strings; nil is written as count -1.
func (e *Encoder) Strings(v []string) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// Raw appends bytes without a length prefix.
func (e *Encoder) Raw(v []byte) { e.buf = append(e.buf, v...) }

// SetInt overwrites a previously written int at offset off (used for length prefixes).
func (e *Encoder) SetInt(off int, v int32) { binary.BigEndian.PutUint32(e.buf[off:], uint32(v)) }

// Decoder reads jute values from a byte slice, or from a stream through a
// window (NewStreamDecoder). The first error sticks: later reads return
// zero values, and Err reports it.
type Decoder struct {
	buf []byte
	off int
	max int
	err error
	// src is nil for a byte slice; see stream.go.
	src *stream
}

// NewDecoder reads buf; lengths of buffers, strings and vectors above max are errors.
func NewDecoder(buf []byte, max int) *Decoder {
	if max <= 0 {
		max = DefaultMaxBuffer
	}
	return &Decoder{buf: buf, max: max}
}

// Err is the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining is the number of unread bytes; for a stream, the most it can
// still hold (its limit less what was read).
func (d *Decoder) Remaining() int {
	if d.src != nil {
		return d.src.remaining(d)
	}
	return len(d.buf) - d.off
}

// Offset is the number of bytes read so far.
func (d *Decoder) Offset() int {
	if d.src != nil {
		return int(d.src.base) + d.off
	}
	return d.off
}

// Rest returns the unread bytes without copying and consumes them; a
// stream is read to its end first.
func (d *Decoder) Rest() []byte {
	if d.src != nil {
		d.src.fillAll(d)
	}
	b := d.buf[d.off:]
	d.off = len(d.buf)
	return b
}

// Fail records err unless an error is already recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf)-d.off && (d.src == nil || !d.src.fill(d, n)) {
		if d.err == nil {
			d.err = ErrShort
		}
		d.off = len(d.buf)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads a boolean; any non-zero byte is true, as in Java.
func (d *Decoder) Bool() bool { return d.Byte() != 0 }

// Int reads a 32-bit int.
func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// PeekInt returns the next int without consuming it (0 if fewer than 4 bytes remain).
func (d *Decoder) PeekInt() int32 {
	if d.err != nil || len(d.buf)-d.off < 4 && (d.src == nil || !d.src.fill(d, 4)) {
		return 0
	}
	return int32(binary.BigEndian.Uint32(d.buf[d.off:]))
}

// Long reads a 64-bit int.
func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (d *Decoder) length() int {
	n := d.Int()
	if d.err != nil {
		return -1
	}
	if n < -1 || int(n) > d.max {
		d.err = fmt.Errorf("%w: %d (max %d)", ErrLength, n, d.max)
		return -1
	}
	return int(n)
}

// Buffer reads a length-prefixed buffer into a fresh slice; length -1 gives nil.
func (d *Decoder) Buffer() []byte {
	n := d.length()
	if n < 0 {
		return nil
	}
	b := d.take(n)
	if b == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// String reads a length-prefixed string; length -1 gives "".
func (d *Decoder) String() string {
	n := d.length()
	if n <= 0 {
		return ""
	}
	b := d.take(n)
	if b == nil {
		return ""
	}
	return string(b)
}

// VectorLen reads a vector count, bounding it by the bytes left assuming each
// element takes at least minElem bytes. It returns -1 for a null vector or an error.
func (d *Decoder) VectorLen(minElem int) int {
	n := d.Int()
	if d.err != nil {
		return -1
	}
	if n == -1 {
		return -1
	}
	if minElem < 1 {
		minElem = 1
	}
	if n < -1 || int64(n)*int64(minElem) > int64(d.Remaining()) || n > math.MaxInt32/2 {
		d.err = fmt.Errorf("%w: vector of %d elements in %d bytes", ErrLength, n, d.Remaining())
		return -1
	}
	return int(n)
}

// Strings reads a vector of strings; a null vector gives nil.
func (d *Decoder) Strings() []string {
	n := d.VectorLen(4)
	if n < 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// Marshal encodes r into a new slice.
func Marshal(r Record) []byte {
	e := NewEncoder(make([]byte, 0, 64))
	r.Encode(e)
	return e.Bytes()
}

// Unmarshal decodes r from b and requires every byte to be consumed.
func Unmarshal(b []byte, max int, r Record) error {
	d := NewDecoder(b, max)
	r.Decode(d)
	if d.err != nil {
		return d.err
	}
	if d.Remaining() != 0 {
		return fmt.Errorf("jute: %d trailing bytes after record", d.Remaining())
	}
	return nil
}

// Max is the length bound this decoder enforces.
func (d *Decoder) Max() int { return d.max }
