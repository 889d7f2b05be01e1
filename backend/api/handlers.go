package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/manifest"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var zeroGR = schema.GroupResource{}

// serveRegistry handles the verbs of an etcd-backed resource.
func (a *API) serveRegistry(c echo.Context, ri auth.RequestInfo, res *resource) error {
	ns := ri.Namespace
	if res.name == "namespaces" {
		ns = ""
	}
	var (
		obj runtime.Object
		err error
	)
	switch {
	case res.name == "pods" && podSubresources[ri.Subresource]:
		return a.proxyToNode(c, ri, res)
	case res.name == "replicationcontrollers" && ri.Subresource == "scale":
		return a.serveScale(c, ri, res)
	case ri.Subresource != "" && ri.Subresource != "status":
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("%s has no subresource %q", res.name, ri.Subresource))
	case ri.Subresource == "status" && !contains(res.subresources, "status"):
		return echo.NewHTTPError(http.StatusNotFound, res.name+" has no status subresource")
	}
	switch ri.Verb {
	case "get":
		obj, err = res.registry.Get(c.Request().Context(), ns, ri.Name)
	case "list":
		return a.list(c, res, ns)
	case "watch":
		return a.watch(c, ri, res, ns)
	case "create":
		if ri.Subresource != "" {
			return echo.NewHTTPError(http.StatusMethodNotAllowed)
		}
		return a.create(c, res, ns)
	case "update":
		obj, err = a.update(c, ri, res, ns)
	case "patch":
		obj, err = a.patch(c, ri, res, ns)
	case "delete":
		if ri.Subresource != "" {
			return echo.NewHTTPError(http.StatusMethodNotAllowed)
		}
		obj, err = a.delete(c, ri, res, ns)
	default:
		return echo.NewHTTPError(http.StatusMethodNotAllowed)
	}
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	return a.writeObject(c, http.StatusOK, res, obj)
}

func (a *API) list(c echo.Context, res *resource, ns string) error {
	opts, err := listOptions(c)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	if canListRaw(c, res, opts) {
		return a.listRaw(c, res, ns, opts)
	}
	list, err := res.registry.List(c.Request().Context(), ns, opts)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	if res.name == "namespaces" {
		if list, err = a.visibleNamespaces(c, list); err != nil {
			return err
		}
	}
	return a.writeObject(c, http.StatusOK, res, list)
}

// visibleNamespaces keeps the namespaces the caller is a member of.
func (a *API) visibleNamespaces(c echo.Context, list runtime.Object) (runtime.Object, error) {
	id := identity(c)
	if id.ClusterAdmin {
		return list, nil
	}
	projects, err := a.accounts.ProjectsOf(c.Request().Context(), id.UserID)
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	kept := items[:0]
	for _, item := range items {
		if m, err := meta.Accessor(item); err == nil && projects[m.GetName()] != "" {
			kept = append(kept, item)
		}
	}
	return list, meta.SetList(list, kept)
}

func listOptions(c echo.Context) (generic.ListOptions, error) {
	q := c.QueryParams()
	var opts generic.ListOptions
	if s := q.Get("labelSelector"); s != "" {
		sel, err := labels.Parse(s)
		if err != nil {
			return opts, errdefs.BadRequest("invalid labelSelector %q: %v", s, err)
		}
		opts.Labels = sel
	}
	if s := q.Get("fieldSelector"); s != "" {
		sel, err := fields.ParseSelector(s)
		if err != nil {
			return opts, errdefs.BadRequest("invalid fieldSelector %q: %v", s, err)
		}
		opts.Fields = sel
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return opts, errdefs.BadRequest("invalid limit %q", s)
		}
		opts.Limit = n
	}
	opts.Continue = q.Get("continue")
	opts.ResourceVersion = q.Get("resourceVersion")
	return opts, nil
}

func (a *API) create(c echo.Context, res *resource, ns string) error {
	obj := res.registry.Strategy.New()
	if err := a.decodeBody(c, res, obj); err != nil {
		return statusError(err, res.groupResource(), "")
	}
	if err := admitHostPath(c, obj); err != nil {
		return statusError(err, res.groupResource(), objectName(obj))
	}
	if dryRun(c) {
		return a.writeObject(c, http.StatusCreated, res, obj)
	}
	ctx := c.Request().Context()
	created, err := res.registry.Create(ctx, ns, obj)
	if err != nil {
		name := ""
		if m, merr := meta.Accessor(obj); merr == nil {
			name = m.GetName()
		}
		return statusError(err, res.groupResource(), name)
	}
	c.Set("auditName", objectName(created)) // the URL of a create names no object
	if res.name == "namespaces" {
		if err := a.makeCreatorAdmin(ctx, c, created); err != nil {
			a.undoNamespace(created)
			return err
		}
	}
	return a.writeObject(c, http.StatusCreated, res, created)
}

// undoNamespace removes a namespace whose creator could not be made its
// admin, so that it is not left without one.
func (a *API) undoNamespace(ns runtime.Object) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.core["namespaces"].registry.Delete(ctx, "", objectName(ns), ""); err != nil {
		a.logger.Error("namespace left without an admin", "namespace", objectName(ns), "error", err)
	}
}

// makeCreatorAdmin records the creator of a namespace as its project admin.
func (a *API) makeCreatorAdmin(ctx context.Context, c echo.Context, ns runtime.Object) error {
	m, err := meta.Accessor(ns)
	if err != nil {
		return err
	}
	return a.accounts.SetMember(ctx, m.GetName(), identity(c).Name, berthv1.RoleAdmin)
}

