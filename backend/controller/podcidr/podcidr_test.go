package podcidr_test

import (
	"net/netip"
	"testing"

	"github.com/berthpaas/berth/backend/controller/controllertest"
	"github.com/berthpaas/berth/backend/controller/podcidr"
	"github.com/berthpaas/berth/backend/registry/allocator"
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
)

// TestRepair mends what a crash between a node's write and its claim can
// leave: a node whose subnet is not recorded, a node without a subnet, a
// claim for a node that never came (freed on the second pass only).
func TestRepair(t *testing.T) {
	c := controllertest.Start(t) // its registries hand out no subnets
	ctx := controllertest.Ctx(t)
	subnets, err := allocator.NewSubnets(c.Env.Etcd, "podcidrs", netip.MustParsePrefix("10.77.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	allocating := core.NewRegistries(storage.New(c.Env.Etcd, storage.Options{}), core.Config{PodSubnets: subnets})

	unrecorded := controllertest.Node("unrecorded", "1", "1Gi")
	unrecorded.Spec.PodCIDR = "10.77.9.0/24"
	c.CreateNode(t, unrecorded)
	c.CreateNode(t, controllertest.Node("bare", "1", "1Gi"))
	if _, err := subnets.Allocate(ctx, "never-came"); err != nil {
		t.Fatal(err)
	}

	ctrl := podcidr.New(allocating.Nodes, subnets, allocating.Events, controllertest.Logger(t), 0)
	if err := ctrl.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	claims, err := subnets.Claims(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]netip.Prefix{}
	for p, o := range claims {
		owners[o] = p
	}
	if owners["unrecorded"] != netip.MustParsePrefix("10.77.9.0/24") {
		t.Errorf("the unrecorded node's subnet is not claimed for it: %v", claims)
	}
	obj, err := c.Nodes.Get(ctx, "", "bare")
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.(*v1.Node).Spec.PodCIDR; got == "" || owners["bare"].String() != got {
		t.Errorf("the bare node got %q; claims %v", got, claims)
	}
	if _, held := owners["never-came"]; !held {
		t.Errorf("the claim of a node not (yet) seen went on the first pass")
	}

	if err := ctrl.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	claims, _ = subnets.Claims(ctx)
	for _, o := range claims {
		if o == "never-came" {
			t.Errorf("the orphan claim stays after two passes: %v", claims)
		}
	}
	if len(claims) != 2 {
		t.Errorf("claims after repair: %v", claims)
	}
}
