package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/outpostmesh/outpost/cloudcore/edgecontroller"
)

// createNodes creates the Node objects edge-0 … edge-(n-1) that do not exist yet, conc at a
// time, and returns how many it created.
func createNodes(ctx context.Context, client kubernetes.Interface, n, conc int) (int, error) {
	existing, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list nodes: %w", err)
	}
	have := make(map[string]bool, len(existing.Items))
	for _, no := range existing.Items {
		have[no.Name] = true
	}
	next := make(chan string)
	var created atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range next {
				no := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
					edgecontroller.EdgeNodeLabel: "", "kubernetes.io/hostname": name,
				}}}
				_, err := client.CoreV1().Nodes().Create(ctx, no, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("create node %s: %w", name, err)
					}
					mu.Unlock()
					continue
				}
				created.Add(1)
			}
		}()
	}
	for i := range n {
		if name := nodeName(i); !have[name] {
			select {
			case next <- name:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return int(created.Load()), first
}

// meshShare is what the edge controller's mesh share holds: every Service and EndpointSlice,
// and the Nodes that host an endpoint (pruned). It returns the number of objects and the
// hosting Node names: a hosting edge gets its own Node once (whole), not a second time.
func meshShare(ctx context.Context, client kubernetes.Interface) (int, map[string]bool, error) {
	svcs, err := client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, nil, err
	}
	slices, err := client.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, nil, err
	}
	hosts := map[string]bool{}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.NodeName != nil && *e.NodeName != "" {
				hosts[*e.NodeName] = true
			}
		}
	}
	return len(svcs.Items) + len(slices.Items) + len(hosts), hosts, nil
}

// createService creates a Service and its EndpointSlice named name in "default" and returns
// the time just before the first create call.
func createService(ctx context.Context, client kubernetes.Interface, name string) (time.Time, error) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.244.1.10"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			NodeName:   ptr.To(nodeName(0)),
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	t0 := time.Now()
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return t0, fmt.Errorf("create service: %w", err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return t0, fmt.Errorf("create endpointslice: %w", err)
	}
	return t0, nil
}

// heartbeats patches the Ready condition of edge-0 … edge-(n-1) round-robin, rate per second,
// for d, the way edgecore's nodestatus reports every 10 s; it returns the patches made.
func heartbeats(ctx context.Context, client kubernetes.Interface, n int, rate float64, d time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	next := make(chan int, 64)
	var done atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				now := time.Now().UTC().Format(time.RFC3339)
				patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","lastHeartbeatTime":%q,"lastTransitionTime":%q}]}}`, now, now)
				if _, err := client.CoreV1().Nodes().PatchStatus(ctx, nodeName(i), []byte(patch)); err == nil {
					done.Add(1)
				}
			}
		}()
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			close(next)
			wg.Wait()
			return int(done.Load())
		case <-t.C:
			select {
			case next <- i % n:
			default: // the apiserver is behind: skip rather than queue
			}
		}
	}
}
