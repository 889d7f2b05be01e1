package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// ListOptions narrow a list or a watch.
type ListOptions struct {
	LabelSelector string // "app=web,tier!=db"
	FieldSelector string // "metadata.name=web"
	Limit         int64  // page size; 0 for all
	Continue      string // token of the next page, from a previous list
	// ResourceVersion is where a watch starts (the list's resourceVersion,
	// so no change is missed); empty means "now".
	ResourceVersion string
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.FormatInt(o.Limit, 10))
	}
	if o.Continue != "" {
		q.Set("continue", o.Continue)
	}
	if o.ResourceVersion != "" {
		q.Set("resourceVersion", o.ResourceVersion)
	}
	return q
}

// PatchType is the media type of a patch.
type PatchType string

// The patch formats the server accepts.
const (
	MergePatch          PatchType = "application/merge-patch+json"
	StrategicMergePatch PatchType = "application/strategic-merge-patch+json"
)

// objectPath is the path of one object, or of the collection when name is
// empty; namespaced resources need a namespace.
func objectPath(res Resource, namespace, name string) (string, error) {
	if res.Namespaced && namespace == "" {
		return "", fmt.Errorf("%s are namespaced: a namespace is required", res)
	}
	if res.Resource == "" {
		return "", fmt.Errorf("%w: empty resource", ErrUnknownResource)
	}
	return res.Path(namespace, name), nil
}

// Get reads one object into out.
func (c *Client) Get(ctx context.Context, res Resource, namespace, name string, out any) error {
	if name == "" {
		return fmt.Errorf("get %s: a name is required", res)
	}
	path, err := objectPath(res, namespace, name)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodGet, path, nil, nil, out)
}

// List reads the objects of a namespace (all namespaces when namespace is
// empty) into out, a list such as *corev1.PodList.
func (c *Client) List(ctx context.Context, res Resource, namespace string, opts ListOptions, out any) error {
	return c.Do(ctx, http.MethodGet, res.Path(namespace, ""), opts.query(), nil, out)
}

// Create creates obj in namespace and decodes the created object into out
// (nil to discard it).
func (c *Client) Create(ctx context.Context, res Resource, namespace string, obj, out any) error {
	path, err := objectPath(res, namespace, "")
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, path, nil, obj, out)
}

// Update replaces the object named name with obj. obj should carry the
// resourceVersion it was read at; the server answers a conflict (see
// IsConflict) when the object has changed since.
func (c *Client) Update(ctx context.Context, res Resource, namespace, name string, obj, out any) error {
	if name == "" {
		return fmt.Errorf("update %s: a name is required", res)
	}
	path, err := objectPath(res, namespace, name)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPut, path, nil, obj, out)
}

// Patch applies patch, in the format pt, to the named object.
func (c *Client) Patch(ctx context.Context, res Resource, namespace, name string, pt PatchType, patch []byte, out any) error {
	if name == "" {
		return fmt.Errorf("patch %s: a name is required", res)
	}
	path, err := objectPath(res, namespace, name)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodPatch, path: path, body: patch, contentType: string(pt)}, out)
}

// Delete deletes the named object.
func (c *Client) Delete(ctx context.Context, res Resource, namespace, name string) error {
	if name == "" {
		return fmt.Errorf("delete %s: a name is required", res)
	}
	path, err := objectPath(res, namespace, name)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil, nil)
}

// WhoAmI asks the server who the token belongs to.
func (c *Client) WhoAmI(ctx context.Context) (*berthv1.WhoAmI, error) {
	var who berthv1.WhoAmI
	path := "/apis/" + berthv1.SchemeGroupVersion.String() + "/whoami"
	if err := c.Do(ctx, http.MethodGet, path, nil, nil, &who); err != nil {
		return nil, err
	}
	return &who, nil
}
