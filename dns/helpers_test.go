package dns

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// quiet is a logger that drops everything (a zero logr.Logger would mean
// "use the default" to Options).
var quiet logr.Logger = funcr.New(func(string, string) {}, funcr.Options{})

// recorder is a dns.ResponseWriter that keeps what was written, after a
// round trip through the wire format (so every answer is known to pack).
type recorder struct {
	tcp    bool
	msg    *dns.Msg
	wire   []byte
	writes int
	err    error
}

func (r *recorder) LocalAddr() net.Addr {
	if r.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}

func (r *recorder) RemoteAddr() net.Addr {
	if r.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}

func (r *recorder) WriteMsg(m *dns.Msg) error {
	r.writes++
	b, err := m.Pack()
	if err != nil {
		r.err = err
		return err
	}
	r.wire = b
	r.msg = new(dns.Msg)
	if err := r.msg.Unpack(b); err != nil {
		r.err = err
		return err
	}
	return nil
}

func (r *recorder) Write(b []byte) (int, error) {
	r.writes++
	r.wire = append([]byte(nil), b...)
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// fixtureCatalog is the service view most tests answer from.
func fixtureCatalog() *MemoryCatalog {
	c := NewMemoryCatalog()
	c.Upsert(Service{Name: "kubernetes", Namespace: "default", Type: ClusterIP,
		ClusterIPs: []netip.Addr{ip("10.96.0.1")},
		Ports:      []Port{{Name: "https", Protocol: "TCP", Port: 443, EndpointPort: 6443}}})
	c.Upsert(Service{Name: "web", Namespace: "shop", Type: ClusterIP,
		ClusterIPs: []netip.Addr{ip("10.96.0.10"), ip("fd00::10")},
		Ports: []Port{
			{Name: "http", Protocol: "TCP", Port: 80, EndpointPort: 8080},
			{Name: "dns", Protocol: "UDP", Port: 53},
			{Protocol: "TCP", Port: 9090}, // unnamed: no SRV
		}})
	c.Upsert(Service{Name: "v4only", Namespace: "shop", Type: ClusterIP,
		ClusterIPs: []netip.Addr{ip("10.96.0.11")}})
	c.Upsert(Service{Name: "db", Namespace: "shop", Type: Headless,
		Ports: []Port{{Name: "pg", Protocol: "TCP", Port: 5432}},
		Endpoints: []Endpoint{
			{IP: ip("10.1.0.5"), Hostname: "db-0", Ready: true},
			{IP: ip("10.1.0.6"), Ready: true},
			{IP: ip("10.1.0.7"), Hostname: "db-2", Ready: false},
			{IP: ip("fd00:1::6"), Ready: true},
		}})
	c.Upsert(Service{Name: "peers", Namespace: "shop", Type: Headless, PublishNotReadyAddresses: true,
		Endpoints: []Endpoint{{IP: ip("10.1.0.9"), Hostname: "peer-0"}}})
	c.Upsert(Service{Name: "empty", Namespace: "shop", Type: Headless})
	c.Upsert(Service{Name: "ext", Namespace: "shop", Type: ExternalName, ExternalName: "api.example.com"})
	c.Upsert(Service{Name: "alias", Namespace: "shop", Type: ExternalName, ExternalName: "web.shop.svc.cluster.local."})
	big := Service{Name: "big", Namespace: "shop", Type: Headless}
	for i := range 100 {
		big.Endpoints = append(big.Endpoints, Endpoint{IP: netip.AddrFrom4([4]byte{10, 2, 0, byte(i + 1)}), Ready: true})
	}
	c.Upsert(big)
	return c
}

// newTestHandler builds a handler over c with no upstream unless given.
func newTestHandler(t testing.TB, c Catalog, mod func(*Options)) *Handler {
	t.Helper()
	opts := Options{Catalog: c, ResolvConf: emptyResolvConf(t), Registerer: prometheus.NewRegistry(), Logger: quiet}
	if mod != nil {
		mod(&opts)
	}
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

func emptyResolvConf(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("# no nameserver\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// query sends one question through h and returns the answer.
func query(t testing.TB, h dns.Handler, name string, qtype uint16, tcp bool, edns uint16) *dns.Msg {
	t.Helper()
	r := new(dns.Msg)
	r.SetQuestion(name, qtype)
	if edns > 0 {
		r.SetEdns0(edns, false)
	}
	rec := &recorder{tcp: tcp}
	h.ServeDNS(rec, r)
	if rec.err != nil || rec.msg == nil {
		t.Fatalf("%s %s: no answer written (err %v)", name, dns.TypeToString[qtype], rec.err)
	}
	if rec.msg.Id != r.Id {
		t.Fatalf("answer id %d, want %d", rec.msg.Id, r.Id)
	}
	return rec.msg
}

// rrs renders records as "name type data" (no TTL, class), sorted.
func rrs(section []dns.RR) []string {
	var out []string
	for _, rr := range section {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		f := strings.Split(rr.String(), "\t")
		// name ttl class type data...
		out = append(out, fmt.Sprintf("%s %s %s", f[0], f[3], strings.Join(f[4:], " ")))
	}
	slices.Sort(out)
	return out
}

func stringsReplace(s, old, new string) string { return strings.Replace(s, old, new, 1) }

func itoaU(v uint32) string { return fmt.Sprint(v) }
