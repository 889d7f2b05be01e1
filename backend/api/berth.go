package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/accounts"
	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Annotations that carry a project's Berth fields on its namespace.
const (
	annotationDisplayName = "berth.dev/display-name"
	annotationDescription = "berth.dev/description"
)

const (
	// defaultTokenTTL is the life of an API token created without a ttl
	// (or the maximum, when that is shorter).
	defaultTokenTTL = 90 * 24 * time.Hour
	// DefaultMaxTokenTTL is the longest life a token may be given when
	// the server sets no other (Config.MaxTokenTTL).
	DefaultMaxTokenTTL = 365 * 24 * time.Hour
)

// serveBerth handles berth.dev/v1 resources, with the handler the
// resource declares for the verb.
func (a *API) serveBerth(c echo.Context, ri auth.RequestInfo, res *resource) error {
	if ri.Verb == "watch" && res.watch != nil && ri.Subresource == "" {
		return res.watch(c, ri, res)
	}
	if ri.Subresource != "" {
		sub, ok := res.subresources[ri.Subresource]
		if !ok || ri.Name == "" {
			return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("%s has no subresource %q", res.name, ri.Subresource))
		}
		return sub.serve(c, ri, res)
	}
	h, ok := res.verbs[ri.Verb]
	if !ok || ri.Subresource != "" {
		return echo.NewHTTPError(http.StatusMethodNotAllowed, fmt.Sprintf("%s does not support %s", res.name, ri.Verb))
	}
	obj, err := h(c, ri)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	if w, ok := obj.(selfWriting); ok {
		return w.writeAnswer(c)
	}
	code := http.StatusOK
	if ri.Verb == "create" {
		code = http.StatusCreated
		if m, ok := obj.(metav1.Object); ok {
			c.Set("auditName", m.GetName())
		}
	}
	return writeJSON(c, code, withKind(obj, res))
}

// selfWriting is an answer that writes itself (a report as CSV).
type selfWriting interface {
	writeAnswer(c echo.Context) error
}

func (a *API) whoAmI(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	id := identity(c)
	return &berthv1.WhoAmI{Username: id.Name, ClusterAdmin: id.ClusterAdmin, Via: id.Via}, nil
}

func (a *API) deleteProject(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	opts, err := deleteOptions(c)
	if err != nil {
		return nil, err
	}
	obj, err := a.regs.Namespaces.Delete(c.Request().Context(), "", ri.Name, opts)
	if err != nil {
		return nil, err
	}
	p := projectOf(obj.(*v1.Namespace), "")
	p.Status.Phase = string(v1.NamespaceTerminating)
	return &p, nil
}

func (a *API) deleteMember(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	if err := a.accounts.RemoveMember(c.Request().Context(), ri.Namespace, ri.Name); err != nil {
		return nil, err
	}
	return &berthv1.Member{ObjectMeta: metav1.ObjectMeta{Name: ri.Name, Namespace: ri.Namespace}}, nil
}

func (a *API) deleteUser(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	if ri.Name == identity(c).Name {
		return nil, errdefs.New(errdefs.ErrConflict, "you cannot delete yourself")
	}
	if err := a.accounts.DeleteUser(c.Request().Context(), ri.Name); err != nil {
		return nil, err
	}
	return &berthv1.User{ObjectMeta: metav1.ObjectMeta{Name: ri.Name}}, nil
}

func (a *API) deleteToken(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	if err := a.accounts.RevokeToken(c.Request().Context(), identity(c).UserID, ri.Name); err != nil {
		return nil, err
	}
	return &berthv1.Token{ObjectMeta: metav1.ObjectMeta{Name: ri.Name}}, nil
}

