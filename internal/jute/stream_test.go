package jute

import (
	"bytes"
	"errors"
	"hash/adler32"
	"io"
	"testing"
	"testing/iotest"
)

// decodeAll runs the same sequence of reads on d, chosen by ops, and
// records what each returned with the offset after it.
func decodeAll(d *Decoder, ops []byte) []any {
	var out []any
	for i := 0; d.Err() == nil && i < 4*len(ops)+8; i++ {
		var op byte
		if len(ops) > 0 {
			op = ops[i%len(ops)]
		}
		switch op % 8 {
		case 0:
			out = append(out, d.Int())
		case 1:
			out = append(out, d.Long())
		case 2:
			out = append(out, d.Buffer())
		case 3:
			out = append(out, d.String())
		case 4:
			out = append(out, d.Strings())
		case 5:
			out = append(out, d.VectorLen(12))
		case 6:
			out = append(out, d.PeekInt(), d.Byte())
		default:
			out = append(out, d.Bool(), d.Remaining())
		}
		out = append(out, d.Offset())
	}
	return append(out, d.AtEnd(), d.Offset(), errors.Is(d.Err(), ErrShort), errors.Is(d.Err(), ErrLength))
}

func sameDecoding(t *testing.T, input, ops []byte) {
	t.Helper()
	want := decodeAll(NewDecoder(input, 300), ops)
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(input),
		"one byte": iotest.OneByteReader(bytes.NewReader(input)),
		"half":     iotest.HalfReader(bytes.NewReader(input)),
		"data+EOF": iotest.DataErrReader(bytes.NewReader(input)),
	} {
		sum := adler32.New()
		d := NewStreamDecoder(r, 300, int64(len(input)), sum)
		got := decodeAll(d, ops)
		if len(got) != len(want) {
			t.Fatalf("%s: %d results, the slice decoder %d\n got %v\nwant %v", name, len(got), len(want), got, want)
		}
		for i := range got {
			if !equalValue(got[i], want[i]) {
				t.Fatalf("%s: result %d is %v, the slice decoder's %v\n got %v\nwant %v", name, i, got[i], want[i], got, want)
			}
		}
		d.SumConsumed()
		if off := d.Offset(); sum.Sum32() != adler32.Checksum(input[:off]) {
			t.Fatalf("%s: the sum does not cover exactly the %d bytes consumed", name, off)
		}
	}
}

func equalValue(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b) && (a == nil) == (b == nil)
	case []string:
		b, ok := b.([]string)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestStreamDecoderMatchesSliceDecoder(t *testing.T) {
	e := NewEncoder(nil)
	e.Int(7)
	e.Long(-9)
	e.Buffer(bytes.Repeat([]byte("v"), 290))
	e.String("/a/b")
	e.Strings([]string{"x", "", "yz"})
	e.Buffer(nil)
	input := e.Bytes()
	sameDecoding(t, input, []byte{0, 1, 2, 3, 4, 2})
	sameDecoding(t, input[:len(input)-3], []byte{0, 1, 2, 3, 4, 2}) // ends inside a value
	sameDecoding(t, input, []byte{6, 7, 5})
	sameDecoding(t, nil, []byte{0})
}

// A value longer than the window grows it; one longer than max fails.
func TestStreamDecoderLongValues(t *testing.T) {
	e := NewEncoder(nil)
	long := bytes.Repeat([]byte{1, 2, 3}, streamWindow)
	e.Buffer(long)
	e.Int(5)
	d := NewStreamDecoder(iotest.HalfReader(bytes.NewReader(e.Bytes())), len(long), int64(e.Len()), nil)
	if got := d.Buffer(); !bytes.Equal(got, long) || d.Int() != 5 || !d.AtEnd() || d.Err() != nil {
		t.Fatalf("long buffer: %d bytes, err %v", len(got), d.Err())
	}
	d = NewStreamDecoder(bytes.NewReader(e.Bytes()), len(long)-1, int64(e.Len()), nil)
	if d.Buffer(); !errors.Is(d.Err(), ErrLength) {
		t.Fatalf("buffer above max: err %v", d.Err())
	}
}

func TestStreamDecoderErrors(t *testing.T) {
	// A read failure is ErrRead, not a short input, and it sticks.
	boom := errors.New("disk on fire")
	d := NewStreamDecoder(io.MultiReader(bytes.NewReader([]byte{0, 0}), iotest.ErrReader(boom)), 0, 100, nil)
	if d.Int(); !errors.Is(d.Err(), ErrRead) || !errors.Is(d.Err(), boom) || errors.Is(d.Err(), ErrShort) {
		t.Fatalf("read failure: %v", d.Err())
	}
	if d.Long() != 0 || !errors.Is(d.Err(), boom) {
		t.Fatal("the read error must stick")
	}
	// A stream longer than its limit fails instead of reading on.
	d = NewStreamDecoder(bytes.NewReader(make([]byte, 16)), 0, 8, nil)
	if d.Long(); d.Err() != nil {
		t.Fatalf("within the limit: %v", d.Err())
	}
	if !d.AtEnd() || !errors.Is(d.Err(), ErrLength) {
		t.Fatalf("past the limit: err %v", d.Err())
	}
	// Rest reads the stream to its end.
	d = NewStreamDecoder(iotest.OneByteReader(bytes.NewReader([]byte("abcdef"))), 0, 6, nil)
	d.Byte()
	if rest := d.Rest(); string(rest) != "bcdef" || !d.AtEnd() {
		t.Fatalf("rest %q", rest)
	}
}

// FuzzStreamDecoder: over any input, read in any pieces, the stream
// decoder returns what the slice decoder returns, read for read, and its
// sum covers exactly the bytes consumed.
func FuzzStreamDecoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 'a', 0xff, 0xff, 0xff, 0xff}, []byte{3, 2})
	f.Add([]byte{0x7f, 0, 0, 0}, []byte{4})
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 1, 'x', 0, 0, 0, 0}, []byte{4, 6, 7})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, input, ops []byte) {
		sameDecoding(t, input, ops)
	})
}
