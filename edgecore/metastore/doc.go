// Package metastore is the edge node's meta store: the Kubernetes objects the
// cloud sent to this node, kept in one SQLite file (modernc.org/sqlite, pure
// Go, WAL mode) so that the edge keeps serving them offline and after restarts.
//
// Objects of any resource are keyed by (group/version/resource, namespace,
// name). Each row keeps the cloud's resourceVersion (used to make applying
// idempotent: an upsert that is not newer than what is stored is skipped) and
// the object JSON. Every change bumps one store-wide local revision (int64);
// the stored JSON carries that revision in metadata.resourceVersion, so local
// clients see a single, monotonic version space that survives restarts and
// never depends on the cloud's numbering.
//
// A bounded change log (the last [Options.ChangeLogSize] revisions) lets
// readers resume a watch from a revision with [Store.Changes]; a revision
// older than the log is reported as [ErrCompacted] and the reader must list
// again. [Store.Notify] wakes waiters when the revision advances.
//
// Writes go through one connection (one transaction per [Store.Apply]);
// reads use a small pool of read-only connections and see consistent
// snapshots (WAL), so readers never block the writer or each other.
package metastore
