package metaserver

import (
	"fmt"
	"runtime"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/klog/v2"
)

// Defaults applied by [Options.Default].
const (
	DefaultBookmarkInterval = 30 * time.Second
	DefaultMaxWatchTimeout  = 30 * time.Minute
	DefaultWatchBatch       = 500
	DefaultShutdownTimeout  = 5 * time.Second
)

// Options configures a [Server]. The zero value of a field means its default;
// see [Options.Default].
type Options struct {
	// Store is the meta store served. Required. The server does not close it.
	Store *metastore.Store
	// Logger receives the server's logs. Default klog.Background().
	Logger klog.Logger
	// Resources are served in addition to (or instead of, same resource) the
	// built-in well-known ones, even when the store holds none of their
	// objects. Resources with objects in the store are served anyway.
	Resources []Resource
	// BookmarkInterval is how often a watch that asked for bookmarks
	// (allowWatchBookmarks) gets one carrying the latest revision, so that it
	// resumes from a recent revision and stays clear of compaction.
	// Default 30s.
	BookmarkInterval time.Duration
	// MaxWatchTimeout caps a watch's duration (and is the duration of a
	// watch without timeoutSeconds); the client then watches again from its
	// last revision. Default 30m.
	MaxWatchTimeout time.Duration
	// WatchBatch bounds the change-log entries a watch reads at once.
	// Default 500.
	WatchBatch int
	// ShutdownTimeout bounds how long [Serve] waits for requests to finish
	// once its context is done. Default 5s.
	ShutdownTimeout time.Duration
	// Version is what /version answers. Default: Kubernetes v1.36.3, the
	// version of the API this server mimics.
	Version version.Info
	// Registerer receives the server's metrics. Nil means no metrics.
	Registerer prometheus.Registerer
}

// Default returns a copy of o with every zero field set to its default.
func (o Options) Default() Options {
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	if o.BookmarkInterval == 0 {
		o.BookmarkInterval = DefaultBookmarkInterval
	}
	if o.MaxWatchTimeout == 0 {
		o.MaxWatchTimeout = DefaultMaxWatchTimeout
	}
	if o.WatchBatch == 0 {
		o.WatchBatch = DefaultWatchBatch
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Version.GitVersion == "" {
		o.Version = version.Info{
			Major: "1", Minor: "36", GitVersion: "v1.36.3-outpost-edge",
			GoVersion: runtime.Version(), Compiler: runtime.Compiler,
			Platform: runtime.GOOS + "/" + runtime.GOARCH,
		}
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.Store == nil:
		return fmt.Errorf("%w: no store", ErrInvalidOptions)
	case o.BookmarkInterval < 0, o.MaxWatchTimeout < 0, o.ShutdownTimeout < 0:
		return fmt.Errorf("%w: negative duration", ErrInvalidOptions)
	case o.WatchBatch < 1:
		return fmt.Errorf("%w: WatchBatch %d < 1", ErrInvalidOptions, o.WatchBatch)
	}
	for _, r := range o.Resources {
		if r.Resource.Version == "" || r.Resource.Resource == "" || r.Kind == "" {
			return fmt.Errorf("%w: resource %v needs a version, a name and a kind", ErrInvalidOptions, r.Resource)
		}
	}
	return nil
}
