package metastore

import "strconv"

// newerRV reports whether the cloud resourceVersion a is newer than b.
// resourceVersions are opaque in Kubernetes, but etcd-backed apiservers
// hand out increasing integers: when both parse as integers they are
// compared as such; otherwise any difference counts as newer (the cloud only
// sends what changed). An empty a or b makes a newer: nothing to compare.
func newerRV(a, b string) bool {
	if a == "" || b == "" {
		return true
	}
	ai, aerr := strconv.ParseUint(a, 10, 64)
	bi, berr := strconv.ParseUint(b, 10, 64)
	if aerr == nil && berr == nil {
		return ai > bi
	}
	return a != b
}

// olderRV reports whether a is strictly older than b, which is only known
// when both parse as integers.
func olderRV(a, b string) bool {
	ai, aerr := strconv.ParseUint(a, 10, 64)
	bi, berr := strconv.ParseUint(b, 10, 64)
	return aerr == nil && berr == nil && ai < bi
}
