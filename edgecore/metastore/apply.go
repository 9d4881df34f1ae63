package metastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// prepared is a validated change, ready to apply.
type prepared struct {
	Change
	rkey string
	doc  *doc // nil for a delete without object
}

// Apply applies a batch of changes in one transaction and returns how many
// changed the store. Applying is idempotent: an upsert whose CloudRV is not
// newer than the stored one is skipped, and so is a delete of an absent
// object or one older than the stored object. Each applied change gets its
// own revision, in batch order. If any change is invalid ([ErrInvalidChange])
// or the transaction fails, nothing of the batch is applied.
func (s *Store) Apply(ctx context.Context, changes []Change) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("metastore: apply: %w", ErrClosed)
	}
	batch := make([]prepared, len(changes))
	for i, c := range changes {
		p, err := s.prepare(c)
		if err != nil {
			return 0, fmt.Errorf("metastore: apply: change %d (%s %s %s/%s): %w", i, c.Op, resourceKey(c.Resource), c.Namespace, c.Name, err)
		}
		batch[i] = p
	}
	if len(batch) == 0 {
		return 0, nil
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return 0, fmt.Errorf("metastore: apply: %w", ErrClosed)
	}
	rev := s.rev.Load()
	applied, skipped, err := s.applyTx(ctx, batch, &rev)
	if err != nil {
		s.metrics.failed()
		return 0, s.check("apply", err)
	}
	s.metrics.applied(applied, skipped, rev)
	if applied > 0 {
		s.rev.Store(rev)
		s.wake()
	}
	return applied, nil
}

func (s *Store) prepare(c Change) (prepared, error) {
	p := prepared{Change: c, rkey: resourceKey(c.Resource)}
	if c.Resource.Version == "" || c.Resource.Resource == "" {
		return p, fmt.Errorf("%w: resource needs a version and a name", ErrInvalidChange)
	}
	if c.Name == "" {
		return p, fmt.Errorf("%w: empty name", ErrInvalidChange)
	}
	switch c.Op {
	case Upsert:
		if len(c.Object) == 0 {
			return p, fmt.Errorf("%w: upsert without object", ErrInvalidChange)
		}
	case Delete:
		if len(c.Object) == 0 {
			return p, nil
		}
	default:
		return p, fmt.Errorf("%w: unknown op %d", ErrInvalidChange, int(c.Op))
	}
	d, err := parseDoc(c.Object, c.Resource, c.Namespace, c.Name, s.opts.KindFor)
	if err != nil {
		return p, err
	}
	p.doc = d
	if p.CloudRV == "" {
		p.CloudRV = d.ownRV
	}
	return p, nil
}

// stmts are the statements of one Apply transaction.
type stmts struct {
	get, put, del, log *sql.Stmt
}

func (s *Store) applyTx(ctx context.Context, batch []prepared, rev *int64) (applied, skipped int, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var st stmts
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&st.get, `SELECT cloud_rv, object FROM objects WHERE resource = ? AND namespace = ? AND name = ?`},
		{&st.put, `INSERT INTO objects(resource, namespace, name, kind, cloud_rv, revision, labels, object)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(resource, namespace, name) DO UPDATE SET kind = excluded.kind,
			cloud_rv = excluded.cloud_rv, revision = excluded.revision, labels = excluded.labels, object = excluded.object`},
		{&st.del, `DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?`},
		{&st.log, `INSERT INTO changes(revision, resource, namespace, name, type, object, prev) VALUES (?, ?, ?, ?, ?, ?, ?)`},
	} {
		if *p.dst, err = tx.PrepareContext(ctx, p.q); err != nil {
			return 0, 0, err
		}
		defer (*p.dst).Close()
	}
	for i := range batch {
		ok, err := s.applyOne(ctx, &st, &batch[i], rev)
		if err != nil {
			c := &batch[i]
			return 0, 0, fmt.Errorf("change %d (%s %s %s/%s): %w", i, c.Op, c.rkey, c.Namespace, c.Name, err)
		}
		if ok {
			applied++
		} else {
			skipped++
		}
	}
	if applied > 0 {
		if _, err = tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'revision'`, *rev); err != nil {
			return 0, 0, err
		}
		if err = s.compact(ctx, tx, *rev); err != nil {
			return 0, 0, err
		}
	}
	return applied, skipped, tx.Commit()
}

func (s *Store) applyOne(ctx context.Context, st *stmts, p *prepared, rev *int64) (bool, error) {
	var storedRV string
	var stored []byte
	err := st.get.QueryRowContext(ctx, p.rkey, p.Namespace, p.Name).Scan(&storedRV, &stored)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	switch p.Op {
	case Upsert:
		if exists && !newerRV(p.CloudRV, storedRV) {
			return false, nil
		}
		next := *rev + 1
		data, err := p.doc.encode(next)
		if err != nil {
			return false, err
		}
		if _, err := st.put.ExecContext(ctx, p.rkey, p.Namespace, p.Name, p.doc.kind, p.CloudRV, next, p.doc.labels, data); err != nil {
			return false, err
		}
		typ := Added
		if exists {
			typ = Modified
		}
		if _, err := st.log.ExecContext(ctx, next, p.rkey, p.Namespace, p.Name, string(typ), data, stored); err != nil {
			return false, err
		}
		*rev = next
		return true, nil
	default: // Delete
		if !exists || (p.CloudRV != "" && olderRV(p.CloudRV, storedRV)) {
			return false, nil
		}
		next := *rev + 1
		d := p.doc
		if d == nil {
			// The stored object passed parseDoc when it was written.
			if d, err = parseDoc(stored, p.Resource, p.Namespace, p.Name, s.opts.KindFor); err != nil {
				return false, err
			}
		}
		data, err := d.encode(next)
		if err != nil {
			return false, err
		}
		if _, err := st.del.ExecContext(ctx, p.rkey, p.Namespace, p.Name); err != nil {
			return false, err
		}
		if _, err := st.log.ExecContext(ctx, next, p.rkey, p.Namespace, p.Name, string(Deleted), data, stored); err != nil {
			return false, err
		}
		*rev = next
		return true, nil
	}
}

// compact drops the changes older than the last ChangeLogSize revisions.
func (s *Store) compact(ctx context.Context, tx *sql.Tx, rev int64) error {
	floor := rev - int64(s.opts.ChangeLogSize)
	if floor <= 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE revision <= ?`, floor); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	_, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'compacted' AND value < ?`, floor, floor)
	return err
}
