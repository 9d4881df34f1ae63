package edged

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Waiting reasons of image problems, the kubelet's words.
const (
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
)

// waiting is why a container is not running yet.
type waiting struct{ reason, message string }

// pullPolicy is the container's policy, defaulted as the apiserver does for pods that
// skipped defaulting.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	img := c.Image
	if i := strings.LastIndex(img, "/"); i >= 0 {
		img = img[i+1:]
	}
	if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// ensureImage makes the container's image present per its pull policy and returns its
// reference; a non-nil waiting says why it cannot start yet. Always pulls but falls back to a
// present image when the registry is unreachable, so an offline node still starts its pods.
func (e *Edged) ensureImage(ctx context.Context, c *corev1.Container, sb *runtimeapi.PodSandboxConfig) (string, *waiting, error) {
	if c.Image == "" {
		return "", &waiting{reason: "InvalidImageName", message: "container has no image"}, nil
	}
	present, err := e.imageRef(ctx, c.Image)
	if err != nil {
		return "", nil, err
	}
	policy := pullPolicy(c)
	switch {
	case policy == corev1.PullNever && present == "":
		return "", &waiting{reason: reasonErrImageNeverPull, message: fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)}, nil
	case policy == corev1.PullNever || (policy == corev1.PullIfNotPresent && present != ""):
		return present, nil, nil
	}
	if wait := e.pulls.wait(c.Image, e.lastPullFailure(c.Image), 0); wait > 0 {
		if present != "" {
			return present, nil, nil
		}
		return "", &waiting{reason: reasonImagePullBackOff, message: fmt.Sprintf("Back-off pulling image %q", c.Image)}, nil
	}
	resp, err := e.o.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: c.Image}, SandboxConfig: sb})
	if err == nil && resp.ImageRef != "" {
		e.pullSucceeded(c.Image)
		return resp.ImageRef, nil, nil
	}
	e.pullFailed(c.Image)
	if present != "" {
		e.o.Logger.V(2).Info("image pull failed, using the present image", "image", c.Image, "err", err)
		return present, nil, nil
	}
	return "", &waiting{reason: reasonErrImagePull, message: fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)}, nil
}

// imageRef is the image's ID if present, "" if not.
func (e *Edged) imageRef(ctx context.Context, image string) (string, error) {
	resp, err := e.o.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	if err != nil {
		return "", fmt.Errorf("edged: image status %s: %w", image, err)
	}
	if resp.Image == nil {
		return "", nil
	}
	return resp.Image.Id, nil
}

func (e *Edged) lastPullFailure(image string) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pullFail[image]
}

func (e *Edged) pullFailed(image string) {
	e.mu.Lock()
	e.pullFail[image] = e.o.Clock.Now()
	e.mu.Unlock()
	e.pulls.next(image)
}

func (e *Edged) pullSucceeded(image string) {
	e.mu.Lock()
	delete(e.pullFail, image)
	e.mu.Unlock()
	e.pulls.forget(image)
}
