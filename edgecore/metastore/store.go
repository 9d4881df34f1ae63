package metastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Store is the edge meta store over one SQLite file. It is safe for
// concurrent use. Close it when done.
type Store struct {
	opts    Options
	log     klog.Logger
	path    string
	w       *sql.DB // one connection, BEGIN IMMEDIATE: the only writer
	r       *sql.DB // read-only pool
	metrics *metrics

	wmu sync.Mutex // serializes Apply (with w's single connection)
	rev atomic.Int64

	nmu    sync.Mutex
	notify chan struct{} // closed and replaced when the revision advances

	closed    atomic.Bool
	closeOnce sync.Once
}

// Open opens (creating if needed) the store in the SQLite file at path.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("metastore: open: %w", err)
	}
	if path == "" {
		return nil, fmt.Errorf("metastore: open: %w: empty path", ErrInvalidOptions)
	}
	s := &Store{opts: opts, log: opts.Logger.WithName("metastore"), path: path, notify: make(chan struct{})}
	// The store holds Secrets: create the file private to this user (SQLite
	// gives its -wal and -shm files the database file's permissions).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("metastore: open %s: %w", path, err)
	}
	f.Close()
	if s.w, err = sql.Open("sqlite", s.dsn(true)); err != nil {
		return nil, fmt.Errorf("metastore: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	if err := s.init(); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("metastore: open %s: %w", path, err)
	}
	if s.r, err = sql.Open("sqlite", s.dsn(false)); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("metastore: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(opts.MaxReaders)
	s.r.SetMaxIdleConns(opts.MaxReaders)
	s.metrics = newMetrics(opts.Registerer, s)
	s.log.V(2).Info("Opened meta store", "path", path, "revision", s.rev.Load())
	return s, nil
}

// dsn builds the connection string: WAL, busy timeout, NORMAL sync (WAL makes
// it crash-safe; only the last transactions may be lost on power failure, and
// the cloud re-sends them), a small page cache.
func (s *Store) dsn(writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", s.opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(OFF)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", s.opts.CacheKiB))
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(ON)")
	}
	return "file:" + (&url.URL{Path: s.path}).EscapedPath() + "?" + q.Encode()
}

func (s *Store) init() error {
	ctx := context.Background()
	var v int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this binary's %d", v, schemaVersion)
	}
	if _, err := s.w.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	var rev int64
	if err := s.w.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'revision'").Scan(&rev); err != nil {
		return err
	}
	s.rev.Store(rev)
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Revision returns the store's current (last committed) revision.
func (s *Store) Revision() int64 { return s.rev.Load() }

// Notify returns a channel that is closed when the revision advances past
// its current value, or when the store closes. Take the channel before
// reading, then wait on it once the read is done: no change is missed.
func (s *Store) Notify() <-chan struct{} {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	return s.notify
}

func (s *Store) wake() {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if s.closed.Load() {
		return
	}
	close(s.notify)
	s.notify = make(chan struct{})
}

// Close closes the database. Waiters on [Store.Notify] are woken; later
// calls fail with [ErrClosed]. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.nmu.Lock()
		s.closed.Store(true)
		close(s.notify)
		s.nmu.Unlock()
		s.wmu.Lock() // let a running Apply finish
		defer s.wmu.Unlock()
		err = errors.Join(s.r.Close(), s.w.Close())
		s.metrics.unregister()
		s.log.V(2).Info("Closed meta store", "path", s.path)
	})
	if err != nil {
		return fmt.Errorf("metastore: close: %w", err)
	}
	return nil
}

// check returns the error to report for op: ErrClosed once closed, err otherwise.
func (s *Store) check(op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("metastore: %s: %w", op, ErrClosed)
	}
	return fmt.Errorf("metastore: %s: %w", op, err)
}
