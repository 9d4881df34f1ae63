package edged

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// fakeRuntime is a map-backed CRI runtime service: it implements what edged calls and
// records the calls in order.
type fakeRuntime struct {
	runtimeapi.RuntimeServiceClient
	clock clock.PassiveClock

	mu         sync.Mutex
	n          int
	sandboxes  map[string]*fakeSandbox
	containers map[string]*fakeContainer
	calls      []string
}

type fakeSandbox struct {
	cfg     *runtimeapi.PodSandboxConfig
	state   runtimeapi.PodSandboxState
	created int64
	ip      string
}

type fakeContainer struct {
	sandbox                    string
	cfg                        *runtimeapi.ContainerConfig
	state                      runtimeapi.ContainerState
	created, started, finished int64
	exitCode                   int32
}

func newFakeRuntime(c clock.PassiveClock) *fakeRuntime {
	return &fakeRuntime{clock: c, sandboxes: map[string]*fakeSandbox{}, containers: map[string]*fakeContainer{}}
}

func (f *fakeRuntime) record(call string) { f.calls = append(f.calls, call) }

func (f *fakeRuntime) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeRuntime) count(prefix string) int {
	n := 0
	for _, c := range f.Calls() {
		if len(c) >= len(prefix) && c[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeRuntime) RunPodSandbox(_ context.Context, in *runtimeapi.RunPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RunPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := fmt.Sprintf("sb%d", f.n)
	ip := ""
	if in.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		ip = fmt.Sprintf("10.244.0.%d", f.n)
	}
	f.sandboxes[id] = &fakeSandbox{cfg: in.Config, state: runtimeapi.PodSandboxState_SANDBOX_READY, created: f.clock.Now().UnixNano(), ip: ip}
	f.record("RunPodSandbox " + in.Config.Metadata.Name)
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
}

func (f *fakeRuntime) StopPodSandbox(_ context.Context, in *runtimeapi.StopPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sandboxes[in.PodSandboxId]; ok {
		s.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		for _, c := range f.containers {
			if c.sandbox == in.PodSandboxId && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
				c.state, c.exitCode, c.finished = runtimeapi.ContainerState_CONTAINER_EXITED, 137, f.clock.Now().UnixNano()
			}
		}
	}
	f.record("StopPodSandbox " + in.PodSandboxId)
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (f *fakeRuntime) RemovePodSandbox(_ context.Context, in *runtimeapi.RemovePodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sandboxes, in.PodSandboxId)
	for id, c := range f.containers {
		if c.sandbox == in.PodSandboxId {
			delete(f.containers, id)
		}
	}
	f.record("RemovePodSandbox " + in.PodSandboxId)
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func (f *fakeRuntime) PodSandboxStatus(_ context.Context, in *runtimeapi.PodSandboxStatusRequest, _ ...grpc.CallOption) (*runtimeapi.PodSandboxStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sandboxes[in.PodSandboxId]
	if !ok {
		return nil, status.Error(codes.NotFound, "no sandbox")
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: &runtimeapi.PodSandboxStatus{
		Id: in.PodSandboxId, State: s.state, CreatedAt: s.created, Metadata: s.cfg.Metadata,
		Network: &runtimeapi.PodSandboxNetworkStatus{Ip: s.ip}, Labels: s.cfg.Labels,
	}}, nil
}

func (f *fakeRuntime) ListPodSandbox(_ context.Context, in *runtimeapi.ListPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &runtimeapi.ListPodSandboxResponse{}
	for id, s := range f.sandboxes {
		if matches(s.cfg.Labels, in.GetFilter().GetLabelSelector()) {
			out.Items = append(out.Items, &runtimeapi.PodSandbox{Id: id, Metadata: s.cfg.Metadata, State: s.state, CreatedAt: s.created, Labels: maps.Clone(s.cfg.Labels)})
		}
	}
	return out, nil
}

func (f *fakeRuntime) CreateContainer(_ context.Context, in *runtimeapi.CreateContainerRequest, _ ...grpc.CallOption) (*runtimeapi.CreateContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sandboxes[in.PodSandboxId]; !ok {
		return nil, status.Error(codes.NotFound, "no sandbox")
	}
	f.n++
	id := fmt.Sprintf("c%d", f.n)
	f.containers[id] = &fakeContainer{sandbox: in.PodSandboxId, cfg: in.Config, state: runtimeapi.ContainerState_CONTAINER_CREATED, created: f.clock.Now().UnixNano() + int64(f.n)}
	f.record("CreateContainer " + in.Config.Metadata.Name)
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, in *runtimeapi.StartContainerRequest, _ ...grpc.CallOption) (*runtimeapi.StartContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[in.ContainerId]
	if !ok {
		return nil, status.Error(codes.NotFound, "no container")
	}
	c.state, c.started = runtimeapi.ContainerState_CONTAINER_RUNNING, f.clock.Now().UnixNano()
	f.record("StartContainer " + c.cfg.Metadata.Name)
	return &runtimeapi.StartContainerResponse{}, nil
}

func (f *fakeRuntime) StopContainer(_ context.Context, in *runtimeapi.StopContainerRequest, _ ...grpc.CallOption) (*runtimeapi.StopContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[in.ContainerId]
	if !ok {
		return nil, status.Error(codes.NotFound, "no container")
	}
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		c.state, c.exitCode, c.finished = runtimeapi.ContainerState_CONTAINER_EXITED, 143, f.clock.Now().UnixNano()
	}
	f.record(fmt.Sprintf("StopContainer %s %d", c.cfg.Metadata.Name, in.Timeout))
	return &runtimeapi.StopContainerResponse{}, nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, in *runtimeapi.RemoveContainerRequest, _ ...grpc.CallOption) (*runtimeapi.RemoveContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, in.ContainerId)
	f.record("RemoveContainer " + in.ContainerId)
	return &runtimeapi.RemoveContainerResponse{}, nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, in *runtimeapi.ListContainersRequest, _ ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &runtimeapi.ListContainersResponse{}
	for id, c := range f.containers {
		if matches(c.cfg.Labels, in.GetFilter().GetLabelSelector()) {
			out.Containers = append(out.Containers, &runtimeapi.Container{
				Id: id, PodSandboxId: c.sandbox, Metadata: c.cfg.Metadata, State: c.state, CreatedAt: c.created,
				Labels: maps.Clone(c.cfg.Labels), Annotations: maps.Clone(c.cfg.Annotations), ImageRef: "sha256:" + c.cfg.Image.Image,
			})
		}
	}
	return out, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, in *runtimeapi.ContainerStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[in.ContainerId]
	if !ok {
		return nil, status.Error(codes.NotFound, "no container")
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{
		Id: in.ContainerId, Metadata: c.cfg.Metadata, State: c.state, CreatedAt: c.created, StartedAt: c.started,
		FinishedAt: c.finished, ExitCode: c.exitCode, Image: c.cfg.Image, ImageRef: "sha256:" + c.cfg.Image.Image,
		Labels: maps.Clone(c.cfg.Labels), Annotations: maps.Clone(c.cfg.Annotations), LogPath: "/logs/" + c.cfg.LogPath,
	}}, nil
}

