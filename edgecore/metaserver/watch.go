package metaserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// initialEventsEnd is the annotation of the bookmark that ends the initial
// events of a sendInitialEvents watch (metav1.InitialEventsAnnotationKey).
const initialEventsEnd = metav1.InitialEventsAnnotationKey

// watch streams watch events, one JSON object per line, each flushed:
//
//	{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}
//
// resourceVersion N resumes after revision N from the change log (410 Gone,
// reason Expired, when N is compacted or newer than the store); "" and "0"
// first send the current objects as ADDED, as does sendInitialEvents=true,
// which then sends a bookmark annotated k8s.io/initial-events-end.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, res Resource, req request, opts *metav1.ListOptions, f *filter) {
	ctx := r.Context()
	since, err := parseRV(opts.ResourceVersion)
	if err != nil {
		s.writeStatus(w, r, err)
		return
	}
	initial := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	if opts.SendInitialEvents != nil {
		initial = *opts.SendInitialEvents
		if !initial && since == 0 {
			since = s.store.Revision() // "start at the most recent"
		}
	}
	if err := s.checkRV(ctx, since, initial); err != nil {
		s.writeStatus(w, r, err)
		return
	}
	timeout := s.opts.MaxWatchTimeout
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds > 0 {
		timeout = min(timeout, time.Duration(*opts.TimeoutSeconds)*time.Second)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var bookmarks <-chan time.Time
	if opts.AllowWatchBookmarks {
		t := time.NewTicker(s.opts.BookmarkInterval)
		defer t.Stop()
		bookmarks = t.C
	}

	ew := &eventWriter{w: w, rc: http.NewResponseController(w), res: res}
	defer ew.rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if ew.flush() != nil {
		return
	}
	log := s.log.WithValues("resource", gvrString(res.Resource), "namespace", req.namespace)
	if initial {
		if since, err = s.sendInitial(ctx, ew, res, req, f); err != nil {
			s.endWatch(ctx, log, ew, err)
			return
		}
		if opts.SendInitialEvents != nil && opts.AllowWatchBookmarks {
			if ew.bookmark(since, true) != nil {
				return
			}
		}
	}
	log.V(4).Info("Watch started", "since", since)
	for {
		wake := s.store.Notify()
		evs, upTo, err := s.store.Changes(ctx, res.Resource, since, s.opts.WatchBatch)
		if err != nil {
			s.endWatch(ctx, log, ew, err)
			return
		}
		for _, ev := range evs {
			if req.namespace != "" && ev.Namespace != req.namespace {
				continue
			}
			typ, ok, err := decide(f, ev)
			if err != nil {
				log.Error(err, "Cannot filter a stored object", "revision", ev.Revision, "name", ev.Name)
				continue
			}
			if ok && ew.send(typ, ev.Object) != nil {
				return
			}
		}
		since = upTo
		if len(evs) == s.opts.WatchBatch {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-bookmarks:
			if ew.bookmark(since, false) != nil {
				return
			}
		}
	}
}

// checkRV refuses a resourceVersion the watch cannot start from.
func (s *Server) checkRV(ctx context.Context, since int64, initial bool) error {
	if cur := s.store.Revision(); since > cur {
		return apierrors.NewResourceExpired(fmt.Sprintf(
			"too large resource version: %d, current: %d (the edge store was replaced): list again", since, cur))
	}
	if initial {
		return nil // the current state is sent: any older revision will do
	}
	compacted, err := s.store.Compacted(ctx)
	if err != nil {
		return err
	}
	if since < compacted {
		return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", since, compacted))
	}
	return nil
}

// sendInitial sends the current objects as ADDED and returns the revision
// they are the state of.
func (s *Server) sendInitial(ctx context.Context, ew *eventWriter, res Resource, req request, f *filter) (int64, error) {
	items, rev, err := s.store.List(ctx, res.Resource, req.namespace, f.labels)
	if err != nil {
		return 0, err
	}
	for _, o := range items {
		if f.fields != nil {
			if ok, err := f.match(o.Data); err != nil || !ok {
				continue
			}
		}
		if err := ew.send(metastore.Added, o.Data); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

// endWatch ends a watch on an error: a compacted or future revision is sent
// as a 410 ERROR event (the client relists); a closed store or a gone client
// just ends the stream (the client watches again).
func (s *Server) endWatch(ctx context.Context, log klog.Logger, ew *eventWriter, err error) {
	switch {
	case errors.Is(err, metastore.ErrCompacted), errors.Is(err, metastore.ErrFutureRevision):
		ew.status(apierrors.NewResourceExpired("too old resource version: " + err.Error()))
	case errors.Is(err, metastore.ErrClosed), ctx.Err() != nil, errors.Is(err, errWrite):
	default:
		log.Error(err, "Watch failed")
		ew.status(apierrors.NewInternalError(err))
	}
}

// decide maps a change to the event a filtered watch sees: an update that
// makes an object enter the selection is ADDED, one that makes it leave is
// DELETED, as the kube-apiserver does.
func decide(f *filter, ev metastore.Event) (metastore.EventType, bool, error) {
	if f.empty() {
		return ev.Type, true, nil
	}
	cur, err := f.match(ev.Object)
	if err != nil || ev.Type != metastore.Modified {
		return ev.Type, cur, err
	}
	prev := false
	if ev.Prev != nil {
		if prev, err = f.match(ev.Prev); err != nil {
			return "", false, err
		}
	}
	switch {
	case cur && prev:
		return metastore.Modified, true, nil
	case cur:
		return metastore.Added, true, nil
	case prev:
		return metastore.Deleted, true, nil
	}
	return "", false, nil
}

var errWrite = errors.New("watch client gone")

// eventWriter writes watch events and flushes each.
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	res Resource
	buf []byte
}

func (e *eventWriter) send(typ metastore.EventType, object []byte) error {
	e.buf = append(e.buf[:0], `{"type":"`...)
	e.buf = append(e.buf, typ...)
	e.buf = append(e.buf, `","object":`...)
	e.buf = append(e.buf, object...)
	e.buf = append(e.buf, "}\n"...)
	e.rc.SetWriteDeadline(time.Now().Add(responseTimeout))
	if _, err := e.w.Write(e.buf); err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	return e.flush()
}

func (e *eventWriter) flush() error {
	if err := e.rc.Flush(); err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	return nil
}

// bookmark sends a BOOKMARK: an object of the watched kind with only a
// resourceVersion (and the initial-events-end annotation if end).
func (e *eventWriter) bookmark(rev int64, end bool) error {
	meta := metav1.ObjectMeta{ResourceVersion: strconv.FormatInt(rev, 10)}
	if end {
		meta.Annotations = map[string]string{initialEventsEnd: "true"}
	}
	b, err := json.Marshal(struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
	}{metav1.TypeMeta{Kind: e.res.Kind, APIVersion: apiVersion(e.res.Resource.GroupVersion())}, meta})
	if err != nil {
		return err
	}
	return e.send("BOOKMARK", b)
}

func (e *eventWriter) status(err error) error {
	b, merr := json.Marshal(statusOf(err))
	if merr != nil {
		return merr
	}
	return e.send("ERROR", b)
}
