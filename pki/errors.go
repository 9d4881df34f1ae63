package pki

import "errors"

var (
	// ErrNoPEM means the input held no PEM block of the expected type.
	ErrNoPEM = errors.New("pki: no PEM block found")
	// ErrNotNode means a certificate does not carry a node identity.
	ErrNotNode = errors.New("pki: certificate is not a node identity")
)
