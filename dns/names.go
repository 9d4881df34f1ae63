package dns

import (
	"net/netip"
	"strings"
)

// maxZoneLabels is the deepest name the zone has: _port._proto.svc.ns.svc.
const maxZoneLabels = 5

// zoneName is a query name inside the zone, split into labels right to left
// (labels[0] is the one next to the zone). The labels are substrings of the
// lower-cased query name: splitting allocates nothing.
type zoneName struct {
	labels [maxZoneLabels]string
	n      int  // number of labels; 0 is the zone apex
	deep   bool // more than maxZoneLabels labels: nothing can exist there
}

// splitZone reports whether name (lower-case, fully qualified) is inside zone
// (lower-case, fully qualified, e.g. "cluster.local.") and splits the part
// before it.
func splitZone(name, zone string) (zoneName, bool) {
	var z zoneName
	if name == zone {
		return z, true
	}
	if len(name) <= len(zone) || !strings.HasSuffix(name, zone) || name[len(name)-len(zone)-1] != '.' {
		return z, false
	}
	rest := name[:len(name)-len(zone)-1]
	for rest != "" {
		if z.n == maxZoneLabels {
			z.deep = true
			break
		}
		i := strings.LastIndexByte(rest, '.')
		z.labels[z.n] = rest[i+1:]
		z.n++
		if i < 0 {
			break
		}
		rest = rest[:i]
	}
	return z, true
}

// Reverse zones.
const (
	arpaV4 = ".in-addr.arpa."
	arpaV6 = ".ip6.arpa."
)

// parseReverse returns the address of a full reverse name (lower-case, fully
// qualified): 4.3.2.1.in-addr.arpa. or the 32 nibbles of ip6.arpa. Partial
// names (a reverse zone, not an address) are not addresses.
func parseReverse(name string) (netip.Addr, bool) {
	switch {
	case strings.HasSuffix(name, arpaV4):
		var b [4]byte
		rest := name[:len(name)-len(arpaV4)]
		for i := 3; i >= 0; i-- {
			label := rest
			if j := strings.IndexByte(rest, '.'); j >= 0 {
				label, rest = rest[:j], rest[j+1:]
			} else {
				rest = ""
			}
			v, ok := atoiByte(label)
			if !ok || (i > 0 && rest == "") {
				return netip.Addr{}, false
			}
			b[i] = v
		}
		if rest != "" {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4(b), true
	case strings.HasSuffix(name, arpaV6):
		rest := name[:len(name)-len(arpaV6)]
		if len(rest) != 63 { // 32 nibbles and 31 dots
			return netip.Addr{}, false
		}
		var b [16]byte
		for i := 0; i < 32; i++ {
			c := rest[2*i]
			if i < 31 && rest[2*i+1] != '.' {
				return netip.Addr{}, false
			}
			v, ok := unhex(c)
			if !ok {
				return netip.Addr{}, false
			}
			// Nibble i is the (31-i)th nibble of the address, low nibble first.
			k := 31 - i
			if k%2 == 0 {
				b[k/2] |= v << 4
			} else {
				b[k/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// reverseName is the in-addr.arpa/ip6.arpa name of ip (for tests and SOA owners).
func reverseName(ip netip.Addr) string {
	const hexDigits = "0123456789abcdef"
	ip = ip.Unmap()
	var sb strings.Builder
	if ip.Is4() {
		b := ip.As4()
		for i := 3; i >= 0; i-- {
			sb.WriteString(itoa(int(b[i])))
			sb.WriteByte('.')
		}
		sb.WriteString(arpaV4[1:])
		return sb.String()
	}
	b := ip.As16()
	for i := 15; i >= 0; i-- {
		sb.WriteByte(hexDigits[b[i]&0xf])
		sb.WriteByte('.')
		sb.WriteByte(hexDigits[b[i]>>4])
		sb.WriteByte('.')
	}
	sb.WriteString(arpaV6[1:])
	return sb.String()
}

// atoiByte parses a decimal 0..255 without leading zeros.
func atoiByte(s string) (byte, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func itoa(v int) string {
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

// parseDashedIP parses a per-endpoint label without hostname: 10-1-2-3 or
// 2001-db8--1.
func parseDashedIP(label string) (netip.Addr, bool) {
	if strings.Count(label, "-") == 3 {
		if ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && ip.Is4() {
			return ip, true
		}
	}
	if ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":")); err == nil && ip.Is6() {
		return ip, true
	}
	return netip.Addr{}, false
}
