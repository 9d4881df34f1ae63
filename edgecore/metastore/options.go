package metastore

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
)

// Defaults applied by [Options.Default].
const (
	DefaultChangeLogSize = 10000
	DefaultBusyTimeout   = 5 * time.Second
	DefaultMaxReaders    = 4
	DefaultCacheKiB      = 1024
)

// Options configures a [Store]. The zero value of a field means its default;
// see [Options.Default].
type Options struct {
	// Logger receives the store's logs. Default klog.Background().
	Logger klog.Logger
	// ChangeLogSize is how many of the latest revisions the change log keeps
	// for watch resumption; older ones are compacted away. Default 10000.
	ChangeLogSize int
	// BusyTimeout is how long SQLite waits for a lock held by another
	// connection (or process) before failing. Default 5s.
	BusyTimeout time.Duration
	// MaxReaders bounds the read-only connections (concurrent readers).
	// Default 4.
	MaxReaders int
	// CacheKiB is SQLite's page cache per connection, in KiB. Small by
	// default because the edge is memory-bound: 1024.
	CacheKiB int
	// KindFor names the kind of a resource, used to fill an object's "kind"
	// when the cloud sent it without one (objects taken from informers have
	// no TypeMeta). Default [WellKnownKind]. An object with no kind whose
	// resource KindFor does not know is refused.
	KindFor func(schema.GroupVersionResource) string
	// Registerer receives the store's metrics. Nil means no metrics.
	Registerer prometheus.Registerer
}

// Default returns a copy of o with every zero field set to its default.
func (o Options) Default() Options {
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	if o.ChangeLogSize == 0 {
		o.ChangeLogSize = DefaultChangeLogSize
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.MaxReaders == 0 {
		o.MaxReaders = DefaultMaxReaders
	}
	if o.CacheKiB == 0 {
		o.CacheKiB = DefaultCacheKiB
	}
	if o.KindFor == nil {
		o.KindFor = WellKnownKind
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.ChangeLogSize < 1:
		return fmt.Errorf("%w: ChangeLogSize %d < 1", ErrInvalidOptions, o.ChangeLogSize)
	case o.BusyTimeout < 0:
		return fmt.Errorf("%w: negative BusyTimeout", ErrInvalidOptions)
	case o.MaxReaders < 1:
		return fmt.Errorf("%w: MaxReaders %d < 1", ErrInvalidOptions, o.MaxReaders)
	case o.CacheKiB < 0:
		return fmt.Errorf("%w: negative CacheKiB", ErrInvalidOptions)
	}
	return nil
}
