package metastore

import (
	"context"
	"database/sql"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Changes returns the change log entries of resource r (every resource if r
// is the zero value) with a revision greater than since, oldest first, at
// most limit of them (no bound if limit <= 0), and the revision the read
// covers: the store's revision at the read, or the last event's revision if
// limit cut the read short. A watcher continues from that revision: it moves
// forward even when other resources changed, which keeps it clear of
// compaction. Changes fails with [ErrCompacted] if the changes right after
// since were compacted away, and with [ErrFutureRevision] if since is newer
// than the store: in both cases the reader must list again.
func (s *Store) Changes(ctx context.Context, r schema.GroupVersionResource, since int64, limit int) ([]Event, int64, error) {
	if s.closed.Load() {
		return nil, 0, fmt.Errorf("metastore: changes: %w", ErrClosed)
	}
	var out []Event
	var upTo int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		compacted, err := counter(ctx, tx, "compacted")
		if err != nil {
			return err
		}
		rev, err := counter(ctx, tx, "revision")
		if err != nil {
			return err
		}
		switch {
		case since < compacted:
			return fmt.Errorf("%w: revision %d, oldest resumable %d", ErrCompacted, since, compacted)
		case since > rev:
			return fmt.Errorf("%w: revision %d, store at %d", ErrFutureRevision, since, rev)
		}
		upTo = rev
		if since == rev {
			return nil
		}
		q := `SELECT revision, resource, namespace, name, type, object, prev FROM changes WHERE revision > ?`
		args := []any{since}
		if !r.Empty() {
			q += ` AND resource = ?`
			args = append(args, resourceKey(r))
		}
		q += ` ORDER BY revision`
		if limit > 0 {
			q += ` LIMIT ?`
			args = append(args, limit)
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e Event
			var rk, typ string
			if err := rows.Scan(&e.Revision, &rk, &e.Namespace, &e.Name, &typ, &e.Object, &e.Prev); err != nil {
				return err
			}
			e.Resource, e.Type = parseResourceKey(rk), EventType(typ)
			out = append(out, e)
		}
		if limit > 0 && len(out) == limit {
			upTo = out[len(out)-1].Revision
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, s.check(fmt.Sprintf("changes of %s since %d", resourceKey(r), since), err)
	}
	return out, upTo, nil
}

// Compacted returns the revision up to which the change log was compacted:
// [Store.Changes] accepts any since at or above it.
func (s *Store) Compacted(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("metastore: compacted: %w", ErrClosed)
	}
	var v int64
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'compacted'`).Scan(&v); err != nil {
		return 0, s.check("compacted", err)
	}
	return v, nil
}
