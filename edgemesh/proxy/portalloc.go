package proxy

import (
	"fmt"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// portAlloc hands out proxy ports from [min, max], per protocol, round the range from a
// cursor so a just-freed port is not reused at once. min = max = 0 lets the kernel choose.
type portAlloc struct {
	min, max uint16
	next     int
	used     map[view.Protocol]map[uint16]bool
}

func newPortAlloc(min, max uint16) *portAlloc {
	return &portAlloc{min: min, max: max, used: map[view.Protocol]map[uint16]bool{view.TCP: {}, view.UDP: {}}}
}

// open calls listen with candidate ports until one succeeds and returns the bound port.
func (a *portAlloc) open(proto view.Protocol, listen func(port uint16) (uint16, error)) (uint16, error) {
	if a.min == 0 && a.max == 0 {
		port, err := listen(0)
		if err == nil {
			a.used[proto][port] = true
		}
		return port, err
	}
	size := int(a.max) - int(a.min) + 1
	var lastErr error
	for range size {
		port := a.min + uint16(a.next%size)
		a.next = (a.next + 1) % size
		if a.used[proto][port] {
			continue
		}
		got, err := listen(port)
		if err != nil {
			lastErr = err
			continue
		}
		a.used[proto][got] = true
		return got, nil
	}
	if lastErr != nil {
		return 0, fmt.Errorf("%w in %d-%d: %w", ErrNoPort, a.min, a.max, lastErr)
	}
	return 0, fmt.Errorf("%w in %d-%d", ErrNoPort, a.min, a.max)
}

func (a *portAlloc) release(proto view.Protocol, port uint16) {
	delete(a.used[proto], port)
}
