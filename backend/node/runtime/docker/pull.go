package docker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	v1 "k8s.io/api/core/v1"
)

// pullPolicy is the container's image pull policy, defaulted as the API
// server does: Always for :latest or untagged images, else IfNotPresent.
func pullPolicy(c *v1.Container) v1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	ref := c.Image
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		return v1.PullIfNotPresent
	}
	if i := strings.LastIndexByte(ref, ':'); i < 0 || strings.Contains(ref[i:], "/") || ref[i+1:] == "latest" {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}

// ensureImage makes the container's image present under its pull policy.
// It returns a waiting reason and message when the image cannot be had.
// Failed pulls are retried with back-off; meanwhile the reason is
// ImagePullBackOff. Under Always, an image that is present is used when
// the pull fails: no registry may be reachable from the node.
func (r *Runtime) ensureImage(ctx context.Context, ps *podState, c *v1.Container, log *slog.Logger) (reason, message string) {
	present := true
	if _, err := r.cli.ImageInspect(ctx, c.Image); err != nil {
		if !cerrdefs.IsNotFound(err) {
			return reasonPull, fmt.Sprintf("inspecting image %q: %v", c.Image, err)
		}
		present = false
	}
	policy := pullPolicy(c)
	switch {
	case policy == v1.PullNever && !present:
		return reasonNeverPull, fmt.Sprintf("image %q is not present and the pull policy is Never", c.Image)
	case policy != v1.PullAlways && present:
		return "", ""
	case policy == v1.PullNever:
		return "", ""
	}

	r.mu.Lock()
	failed := ps.pulls[c.Name]
	if failed != nil && failed.image != c.Image {
		failed = nil
	}
	backingOff := failed != nil && r.now().Before(failed.retryAt)
	r.mu.Unlock()
	if backingOff {
		if present {
			return "", ""
		}
		return reasonPullBackOff, fmt.Sprintf("back-off pulling image %q: %s", c.Image, failed.message)
	}

	err := r.pull(ctx, c.Image)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(ps.pulls, c.Name)
		log.Info("image pulled", "image", c.Image)
		return "", ""
	}
	if failed == nil {
		failed = &pullFailure{image: c.Image}
	}
	failed.failures++
	failed.message = err.Error()
	failed.retryAt = r.now().Add(r.pullBackOff.Step(failed.failures))
	if ps.pulls == nil {
		ps.pulls = map[string]*pullFailure{}
	}
	ps.pulls[c.Name] = failed
	if present {
		log.Warn("pull failed; using the image present on the node", "image", c.Image, "error", err)
		return "", ""
	}
	log.Warn("pull failed", "image", c.Image, "error", err)
	return reasonPull, failed.message
}

func (r *Runtime) pull(ctx context.Context, ref string) error {
	body, err := r.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pulling image %q: %w", ref, err)
	}
	defer body.Close()
	if _, err := readProgress(body); err != nil {
		return fmt.Errorf("pulling image %q: %w", ref, err)
	}
	return nil
}

// pullFailure remembers a failed pull of one container's image.
type pullFailure struct {
	image    string
	message  string
	failures int
	retryAt  time.Time
}
