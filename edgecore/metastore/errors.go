package metastore

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (or an
// error from SQLite) with the operation: "metastore: op: %w".
var (
	// ErrClosed reports use of a closed store.
	ErrClosed = errors.New("store closed")
	// ErrNotFound reports that no object is stored under the key asked for.
	ErrNotFound = errors.New("not found")
	// ErrInvalidChange reports a change that cannot be applied: an unknown
	// operation, an empty resource or name, malformed object JSON, or an
	// object whose metadata contradicts the change. The whole batch is
	// rolled back.
	ErrInvalidChange = errors.New("invalid change")
	// ErrCompacted reports a revision older than the change log: the changes
	// after it are gone, the reader must list again ("410 Gone").
	ErrCompacted = errors.New("revision compacted")
	// ErrFutureRevision reports a revision newer than the store's current
	// one (for example a client that watched a store file since replaced).
	// Readers should treat it like ErrCompacted and list again.
	ErrFutureRevision = errors.New("revision is newer than the store")
	// ErrInvalidOptions reports options that cannot work.
	ErrInvalidOptions = errors.New("invalid options")
)
