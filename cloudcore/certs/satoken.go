package certs

import (
	"fmt"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outpostmesh/outpost/enroll"
)

// serviceAccountToken mints a bound service account token for a pod of the requesting node.
//
// Edge nodes have no apiserver credentials, so the cloud asks for the TokenRequest on their
// behalf, and must not become a way around the NodeRestriction rule a kubelet is held to: the
// pod must exist, be bound to the node of the client certificate, have the UID the node named
// and run as the service account asked for. The token is bound to the pod (BoundObjectRef),
// so it dies with it.
func (s *Server) serviceAccountToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	node, err := s.nodeOf(r)
	if err != nil {
		return err
	}
	if !s.limiter.allow(node, s.opts.Now()) {
		return fmt.Errorf("%w: node %s is over %g token requests/s (burst %d)", ErrTooManyRequests, node, s.opts.TokenRate, s.opts.TokenBurst)
	}
	var req enroll.ServiceAccountTokenRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkTokenRequest(&req); err != nil {
		return err
	}
	pod, err := s.opts.Client.CoreV1().Pods(req.Namespace).Get(ctx, req.PodName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %s/%s", ErrPodNotFound, req.Namespace, req.PodName)
	case err != nil:
		return fmt.Errorf("%w: read pod %s/%s: %w", ErrInternal, req.Namespace, req.PodName, err)
	}
	if err := checkPodForNode(pod, node, &req); err != nil {
		return err
	}
	exp := req.ExpirationSeconds
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         req.Audiences,
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	out, err := s.opts.Client.CoreV1().ServiceAccounts(req.Namespace).CreateToken(ctx, req.ServiceAccountName, tr, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %s/%s", ErrServiceAccountNotFound, req.Namespace, req.ServiceAccountName)
	case err != nil:
		return fmt.Errorf("%w: token request for %s/%s: %w", ErrInternal, req.Namespace, req.ServiceAccountName, err)
	case out.Status.Token == "":
		return fmt.Errorf("%w: token request for %s/%s: empty token", ErrInternal, req.Namespace, req.ServiceAccountName)
	}
	writeJSON(w, http.StatusOK, enroll.ServiceAccountTokenResponse{Token: out.Status.Token, ExpirationTimestamp: out.Status.ExpirationTimestamp.Time})
	s.log.V(2).Info("Issued service account token", "node", node, "pod", req.Namespace+"/"+req.PodName,
		"serviceAccount", req.ServiceAccountName, "expires", out.Status.ExpirationTimestamp.Time)
	return nil
}

// checkTokenRequest refuses requests the apiserver would refuse anyway, with a clearer reason.
func checkTokenRequest(req *enroll.ServiceAccountTokenRequest) error {
	switch {
	case req.Namespace == "" || req.PodName == "" || req.PodUID == "" || req.ServiceAccountName == "":
		return fmt.Errorf("%w: namespace, podName, podUID and serviceAccountName are required", ErrBadRequest)
	case req.ExpirationSeconds < enroll.MinTokenExpirationSeconds || req.ExpirationSeconds > enroll.MaxTokenExpirationSeconds:
		return fmt.Errorf("%w: expirationSeconds %d not in [%d, %d]", ErrBadRequest, req.ExpirationSeconds,
			enroll.MinTokenExpirationSeconds, int64(enroll.MaxTokenExpirationSeconds))
	}
	for _, a := range req.Audiences {
		if a == "" {
			return fmt.Errorf("%w: empty audience", ErrBadRequest)
		}
	}
	return nil
}

// checkPodForNode is the NodeRestriction rule for TokenRequests: node may get a token only for
// its own pod, as it is now, and only for that pod's service account.
func checkPodForNode(pod *corev1.Pod, node string, req *enroll.ServiceAccountTokenRequest) error {
	ref := pod.Namespace + "/" + pod.Name
	if pod.Spec.NodeName != node {
		return fmt.Errorf("%w: pod %s is bound to %q, not %q", ErrNotBoundToNode, ref, pod.Spec.NodeName, node)
	}
	if string(pod.UID) != req.PodUID {
		return fmt.Errorf("%w: pod %s has UID %s, the request names %s", ErrPodUIDMismatch, ref, pod.UID, req.PodUID)
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default" // what the ServiceAccount admission plugin sets
	}
	if sa != req.ServiceAccountName {
		return fmt.Errorf("%w: pod %s runs as %q, the request names %q", ErrServiceAccountMismatch, ref, sa, req.ServiceAccountName)
	}
	return nil
}
