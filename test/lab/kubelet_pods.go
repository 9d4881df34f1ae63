package lab

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// podUIDs remembers the UID of every pod ever bound to a node while the kubelet ran: Close
// removes their sandboxes, also of pods deleted long ago whose directories the kubelet
// already removed while a stopped sandbox lingered.
type podUIDs struct {
	mu   sync.Mutex
	seen map[string]bool
	stop chan struct{}
	done chan struct{}
}

func trackPodUIDs(client kubernetes.Interface, node string) *podUIDs {
	t := &podUIDs{seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	lw := cache.NewListWatchFromClient(client.CoreV1().RESTClient(), "pods", "", fields.OneTermEqualSelector("spec.nodeName", node))
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	note := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			t.mu.Lock()
			t.seen[string(p.UID)] = true
			t.mu.Unlock()
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: note, UpdateFunc: func(_, cur any) { note(cur) }})
	go func() { defer close(t.done); inf.Run(t.stop) }()
	return t
}

// close stops the watch and returns the UIDs seen.
func (t *podUIDs) close() map[string]bool {
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen
}
