package lab

import (
	"fmt"
	"net"
	"strconv"
)

// NAT is how a site's router translates outbound traffic.
type NAT string

const (
	// EasyNAT is MASQUERADE: endpoint-independent mapping (one public port per local socket).
	EasyNAT NAT = "easy"
	// HardNAT is MASQUERADE --random-fully: a new public port per destination (symmetric).
	HardNAT NAT = "hard"
)

// Public network layout: a bridge in its own namespace on PublicCIDR.
const (
	PublicCIDR   = "198.18.0.0/24"
	publicPrefix = "198.18.0."
	publicBits   = "/24"
)

// Topology declares a lab network.
type Topology struct {
	// Public names the hosts on the public network (198.18.0.2, .3, ... in order),
	// for example "cloud" and "relay".
	Public []string
	// Sites are the NAT'd sites; site i gets LAN 10.(i+1).0.0/24 and WAN 198.18.0.(100+i).
	Sites []SiteSpec
}

// SiteSpec declares one site.
type SiteSpec struct {
	// Name is short (a few letters): it is part of namespace and interface names.
	Name string
	// NAT is the router's translation.
	NAT NAT
	// Hosts is how many hosts sit on the site's LAN (10.x.0.11, .12, ...).
	Hosts int
}

// Network is a running topology.
type Network struct {
	// Switch is the namespace that holds the public bridge.
	Switch *Host
	// Public hosts by name.
	Public map[string]*Host
	// Sites by name.
	Sites map[string]*Site
}

// Site is a NAT'd site: a router and the hosts behind it.
type Site struct {
	Name   string
	NAT    NAT
	Router *Host
	// WANIP is the router's public address; LANCIDR its private network.
	WANIP   net.IP
	LANCIDR string
	Hosts   []*Host

	loss float64 // current SetLoss share
}

// switchName is the namespace of the public bridge; no host may take it.
const switchName = "pub"

// validate refuses names that would collide: namespace and interface names derive from them.
func (t Topology) validate() error {
	seen := map[string]bool{switchName: true}
	claim := func(name string) error {
		if name == "" || len(name) > 12 {
			return fmt.Errorf("lab: node name %q: want 1 to 12 characters", name)
		}
		if seen[name] {
			return fmt.Errorf("lab: node name %q is taken (%q names the public switch)", name, switchName)
		}
		seen[name] = true
		return nil
	}
	for _, p := range t.Public {
		if err := claim(p); err != nil {
			return err
		}
	}
	for _, s := range t.Sites {
		if err := claim(s.Name + "-r"); err != nil {
			return err
		}
		for j := 0; j < s.Hosts; j++ {
			if err := claim(fmt.Sprintf("%s%d", s.Name, j+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewNetwork builds the topology. It is removed at the run's Close.
func (r *Run) NewNetwork(t Topology) (*Network, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	n := &Network{Public: map[string]*Host{}, Sites: map[string]*Site{}}
	sw, err := r.newHost(switchName)
	if err != nil {
		return nil, err
	}
	n.Switch = sw
	if err := bridge(sw, "br0"); err != nil {
		return nil, err
	}
	for i, name := range t.Public {
		h, err := r.newHost(name)
		if err != nil {
			return nil, err
		}
		h.IP = net.ParseIP(publicPrefix + strconv.Itoa(2+i))
		if err := attach(sw, "br0", h, "eth0", h.IP.String()+publicBits); err != nil {
			return nil, err
		}
		n.Public[name] = h
	}
	for i, spec := range t.Sites {
		s, err := r.newSite(sw, i, spec)
		if err != nil {
			return nil, err
		}
		n.Sites[spec.Name] = s
	}
	return n, nil
}

func (r *Run) newSite(sw *Host, i int, spec SiteSpec) (*Site, error) {
	if spec.NAT != EasyNAT && spec.NAT != HardNAT {
		return nil, fmt.Errorf("lab: site %s: unknown NAT %q", spec.Name, spec.NAT)
	}
	lan := fmt.Sprintf("10.%d.0.", i+1)
	s := &Site{Name: spec.Name, NAT: spec.NAT, WANIP: net.ParseIP(publicPrefix + strconv.Itoa(100+i)), LANCIDR: lan + "0/24"}
	rt, err := r.newHost(spec.Name + "-r")
	if err != nil {
		return nil, err
	}
	rt.IP = s.WANIP
	s.Router = rt
	if err := attach(sw, "br0", rt, "wan", s.WANIP.String()+publicBits); err != nil {
		return nil, err
	}
	if err := bridge(rt, "lan"); err != nil {
		return nil, err
	}
	if err := rt.IPCmd("addr", "add", lan+"1/24", "dev", "lan"); err != nil {
		return nil, err
	}
	if err := rt.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		return nil, err
	}
	if err := natRules(rt, spec.NAT); err != nil {
		return nil, err
	}
	for j := 0; j < spec.Hosts; j++ {
		h, err := r.newHost(fmt.Sprintf("%s%d", spec.Name, j+1))
		if err != nil {
			return nil, err
		}
		h.IP = net.ParseIP(lan + strconv.Itoa(11+j))
		if err := attach(rt, "lan", h, "eth0", h.IP.String()+"/24"); err != nil {
			return nil, err
		}
		if err := h.IPCmd("route", "add", "default", "via", lan+"1"); err != nil {
			return nil, err
		}
		s.Hosts = append(s.Hosts, h)
	}
	return s, nil
}

// bridge creates a bridge in h and keeps bridged frames away from iptables (LAB.md: otherwise
// bridged LAN traffic hits FORWARD).
func bridge(h *Host, name string) error {
	if err := h.IPCmd("link", "add", name, "type", "bridge"); err != nil {
		return err
	}
	// Only present when br_netfilter is loaded; its absence means the same thing.
	_ = h.Sysctl("net.bridge.bridge-nf-call-iptables", "0")
	return h.IPCmd("link", "set", name, "up")
}

// attach connects h (interface ifname with address cidr) to bridge br in sw with a veth pair
// created directly inside the two namespaces, so the root namespace never sees it.
func attach(sw *Host, br string, h *Host, ifname, cidr string) error {
	peer := "v-" + h.Name
	if len(peer) > 15 {
		return fmt.Errorf("lab: interface name %q too long", peer)
	}
	if err := sw.IPCmd("link", "add", peer, "type", "veth", "peer", "name", ifname, "netns", h.NS); err != nil {
		return err
	}
	for _, args := range [][]string{{"link", "set", peer, "master", br}, {"link", "set", peer, "up"}} {
		if err := sw.IPCmd(args...); err != nil {
			return err
		}
	}
	if err := h.IPCmd("addr", "add", cidr, "dev", ifname); err != nil {
		return err
	}
	return h.IPCmd("link", "set", ifname, "up")
}

// Host returns a host by name from the public network or any site, or nil.
func (n *Network) Host(name string) *Host {
	if h, ok := n.Public[name]; ok {
		return h
	}
	for _, s := range n.Sites {
		if s.Router.Name == name {
			return s.Router
		}
		for _, h := range s.Hosts {
			if h.Name == name {
				return h
			}
		}
	}
	return nil
}
