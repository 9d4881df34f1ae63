package proxy

import (
	"encoding/binary"
	"hash/fnv"
	"net/netip"
	"slices"
)

// virtualNodes is the number of points each backend has on a hash ring; 160 keeps the load
// within a few percent of even for a handful of backends.
const virtualNodes = 160

// hashRing is a consistent-hash ring: a client maps to the first point at or after its hash,
// so adding or removing a backend moves only the clients of the neighbouring points.
type hashRing struct {
	points []ringPoint // sorted by hash
}

type ringPoint struct {
	hash uint64
	b    *backend
}

func newHashRing(bs []*backend) *hashRing {
	r := &hashRing{points: make([]ringPoint, 0, len(bs)*virtualNodes)}
	for _, b := range bs {
		key := b.addr.String()
		for i := range virtualNodes {
			h := fnv.New64a()
			h.Write([]byte(key))
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(i))
			h.Write(n[:])
			r.points = append(r.points, ringPoint{hash: mix(h.Sum64()), b: b})
		}
	}
	slices.SortFunc(r.points, func(a, b ringPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	return r
}

// lookup walks the ring from the client's hash and returns the first backend ok accepts.
func (r *hashRing) lookup(client netip.Addr, ok func(*backend) bool) *backend {
	if len(r.points) == 0 {
		return nil
	}
	h := hashAddr(client)
	i, _ := slices.BinarySearchFunc(r.points, h, func(p ringPoint, h uint64) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	for n := range len(r.points) {
		p := r.points[(i+n)%len(r.points)]
		if ok(p.b) {
			return p.b
		}
	}
	return nil
}

// hashAddr is FNV-1a over the 16-byte form of the address, without allocating.
func hashAddr(a netip.Addr) uint64 {
	b := a.As16()
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

// mix is the splitmix64 finalizer: FNV of similar inputs (consecutive client IPs, a key
// with a counter) differs in few bits, which would cluster the points on the ring.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
