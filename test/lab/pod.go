package lab

import (
	"fmt"
	"net"
)

// AddPod creates a pod network namespace on host h, the way a CNI plugin would: a veth pair
// with the pod's end as eth0 holding podIP/32, and the host's end holding gwIP/32 with a route
// to the pod. Traffic from the pod enters h through that veth, so it meets h's PREROUTING rules
// (where the mesh agent catches ClusterIP traffic of local pods). The pod is removed with the
// run.
func (r *Run) AddPod(h *Host, name string, podIP, gwIP net.IP) (*Host, error) {
	pod, err := r.newHost(name)
	if err != nil {
		return nil, err
	}
	pod.IP = podIP
	hostIf := "p-" + name
	if len(hostIf) > 15 {
		return nil, fmt.Errorf("lab: pod name %q too long", name)
	}
	steps := []struct {
		h    *Host
		args []string
	}{
		{h, []string{"link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", pod.NS}},
		{h, []string{"addr", "add", gwIP.String() + "/32", "dev", hostIf}},
		{h, []string{"link", "set", hostIf, "up"}},
		{h, []string{"route", "add", podIP.String() + "/32", "dev", hostIf}},
		{pod, []string{"addr", "add", podIP.String() + "/32", "dev", "eth0"}},
		{pod, []string{"link", "set", "eth0", "up"}},
		{pod, []string{"route", "add", gwIP.String(), "dev", "eth0", "scope", "link"}},
		{pod, []string{"route", "add", "default", "via", gwIP.String(), "dev", "eth0", "onlink"}},
	}
	for _, s := range steps {
		if err := s.h.IPCmd(s.args...); err != nil {
			return nil, err
		}
	}
	return pod, nil
}
