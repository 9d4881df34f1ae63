package cri

// The kubelet's well-known labels and annotations; edged sets the same ones so that tools that
// know them (and edged after a restart) read a pod's identity from the runtime alone.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	// LabelNode scopes everything to one edged: several lab nodes may share one containerd,
	// and each must adopt and clean up only its own pods.
	LabelNode = "outpost.dev/node"

	AnnotationContainerHash = "io.kubernetes.container.hash"
	AnnotationRestartCount  = "io.kubernetes.container.restartCount"
	AnnotationTerminationGP = "io.kubernetes.pod.terminationGracePeriod"
	AnnotationInitContainer = "outpost.dev/init-container"
)
