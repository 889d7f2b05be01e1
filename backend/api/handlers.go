package api

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/manifest"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/labstack/echo/v4"
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
	if !res.namespaced {
		ns = ""
	}
	if ri.Subresource != "" && ri.Subresource != "status" {
		sub, ok := res.subresources[ri.Subresource]
		if !ok {
			return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("%s has no subresource %q", res.name, ri.Subresource))
		}
		return sub.serve(c, ri, res)
	}
	if ri.Subresource == "status" && !res.hasStatus() {
		return echo.NewHTTPError(http.StatusNotFound, res.name+" has no status subresource")
	}
	var (
		obj runtime.Object
		err error
	)
	switch ri.Verb {
	case "get":
		obj, err = a.get(c, res, ns, ri.Name)
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
	case "deletecollection":
		obj, err = a.deleteCollection(c, res, ns)
	default:
		return echo.NewHTTPError(http.StatusMethodNotAllowed)
	}
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	code := http.StatusOK
	if created, _ := c.Get(applyCreatedKey).(bool); created {
		code = http.StatusCreated
	}
	return a.writeObject(c, code, res, obj)
}

// get reads one object. A node credential reads only the objects of a
// resource bound to nodes that are bound to its node (its pods), as
// Kubernetes' Node authorizer allows: that is known only once the object
// is read; or those its resource's nodeReads allows (the secrets its pods
// use), known before.
func (a *API) get(c echo.Context, res *resource, ns, name string) (runtime.Object, error) {
	ctx := c.Request().Context()
	id := identity(c)
	if id.IsNode() && res.nodeReads != nil {
		if err := res.nodeReads(ctx, id.NodeName, ns, name); err != nil {
			return nil, err
		}
	}
	obj, err := res.registry.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if id.IsNode() && res.boundToNodes && res.registry.Strategy.Fields(obj)["spec.nodeName"] != id.NodeName {
		return nil, errdefs.Forbidden("node %q may only read %s bound to it", id.NodeName, res.name)
	}
	if redact := redactor(c, res); redact != nil {
		redact(obj)
	}
	return obj, nil
}

func (a *API) list(c echo.Context, res *resource, ns string) error {
	opts, err := a.listOptions(c, res)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	redact := redactor(c, res)
	if redact == nil && canListRaw(c, res, opts) {
		return a.listRaw(c, res, ns, opts)
	}
	list, err := res.registry.List(c.Request().Context(), ns, opts)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	if redact != nil {
		_ = meta.EachListItem(list, func(o runtime.Object) error { redact(o); return nil })
	}
	return a.writeObject(c, http.StatusOK, res, list)
}

// listOptions reads a list's or a watch's query: selectors, paging, the
// version to watch from, and what the caller may see of the resource.
func (a *API) listOptions(c echo.Context, res *resource) (generic.ListOptions, error) {
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
	limit, err := intParam(c, "limit", 0, math.MaxInt64)
	if err != nil {
		return opts, err
	}
	if limit != nil {
		opts.Limit = *limit
	}
	opts.Continue = q.Get("continue")
	opts.ResourceVersion = q.Get("resourceVersion")
	var rv int64
	if s := opts.ResourceVersion; s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return opts, errdefs.BadRequest("invalid resourceVersion %q: must be a resourceVersion the server gave", s)
		}
		rv = n
	}
	if err := versionMatch(c, &opts, rv); err != nil {
		return opts, err
	}
	if res.visible != nil {
		if opts.Predicate, err = res.visible(c); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// versionMatch reads resourceVersionMatch and sendInitialEvents, with
// kube-apiserver's rules: Exact reads a list at resourceVersion;
// NotOlderThan (or none) reads it at the current revision, which is never
// older; a watch may ask for its initial objects (client-go's streaming
// list), which needs bookmarks.
func versionMatch(c echo.Context, opts *generic.ListOptions, rv int64) error {
	watching := requestInfo(c).Verb == "watch"
	sendInitial, err := boolParam(c, "sendInitialEvents")
	if err != nil {
		return err
	}
	match := c.QueryParam("resourceVersionMatch")
	var errs field.ErrorList
	switch match {
	case "", string(metav1.ResourceVersionMatchNotOlderThan):
	case string(metav1.ResourceVersionMatchExact):
		switch {
		case watching:
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
		case rv == 0:
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\" or unset"))
		case opts.Continue != "":
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch is forbidden when continue is provided"))
		default:
			opts.ExactRevision = rv
		}
	default:
		errs = append(errs, field.NotSupported(field.NewPath("resourceVersionMatch"), match,
			[]string{string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan)}))
	}
	if sendInitial != nil {
		switch {
		case !watching:
			errs = append(errs, field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for list"))
		case *sendInitial && c.QueryParam("allowWatchBookmarks") != "true":
			errs = append(errs, field.Forbidden(field.NewPath("allowWatchBookmarks"), "allowWatchBookmarks must be true if sendInitialEvents = true"))
		case match != string(metav1.ResourceVersionMatchNotOlderThan):
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		}
		opts.SendInitialEvents = *sendInitial
	}
	return errdefs.Invalid("ListOptions", "", errs)
}

// boolParam reads a boolean query parameter; nil when absent.
func boolParam(c echo.Context, name string) (*bool, error) {
	s := c.QueryParam(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, errdefs.BadRequest("invalid %s %q: must be true or false", name, s)
	}
	return &b, nil
}