// withKind sets the kind of an answer that its handler left without one:
// the resource's, or its list's.
func withKind(obj runtime.Object, res *resource) runtime.Object {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return obj
	}
	kind := res.kind
	switch obj.(type) {
	case *berthv1.ProjectList, *berthv1.MemberList, *berthv1.UserList, *berthv1.TokenList, *berthv1.AuditEntryList,
		*berthv1.HostImageList, *berthv1.HostImageBuildList:
		kind += "List"
	}
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: res.group, Version: "v1", Kind: kind})
	return obj
}

func projectOf(ns *v1.Namespace, role string) berthv1.Project {
	return berthv1.Project{
		ObjectMeta: metav1.ObjectMeta{
			Name: ns.Name, UID: ns.UID, ResourceVersion: ns.ResourceVersion,
			CreationTimestamp: ns.CreationTimestamp, Labels: ns.Labels,
		},
		Spec: berthv1.ProjectSpec{
			DisplayName: ns.Annotations[annotationDisplayName],
			Description: ns.Annotations[annotationDescription],
		},
		Status: berthv1.ProjectStatus{Phase: string(ns.Status.Phase), Role: role},
	}
}

func (a *API) listProjects(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	ctx := c.Request().Context()
	list, err := a.regs.Namespaces.List(ctx, "", generic.ListOptions{})
	if err != nil {
		return nil, err
	}
	roles, err := a.accounts.ProjectsOf(ctx, identity(c).UserID)
	if err != nil {
		return nil, err
	}
	out := &berthv1.ProjectList{Items: []berthv1.Project{}}
	out.ResourceVersion = list.(*v1.NamespaceList).ResourceVersion
	for i := range list.(*v1.NamespaceList).Items {
		ns := &list.(*v1.NamespaceList).Items[i]
		role := roles[ns.Name]
		if role == "" && !identity(c).ClusterAdmin {
			continue
		}
		out.Items = append(out.Items, projectOf(ns, role))
	}
	return out, nil
}

func (a *API) getProject(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	ctx, name := c.Request().Context(), ri.Name
	obj, err := a.regs.Namespaces.Get(ctx, "", name)
	if err != nil {
		return nil, err
	}
	role, err := a.accounts.RoleOf(ctx, identity(c).UserID, name)
	if err != nil {
		return nil, err
	}
	p := projectOf(obj.(*v1.Namespace), role)
	return &p, nil
}

func (a *API) createProject(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	var p berthv1.Project
	if err := a.decodeBody(c, a.berth["projects"], &p); err != nil {
		return nil, err
	}
	ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: p.Name, GenerateName: p.GenerateName, Labels: p.Labels, Annotations: p.Annotations,
	}}
	if p.Spec.DisplayName != "" || p.Spec.Description != "" {
		if ns.Annotations == nil {
			ns.Annotations = map[string]string{}
		}
		if p.Spec.DisplayName != "" {
			ns.Annotations[annotationDisplayName] = p.Spec.DisplayName
		}
		if p.Spec.Description != "" {
			ns.Annotations[annotationDescription] = p.Spec.Description
		}
	}
	created, err := a.regs.Namespaces.Create(c.Request().Context(), "", ns, metav1.CreateOptions{DryRun: dryRun(c)})
	if err != nil {
		var inv *errdefs.InvalidError
		if errors.As(err, &inv) {
			inv.Kind = "Project"
		}
		return nil, err
	}
	out := projectOf(created.(*v1.Namespace), berthv1.RoleAdmin)
	return &out, nil
}

func (a *API) listMembers(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	members, err := a.accounts.ListMembers(c.Request().Context(), ri.Namespace)
	if err != nil {
		return nil, err
	}
	out := &berthv1.MemberList{Items: []berthv1.Member{}}
	for _, m := range members {
		out.Items = append(out.Items, memberOf(m))
	}
	return out, nil
}

func memberOf(m accounts.Member) berthv1.Member {
	return berthv1.Member{ObjectMeta: metav1.ObjectMeta{Name: m.User, Namespace: m.Project}, Spec: berthv1.MemberSpec{Role: m.Role}}
}

