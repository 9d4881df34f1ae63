package lab

import (
	"fmt"
	"strconv"
)

// natRules makes h a home router: translate LAN traffic leaving on wan, and drop what arrives
// on wan unless it belongs to a connection the LAN opened. Dropping (not rejecting) matters:
// a router that answers early punch packets with ICMP confirms a conntrack entry and the punch
// then misses (LAB.md).
func natRules(h *Host, nat NAT) error {
	masq := []string{"-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"}
	if nat == HardNAT {
		masq = append(masq, "--random-fully")
	}
	rules := [][]string{
		masq,
		{"-A", "FORWARD", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-A", "FORWARD", "-i", "wan", "-j", "DROP"},
		{"-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-A", "INPUT", "-i", "wan", "-j", "DROP"},
	}
	for _, r := range rules {
		if _, err := h.Exec("iptables", r...); err != nil {
			return err
		}
	}
	return nil
}

// CutUplink takes the site's WAN link down: nothing enters or leaves the site.
func (s *Site) CutUplink() error { return s.Router.IPCmd("link", "set", "wan", "down") }

// RestoreUplink brings the WAN link back.
func (s *Site) RestoreUplink() error { return s.Router.IPCmd("link", "set", "wan", "up") }

// FlushConntrack forgets every NAT mapping: the next packet of each flow gets a new public port
// on a hard NAT (NAT rebinding).
func (s *Site) FlushConntrack() error {
	_, err := s.Router.Exec("conntrack", "-F")
	return err
}

// lossRule is the match of the loss rule, kept so SetLoss can replace it.
func lossRule(p float64) []string {
	return []string{"FORWARD", "-m", "statistic", "--mode", "random", "--probability",
		strconv.FormatFloat(p, 'f', 4, 64), "-j", "DROP"}
}

// SetLoss drops the given share (0..1) of packets forwarded through the router, both ways;
// 0 removes the loss. No netem on these kernels (LAB.md), so loss is an iptables statistic rule.
func (s *Site) SetLoss(p float64) error {
	if p < 0 || p >= 1 {
		return fmt.Errorf("lab: loss %v out of [0,1)", p)
	}
	if s.loss > 0 {
		if _, err := s.Router.Exec("iptables", append([]string{"-D"}, lossRule(s.loss)...)...); err != nil {
			return err
		}
		s.loss = 0
	}
	if p == 0 {
		return nil
	}
	if _, err := s.Router.Exec("iptables", append([]string{"-I"}, lossRule(p)...)...); err != nil {
		return err
	}
	s.loss = p
	return nil
}
