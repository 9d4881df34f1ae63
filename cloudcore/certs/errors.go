package certs

import (
	"errors"

	"github.com/outpostmesh/outpost/enroll"
)

// Sentinel errors. The wire contract (Reasons, HTTP statuses) lives in package enroll, which the
// edge imports too; these are the same values, so errors.Is works across both names.
var (
	ErrTokenMalformed         = enroll.ErrTokenMalformed
	ErrTokenUnknown           = enroll.ErrTokenUnknown
	ErrTokenExpired           = enroll.ErrTokenExpired
	ErrTokenUsed              = enroll.ErrTokenUsed
	ErrCSRInvalid             = enroll.ErrCSRInvalid
	ErrNodeNameMismatch       = enroll.ErrNodeNameMismatch
	ErrInvalidNodeName        = enroll.ErrInvalidNodeName
	ErrBadRequest             = enroll.ErrBadRequest
	ErrUnauthenticated        = enroll.ErrUnauthenticated
	ErrPodNotFound            = enroll.ErrPodNotFound
	ErrNotBoundToNode         = enroll.ErrNotBoundToNode
	ErrPodUIDMismatch         = enroll.ErrPodUIDMismatch
	ErrServiceAccountMismatch = enroll.ErrServiceAccountMismatch
	ErrServiceAccountNotFound = enroll.ErrServiceAccountNotFound
	ErrTooManyRequests        = enroll.ErrTooManyRequests
	ErrCAPinMismatch          = enroll.ErrCAPinMismatch
	ErrInternal               = enroll.ErrInternal
)

// ErrInvalidOptions reports server options that cannot work.
var ErrInvalidOptions = errors.New("certs: invalid options")
