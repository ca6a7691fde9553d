// Package testnet holds what the test suites that start real servers share:
// loopback ports from a range of their own and four-letter words.
package testnet

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Ports hands out loopback ports from [Low, High]. Each test package that
// starts servers has a range of its own, so that packages run in parallel
// by `go test ./...` never race for a port.
type Ports struct {
	Low, High int

	mu   sync.Mutex
	used map[int]bool
}

// Alloc returns a port in the range that is free now and that this Ports
// has not handed out before.
func (p *Ports) Alloc() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == nil {
		p.used = make(map[int]bool)
	}
	span := p.High - p.Low + 1
	start := rand.IntN(span)
	for i := range span {
		port := p.Low + (start+i)%span
		if p.used[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		p.used[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("testnet: no free TCP port left in %d-%d", p.Low, p.High)
}

// FourLetterWord sends word on a fresh connection and returns everything the
// server writes until it closes the connection.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(word)); err != nil {
		return "", err
	}
	data, err := io.ReadAll(conn)
	return string(data), err
}
