package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/hostimages"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/berthpaas/berth/hostimage"
)

// buildLogPoll is how often a log follower looks at the store when no
// notification came (one may be lost while the listening connection is
// re-established).
const buildLogPoll = 2 * time.Second

// buildLogChunks bounds the pieces read at once: with the builder's 256
// KiB pieces, 4 MiB of a log is in memory per follower at most.
const buildLogChunks = 16

func buildOf(b hostimages.Build) berthv1.HostImageBuild {
	out := berthv1.HostImageBuild{
		ObjectMeta: metav1.ObjectMeta{Name: b.Name, CreationTimestamp: metav1.NewTime(b.Created),
			Labels: map[string]string{"berth.dev/hostimage": b.HostImage}},
		Spec: berthv1.HostImageBuildSpec{HostImage: b.HostImage, Revision: b.Revision, Force: b.Force,
			Reason: b.Reason, RequestedBy: b.RequestedBy},
		Status: berthv1.HostImageBuildStatus{
			Phase: b.Phase, Number: b.Number, Runner: b.Runner, InputHash: b.InputHash, NoChanges: b.NoChanges,
			Ref: b.Ref, Commit: b.Commit, Parent: b.Parent, Version: b.Version, PackageCount: b.PackageCount,
			CommitSize: b.CommitSize, UnpackedSize: b.UnpackedSize, DeltaSize: b.DeltaSize, LogSize: b.LogSize,
			CancelRequested: b.CancelRequested, Message: b.Message,
		},
	}
	if !b.Started.IsZero() {
		t := metav1.NewTime(b.Started)
		out.Status.StartTime = &t
	}
	if !b.Finished.IsZero() {
		t := metav1.NewTime(b.Finished)
		out.Status.CompletionTime = &t
	}
	return out
}

// listHostImageBuilds answers the builds, newest first; ?hostImage=NAME
// or fieldSelector=spec.hostImage=NAME selects one definition's, and
// status.commit=C the builds of a commit.
func (a *API) listHostImageBuilds(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	f := hostimages.BuildFilter{HostImage: c.QueryParam("hostImage")}
	if sel := c.QueryParam("fieldSelector"); sel != "" {
		fs, err := fields.ParseSelector(sel)
		if err != nil {
			return nil, errdefs.BadRequest("invalid fieldSelector %q: %v", sel, err)
		}
		for _, r := range fs.Requirements() {
			switch {
			case r.Field == "spec.hostImage" && r.Operator != "!=":
				f.HostImage = r.Value
			case r.Field == "status.commit" && r.Operator != "!=":
				f.Commit = r.Value
			default:
				return nil, errdefs.BadRequest("field label not supported: %s (want spec.hostImage or status.commit)", r.Field)
			}
		}
	}
	limit, err := intParam(c, "limit", 0, 500)
	if err != nil {
		return nil, err
	}
	if limit != nil {
		f.Limit = int(*limit)
	}
	builds, err := s.ListBuilds(c.Request().Context(), f)
	if err != nil {
		return nil, err
	}
	out := &berthv1.HostImageBuildList{Items: make([]berthv1.HostImageBuild, 0, len(builds))}
	for _, b := range builds {
		out.Items = append(out.Items, buildOf(b))
	}
	return out, nil
}

func (a *API) getHostImageBuild(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	b, err := s.GetBuild(c.Request().Context(), ri.Name)
	if err != nil {
		return nil, err
	}
	out := buildOf(b)
	return &out, nil
}

// createHostImageBuild queues a build of spec.hostImage (its latest
// revision unless spec.revision says which), asked for by the caller.
func (a *API) createHostImageBuild(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	var in berthv1.HostImageBuild
	if err := a.decodeBody(c, a.berth["hostimagebuilds"], &in); err != nil {
		return nil, err
	}
	if in.Spec.HostImage == "" {
		return nil, errdefs.Invalid("HostImageBuild", in.Name, field.ErrorList{
			field.Required(field.NewPath("spec", "hostImage"), "the host image to build")})
	}
	if in.Spec.Revision < 0 {
		return nil, errdefs.Invalid("HostImageBuild", in.Name, field.ErrorList{
			field.Invalid(field.NewPath("spec", "revision"), in.Spec.Revision, "must be a revision of the host image, or 0 for the latest")})
	}
	ctx := c.Request().Context()
	if len(dryRun(c)) > 0 {
		if _, err := s.GetDefinition(ctx, in.Spec.HostImage); err != nil {
			return nil, err
		}
		in.Status.Phase = berthv1.BuildQueued
		return &in, nil
	}
	b, err := s.CreateBuild(ctx, hostimages.BuildRequest{
		HostImage: in.Spec.HostImage, Revision: in.Spec.Revision, Force: in.Spec.Force,
		Reason: berthv1.BuildReasonManual, RequestedBy: identity(c).Name,
	})
	if err != nil {
		return nil, err
	}
	out := buildOf(b)
	return &out, nil
}

