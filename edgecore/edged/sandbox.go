package edged

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
)

// podLabels are the labels of a pod's sandbox and containers.
func (e *Edged) podLabels(pod *corev1.Pod) map[string]string {
	return map[string]string{
		cri.LabelPodName: pod.Name, cri.LabelPodNamespace: pod.Namespace,
		cri.LabelPodUID: string(pod.UID), cri.LabelNode: e.o.NodeName,
	}
}

// podLogDir is /var/log/pods/<ns>_<name>_<uid>, the kubelet's layout that log collectors know.
func (e *Edged) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(e.o.PodLogsDir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// sandboxConfig is the PodSandboxConfig of pod's attempt.
func (e *Edged) sandboxConfig(pod *corev1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	hostNet := pod.Spec.HostNetwork
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt,
		},
		LogDirectory: e.podLogDir(pod),
		DnsConfig:    e.dnsConfig(pod),
		PortMappings: portMappings(pod),
		Labels:       e.podLabels(pod),
		Annotations:  maps2(pod.Annotations),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod)},
			Sysctls:         map[string]string{},
		},
	}
	// A host-network sandbox shares the node's UTS namespace: setting a hostname there fails.
	if !hostNet {
		cfg.Hostname = pod.Name
		if pod.Spec.Hostname != "" {
			cfg.Hostname = pod.Spec.Hostname
		}
	}
	if e.o.CgroupParent != "" {
		cfg.Linux.CgroupParent = filepath.Join(e.o.CgroupParent, "pod"+string(pod.UID))
	}
	if sc := pod.Spec.SecurityContext; sc != nil {
		for _, s := range sc.Sysctls {
			cfg.Linux.Sysctls[s.Name] = s.Value
		}
		ssc := cfg.Linux.SecurityContext
		if sc.RunAsUser != nil {
			ssc.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			ssc.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		ssc.SupplementalGroups = slices.Clone(sc.SupplementalGroups)
	}
	return cfg
}

func maps2(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// namespaceOptions maps hostNetwork/hostPID/hostIPC and shareProcessNamespace to CRI modes.
func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

// portMappings are the container ports with a hostPort (only those need the portmap plugin).
func portMappings(pod *corev1.Pod) []*runtimeapi.PortMapping {
	var out []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch p.Protocol {
			case corev1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case corev1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			out = append(out, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP})
		}
	}
	return out
}

// dnsConfig follows dnsPolicy: ClusterFirst uses the node-local mesh DNS with the cluster
// search path (host-network pods fall back to the host's resolv.conf unless
// ClusterFirstWithHostNet), Default the host's, None only dnsConfig; dnsConfig is appended.
func (e *Edged) dnsConfig(pod *corev1.Pod) *runtimeapi.DNSConfig {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault
	}
	cfg := &runtimeapi.DNSConfig{}
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		d := e.o.ClusterDomain
		cfg.Servers = []string{e.o.ClusterDNS}
		cfg.Searches = []string{pod.Namespace + ".svc." + d, "svc." + d, d}
		cfg.Options = []string{"ndots:5"}
	case corev1.DNSDefault:
		hostResolvConf(cfg)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = append(cfg.Servers, dc.Nameservers...)
		cfg.Searches = append(cfg.Searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			cfg.Options = slices.DeleteFunc(cfg.Options, func(s string) bool { return strings.SplitN(s, ":", 2)[0] == o.Name })
			cfg.Options = append(cfg.Options, opt)
		}
	}
	if len(cfg.Servers) == 0 && len(cfg.Searches) == 0 && len(cfg.Options) == 0 {
		return nil // the runtime copies the host's resolv.conf
	}
	return cfg
}

// hostResolvConf fills cfg from the host's /etc/resolv.conf.
func hostResolvConf(cfg *runtimeapi.DNSConfig) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			cfg.Servers = append(cfg.Servers, f[1])
		case "search":
			cfg.Searches = append(cfg.Searches, f[1:]...)
		case "options":
			cfg.Options = append(cfg.Options, f[1:]...)
		}
	}
}

// startSandbox creates the pod's log directory and runs a new sandbox.
func (e *Edged) startSandbox(ctx context.Context, pod *corev1.Pod, attempt uint32) (string, error) {
	cfg := e.sandboxConfig(pod, attempt)
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		return "", fmt.Errorf("edged: pod log dir: %w", err)
	}
	resp, err := e.o.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		return "", fmt.Errorf("edged: run sandbox of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return resp.PodSandboxId, nil
}

// sandboxIP is the sandbox's pod IP ("" for host network or not yet known).
func (e *Edged) sandboxIPs(ctx context.Context, id string) ([]string, error) {
	resp, err := e.o.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		return nil, fmt.Errorf("edged: sandbox status %s: %w", id, err)
	}
	n := resp.GetStatus().GetNetwork()
	if n == nil || n.Ip == "" {
		return nil, nil
	}
	ips := []string{n.Ip}
	for _, a := range n.AdditionalIps {
		ips = append(ips, a.Ip)
	}
	return ips, nil
}
