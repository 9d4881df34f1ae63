// Package metaserver serves the edge meta store ([metastore.Store]) as a
// read-only Kubernetes API on loopback, so that edged, the mesh agent and
// edge applications use client-go (a Clientset, informers) against the edge
// exactly as they would against a kube-apiserver, with or without the cloud.
//
// Served, in the JSON wire format of the Kubernetes API:
//   - get, list and watch of the well-known resources an edge node holds
//     (pods, services, endpoints, configmaps, secrets, nodes, namespaces,
//     serviceaccounts, events, endpointslices, leases), and of any other
//     resource that has objects in the store, at /api/v1/... and
//     /apis/GROUP/VERSION/..., namespaced and cluster-scoped;
//   - labelSelector; fieldSelector on metadata.name, metadata.namespace and
//     the field labels Kubernetes defines for the resource (pods'
//     spec.nodeName, status.phase...);
//   - watch with resourceVersion resumption from the store's change log
//     (the store's local revisions are the resourceVersions, so a watch
//     resumes across edgecore restarts), allowWatchBookmarks,
//     timeoutSeconds, and sendInitialEvents (the "watch list" streaming that
//     client-go's reflector uses by default since 1.35);
//   - discovery (/api, /apis, /api/v1, /apis/GROUP/VERSION), /version,
//     /healthz, /livez, /readyz.
//
// Errors are metav1.Status objects with the Kubernetes codes: 404 for unknown
// resources and objects, 400 for bad selectors or parameters, 405 for writes
// (the edge writes upstream through edgecore, not through this API), 410
// Gone (reason Expired) for a resourceVersion older than the change log, on
// which client-go's reflector relists by itself.
//
// There is no authentication or authorization: the server is meant for a
// loopback listener, which the caller opens (see [Server.Serve]); anything that can
// connect can read every object, Secrets included.
package metaserver
