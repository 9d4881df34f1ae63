package edged

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// clientSources builds Sources over a clientset (the fake one in unit tests) with the
// selectors NewSources uses; the fake ignores field selectors, so tests hold only this
// node's pods.
func clientSources(c kubernetes.Interface, node string) Sources {
	lw := func(list func(context.Context, metav1.ListOptions) (runtime.Object, error),
		watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error), sel string) cache.ListerWatcher {
		return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.FieldSelector = sel
				return list(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.FieldSelector = sel
				return watchFn(ctx, o)
			},
		}, c)
	}
	core := c.CoreV1()
	pods, nodes := core.Pods(metav1.NamespaceAll), core.Nodes()
	cms, secrets := core.ConfigMaps(metav1.NamespaceAll), core.Secrets(metav1.NamespaceAll)
	return Sources{
		Pods: lw(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return pods.List(ctx, o) },
			pods.Watch, fields.OneTermEqualSelector("spec.nodeName", node).String()),
		Nodes: lw(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return nodes.List(ctx, o) },
			nodes.Watch, fields.OneTermEqualSelector("metadata.name", node).String()),
		ConfigMaps: lw(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return cms.List(ctx, o) },
			cms.Watch, ""),
		Secrets: lw(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return secrets.List(ctx, o) },
			secrets.Watch, ""),
	}
}
