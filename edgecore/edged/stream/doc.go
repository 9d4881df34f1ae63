// Package stream is edged's kubelet API subset — /containerLogs, /exec,
// /attach, /portForward and /healthz — answered from CRI: logs from the
// container's CRI log file, exec/attach/port-forward by asking the runtime
// for a streaming URL and reverse-proxying the client's upgraded
// connection (SPDY/3.1 or websocket) to it.
//
// The cloud reaches this handler through the reverse tunnel; the Server is
// a plain http.Handler and knows nothing about how requests arrive.
package stream
