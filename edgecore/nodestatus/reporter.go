package nodestatus

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outpostmesh/outpost/hubproto"
)

// Resources of the updates, as cloudcore's edge controller names them.
const (
	resNodes  = "/v1/nodes"
	resLeases = "coordination.k8s.io/v1/leases"
	// LeaseNamespace holds the nodes' heartbeat Leases.
	LeaseNamespace = "kube-node-lease"
)

// Reporter sends the node's status and lease every Interval.
type Reporter struct {
	opts    Options
	started metav1.Time // the Ready condition's lastTransitionTime
}

// New checks opts and returns a Reporter; Run starts it.
func New(opts Options) (*Reporter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Reporter{opts: opts, started: metav1.NewTime(opts.Clock.Now().Truncate(time.Second))}, nil
}

// Run reports at once and then every Interval until ctx is done. A report that cannot be
// built or queued is logged and tried again at the next tick: the hub client keeps only the
// newest update of each object, so nothing piles up while the cloud is away.
func (r *Reporter) Run(ctx context.Context) {
	t := r.opts.Clock.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		if err := r.Report(ctx); err != nil {
			r.opts.Logger.Error(err, "Node status not sent", "node", r.opts.NodeName)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Report sends one node status and lease renewal.
func (r *Reporter) Report(ctx context.Context) error {
	updates, err := r.Updates()
	if err != nil {
		return err
	}
	return r.opts.Send(ctx, updates)
}

// Updates builds the node status and lease updates stamped now.
func (r *Reporter) Updates() ([]hubproto.StatusUpdate, error) {
	node, err := r.Node()
	if err != nil {
		return nil, err
	}
	nb, err := json.Marshal(node)
	if err != nil {
		return nil, fmt.Errorf("nodestatus: encode node: %w", err)
	}
	lb, err := json.Marshal(r.Lease())
	if err != nil {
		return nil, fmt.Errorf("nodestatus: encode lease: %w", err)
	}
	name := r.opts.NodeName
	return []hubproto.StatusUpdate{
		{Ref: hubproto.Ref{Resource: resNodes, Name: name}, Object: nb},
		{Ref: hubproto.Ref{Resource: resLeases, Namespace: LeaseNamespace, Name: name}, Object: lb},
	}, nil
}

// Node is the Node with the status to report (the edge controller patches only its status).
func (r *Reporter) Node() (*corev1.Node, error) {
	addrs, err := r.opts.Addresses()
	if err != nil {
		return nil, err
	}
	capa, err := capacity(r.opts.MemInfoPath, r.opts.MaxPods)
	if err != nil {
		return nil, err
	}
	now := metav1.NewTime(r.opts.Clock.Now().Truncate(time.Second))
	return &corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: r.opts.NodeName},
		Status: corev1.NodeStatus{
			Capacity:    capa,
			Allocatable: capa.DeepCopy(),
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue,
				LastHeartbeatTime: now, LastTransitionTime: r.started,
				Reason: "EdgeCoreReady", Message: "edgecore is posting ready status",
			}},
			Addresses:       addrs,
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: r.opts.KubeletPort}},
			NodeInfo: corev1.NodeSystemInfo{
				KernelVersion:   kernelVersion(),
				OperatingSystem: runtime.GOOS,
				Architecture:    runtime.GOARCH,
				KubeletVersion:  r.opts.Version,
				OSImage:         "outpost edgecore",
			},
		},
	}, nil
}

// Lease is the node's heartbeat Lease renewed now.
func (r *Reporter) Lease() *coordinationv1.Lease {
	name := r.opts.NodeName
	secs := int32(r.opts.LeaseDuration / time.Second)
	now := metav1.NewMicroTime(r.opts.Clock.Now())
	return &coordinationv1.Lease{
		TypeMeta:   metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: LeaseNamespace},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: &name, LeaseDurationSeconds: &secs, RenewTime: &now,
		},
	}
}
