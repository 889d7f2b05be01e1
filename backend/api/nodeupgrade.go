package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/hostimages"
	"github.com/berthpaas/berth/backend/registry/generic"
)

// serveNodeUpgrade answers POST nodes/NAME/upgrade: the node is upgraded
// to the newest successful build of its host image (the one its booted
// commit was built from, or the body's hostImage). The master cordons and
// drains it, its agent stages the commit and reboots, and the master
// uncordons it once it reports the new commit (controller/nodeupgrade). A
// node that is not an OSTree host, or that runs the newest build
// already, is refused with a 409 that says so; so is one with pods no
// replication controller would recreate, unless force.
func (a *API) serveNodeUpgrade(c echo.Context, ri auth.RequestInfo, res *resource) error {
	out, err := a.upgradeNode(c, ri)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	out.GetObjectKind().SetGroupVersionKind(berthv1.SchemeGroupVersion.WithKind("NodeUpgrade"))
	return writeJSON(c, http.StatusOK, out)
}

func (a *API) upgradeNode(c echo.Context, ri auth.RequestInfo) (*berthv1.NodeUpgrade, error) {
	s, err := a.hostImagesStore()
	if err != nil {
		return nil, err
	}
	var req berthv1.NodeUpgrade
	if err := json.NewDecoder(c.Request().Body).Decode(&req); err != nil {
		return nil, errdefs.BadRequest("the body must be a NodeUpgrade: %v", err)
	}
	ctx := c.Request().Context()
	obj, err := a.regs.Nodes.Get(ctx, "", ri.Name)
	if err != nil {
		return nil, err
	}
	node := obj.(*v1.Node)
	booted := berthv1.BootedCommit(node)
	if booted == "" {
		return nil, errdefs.Newf(errdefs.ErrConflict, "node %q is not an OSTree host: it reports no booted deployment (%s), so Berth cannot upgrade it; upgrade it as its operating system is upgraded",
			ri.Name, berthv1.AnnotationBootedDeployment)
	}
	if cur := upgradeState(node); cur != nil && cur.Phase != berthv1.UpgradeSucceeded && cur.Phase != berthv1.UpgradeFailed {
		return nil, errdefs.Newf(errdefs.ErrConflict, "node %q is being upgraded to %s (%s): wait for it to end", ri.Name, cur.Build, cur.Phase)
	}
	image := req.HostImage
	if image == "" {
		builds, err := s.ListBuilds(ctx, hostimages.BuildFilter{Commit: booted, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(builds) == 0 {
			return nil, errdefs.Newf(errdefs.ErrBadRequest, "node %q booted commit %.12s, which no host image build made: name the host image to upgrade it to (berth node upgrade %s --image NAME)", ri.Name, booted, ri.Name)
		}
		image = builds[0].HostImage
	}
	latest, err := a.newestBuild(c, s, image)
	if err != nil {
		return nil, err
	}
	if latest.Commit == booted {
		return nil, errdefs.Newf(errdefs.ErrConflict, "node %q already runs %s, the newest build of %s (version %s)", ri.Name, latest.Name, image, latest.Version)
	}
	if !req.Force {
		if bare, err := a.unmanagedPods(c, ri.Name); err != nil {
			return nil, err
		} else if len(bare) > 0 {
			return nil, errdefs.Newf(errdefs.ErrConflict, "cannot drain node %q: these pods are not managed by a replication controller and would not come back: %s (force deletes them)",
				ri.Name, strings.Join(bare, ", "))
		}
	}
	state := berthv1.NodeUpgradeState{
		Phase: berthv1.UpgradePending, HostImage: image, Build: latest.Name, Ref: latest.Ref, Target: latest.Commit,
		From: booted, Force: req.Force, Message: fmt.Sprintf("asked for by %s", identity(c).Name), Since: metav1.Now(),
	}
	data, err := json.Marshal(state)
	if err != nil {
		return nil, err
	}
	_, err = a.regs.Nodes.Update(ctx, "", ri.Name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		n := cur.DeepCopyObject().(*v1.Node)
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		n.Annotations[berthv1.AnnotationUpgrade] = string(data)
		return n, nil
	}, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return &berthv1.NodeUpgrade{HostImage: image, Force: req.Force, Target: latest.Commit, Ref: latest.Ref, Build: latest.Name}, nil
}

// newestBuild is a definition's newest successful build that made a
// commit.
func (a *API) newestBuild(c echo.Context, s HostImageStore, image string) (hostimages.Build, error) {
	builds, err := s.ListBuilds(c.Request().Context(), hostimages.BuildFilter{HostImage: image})
	if err != nil {
		return hostimages.Build{}, err
	}
	for _, b := range builds {
		if b.Phase == berthv1.BuildSucceeded && b.Commit != "" && !b.NoChanges {
			return b, nil
		}
	}
	return hostimages.Build{}, errdefs.Newf(errdefs.ErrConflict, "host image %q has no successful build to upgrade to", image)
}

// unmanagedPods names the pods on a node that no controller owns.
func (a *API) unmanagedPods(c echo.Context, node string) ([]string, error) {
	list, err := a.regs.Pods.List(c.Request().Context(), "", generic.ListOptions{Fields: fields.OneTermEqualSelector("spec.nodeName", node)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range list.(*v1.PodList).Items {
		if p.DeletionTimestamp == nil && metav1.GetControllerOf(&p) == nil {
			out = append(out, p.Namespace+"/"+p.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// upgradeState reads a node's upgrade annotation (nil: none, or not
// readable).
func upgradeState(node *v1.Node) *berthv1.NodeUpgradeState {
	raw := node.Annotations[berthv1.AnnotationUpgrade]
	if raw == "" {
		return nil
	}
	var st berthv1.NodeUpgradeState
	if json.Unmarshal([]byte(raw), &st) != nil {
		return nil
	}
	return &st
}
