package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// subresourcePath is the path of a subresource of a cluster-scoped
// object.
func subresourcePath(res Resource, name, subresource string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%s: a %s name is required", subresource, res.Singular)
	}
	path, err := objectPath(res, "", name)
	if err != nil {
		return "", err
	}
	return path + "/" + subresource, nil
}

// BuildLogOptions select what BuildLog streams.
type BuildLogOptions struct {
	// Follow keeps the stream open until the build ends.
	Follow bool
	// Timestamps prefixes each line with when it was written.
	Timestamps bool
	// SinceBytes starts that far into the log.
	SinceBytes int64
}

// BuildLog opens a host image build's log, as it is written when
// following; the caller reads and closes it.
func (c *Client) BuildLog(ctx context.Context, build string, opts BuildLogOptions) (io.ReadCloser, error) {
	path, err := subresourcePath(HostImageBuilds, build, "log")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.SinceBytes > 0 {
		q.Set("sinceBytes", strconv.FormatInt(opts.SinceBytes, 10))
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, query: q,
		accept: "text/plain, application/json", stream: opts.Follow})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// CancelBuild cancels a queued or running build.
func (c *Client) CancelBuild(ctx context.Context, build string) (*berthv1.HostImageBuild, error) {
	path, err := subresourcePath(HostImageBuilds, build, "cancel")
	if err != nil {
		return nil, err
	}
	var out berthv1.HostImageBuild
	if err := c.Do(ctx, http.MethodPost, path, nil, map[string]any{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DiffBuilds compares build to with build from.
func (c *Client) DiffBuilds(ctx context.Context, from, to string) (*berthv1.HostImageDiff, error) {
	path, err := subresourcePath(HostImageBuilds, to, "diff")
	if err != nil {
		return nil, err
	}
	var out berthv1.HostImageDiff
	if err := c.Do(ctx, http.MethodGet, path, url.Values{"from": {from}}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RenderHostImage returns a definition's expanded treefile (revision 0:
// the latest).
func (c *Client) RenderHostImage(ctx context.Context, name string, revision int64) (*berthv1.HostImageRender, error) {
	path, err := subresourcePath(HostImages, name, "render")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if revision > 0 {
		q.Set("revision", strconv.FormatInt(revision, 10))
	}
	var out berthv1.HostImageRender
	if err := c.Do(ctx, http.MethodGet, path, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HostImageRevisions lists a definition's revisions, newest first
// (revision > 0: that one, with its files).
func (c *Client) HostImageRevisions(ctx context.Context, name string, revision int64) (*berthv1.HostImageRevisionList, error) {
	path, err := subresourcePath(HostImages, name, "revisions")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if revision > 0 {
		q.Set("revision", strconv.FormatInt(revision, 10))
	}
	var out berthv1.HostImageRevisionList
	if err := c.Do(ctx, http.MethodGet, path, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpgradeNode asks for node to be upgraded to the newest build of its
// host image (or of req.HostImage).
func (c *Client) UpgradeNode(ctx context.Context, node string, req berthv1.NodeUpgrade) (*berthv1.NodeUpgrade, error) {
	path, err := subresourcePath(Nodes, node, "upgrade")
	if err != nil {
		return nil, err
	}
	var out berthv1.NodeUpgrade
	if err := c.Do(ctx, http.MethodPost, path, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
