package nodestatus

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// defaultMaxPods is the pods capacity reported by default, the kubelet's.
const defaultMaxPods = 110

// InterfaceAddresses returns an InternalIP for every IPv4 and global IPv6 address of the up,
// non-loopback interfaces, then the Hostname hostname.
func InterfaceAddresses(hostname string) ([]corev1.NodeAddress, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("nodestatus: interfaces: %w", err)
	}
	var out []corev1.NodeAddress
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsLoopback() {
				continue
			}
			out = append(out, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ipn.IP.String()})
		}
	}
	return append(out, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname}), nil
}

// StaticAddresses returns Options.Addresses for a configured node IP.
func StaticAddresses(ip, hostname string) func() ([]corev1.NodeAddress, error) {
	return func() ([]corev1.NodeAddress, error) {
		return []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: hostname}}, nil
	}
}

// capacity is the node's cpu, memory and pods.
func capacity(memInfoPath string, maxPods int) (corev1.ResourceList, error) {
	mem, err := memTotal(memInfoPath)
	if err != nil {
		return nil, err
	}
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
	}, nil
}

// memTotal reads MemTotal (bytes) from a /proc/meminfo file.
func memTotal(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("nodestatus: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("nodestatus: %s: MemTotal %q: %w", path, f[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("nodestatus: %s: no MemTotal", path)
}

// kernelVersion is the running kernel's release, or "" if unknown.
func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
