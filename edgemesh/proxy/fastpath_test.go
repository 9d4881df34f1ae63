package proxy

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

func TestFastPathDirect(t *testing.T) {
	loc := locality{node: "a1", site: "a", siteOf: func(n string) string {
		return map[string]string{"a1": "a", "a2": "a", "a3": "a", "b1": "b"}[n]
	}}
	ep := func(ip, node string) view.Endpoint {
		return view.Endpoint{IP: netip.MustParseAddr(ip), NodeName: node, Ready: true, Ports: map[string]uint16{"p": 8080}}
	}
	sp := view.ServicePort{Name: "p", Protocol: view.TCP, Port: 80}
	tests := []struct {
		name string
		svc  view.Service
		want []string
	}{
		{"same site, round robin", view.Service{Endpoints: []view.Endpoint{ep("10.1.0.13", "a3"), ep("10.1.0.12", "a2"), ep("10.2.0.11", "b1")}},
			[]string{"10.1.0.12:8080", "10.1.0.13:8080"}},
		{"this node beats this site", view.Service{Endpoints: []view.Endpoint{ep("10.1.0.11", "a1"), ep("10.1.0.12", "a2")}},
			[]string{"10.1.0.11:8080"}},
		{"other site only: the tunnel, so the proxy", view.Service{Endpoints: []view.Endpoint{ep("10.2.0.11", "b1")}}, nil},
		{"random needs the proxy", view.Service{Policy: view.Random, Endpoints: []view.Endpoint{ep("10.1.0.12", "a2")}}, nil},
		{"affinity needs the proxy", view.Service{SessionAffinity: true, Endpoints: []view.Endpoint{ep("10.1.0.12", "a2")}}, nil},
		{"opted out", view.Service{NoFastPath: true, Endpoints: []view.Endpoint{ep("10.1.0.12", "a2")}}, nil},
		{"no endpoints", view.Service{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range newEndpointSet(&tt.svc, sp, loc, time.Hour).direct(true) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("direct = %v, want %v", got, tt.want)
			}
		})
	}
}
