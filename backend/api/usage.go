package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/metering"
)

// maxUsageWindow bounds one record's window: an agent that was down
// longer than this reports the time since as a window of its own, which
// it cannot measure.
const maxUsageWindow = 31 * 24 * time.Hour

// ingestUsage takes a node agent's batch of usage records. Only node
// credentials report usage, and a node only that of pods bound to it:
// each pod is looked up (or, once gone, found in what the master
// recorded when its first record came) and must name the reporting node.
// The project and the user a record counts for are the pod's, never what
// the node wrote.
func (a *API) ingestUsage(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	id := identity(c)
	if !id.IsNode() {
		return nil, errdefs.Newf(errdefs.ErrForbidden, "user %q cannot report usage: only node agents do", id.Name)
	}
	if a.metering == nil {
		return nil, errdefs.New(errdefs.ErrUnavailable, "usage metering is not configured")
	}
	var list berthv1.UsageRecordList
	if err := a.decodeUsageRecords(c, &list); err != nil {
		return nil, err
	}
	if err := checkRecords(id.NodeName, list.Items); err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	owners, err := a.usageOwners(c, id.NodeName, list.Items)
	if err != nil {
		return nil, err
	}
	answer := &berthv1.UsageIngest{}
	answer.Kind, answer.APIVersion = "UsageIngest", berthv1.SchemeGroupVersion.String()
	records := make([]berthv1.UsageRecord, 0, len(list.Items))
	for _, r := range list.Items {
		o, ok := owners[r.PodUID]
		if !ok {
			answer.UnknownPods++
			continue
		}
		r.Namespace, r.Pod, r.User = o.Project, o.Pod, o.User
		records = append(records, r)
	}
	stored, err := a.metering.Ingest(ctx, records)
	if err != nil {
		return nil, err
	}
	answer.Stored, answer.Duplicates = stored, len(records)-stored
	return answer, nil
}

// decodeUsageRecords decodes a batch of records. Agents send thousands
// of records at a time, as JSON of one plain form, which decodeRecordList
// reads several times faster than the generic decoder, and as strictly; a
// body it leaves goes the generic way, which says what is wrong as it
// does for every other body and honours fieldValidation.
func (a *API) decodeUsageRecords(c echo.Context, list *berthv1.UsageRecordList) error {
	body, err := readBody(c.Request())
	if err != nil {
		return err
	}
	res := a.berth["usagerecords"]
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type")); mt == "application/json" {
		if decodeRecordList(body, list) == nil {
			return checkKind(list, res)
		}
		*list = berthv1.UsageRecordList{}
	}
	return a.decodeBytes(c, res, body, list)
}

