package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/hostimages"
	"github.com/berthpaas/berth/hostimage"
)

// HostImageStore is what the API needs of the host image store
// (hostimages.Store).
type HostImageStore interface {
	CreateDefinition(ctx context.Context, d hostimages.Definition, author string) (hostimages.Definition, error)
	UpdateDefinition(ctx context.Context, d hostimages.Definition, expectRevision int64, author string) (hostimages.Definition, error)
	GetDefinition(ctx context.Context, name string) (hostimages.Definition, error)
	ListDefinitions(ctx context.Context) ([]hostimages.Definition, error)
	DeleteDefinition(ctx context.Context, name string) (hostimages.Definition, error)
	Revisions(ctx context.Context, name string) ([]hostimages.Revision, error)
	GetRevision(ctx context.Context, name string, revision int64) (hostimages.Revision, error)
	CreateBuild(ctx context.Context, req hostimages.BuildRequest) (hostimages.Build, error)
	GetBuild(ctx context.Context, name string) (hostimages.Build, error)
	ListBuilds(ctx context.Context, f hostimages.BuildFilter) ([]hostimages.Build, error)
	LatestBuilds(ctx context.Context) (latest, succeeded map[string]hostimages.Build, err error)
	RequestCancel(ctx context.Context, name string) (hostimages.Build, error)
	ReadLog(ctx context.Context, buildID, from int64, limit int) ([]hostimages.LogChunk, error)
	Subscribe(ctx context.Context) <-chan hostimages.Event
}

var _ HostImageStore = (*hostimages.Store)(nil)

// errNoHostImages answers host image requests on a server without the
// host image store.
var errNoHostImages = errdefs.New(errdefs.ErrUnavailable, "host images are not served here")

// minRebuildInterval keeps scheduled checks of package sources polite.
const minRebuildInterval = 10 * time.Minute

func (a *API) hostImagesStore() (HostImageStore, error) {
	if a.hostImages == nil {
		return nil, errNoHostImages
	}
	return a.hostImages, nil
}

// hostImageOf is the API's view of a stored definition.
func hostImageOf(d hostimages.Definition, latest, succeeded map[string]hostimages.Build) berthv1.HostImage {
	out := berthv1.HostImage{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name, UID: types.UID(d.UID), Generation: d.Revision,
			ResourceVersion: strconv.FormatInt(d.Revision, 10), CreationTimestamp: metav1.NewTime(d.Created),
		},
		Spec:   berthv1.HostImageSpec{Treefile: d.Treefile, Files: apiFiles(d.Files)},
		Status: berthv1.HostImageStatus{Revision: d.Revision, Ref: d.Ref, Runner: d.Runner},
	}
	if d.RebuildInterval > 0 {
		out.Spec.RebuildInterval = d.RebuildInterval.String()
	}
	if b, ok := latest[d.Name]; ok {
		out.Status.LatestBuild, out.Status.LatestPhase = b.Name, b.Phase
	}
	if b, ok := succeeded[d.Name]; ok {
		out.Status.LatestCommit, out.Status.LatestVersion = b.Commit, b.Version
	}
	return out
}

func apiFiles(fs hostimage.Files) []berthv1.HostImageFile {
	out := make([]berthv1.HostImageFile, len(fs))
	for i, f := range fs {
		out[i] = berthv1.HostImageFile{Path: f.Path, Content: f.Content, Executable: f.Executable}
	}
	return out
}

func libFiles(fs []berthv1.HostImageFile) hostimage.Files {
	out := make(hostimage.Files, len(fs))
	for i, f := range fs {
		out[i] = hostimage.File{Path: f.Path, Content: f.Content, Executable: f.Executable}
	}
	return out
}

func (a *API) listHostImages(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	defs, err := s.ListDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	latest, succeeded, err := s.LatestBuilds(ctx)
	if err != nil {
		return nil, err
	}
	out := &berthv1.HostImageList{Items: make([]berthv1.HostImage, 0, len(defs))}
	for _, d := range defs {
		out.Items = append(out.Items, hostImageOf(d, latest, succeeded))
	}
	return out, nil
}