func (a *API) getMember(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	user := ri.Name
	members, err := a.accounts.ListMembers(c.Request().Context(), ri.Namespace)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.User == user {
			out := memberOf(m)
			return &out, nil
		}
	}
	return nil, accounts.ErrNotFound
}

func (a *API) putMember(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	var m berthv1.Member
	if err := a.decodeBody(c, a.berth["members"], &m); err != nil {
		return nil, err
	}
	if ri.Name != "" && m.Name != ri.Name {
		return nil, errdefs.BadRequest("the name of the object (%s) does not match the name on the URL (%s)", m.Name, ri.Name)
	}
	var errs field.ErrorList
	switch m.Spec.Role {
	case berthv1.RoleAdmin, berthv1.RoleEdit, berthv1.RoleView:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("spec", "role"), m.Spec.Role, []string{berthv1.RoleAdmin, berthv1.RoleEdit, berthv1.RoleView}))
	}
	if m.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "the user's name"))
	}
	if len(errs) > 0 {
		return nil, &errdefs.InvalidError{Kind: "Member", Name: m.Name, Errs: errs}
	}
	ctx := c.Request().Context()
	ns, err := a.regs.Namespaces.Get(ctx, "", ri.Namespace)
	if err != nil {
		return nil, errdefs.WithSubject(err, schema.GroupResource{Group: berthGroup, Resource: "projects"}, ri.Namespace)
	}
	if ns.(*v1.Namespace).DeletionTimestamp != nil {
		return nil, errdefs.Forbidden("project %s is being deleted: it takes no new members", ri.Namespace)
	}
	if err := a.accounts.SetMember(ctx, ri.Namespace, m.Name, m.Spec.Role); err != nil {
		return nil, err
	}
	m.Namespace = ri.Namespace
	return &m, nil
}

func userOf(u accounts.User) berthv1.User {
	return berthv1.User{
		ObjectMeta: metav1.ObjectMeta{Name: u.Name, UID: "", CreationTimestamp: metav1.NewTime(u.CreatedAt), ResourceVersion: strconv.FormatInt(u.ID, 10)},
		Spec:       berthv1.UserSpec{ClusterAdmin: u.ClusterAdmin},
	}
}

func (a *API) listUsers(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	users, err := a.accounts.ListUsers(c.Request().Context())
	if err != nil {
		return nil, err
	}
	out := &berthv1.UserList{Items: []berthv1.User{}}
	for _, u := range users {
		out.Items = append(out.Items, userOf(u))
	}
	return out, nil
}

func (a *API) getUser(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	u, err := a.accounts.GetUser(c.Request().Context(), ri.Name)
	if err != nil {
		return nil, err
	}
	out := userOf(u)
	return &out, nil
}

func (a *API) createUser(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	if err := a.checkPasswordTransport(c.Request(), c.RealIP()); err != nil {
		return nil, err
	}
	var u berthv1.User
	if err := a.decodeBody(c, a.berth["users"], &u); err != nil {
		return nil, err
	}
	var errs field.ErrorList
	if u.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	if len(u.Spec.Password) < 8 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "password"), "(hidden)", "must be at least 8 characters"))
	}
	if len(errs) > 0 {
		return nil, &errdefs.InvalidError{Kind: "User", Name: u.Name, Errs: errs}
	}
	created, err := a.accounts.CreateUser(c.Request().Context(), u.Name, u.Spec.Password, u.Spec.ClusterAdmin)
	if err != nil {
		return nil, err
	}
	out := userOf(created)
	return &out, nil
}

