package launch

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
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
// has not handed out before. Free now is not reserved: Start's refusal of a
// port that answers catches most of what comes between.
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
	return 0, fmt.Errorf("launch: no free TCP port left in %d-%d", p.Low, p.High)
}

// Loopback is 127.0.0.1:port.
func Loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