func (a *API) update(c echo.Context, ri auth.RequestInfo, res *resource, ns string) (runtime.Object, error) {
	obj := res.registry.Strategy.New()
	if err := a.decodeBody(c, res, obj); err != nil {
		return nil, err
	}
	return res.registry.Update(c.Request().Context(), ns, ri.Name, updateKind(ri), func(runtime.Object) (runtime.Object, error) {
		next := obj.DeepCopyObject()
		if ri.Subresource == "" {
			if err := admitHostPath(c, next); err != nil {
				return nil, err
			}
		}
		return next, nil
	})
}

func updateKind(ri auth.RequestInfo) generic.UpdateKind {
	if ri.Subresource == "status" {
		return generic.UpdateStatus
	}
	return generic.UpdateSpec
}

func (a *API) delete(c echo.Context, ri auth.RequestInfo, res *resource, ns string) (runtime.Object, error) {
	ctx := c.Request().Context()
	opts, err := deleteOptions(c)
	if err != nil {
		return nil, err
	}
	if res.name == "pods" {
		if obj, done, err := a.gracefulPodDelete(ctx, ns, ri.Name, opts); done || err != nil {
			return obj, err
		}
	}
	precondition := ""
	if opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil {
		precondition = *opts.Preconditions.ResourceVersion
	}
	obj, err := res.registry.Delete(ctx, ns, ri.Name, precondition)
	if err != nil {
		return nil, err
	}
	if res.name == "namespaces" {
		if err := a.deleteNamespaceContents(ctx, ri.Name); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// gracefulPodDelete handles the deletion of a pod that a node runs: it
// marks the pod and leaves the removal to the node agent, which deletes
// it with a zero grace period once its containers are gone. It reports
// done=false when the pod should be removed at once (not bound to a node,
// or a zero grace period).
func (a *API) gracefulPodDelete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (runtime.Object, bool, error) {
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0 {
		return nil, false, nil
	}
	reg := a.core["pods"].registry
	obj, err := reg.Get(ctx, ns, name)
	if err != nil {
		return nil, true, err
	}
	pod := obj.(*v1.Pod)
	if pod.Spec.NodeName == "" {
		return nil, false, nil
	}
	grace := int64(30)
	switch {
	case opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds > 0:
		grace = *opts.GracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	marked, err := reg.MarkDeleting(ctx, ns, name, grace)
	return marked, true, err
}

// deleteOptions reads DeleteOptions from the body and the query
// (gracePeriodSeconds), as kubectl sends either.
func deleteOptions(c echo.Context) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		if _, err := manifest.Decode(body, c.Request().Header.Get("Content-Type"), &opts); err != nil {
			return opts, err
		}
	}
	if s := c.QueryParam("gracePeriodSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return opts, errdefs.BadRequest("invalid gracePeriodSeconds %q", s)
		}
		opts.GracePeriodSeconds = &n
	}
	return opts, nil
}

// deleteNamespaceContents removes what lived in a deleted namespace and its
// memberships.
func (a *API) deleteNamespaceContents(ctx context.Context, ns string) error {
	for _, res := range a.core {
		if res.namespaced {
			if _, err := a.store.DeletePrefix(ctx, storage.Prefix(res.name, ns)); err != nil {
				return err
			}
		}
	}
	return a.accounts.DeleteProject(ctx, ns)
}

// decodeBody decodes a JSON or YAML request body into obj, checks its kind,
// and applies the request's fieldValidation (Strict unless Warn or Ignore).
func (a *API) decodeBody(c echo.Context, res *resource, obj runtime.Object) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	contentType := c.Request().Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(contentType); mt == manifest.ProtobufContentType {
		if err := manifest.DecodeProtobuf(body, obj); err != nil {
			return err
		}
		return checkKind(obj, res)
	}
	problems, err := manifest.Decode(body, contentType, obj)
	if err != nil {
		return err
	}
	if err := a.fieldValidation(c, problems); err != nil {
		return err
	}
	return checkKind(obj, res)
}

func (a *API) fieldValidation(c echo.Context, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	switch c.QueryParam("fieldValidation") {
	case "Ignore":
		return nil
	case "Warn":
		for _, p := range problems {
			c.Response().Header().Add("Warning", strconv.Quote(p))
		}
		return nil
	}
	return &strictError{problems: problems}
}

// checkKind refuses a body of another kind than the endpoint's; an empty
// kind is taken as the endpoint's.
func checkKind(obj runtime.Object, res *resource) error {
	gvk := obj.GetObjectKind().GroupVersionKind()
	want := schema.GroupVersionKind{Group: res.group, Version: "v1", Kind: res.kind}
	if gvk.Kind != "" && gvk.Kind != want.Kind || gvk.Version != "" && gvk.GroupVersion() != want.GroupVersion() {
		return errdefs.BadRequest("the body is a %s %s, but this endpoint serves %s %s",
			gvk.GroupVersion().String(), gvk.Kind, want.GroupVersion().String(), want.Kind)
	}
	obj.GetObjectKind().SetGroupVersionKind(want)
	return nil
}

func dryRun(c echo.Context) bool {
	return c.QueryParam("dryRun") == "All"
}

// decodeJSONStrict reads a small JSON body with no unknown fields.
func decodeJSONStrict(req *http.Request, into any) error {
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return err
		}
		return apierrors.NewBadRequest("invalid JSON body: " + err.Error())
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
