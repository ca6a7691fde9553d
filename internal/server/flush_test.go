package server

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
)

// writeNoWait takes what the socket's buffer holds and no more: with no
// reader on the other side, a large batch is cut, the bytes taken and the
// frames left add up to the batch, in order, and the batch itself is
// unchanged (the caller requeues from it).
func TestWriteNoWaitStopsWhereTheSocketIsFull(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	server.(*net.TCPConn).SetWriteBuffer(4096)
	client.(*net.TCPConn).SetReadBuffer(4096)
	raw, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	var want []byte
	for i := range 2000 {
		f := bytes.Repeat([]byte{byte(i)}, 997)
		batch = append(batch, f)
		want = append(want, f...)
	}
	orig := append([][]byte(nil), batch...)
	rest, n, err := writeNoWait(raw, batch)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n >= len(want) || len(rest) == 0 {
		t.Fatalf("took %d of %d bytes, %d frames left: the socket should have filled", n, len(want), len(rest))
	}
	for i := range batch {
		if &batch[i][0] != &orig[i][0] || len(batch[i]) != len(orig[i]) {
			t.Fatalf("frame %d of the batch was changed", i)
		}
	}
	left := 0
	for _, f := range rest {
		left += len(f)
	}
	if n+left != len(want) {
		t.Fatalf("taken %d + left %d != %d", n, left, len(want))
	}
	// The rest written after what was taken is the batch, in order.
	go func() {
		for _, f := range rest {
			if _, err := server.Write(f); err != nil {
				return
			}
		}
		server.Close()
	}()
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the client read %d bytes, not the batch in order (%d bytes)", len(got), len(want))
	}
}