func tokenOf(t accounts.Token, secret string) berthv1.Token {
	out := berthv1.Token{
		ObjectMeta: metav1.ObjectMeta{Name: t.Name, CreationTimestamp: metav1.NewTime(t.CreatedAt)},
		Spec:       berthv1.TokenSpec{Kind: t.Kind, NodeName: t.NodeName},
		Status:     berthv1.TokenStatus{Secret: secret},
	}
	exp := metav1.NewTime(t.ExpiresAt)
	out.Status.ExpiresAt = &exp
	if t.LastUsed != nil {
		lu := metav1.NewTime(*t.LastUsed)
		out.Status.LastUsed = &lu
	}
	return out
}

func (a *API) listTokens(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	tokens, err := a.accounts.ListTokens(c.Request().Context(), identity(c).UserID)
	if err != nil {
		return nil, err
	}
	out := &berthv1.TokenList{Items: []berthv1.Token{}}
	for _, t := range tokens {
		out.Items = append(out.Items, tokenOf(t, ""))
	}
	return out, nil
}

func (a *API) createToken(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	var t berthv1.Token
	if err := a.decodeBody(c, a.berth["tokens"], &t); err != nil {
		return nil, err
	}
	if t.Spec.Kind == accounts.KindBootstrap {
		return a.createBootstrapToken(c, &t)
	}
	var errs field.ErrorList
	ttl := min(defaultTokenTTL, a.maxTokenTTL)
	if t.Spec.TTL != "" {
		d, err := time.ParseDuration(t.Spec.TTL)
		switch {
		case err != nil || d <= 0:
			errs = append(errs, field.Invalid(field.NewPath("spec", "ttl"), t.Spec.TTL, "must be a positive duration such as 720h"))
		case d > a.maxTokenTTL:
			// A token that outlives everyone's memory of it is a standing
			// key to the cluster: lifetimes are bounded, as service
			// account tokens are (--service-account-max-token-expiration).
			errs = append(errs, field.Invalid(field.NewPath("spec", "ttl"), t.Spec.TTL,
				fmt.Sprintf("must be at most %s, the server's maximum (--max-token-ttl)", a.maxTokenTTL)))
		}
		ttl = d
	}
	kind := t.Spec.Kind
	switch kind {
	case "":
		kind = "api"
	case "api":
	case accounts.KindNode:
		errs = append(errs, field.Forbidden(field.NewPath("spec", "kind"), "a node's credential comes only from node-join: create a bootstrap token for the node (kind bootstrap, nodeName)"))
	default:
		errs = append(errs, field.NotSupported(field.NewPath("spec", "kind"), kind, []string{"api", accounts.KindBootstrap}))
	}
	if t.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	if len(errs) > 0 {
		return nil, &errdefs.InvalidError{Kind: "Token", Name: t.Name, Errs: errs}
	}
	secret, created, err := a.accounts.CreateToken(c.Request().Context(), identity(c).UserID, t.Name, kind, ttl)
	if err != nil {
		return nil, err
	}
	out := tokenOf(created, secret)
	return &out, nil
}

// listAudit answers the audit log, newest first, filtered by the query's
// user, namespace and resource, and bounded by limit.
func (a *API) listAudit(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	f := accounts.AuditFilter{User: c.QueryParam("user"), Namespace: c.QueryParam("namespace"), Resource: c.QueryParam("resource")}
	limit, err := intParam(c, "limit", 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if limit != nil {
		f.Limit = int(*limit)
	}
	if s := c.QueryParam("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, errdefs.BadRequest("invalid since %q: want RFC 3339", s)
		}
		f.Since = t
	}
	entries, err := a.accounts.ListAudit(c.Request().Context(), f)
	if err != nil {
		return nil, err
	}
	out := &berthv1.AuditEntryList{Items: make([]berthv1.AuditEntry, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, berthv1.AuditEntry{
			At: metav1.NewTime(e.At), User: e.User, Verb: e.Verb, Resource: e.Resource,
			Namespace: e.Namespace, Name: e.Name, Code: e.Code, SourceIP: e.SourceIP, UserAgent: e.UserAgent,
			Stage: e.Stage, Details: e.Details,
		})
	}
	return out, nil
}
