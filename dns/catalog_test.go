package dns

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func TestMemoryCatalog(t *testing.T) {
	c := NewMemoryCatalog()
	svc := Service{Name: "Web", Namespace: "Shop", Type: ClusterIP,
		ClusterIPs: []netip.Addr{ip("::ffff:10.96.0.10")},
		Ports:      []Port{{Name: "http", Protocol: "TCP", Port: 80}}}
	c.Upsert(svc)
	svc.Ports[0].Port = 81 // the catalog keeps its own copy

	got, ok := c.Service("shop", "web")
	if !ok || got.Ports[0].Port != 80 || got.ClusterIPs[0] != ip("10.96.0.10") {
		t.Fatalf("Service = %+v, %v", got, ok)
	}
	if !c.HasNamespace("shop") || c.HasNamespace("other") {
		t.Fatal("HasNamespace wrong")
	}
	if rn, ok := c.ReverseLookup(ip("10.96.0.10")); !ok || rn != (ReverseName{Namespace: "shop", Service: "web"}) {
		t.Fatalf("ReverseLookup = %+v, %v", rn, ok)
	}

	// Replacing drops the old reverse entries.
	c.Upsert(Service{Name: "web", Namespace: "shop", Type: ClusterIP, ClusterIPs: []netip.Addr{ip("10.96.0.20")}})
	if _, ok := c.ReverseLookup(ip("10.96.0.10")); ok {
		t.Fatal("stale reverse entry after upsert")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d", c.Len())
	}

	// A headless endpoint IP shared with a ClusterIP: the ClusterIP wins.
	c.Upsert(Service{Name: "db", Namespace: "shop", Type: Headless,
		Endpoints: []Endpoint{{IP: ip("10.96.0.20"), Ready: true, Hostname: "db-0"}, {IP: ip("10.1.0.1"), Ready: false}}})
	if rn, _ := c.ReverseLookup(ip("10.96.0.20")); rn.Service != "web" {
		t.Fatalf("ReverseLookup shared = %+v", rn)
	}
	if _, ok := c.ReverseLookup(ip("10.1.0.1")); ok {
		t.Fatal("not-ready endpoint has a PTR")
	}

	if !c.Delete("shop", "web") || c.Delete("shop", "web") {
		t.Fatal("Delete result wrong")
	}
	if rn, ok := c.ReverseLookup(ip("10.96.0.20")); !ok || rn.Hostname != "db-0" {
		t.Fatalf("after delete, ReverseLookup = %+v, %v", rn, ok)
	}
	c.Delete("shop", "db")
	if c.HasNamespace("shop") || c.Len() != 0 {
		t.Fatal("namespace survives its last service")
	}
	if _, ok := c.ReverseLookup(ip("10.96.0.20")); ok {
		t.Fatal("reverse entry survives delete")
	}
}

func TestMemoryCatalogConcurrent(t *testing.T) {
	c := NewMemoryCatalog()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				name := fmt.Sprintf("s%d", i%50)
				ipa := netip.AddrFrom4([4]byte{10, 96, byte(w), byte(i % 50)})
				switch i % 3 {
				case 0:
					c.Upsert(Service{Name: name, Namespace: "ns", ClusterIPs: []netip.Addr{ipa}})
				case 1:
					c.Service("ns", name)
					c.ReverseLookup(ipa)
				case 2:
					c.Delete("ns", name)
				}
			}
		})
	}
	wg.Wait()
}

func TestServiceTypeString(t *testing.T) {
	for typ, want := range map[ServiceType]string{ClusterIP: "ClusterIP", Headless: "Headless", ExternalName: "ExternalName", 9: "Unknown"} {
		if got := typ.String(); got != want {
			t.Errorf("%d: %q, want %q", typ, got, want)
		}
	}
}