func (a *API) getHostImage(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	d, err := s.GetDefinition(ctx, ri.Name)
	if err != nil {
		return nil, err
	}
	latest, succeeded, err := s.LatestBuilds(ctx)
	if err != nil {
		return nil, err
	}
	out := hostImageOf(d, latest, succeeded)
	return &out, nil
}

// validateHostImage checks a definition as a build would load it: every
// problem of its files becomes a cause on spec.files[PATH], its message
// naming the key, so that an editor shows it beside the file. It returns
// the definition to store.
func (a *API) validateHostImage(hi *berthv1.HostImage) (hostimages.Definition, error) {
	var errs field.ErrorList
	if hi.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "name or generateName is required"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(hi.Name) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), hi.Name, msg))
		}
	}
	d := hostimages.Definition{Name: hi.Name, Treefile: hi.Spec.Treefile, Files: libFiles(hi.Spec.Files)}
	if iv := hi.Spec.RebuildInterval; iv != "" {
		dur, err := time.ParseDuration(iv)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(field.NewPath("spec", "rebuildInterval"), iv, "must be a duration such as 24h"))
		case dur < minRebuildInterval:
			errs = append(errs, field.Invalid(field.NewPath("spec", "rebuildInterval"), iv, fmt.Sprintf("must be at least %v", minRebuildInterval)))
		default:
			d.RebuildInterval = dur
		}
	}
	if hi.Spec.Treefile == "" {
		errs = append(errs, field.Required(field.NewPath("spec", "treefile"), "the main treefile, one of spec.files"))
	} else if _, ok := d.Files.Get(hi.Spec.Treefile); !ok {
		errs = append(errs, field.NotFound(field.NewPath("spec", "treefile"), hi.Spec.Treefile))
	}
	if len(errs) == 0 {
		def, err := hostimage.LoadFiles(d.Files, d.Treefile, hostimage.LoadOptions{Basearch: a.basearch})
		if err != nil {
			problems := hostimage.Problems(err)
			if problems == nil {
				return d, err
			}
			for _, p := range problems {
				path := field.NewPath("spec", "files").Key(p.File)
				if p.File == "" {
					path = field.NewPath("spec", "files")
				}
				msg := p.Detail
				if p.Key != "" {
					msg = p.Key + ": " + p.Detail
				}
				errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: path.String(), BadValue: field.OmitValueType{}, Detail: msg})
			}
		} else {
			d.Ref = def.Treefile.Ref
			d.Runner = hostimage.RunnerFor(def, hostimage.RunnerConfig{}).Name()
		}
	}
	if len(errs) > 0 {
		return d, &errdefs.InvalidError{Kind: "HostImage", Name: hi.Name, Errs: errs}
	}
	return d, nil
}

func (a *API) createHostImage(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	var hi berthv1.HostImage
	if err := a.decodeBody(c, a.berth["hostimages"], &hi); err != nil {
		return nil, err
	}
	if hi.Name == "" && hi.GenerateName != "" {
		hi.Name = hi.GenerateName + strconv.FormatInt(time.Now().UnixNano()%100000, 36)
	}
	d, err := a.validateHostImage(&hi)
	if err != nil {
		return nil, err
	}
	if len(dryRun(c)) > 0 {
		out := hostImageOf(hostimages.Definition{Name: d.Name, Treefile: d.Treefile, Files: d.Files, RebuildInterval: d.RebuildInterval, Ref: d.Ref, Runner: d.Runner}, nil, nil)
		return &out, nil
	}
	created, err := s.CreateDefinition(c.Request().Context(), d, identity(c).Name)
	if err != nil {
		return nil, err
	}
	out := hostImageOf(created, nil, nil)
	return &out, nil
}

