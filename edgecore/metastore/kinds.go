package metastore

import "k8s.io/apimachinery/pkg/runtime/schema"

// wellKnown maps the resources edge nodes usually hold to their kinds.
var wellKnown = map[schema.GroupVersionResource]string{
	{Version: "v1", Resource: "pods"}:                                                     "Pod",
	{Version: "v1", Resource: "services"}:                                                 "Service",
	{Version: "v1", Resource: "endpoints"}:                                                "Endpoints",
	{Version: "v1", Resource: "configmaps"}:                                               "ConfigMap",
	{Version: "v1", Resource: "secrets"}:                                                  "Secret",
	{Version: "v1", Resource: "nodes"}:                                                    "Node",
	{Version: "v1", Resource: "namespaces"}:                                               "Namespace",
	{Version: "v1", Resource: "serviceaccounts"}:                                          "ServiceAccount",
	{Version: "v1", Resource: "events"}:                                                   "Event",
	{Version: "v1", Resource: "persistentvolumes"}:                                        "PersistentVolume",
	{Version: "v1", Resource: "persistentvolumeclaims"}:                                   "PersistentVolumeClaim",
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}:                "EndpointSlice",
	{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}:                     "Lease",
	{Group: "events.k8s.io", Version: "v1", Resource: "events"}:                           "Event",
	{Group: "storage.k8s.io", Version: "v1", Resource: "csidrivers"}:                      "CSIDriver",
	{Group: "node.k8s.io", Version: "v1", Resource: "runtimeclasses"}:                     "RuntimeClass",
	{Group: "apps", Version: "v1", Resource: "daemonsets"}:                                "DaemonSet",
	{Group: "apps", Version: "v1", Resource: "deployments"}:                               "Deployment",
	{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}:              "NetworkPolicy",
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}:                    "Ingress",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}:                "Role",
	{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}: "CustomResourceDefinition",
}

// WellKnownKind returns the kind of a well-known Kubernetes resource (pods,
// services, endpointslices...), or "" if it does not know the resource.
func WellKnownKind(r schema.GroupVersionResource) string {
	return wellKnown[r]
}
