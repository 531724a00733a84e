package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"

	"gantry.dev/gantry"
)

// image is what Run needs to know about a task's image.
type image struct {
	id         string   // sha256:… of the image's config: what the container runs
	repoDigest string   // name@sha256:… of the manifest it was pulled by, if known
	env        []string // the image's own environment, which the task must not see
}

// image finds the task's image on the engine, pulling it when it is not
// there.
func (e *Executor) image(ctx context.Context, name string) (image, error) {
	if name == "" {
		return image{}, gantry.Errorf(gantry.EInvalid, "no image given: the docker executor needs one")
	}
	if _, err := reference.ParseNormalizedNamed(name); err != nil {
		return image{}, gantry.Errorf(gantry.EInvalid, "image %q is not a valid image reference: %w", name, err)
	}
	img, err := e.inspectImage(ctx, name)
	if err == nil || !cerrdefs.IsNotFound(err) {
		return img, err
	}
	if err := e.pull(ctx, name); err != nil {
		if ctx.Err() != nil {
			return image{}, ctx.Err()
		}
		return image{}, gantry.Errorf(gantry.EUnavailable, "image %q is not present on this docker engine and cannot be pulled: %w", name, err)
	}
	img, err = e.inspectImage(ctx, name)
	if cerrdefs.IsNotFound(err) {
		return image{}, gantry.Errorf(gantry.EUnavailable, "image %q was pulled but the docker engine does not find it: %w", name, err)
	}
	return img, err
}

func (e *Executor) inspectImage(ctx context.Context, name string) (image, error) {
	res, err := e.cli.ImageInspect(ctx, name)
	if err != nil {
		if cerrdefs.IsNotFound(err) || ctx.Err() != nil {
			return image{}, err
		}
		return image{}, gantry.Errorf(gantry.EUnavailable, "inspect image %q: %w", name, err)
	}
	img := image{id: res.ID}
	if len(res.RepoDigests) > 0 {
		img.repoDigest = res.RepoDigests[0]
	}
	if res.Config != nil {
		img.env = res.Config.Env
	}
	return img, nil
}

// pull pulls an image, giving up when the engine reports no progress for
// pullIdleTimeout: a big image may take minutes, but a registry that cannot
// be reached should not hold a step for long. Unknown hosts fail at once,
// since the engine reports them as soon as it tries.
func (e *Executor) pull(ctx context.Context, name string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errIdle := fmt.Errorf("no progress for %s", e.pullIdleTimeout)
	idle := time.AfterFunc(e.pullIdleTimeout, func() { cancel(errIdle) })
	defer idle.Stop()

	resp, err := e.cli.ImagePull(ctx, name, client.ImagePullOptions{})
	if err != nil {
		return pullError(ctx, err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return pullError(ctx, err)
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		idle.Reset(e.pullIdleTimeout)
	}
	return nil
}

// pullError prefers the reason the pull was cut short to the error the cut
// caused.
func pullError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}