// readBody reads a request's body whole, into a buffer of its
// Content-Length when it has one (limitBody bounds it) rather than one
// grown and copied while reading megabytes.
func readBody(req *http.Request) ([]byte, error) {
	if n := req.ContentLength; n > 0 && n <= MaxBodyBytes {
		body := make([]byte, n)
		if _, err := io.ReadFull(req.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(req.Body)
}

func checkRecords(node string, records []berthv1.UsageRecord) error {
	for i, r := range records {
		if r.Node != node {
			return errdefs.Newf(errdefs.ErrForbidden, "node %q cannot report the usage of node %q", node, r.Node)
		}
		problem := ""
		switch {
		case r.ContainerID == "" || r.PodUID == "" || r.Namespace == "" || r.Pod == "" || r.Container == "":
			problem = "containerID, podUID, namespace, pod and container are required"
		case !r.WindowEnd.After(r.WindowStart):
			problem = "windowEnd must be after windowStart"
		case r.WindowEnd.Sub(r.WindowStart) > maxUsageWindow:
			problem = "a window may not be longer than 31 days"
		case r.CPUSeconds < 0 || r.MemoryByteSeconds < 0 || r.MemoryBytes < 0 || r.MemoryPeakBytes < 0 ||
			r.NetworkRxBytes < 0 || r.NetworkTxBytes < 0 || r.RunningSeconds < 0:
			problem = "usage may not be negative"
		}
		if problem != "" {
			return errdefs.BadRequest("items[%d]: %s", i, problem)
		}
	}
	return nil
}

// usageOwners finds whom each pod of the records belongs to, by UID.
// Pods not seen before are looked up now (a few at a time: a batch of a
// node's new pods names hundreds) and must be bound to node, and are
// claimed together; pods gone before any of their usage came are left
// out.
func (a *API) usageOwners(c echo.Context, node string, records []berthv1.UsageRecord) (map[string]metering.PodOwner, error) {
	ctx := c.Request().Context()
	var uids []string
	named := map[string]berthv1.UsageRecord{}
	for _, r := range records {
		if _, ok := named[r.PodUID]; !ok {
			named[r.PodUID] = r
			uids = append(uids, r.PodUID)
		}
	}
	owners, err := a.metering.PodOwners(ctx, uids)
	if err != nil {
		return nil, err
	}
	for _, uid := range uids {
		r := named[uid]
		if o, ok := owners[uid]; ok && o.Node != node {
			return nil, errdefs.Newf(errdefs.ErrForbidden, "node %q cannot report the usage of pod %q: it runs on node %q", node, r.Namespace+"/"+r.Pod, o.Node)
		}
	}
	var unknown []string
	for _, uid := range uids {
		if _, ok := owners[uid]; !ok {
			unknown = append(unknown, uid)
		}
	}
	if len(unknown) == 0 {
		return owners, nil
	}
	found := make([]*metering.PodOwner, len(unknown))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, uid := range unknown {
		g.Go(func() error {
			r := named[uid]
			obj, err := a.regs.Pods.Get(gctx, r.Namespace, r.Pod)
			if errors.Is(err, errdefs.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			pod := obj.(*v1.Pod)
			if string(pod.UID) != uid {
				return nil // a pod of that name, but not the one measured, which is gone
			}
			if pod.Spec.NodeName != node {
				return errdefs.Newf(errdefs.ErrForbidden, "node %q cannot report the usage of pod %q: it is not bound to it", node, r.Namespace+"/"+r.Pod)
			}
			found[i] = &metering.PodOwner{UID: uid, Node: node, Project: pod.Namespace, Pod: pod.Name,
				User: pod.Annotations[berthv1.AnnotationCreatedBy]}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var claims []metering.PodOwner
	for _, o := range found {
		if o != nil {
			claims = append(claims, *o)
		}
	}
	if len(claims) == 0 {
		return owners, nil
	}
	claimed, err := a.metering.ClaimPods(ctx, claims)
	if err != nil {
		return nil, err
	}
	for _, o := range claims {
		stored := claimed[o.UID]
		if stored.Node != node {
			r := named[o.UID]
			return nil, errdefs.Newf(errdefs.ErrForbidden, "node %q cannot report the usage of pod %q: it runs on node %q", node, r.Namespace+"/"+r.Pod, stored.Node)
		}
		owners[o.UID] = stored
	}
	return owners, nil
}

// usageReport answers GET .../usage: in a project for its members, and
// across the cluster for cluster admins (everyone else sees the projects
// they are members of). JSON, or CSV with Accept: text/csv or format=csv.
func (a *API) usageReport(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	if a.metering == nil {
		return nil, errdefs.New(errdefs.ErrUnavailable, "usage metering is not configured")
	}
	query := c.QueryParams()
	format := query.Get("format")
	if format != "" && format != "csv" && format != "json" {
		return nil, errdefs.BadRequest("format: %q is neither csv nor json", format)
	}
	q, err := metering.ParseQuery(query, time.Now(), a.metering.Retention())
	if err != nil {
		return nil, err
	}
	id := identity(c)
	switch {
	case ri.Namespace != "":
		q.Projects = []string{ri.Namespace}
	case !id.IsClusterAdmin():
		roles, err := a.accounts.ProjectsOf(c.Request().Context(), id.UserID)
		if err != nil {
			return nil, err
		}
		q.Projects = []string{}
		for p, role := range roles {
			if role != "" {
				q.Projects = append(q.Projects, p)
			}
		}
		slices.Sort(q.Projects)
	}
	report, err := a.metering.Report(c.Request().Context(), q)
	if err != nil {
		return nil, err
	}
	if format == "csv" || format == "" && strings.HasPrefix(c.Request().Header.Get("Accept"), "text/csv") {
		return &csvReport{report}, nil
	}
	return report, nil
}

// csvReport is a report that writes itself as CSV.
type csvReport struct{ *berthv1.UsageReport }

func (r *csvReport) writeAnswer(c echo.Context) error {
	resp := c.Response()
	resp.Header().Set("Content-Type", "text/csv; charset=utf-8")
	resp.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="usage-%s-%s.csv"`,
		r.From.Format("20060102"), r.To.Format("20060102")))
	resp.WriteHeader(http.StatusOK)
	return r.WriteCSV(resp)
}