// intParam reads an integer query parameter within [lo, hi]; nil when it
// is absent, and a bad request naming it when it is not such an integer.
func intParam(c echo.Context, name string, lo, hi int64) (*int64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return nil, errdefs.BadRequest("invalid %s %q: must be an integer from %d to %d", name, s, lo, hi)
	}
	return &n, nil
}

// fieldManager names who writes, for the object's managedFields: the
// fieldManager query parameter, else the client's user agent as
// kube-apiserver derives it.
func fieldManager(c echo.Context) string {
	if m := c.QueryParam("fieldManager"); m != "" {
		return m
	}
	return generic.ManagerFromUserAgent(c.Request().UserAgent())
}

// dryRun reads the dryRun query parameter ("All", or absent).
func dryRun(c echo.Context) []string {
	return c.QueryParams()["dryRun"]
}

func (a *API) create(c echo.Context, res *resource, ns string) error {
	obj := res.registry.Strategy.New()
	if err := a.decodeBody(c, res, obj); err != nil {
		return statusError(err, res.groupResource(), "")
	}
	created, err := res.registry.Create(c.Request().Context(), ns, obj, metav1.CreateOptions{DryRun: dryRun(c), FieldManager: fieldManager(c)})
	if err != nil {
		return statusError(err, res.groupResource(), objectName(obj))
	}
	c.Set("auditName", objectName(created)) // the URL of a create names no object
	return a.writeObject(c, http.StatusCreated, res, created)
}

func (a *API) update(c echo.Context, ri auth.RequestInfo, res *resource, ns string) (runtime.Object, error) {
	obj := res.registry.Strategy.New()
	if err := a.decodeBody(c, res, obj); err != nil {
		return nil, err
	}
	return res.registry.Update(c.Request().Context(), ns, ri.Name, updateKind(ri), func(runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	}, metav1.UpdateOptions{DryRun: dryRun(c), FieldManager: fieldManager(c)})
}

func updateKind(ri auth.RequestInfo) generic.UpdateKind {
	if ri.Subresource == "status" {
		return generic.UpdateStatus
	}
	return generic.UpdateSpec
}

func (a *API) delete(c echo.Context, ri auth.RequestInfo, res *resource, ns string) (runtime.Object, error) {
	opts, err := deleteOptions(c)
	if err != nil {
		return nil, err
	}
	return res.registry.Delete(c.Request().Context(), ns, ri.Name, opts)
}

func (a *API) deleteCollection(c echo.Context, res *resource, ns string) (runtime.Object, error) {
	listOpts, err := a.listOptions(c, res)
	if err != nil {
		return nil, err
	}
	opts, err := deleteOptions(c)
	if err != nil {
		return nil, err
	}
	return res.registry.DeleteCollection(c.Request().Context(), ns, listOpts, opts)
}

// maxGracePeriod keeps a grace period in seconds within what a
// time.Duration holds, so no agent's arithmetic overflows.
const maxGracePeriod = math.MaxInt64 / int64(1e9)

// deleteOptions reads DeleteOptions from the body and the query
// (gracePeriodSeconds, dryRun), as kubectl sends either.
func deleteOptions(c echo.Context) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		contentType := c.Request().Header.Get("Content-Type")
		if mt, _, _ := mime.ParseMediaType(contentType); mt == manifest.ProtobufContentType {
			if err := manifest.DecodeProtobuf(body, &opts); err != nil {
				return opts, err
			}
		} else if _, err := manifest.Decode(body, contentType, &opts); err != nil {
			return opts, err
		}
	}
	grace, err := intParam(c, "gracePeriodSeconds", 0, maxGracePeriod)
	if err != nil {
		return opts, err
	}
	if grace != nil {
		opts.GracePeriodSeconds = grace
	}
	if g := opts.GracePeriodSeconds; g != nil && (*g < 0 || *g > maxGracePeriod) {
		return opts, errdefs.BadRequest("invalid gracePeriodSeconds %d: must be from 0 to %d", *g, maxGracePeriod)
	}
	if d := dryRun(c); len(d) > 0 {
		opts.DryRun = d
	}
	if p := c.QueryParam("propagationPolicy"); p != "" {
		policy := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &policy
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return opts, errdefs.Invalid("DeleteOptions", "", field.ErrorList{field.NotSupported(field.NewPath("propagationPolicy"), *p,
				[]string{string(metav1.DeletePropagationForeground), string(metav1.DeletePropagationBackground), string(metav1.DeletePropagationOrphan)})})
		}
		//lint:ignore SA1019 old clients still send orphanDependents, and kube-apiserver refuses it beside propagationPolicy
		if opts.OrphanDependents != nil {
			return opts, errdefs.Invalid("DeleteOptions", "", field.ErrorList{field.Invalid(field.NewPath("propagationPolicy"), *p, "orphanDependents and propagationPolicy cannot both be set")})
		}
	}
	return opts, nil
}

// decodeBody decodes a JSON or YAML request body into obj, checks its kind,
// and applies the request's fieldValidation (Strict unless Warn or Ignore).
func (a *API) decodeBody(c echo.Context, res *resource, obj runtime.Object) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	return a.decodeBytes(c, res, body, obj)
}

// decodeBytes is decodeBody's decoding, of a body read already.
func (a *API) decodeBytes(c echo.Context, res *resource, body []byte, obj runtime.Object) error {
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

// decodeJSONStrict reads a small JSON body with no unknown fields.
func decodeJSONStrict(req *http.Request, into any) error {
	dec := jsonDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return err
		}
		return errdefs.BadRequest("invalid JSON body: %v", err)
	}
	return nil
}
