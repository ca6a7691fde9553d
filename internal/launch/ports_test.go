package launch

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestPortsAreFreeDistinctAndInRange(t *testing.T) {
	p := &Ports{Low: 25840, High: 25844}
	seen := map[int]bool{}
	for range 5 {
		port, err := p.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		if port < p.Low || port > p.High || seen[port] {
			t.Fatalf("port %d: out of range or handed out twice (%v)", port, seen)
		}
		seen[port] = true
	}
	if _, err := p.Alloc(); err == nil || !strings.Contains(err.Error(), "25840-25844") {
		t.Fatalf("sixth port from a range of five: %v", err)
	}
}

func TestFourLetterWordReadsUntilClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4)
		c.Read(buf)
		c.Write([]byte("got " + string(buf)))
		c.Close()
	}()
	out, err := FourLetterWord(l.Addr().String(), "ruok", 2*time.Second)
	if err != nil || out != "got ruok" {
		t.Fatalf("%q %v", out, err)
	}
}