// serveHostImageBuildCancel answers POST hostimagebuilds/NAME/cancel.
func (a *API) serveHostImageBuildCancel(c echo.Context, ri auth.RequestInfo, res *resource) error {
	s, err := a.hostImagesStore()
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	b, err := s.RequestCancel(c.Request().Context(), ri.Name)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	out := buildOf(b)
	return writeJSON(c, http.StatusOK, withKind(&out, res))
}

// serveHostImageBuildLog answers GET hostimagebuilds/NAME/log: the log's
// bytes as written, from sinceBytes (0), as kubectl logs reads a pod's;
// follow=true streams it until the build ends (a log follow, bounded per
// user as pod logs are); timestamps=true prefixes each line with when it
// was written, and sinceTime starts at the first piece written then. A
// websocket upgrade streams the same over a socket (buildlogsocket.go).
func (a *API) serveHostImageBuildLog(c echo.Context, ri auth.RequestInfo, res *resource) error {
	if websocket.IsWebSocketUpgrade(c.Request()) {
		if err := a.serveBuildLogSocket(c, ri); err != nil {
			return statusError(err, res.groupResource(), ri.Name)
		}
		return nil
	}
	if err := a.buildLog(c, ri, res); err != nil {
		if c.Response().Committed {
			return nil // the stream had begun; it just ends
		}
		return statusError(err, res.groupResource(), ri.Name)
	}
	return nil
}

func (a *API) buildLog(c echo.Context, ri auth.RequestInfo, res *resource) error {
	s, err := a.hostImagesStore()
	if err != nil {
		return err
	}
	follow, err := boolParam(c, "follow")
	if err != nil {
		return err
	}
	stamps, err := boolParam(c, "timestamps")
	if err != nil {
		return err
	}
	from, err := intParam(c, "sinceBytes", 0, 1<<62)
	if err != nil {
		return err
	}
	var since time.Time
	if v := c.QueryParam("sinceTime"); v != "" {
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return errdefs.BadRequest("invalid sinceTime %q: want RFC 3339", v)
		}
	}
	ctx := c.Request().Context()
	build, err := s.GetBuild(ctx, ri.Name)
	if err != nil {
		return err
	}
	w := &buildLogWriter{c: c, stamps: stamps != nil && *stamps, lineStart: true}
	if from != nil {
		w.offset = *from
	}
	if follow == nil || !*follow {
		return w.copy(ctx, s, build.ID, since, false)
	}
	stream, err := a.openStream(c, streams.Log)
	if err != nil {
		return err
	}
	defer stream.Close()
	ctx = stream.Context()
	events := s.Subscribe(ctx)
	for {
		if err := w.copy(ctx, s, build.ID, since, true); err != nil {
			return err
		}
		if build.Done() && w.offset >= build.LogSize {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.streamsDone:
			return nil
		case <-events:
		case <-time.After(buildLogPoll):
		}
		if build, err = s.GetBuild(ctx, ri.Name); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
}

// buildLogWriter writes a build's log to a response, with timestamps
// when asked.
type buildLogWriter struct {
	c         echo.Context
	stamps    bool
	offset    int64
	lineStart bool
	started   bool
}

// copy writes what the store has past the writer's offset.
func (w *buildLogWriter) copy(ctx context.Context, s HostImageStore, id int64, since time.Time, flush bool) error {
	resp := w.c.Response()
	if !w.started {
		resp.Header().Set("Content-Type", "text/plain; charset=utf-8")
		resp.Header().Set("X-Content-Type-Options", "nosniff")
		resp.WriteHeader(http.StatusOK)
		w.started = true
	}
	for {
		chunks, err := s.ReadLog(ctx, id, w.offset, buildLogChunks)
		if err != nil {
			return err
		}
		for _, ch := range chunks {
			w.offset = ch.Offset + int64(len(ch.Data))
			if ch.At.Before(since) {
				continue
			}
			if err := w.write(ch); err != nil {
				return err
			}
		}
		if flush || len(chunks) > 0 {
			resp.Flush()
		}
		if len(chunks) < buildLogChunks {
			return nil
		}
	}
}

