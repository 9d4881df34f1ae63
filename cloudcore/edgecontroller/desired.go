package edgecontroller

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/outpostmesh/outpost/hubproto"
)

// Resources as hubproto names them ("group/version/resource").
const (
	resNodes          = "/v1/nodes"
	resPods           = "/v1/pods"
	resConfigMaps     = "/v1/configmaps"
	resSecrets        = "/v1/secrets"
	resAccounts       = "/v1/serviceaccounts"
	resServices       = "/v1/services"
	resEvents         = "/v1/events"
	resEndpointSlices = "discovery.k8s.io/v1/endpointslices"
	resLeases         = "coordination.k8s.io/v1/leases"
)

// kinds are the GroupVersionKinds of the resources sent downstream; objects from listers carry
// no TypeMeta and the edge wants self-describing JSON.
var kinds = map[string]schema.GroupVersionKind{
	resNodes:          corev1.SchemeGroupVersion.WithKind("Node"),
	resPods:           corev1.SchemeGroupVersion.WithKind("Pod"),
	resConfigMaps:     corev1.SchemeGroupVersion.WithKind("ConfigMap"),
	resSecrets:        corev1.SchemeGroupVersion.WithKind("Secret"),
	resAccounts:       corev1.SchemeGroupVersion.WithKind("ServiceAccount"),
	resServices:       corev1.SchemeGroupVersion.WithKind("Service"),
	resEndpointSlices: discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"),
}

// desiredSet is a node's own share: object by reference.
type desiredSet map[hubproto.Ref]runtime.Object

func (d desiredSet) add(resource string, obj runtime.Object) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	d[hubproto.Ref{Resource: resource, Namespace: m.GetNamespace(), Name: m.GetName()}] = obj
}

// desired computes what node (nil: deleted or not an edge node) should hold of its own share:
// its Node, whole, the pods bound to it and what they reference. The mesh share is the
// snapshot's (meshSnapshot).
func (c *Controller) desired(name string, node *corev1.Node) (desiredSet, error) {
	d := desiredSet{}
	if node == nil {
		return d, nil
	}
	d.add(resNodes, node)
	objs, err := c.podIndex.ByIndex(podsByNode, name)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		pod := o.(*corev1.Pod)
		d.add(resPods, pod)
		r := referencesOf(pod)
		for _, n := range r.configMaps {
			if cm, err := c.configMaps.ConfigMaps(pod.Namespace).Get(n); err == nil {
				d.add(resConfigMaps, cm)
			}
		}
		for _, n := range r.secrets {
			if s, err := c.secrets.Secrets(pod.Namespace).Get(n); err == nil {
				d.add(resSecrets, s)
			}
		}
		if sa, err := c.accounts.ServiceAccounts(pod.Namespace).Get(r.serviceAccount); err == nil {
			d.add(resAccounts, sa)
		}
	}
	return d, nil
}

func resourceVersion(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetResourceVersion()
}