func (f *fakeRuntime) ExecSync(_ context.Context, in *runtimeapi.ExecSyncRequest, _ ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ExecSync " + in.ContainerId)
	return &runtimeapi.ExecSyncResponse{}, nil
}

// exit makes the running container named name exit with code.
func (f *fakeRuntime) exit(name string, code int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.cfg.Metadata.Name == name && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			c.state, c.exitCode, c.finished = runtimeapi.ContainerState_CONTAINER_EXITED, code, f.clock.Now().UnixNano()
		}
	}
}

// running returns the configs of running containers by name.
func (f *fakeRuntime) running() map[string]*runtimeapi.ContainerConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*runtimeapi.ContainerConfig{}
	for _, c := range f.containers {
		if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out[c.cfg.Metadata.Name] = c.cfg
		}
	}
	return out
}

// fakeImages holds present images; pulls succeed only for pullable ones.
type fakeImages struct {
	runtimeapi.ImageServiceClient
	mu       sync.Mutex
	present  map[string]bool
	pullable map[string]bool
	pulls    int
}

func (f *fakeImages) ImageStatus(_ context.Context, in *runtimeapi.ImageStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.present[in.Image.Image] {
		return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: "id-" + in.Image.Image}}, nil
	}
	return &runtimeapi.ImageStatusResponse{}, nil
}

func (f *fakeImages) PullImage(_ context.Context, in *runtimeapi.PullImageRequest, _ ...grpc.CallOption) (*runtimeapi.PullImageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls++
	if !f.pullable[in.Image.Image] {
		return nil, status.Error(codes.Unavailable, "registry unreachable")
	}
	f.present[in.Image.Image] = true
	return &runtimeapi.PullImageResponse{ImageRef: "id-" + in.Image.Image}, nil
}