func (a *API) updateHostImage(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	var hi berthv1.HostImage
	if err := a.decodeBody(c, a.berth["hostimages"], &hi); err != nil {
		return nil, err
	}
	if hi.Name != ri.Name {
		return nil, errdefs.BadRequest("the name of the object (%s) does not match the name on the URL (%s)", hi.Name, ri.Name)
	}
	var expect int64
	if rv := hi.ResourceVersion; rv != "" {
		if expect, err = strconv.ParseInt(rv, 10, 64); err != nil || expect <= 0 {
			return nil, errdefs.BadRequest("invalid resourceVersion %q: a host image's is its revision", rv)
		}
	}
	d, err := a.validateHostImage(&hi)
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	if len(dryRun(c)) > 0 {
		cur, err := s.GetDefinition(ctx, ri.Name)
		if err != nil {
			return nil, err
		}
		cur.Treefile, cur.Files, cur.RebuildInterval, cur.Ref, cur.Runner = d.Treefile, d.Files, d.RebuildInterval, d.Ref, d.Runner
		out := hostImageOf(cur, nil, nil)
		return &out, nil
	}
	updated, err := s.UpdateDefinition(ctx, d, expect, identity(c).Name)
	if err != nil {
		return nil, err
	}
	latest, succeeded, err := s.LatestBuilds(ctx)
	if err != nil {
		return nil, err
	}
	out := hostImageOf(updated, latest, succeeded)
	return &out, nil
}

func (a *API) deleteHostImage(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	d, err := s.DeleteDefinition(c.Request().Context(), ri.Name)
	if err != nil {
		return nil, err
	}
	out := hostImageOf(d, nil, nil)
	return &out, nil
}

// serveHostImageRevisions answers GET hostimages/NAME/revisions: the
// revisions newest first, or ?revision=N with its files.
func (a *API) serveHostImageRevisions(c echo.Context, ri auth.RequestInfo, res *resource) error {
	obj, err := a.hostImageRevisions(c, ri)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	obj.GetObjectKind().SetGroupVersionKind(berthv1.SchemeGroupVersion.WithKind("HostImageRevisionList"))
	return writeJSON(c, http.StatusOK, obj)
}

func (a *API) hostImageRevisions(c echo.Context, ri auth.RequestInfo) (*berthv1.HostImageRevisionList, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	out := &berthv1.HostImageRevisionList{Items: []berthv1.HostImageRevision{}}
	n, err := intParam(c, "revision", 1, 1<<62)
	if err != nil {
		return nil, err
	}
	if n != nil {
		rev, err := s.GetRevision(ctx, ri.Name, *n)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, berthv1.HostImageRevision{Revision: rev.Revision, Author: rev.Author,
			Created: metav1.NewTime(rev.Created), Treefile: rev.Treefile, Files: apiFiles(rev.Files)})
		return out, nil
	}
	revs, err := s.Revisions(ctx, ri.Name)
	if err != nil {
		return nil, err
	}
	for _, r := range revs {
		out.Items = append(out.Items, berthv1.HostImageRevision{Revision: r.Revision, Author: r.Author,
			Created: metav1.NewTime(r.Created), Treefile: r.Treefile})
	}
	return out, nil
}

// serveHostImageRender answers GET hostimages/NAME/render[?revision=N]:
// the expanded treefile.
func (a *API) serveHostImageRender(c echo.Context, ri auth.RequestInfo, res *resource) error {
	out, err := a.renderHostImage(c, ri)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	out.GetObjectKind().SetGroupVersionKind(berthv1.SchemeGroupVersion.WithKind("HostImageRender"))
	return writeJSON(c, http.StatusOK, out)
}

func (a *API) renderHostImage(c echo.Context, ri auth.RequestInfo) (*berthv1.HostImageRender, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	n, err := intParam(c, "revision", 1, 1<<62)
	if err != nil {
		return nil, err
	}
	var rev int64
	if n != nil {
		rev = *n
	} else {
		d, err := s.GetDefinition(ctx, ri.Name)
		if err != nil {
			return nil, err
		}
		rev = d.Revision
	}
	r, err := s.GetRevision(ctx, ri.Name, rev)
	if err != nil {
		return nil, err
	}
	def, err := hostimage.LoadFiles(r.Files, r.Treefile, hostimage.LoadOptions{Basearch: a.basearch})
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "revision %d of host image %q does not load: %v", rev, ri.Name, err)
	}
	return &berthv1.HostImageRender{Revision: rev, Treefile: string(def.Treefile.JSON()), Inputs: def.Inputs()}, nil
}
