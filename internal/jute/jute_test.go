package jute

import (
	"bytes"
	"errors"
	"testing"
)

func TestEncodeBytes(t *testing.T) {
	e := NewEncoder(nil)
	e.Int(1)
	e.Long(-2)
	e.Bool(true)
	e.Buffer(nil)
	e.Buffer([]byte{})
	e.String("/a")
	e.Strings(nil)
	e.Strings([]string{"x"})
	want := []byte{
		0, 0, 0, 1,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		1,
		0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 0,
		0, 0, 0, 2, '/', 'a',
		0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 1, 0, 0, 0, 1, 'x',
	}
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got % x\nwant % x", e.Bytes(), want)
	}
	d := NewDecoder(want, 0)
	if d.Int() != 1 || d.Long() != -2 || !d.Bool() {
		t.Fatal("scalars")
	}
	if b := d.Buffer(); b != nil {
		t.Fatalf("null buffer decoded as %v", b)
	}
	if b := d.Buffer(); b == nil || len(b) != 0 {
		t.Fatalf("empty buffer decoded as %v", b)
	}
	if s := d.String(); s != "/a" {
		t.Fatalf("string %q", s)
	}
	if v := d.Strings(); v != nil {
		t.Fatalf("null vector %v", v)
	}
	if v := d.Strings(); len(v) != 1 || v[0] != "x" {
		t.Fatalf("vector %v", v)
	}
	if d.Err() != nil || d.Remaining() != 0 {
		t.Fatalf("err %v remaining %d", d.Err(), d.Remaining())
	}
}

func TestDecodeBounds(t *testing.T) {
	// A buffer length above the maximum is refused without allocating.
	d := NewDecoder([]byte{0, 0x10, 0, 0, 1, 2}, 1024)
	if d.Buffer() != nil || !errors.Is(d.Err(), ErrLength) {
		t.Fatalf("want ErrLength, got %v", d.Err())
	}
	// Lengths below -1 are errors.
	d = NewDecoder([]byte{0xff, 0xff, 0xff, 0xfe}, 0)
	_ = d.String()
	if !errors.Is(d.Err(), ErrLength) {
		t.Fatalf("want ErrLength for -2, got %v", d.Err())
	}
	// A vector claiming more elements than bytes left is refused.
	d = NewDecoder([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}, 0)
	if d.Strings() != nil || !errors.Is(d.Err(), ErrLength) {
		t.Fatalf("want ErrLength for huge vector, got %v", d.Err())
	}
	// Truncated input is ErrShort and sticky.
	d = NewDecoder([]byte{0, 0, 0}, 0)
	if d.Int() != 0 || !errors.Is(d.Err(), ErrShort) {
		t.Fatalf("want ErrShort, got %v", d.Err())
	}
	if d.Long() != 0 || !errors.Is(d.Err(), ErrShort) {
		t.Fatal("error must stick")
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 'a', 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x7f, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b, 4096)
		for d.Err() == nil && d.Remaining() > 0 {
			switch d.Remaining() % 4 {
			case 0:
				d.Strings()
			case 1:
				d.Buffer()
			case 2:
				_ = d.String()
			default:
				d.Long()
			}
		}
		if d.Offset() > len(b) {
			t.Fatalf("offset %d past %d", d.Offset(), len(b))
		}
	})
}
