package metastore

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentReaders runs readers (Get, List, Changes, Versions) against
// a writer; with -race it checks the store's own synchronization, and every
// List must be a consistent snapshot (item count = revision, since the
// writer only adds pods, one per revision).
func TestConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	stop := make(chan struct{})
	s := openTest(t, "", Options{})
	const writes = 200
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				items, rev, err := s.List(ctx, podsR, "", nil)
				if err != nil {
					errs <- err
					return
				}
				if int64(len(items)) != rev {
					errs <- fmt.Errorf("List: %d items at revision %d", len(items), rev)
					return
				}
				s.Get(ctx, podsR, "a", "p1")
				s.Versions(ctx)
				if _, _, err := s.Changes(ctx, podsR, rev, 0); err != nil {
					errs <- err
					return
				}
				select {
				case <-s.Notify():
				case <-stop:
					return
				}
			}
		}()
	}
	for i := 1; i <= writes; i++ {
		mustApply(t, s, 1, upsertPod("a", fmt.Sprintf("p%d", i), fmt.Sprint(i), nil))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
