package iptables

import "errors"

// ErrInvalidRedirect marks a redirect Sync cannot express (invalid address, protocol or
// port); the other redirects are still installed.
var ErrInvalidRedirect = errors.New("invalid redirect")
