package edged

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
)

// containerHash identifies a container spec: a running container whose hash differs from the
// pod's current spec is replaced; one that matches is adopted after a restart.
func containerHash(c *corev1.Container) string {
	b, _ := json.Marshal(c) // a corev1.Container always marshals
	h := fnv.New64a()
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 16)
}

// containerRequest is everything a container needs besides its spec.
type containerRequest struct {
	pod          *corev1.Pod
	spec         *corev1.Container
	init         bool
	restartCount int32
	imageRef     string
	env          []*runtimeapi.KeyValue
	envMap       map[string]string
	volumes      map[string]string // host path by volume name
	sandboxID    string
	sandboxCfg   *runtimeapi.PodSandboxConfig
}

// containerConfig builds the CRI ContainerConfig.
func (e *Edged) containerConfig(r *containerRequest) (*runtimeapi.ContainerConfig, error) {
	c, pod := r.spec, r.pod
	mounts, err := containerMounts(c, r.volumes)
	if err != nil {
		return nil, err
	}
	labels := e.podLabels(pod)
	labels[cri.LabelContainerName] = c.Name
	grace := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	ann := map[string]string{
		cri.AnnotationContainerHash: containerHash(c),
		cri.AnnotationRestartCount:  strconv.Itoa(int(r.restartCount)),
		cri.AnnotationTerminationGP: strconv.FormatInt(grace, 10),
	}
	if r.init {
		ann[cri.AnnotationInitContainer] = "true"
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(r.restartCount)},
		Image:       &runtimeapi.ImageSpec{Image: r.imageRef, UserSpecifiedImage: c.Image},
		Command:     expandAll(c.Command, r.envMap),
		Args:        expandAll(c.Args, r.envMap),
		WorkingDir:  c.WorkingDir,
		Envs:        r.env,
		Mounts:      mounts,
		Labels:      labels,
		Annotations: ann,
		LogPath:     filepath.Join(c.Name, strconv.Itoa(int(r.restartCount))+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       containerResources(pod, c),
			SecurityContext: securityContext(pod, c),
		},
	}
	return cfg, nil
}

// containerMounts maps volumeMounts to host paths (subPath inside the volume only).
func containerMounts(c *corev1.Container, volumes map[string]string) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	for _, m := range c.VolumeMounts {
		host, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("container %q mounts unknown volume %q", c.Name, m.Name)
		}
		if m.SubPath != "" {
			clean := filepath.Clean(m.SubPath)
			if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
				return nil, fmt.Errorf("container %q: subPath %q leaves volume %q", c.Name, m.SubPath, m.Name)
			}
			host = filepath.Join(host, clean)
		}
		mnt := &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: m.ReadOnly}
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationHostToContainer:
				mnt.Propagation = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			case corev1.MountPropagationBidirectional:
				mnt.Propagation = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			}
		}
		out = append(out, mnt)
	}
	return out, nil
}

// cpuPeriod is the CFS period quotas are expressed in (100 ms, the kernel's default).
const cpuPeriod = 100000

// containerResources turns requests and limits into cgroup settings, as the kubelet does:
// shares from the CPU request, a CFS quota from the CPU limit, the memory limit, and an OOM
// score by QoS class.
func containerResources(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{CpuPeriod: cpuPeriod}
	req, lim := c.Resources.Requests, c.Resources.Limits
	cpuReq := req.Cpu()
	if cpuReq.IsZero() {
		cpuReq = lim.Cpu()
	}
	r.CpuShares = max(cpuReq.MilliValue()*1024/1000, 2)
	if l := lim.Cpu(); !l.IsZero() {
		r.CpuQuota = max(l.MilliValue()*cpuPeriod/1000, 1000)
	}
	if l := lim.Memory(); !l.IsZero() {
		r.MemoryLimitInBytes = l.Value()
	}
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		r.OomScoreAdj = -997
	case corev1.PodQOSBestEffort:
		r.OomScoreAdj = 1000
	default:
		r.OomScoreAdj = 999 // the kubelet scales by node memory; edged keeps burstable near best effort
	}
	return r
}

// securityContext maps the container's and pod's security settings to CRI.
func securityContext(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
	}
	csc := c.SecurityContext
	if csc == nil {
		return sc
	}
	if csc.RunAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
	}
	if csc.RunAsGroup != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
	}
	if csc.Privileged != nil {
		sc.Privileged = *csc.Privileged
	}
	if csc.ReadOnlyRootFilesystem != nil {
		sc.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
	}
	if csc.AllowPrivilegeEscalation != nil {
		sc.NoNewPrivs = !*csc.AllowPrivilegeEscalation
	}
	if caps := csc.Capabilities; caps != nil {
		sc.Capabilities = &runtimeapi.Capability{}
		for _, a := range caps.Add {
			sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, string(a))
		}
		for _, d := range caps.Drop {
			sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, string(d))
		}
	}
	return sc
}

// qosClass is the pod's QoS class by the Kubernetes rules.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	set, guaranteed := false, true
	for _, c := range all {
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[res]
			lim, hasLim := c.Resources.Limits[res]
			if hasReq || hasLim {
				set = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !set:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
