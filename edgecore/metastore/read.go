package metastore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Get returns the object stored under (r, namespace, name), or an error
// wrapping [ErrNotFound].
func (s *Store) Get(ctx context.Context, r schema.GroupVersionResource, namespace, name string) (Object, error) {
	if s.closed.Load() {
		return Object{}, fmt.Errorf("metastore: get: %w", ErrClosed)
	}
	o := Object{Key: Key{Resource: r, Namespace: namespace, Name: name}}
	err := s.r.QueryRowContext(ctx,
		`SELECT kind, cloud_rv, revision, object FROM objects WHERE resource = ? AND namespace = ? AND name = ?`,
		resourceKey(r), namespace, name).Scan(&o.Kind, &o.CloudRV, &o.Revision, &o.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, fmt.Errorf("metastore: get %s: %w", o.Key, ErrNotFound)
	}
	if err != nil {
		return Object{}, s.check("get "+o.Key.String(), err)
	}
	return o, nil
}

// List returns the objects of resource r in namespace ("" for all
// namespaces, and for cluster-scoped resources) whose labels match sel (nil
// matches everything), ordered by namespace and name, and the store's
// revision at the time of the read: the list is exactly the state at that
// revision, so a watch from it misses nothing.
func (s *Store) List(ctx context.Context, r schema.GroupVersionResource, namespace string, sel labels.Selector) ([]Object, int64, error) {
	if s.closed.Load() {
		return nil, 0, fmt.Errorf("metastore: list: %w", ErrClosed)
	}
	var out []Object
	var rev int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if rev, err = counter(ctx, tx, "revision"); err != nil {
			return err
		}
		q := `SELECT namespace, name, kind, cloud_rv, revision, labels, object FROM objects WHERE resource = ?`
		args := []any{resourceKey(r)}
		if namespace != "" {
			q += ` AND namespace = ?`
			args = append(args, namespace)
		}
		rows, err := tx.QueryContext(ctx, q+` ORDER BY namespace, name`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		filter := sel != nil && !sel.Empty()
		for rows.Next() {
			o := Object{Key: Key{Resource: r}}
			var lbl []byte
			if err := rows.Scan(&o.Namespace, &o.Name, &o.Kind, &o.CloudRV, &o.Revision, &lbl, &o.Data); err != nil {
				return err
			}
			if filter {
				var set labels.Set
				if len(lbl) > 0 {
					if err := json.Unmarshal(lbl, &set); err != nil {
						return fmt.Errorf("labels of %s: %w", o.Key, err)
					}
				}
				if !sel.Matches(set) {
					continue
				}
			}
			out = append(out, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, s.check("list "+resourceKey(r), err)
	}
	return out, rev, nil
}

// Versions returns the cloud resourceVersion of every stored object: the
// inventory the edge sends to the cloud after reconnecting, so that the
// cloud sends only the difference.
func (s *Store) Versions(ctx context.Context) (map[Key]string, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("metastore: versions: %w", ErrClosed)
	}
	out := map[Key]string{}
	rows, err := s.r.QueryContext(ctx, `SELECT resource, namespace, name, cloud_rv FROM objects`)
	if err != nil {
		return nil, s.check("versions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rk, rv string
		var k Key
		if err := rows.Scan(&rk, &k.Namespace, &k.Name, &rv); err != nil {
			return nil, s.check("versions", err)
		}
		k.Resource = parseResourceKey(rk)
		out[k] = rv
	}
	if err := rows.Err(); err != nil {
		return nil, s.check("versions", err)
	}
	return out, nil
}

// Resources describes the resources that have objects in the store.
func (s *Store) Resources(ctx context.Context) ([]ResourceInfo, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("metastore: resources: %w", ErrClosed)
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT resource, max(kind), max(namespace != ''), count(*) FROM objects GROUP BY resource ORDER BY resource`)
	if err != nil {
		return nil, s.check("resources", err)
	}
	defer rows.Close()
	var out []ResourceInfo
	for rows.Next() {
		var rk string
		var ri ResourceInfo
		if err := rows.Scan(&rk, &ri.Kind, &ri.Namespaced, &ri.Count); err != nil {
			return nil, s.check("resources", err)
		}
		ri.Resource = parseResourceKey(rk)
		out = append(out, ri)
	}
	if err := rows.Err(); err != nil {
		return nil, s.check("resources", err)
	}
	return out, nil
}

// read runs fn in a read transaction: one consistent snapshot.
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

func counter(ctx context.Context, tx *sql.Tx, key string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v, err
}
