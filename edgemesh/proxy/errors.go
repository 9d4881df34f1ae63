package proxy

import "errors"

var (
	// ErrNoEndpoints is returned when a service port has no usable endpoint.
	ErrNoEndpoints = errors.New("no endpoints")
	// ErrClosed is returned by operations on a closed Proxy.
	ErrClosed = errors.New("proxy closed")
	// ErrNoPort is returned when no proxy port of the configured range is free.
	ErrNoPort = errors.New("no free proxy port")
)
