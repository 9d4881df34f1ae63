// Package proxy is the mesh agent's userspace service proxy, in the style of kube-proxy's
// userspace mode.
//
// For every (service, port) with a ClusterIP and protocol TCP or UDP the proxy owns one
// listening socket on a local proxy port. The iptables package REDIRECTs ClusterIP:port to
// that proxy port, so the proxy knows the service from the socket a connection or datagram
// arrives on: no SO_ORIGINAL_DST lookup, and UDP works the same way as TCP.
//
// Sync takes the whole service view and converges to it: it opens listeners for new service
// ports, closes those of removed ones, and swaps the endpoint set of existing ones in place,
// so live connections and UDP flows are not dropped. It returns the Redirects the iptables
// package installs.
//
// Choosing an endpoint (balancer.go): only ready endpoints, or serving+terminating ones when
// none is ready; then the best non-empty locality tier (same node, same site, other sites);
// within it session affinity by client IP when the service asks for it, else the service's
// LBPolicy (round robin, random, consistent hash on the client IP). Endpoints that failed to
// connect several times in a row are ejected for a while (outlier.go).
//
// TCP connections are spliced both ways with half-close propagation; when both ends are
// *net.TCPConn, io.Copy uses the kernel splice fast path. UDP keeps one flow per client
// address with its own backend conn; replies go back from the service's proxy socket.
//
// Every goroutine is owned: the Proxy owns one per listener, a listener owns its
// connections and flows, and Close (or a Sync that removes the service port) stops them all.
package proxy