func (w *buildLogWriter) write(ch hostimages.LogChunk) error {
	resp := w.c.Response()
	if !w.stamps {
		_, err := resp.Write(ch.Data)
		return err
	}
	stamp := []byte(ch.At.UTC().Format(time.RFC3339Nano) + " ")
	data := ch.Data
	for len(data) > 0 {
		if w.lineStart {
			if _, err := resp.Write(stamp); err != nil {
				return err
			}
		}
		end := len(data)
		for i, b := range data {
			if b == '\n' {
				end = i + 1
				break
			}
		}
		if _, err := resp.Write(data[:end]); err != nil {
			return err
		}
		w.lineStart = data[end-1] == '\n'
		data = data[end:]
	}
	return nil
}

// serveHostImageBuildDiff answers GET hostimagebuilds/TO/diff?from=FROM:
// packages added, removed and changed (from the builds' records) and
// files added, modified and deleted (ostree diff of their commits).
func (a *API) serveHostImageBuildDiff(c echo.Context, ri auth.RequestInfo, res *resource) error {
	out, err := a.diffBuilds(c, ri)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	out.GetObjectKind().SetGroupVersionKind(berthv1.SchemeGroupVersion.WithKind("HostImageDiff"))
	return writeJSON(c, http.StatusOK, out)
}

func (a *API) diffBuilds(c echo.Context, ri auth.RequestInfo) (*berthv1.HostImageDiff, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	to, err := s.GetBuild(ctx, ri.Name)
	if err != nil {
		return nil, err
	}
	fromName := c.QueryParam("from")
	if fromName == "" {
		return nil, errdefs.BadRequest("the diff needs from=BUILD, the build to compare %s with", ri.Name)
	}
	from, err := s.GetBuild(ctx, fromName)
	if err != nil {
		return nil, err
	}
	for _, b := range []hostimages.Build{from, to} {
		if b.Commit == "" {
			return nil, errdefs.Newf(errdefs.ErrConflict, "build %s made no commit (%s): there is nothing to compare", b.Name, b.Phase)
		}
	}
	out := &berthv1.HostImageDiff{
		From: diffSide(from), To: diffSide(to),
		Packages: apiPackageDiff(hostimage.DiffPackages(from.Packages, to.Packages)),
		Files:    berthv1.FileDiff{Added: []string{}, Modified: []string{}, Deleted: []string{}},
	}
	if from.Commit == to.Commit {
		return out, nil
	}
	if a.hostImageRepo == "" {
		return nil, errdefs.New(errdefs.ErrUnavailable, "this master has no OSTree repository: files are compared on the master that builds")
	}
	repo := &hostimage.Repo{Path: a.hostImageRepo}
	files, err := repo.Diff(ctx, from.Commit, to.Commit)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "compare the files of %s and %s: %v", from.Name, to.Name, err)
	}
	out.Files = berthv1.FileDiff{Added: files.Added, Modified: files.Modified, Deleted: files.Deleted}
	return out, nil
}

func diffSide(b hostimages.Build) berthv1.HostImageDiffSide {
	return berthv1.HostImageDiffSide{Build: b.Name, Commit: b.Commit, Version: b.Version,
		PackageCount: b.PackageCount, CommitSize: b.CommitSize, DeltaSize: b.DeltaSize}
}

func apiPackageDiff(d hostimage.PackageDiff) berthv1.PackageDiff {
	out := berthv1.PackageDiff{Added: []berthv1.Package{}, Removed: []berthv1.Package{}, Changed: []berthv1.PackageChange{}}
	for _, p := range d.Added {
		out.Added = append(out.Added, berthv1.Package(p))
	}
	for _, p := range d.Removed {
		out.Removed = append(out.Removed, berthv1.Package(p))
	}
	for _, p := range d.Changed {
		out.Changed = append(out.Changed, berthv1.PackageChange(p))
	}
	return out
}
