package admission_test

import (
	"context"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/berthpaas/berth/backend/admission"
	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var (
	admin  = auth.Identity{Name: "root", ClusterAdmin: true}
	tenant = auth.Identity{Name: "ten"}
	ctrl   = auth.ComponentIdentity("replication-controller")
	node1  = auth.Identity{Name: "admin", ClusterAdmin: true, TokenKind: auth.TokenKindNode, NodeName: "n1"}
)

func as(id auth.Identity) context.Context { return auth.WithIdentity(context.Background(), id) }

func hostPathPod(marked bool) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: v1.PodSpec{
		Volumes: []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv"}}}},
	}}
	if marked {
		p.Annotations = map[string]string{berthv1.AnnotationHostPathAllowed: "true"}
	}
	return p
}

func plainPod(marked bool) *v1.Pod {
	p := hostPathPod(marked)
	p.Spec.Volumes = nil
	return p
}

func TestHostPath(t *testing.T) {
	tests := []struct {
		name       string
		ctx        context.Context
		op         generic.Operation
		obj, old   runtime.Object
		wantErr    bool
		wantMarked bool
	}{
		{"admin's host path is marked", as(admin), generic.Create, hostPathPod(false), nil, false, true},
		{"tenant's host path is refused", as(tenant), generic.Create, hostPathPod(false), nil, true, false},
		{"tenant's forged mark is removed", as(tenant), generic.Create, plainPod(true), nil, false, false},
		{"a node's credential is no admin", as(node1), generic.Create, hostPathPod(false), nil, true, false},
		{"no identity is no admin", context.Background(), generic.Create, hostPathPod(true), nil, true, false},
		{"a controller copies what was admitted", as(ctrl), generic.Create, hostPathPod(true), nil, false, true},
		{"a controller does not keep a mark without host paths", as(ctrl), generic.Create, plainPod(true), nil, false, false},
		{"a tenant relabels an admin's pod", as(tenant), generic.Update, hostPathPod(true), hostPathPod(true), false, true},
		{"a tenant cannot change an admin's host path", as(tenant), generic.Update, func() *v1.Pod {
			p := hostPathPod(true)
			p.Spec.Volumes[0].HostPath.Path = "/"
			return p
		}(), hostPathPod(true), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admission.HostPath().Admit(tt.ctx, &generic.Attributes{Operation: tt.op, Resource: "pods", Object: tt.obj, Old: tt.old})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				var inv *errdefs.InvalidError
				if !errors.As(err, &inv) || inv.Errs[0].Field != "spec.volumes[0].hostPath" {
					t.Fatalf("err = %v, want an invalid spec.volumes[0].hostPath", err)
				}
				return
			}
			if got := berthv1.HostPathAllowed(tt.obj.(*v1.Pod)); got != tt.wantMarked {
				t.Fatalf("marked = %v, want %v", got, tt.wantMarked)
			}
		})
	}
}

func TestHostPathInTemplates(t *testing.T) {
	rc := &v1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc"}, Spec: v1.ReplicationControllerSpec{
		Template: &v1.PodTemplateSpec{Spec: hostPathPod(false).Spec},
	}}
	err := admission.HostPath().Admit(as(tenant), &generic.Attributes{Operation: generic.Create, Resource: "replicationcontrollers", Object: rc})
	var inv *errdefs.InvalidError
	if !errors.As(err, &inv) || inv.Errs[0].Field != "spec.template.spec.volumes[0].hostPath" {
		t.Fatalf("err = %v", err)
	}
}

func portPod(hostPort int32, hostIP string) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1.PodSpec{Containers: []v1.Container{{
		Name: "c", Ports: []v1.ContainerPort{{ContainerPort: 80, HostPort: hostPort, HostIP: hostIP}},
	}}}}
}

func TestHostPorts(t *testing.T) {
	allowed := admission.PortRange{Min: 30000, Max: 32767}
	tests := []struct {
		name      string
		id        auth.Identity
		pod       *v1.Pod
		wantField string
	}{
		{"no host port", tenant, portPod(0, ""), ""},
		{"in range", tenant, portPod(30000, ""), ""},
		{"top of range", tenant, portPod(32767, ""), ""},
		{"below", tenant, portPod(29999, ""), "spec.containers[0].ports[0].hostPort"},
		{"ssh", tenant, portPod(22, ""), "spec.containers[0].ports[0].hostPort"},
		{"loopback", tenant, portPod(30000, "127.0.0.1"), "spec.containers[0].ports[0].hostIP"},
		{"any address spelled out", tenant, portPod(30000, "0.0.0.0"), ""},
		{"a chosen address", tenant, portPod(30000, "10.0.0.7"), "spec.containers[0].ports[0].hostIP"},
		{"cluster admin", admin, portPod(22, "127.0.0.1"), ""},
		{"controller", ctrl, portPod(8080, ""), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admission.HostPorts(allowed).Admit(as(tt.id), &generic.Attributes{Operation: generic.Create, Resource: "pods", Object: tt.pod})
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var inv *errdefs.InvalidError
			if !errors.As(err, &inv) || inv.Errs[0].Field != tt.wantField {
				t.Fatalf("err = %v, want an error on %s", err, tt.wantField)
			}
		})
	}
}

func TestReplicaLimit(t *testing.T) {
	rc := func(n int32) *v1.ReplicationController {
		return &v1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc"}, Spec: v1.ReplicationControllerSpec{Replicas: &n}}
	}
	limit := admission.ReplicaLimit(10)
	for _, tt := range []struct {
		n       int32
		wantErr bool
	}{{0, false}, {10, false}, {11, true}, {2147483647, true}} {
		err := limit.Admit(as(admin), &generic.Attributes{Operation: generic.Update, Resource: "replicationcontrollers", Object: rc(tt.n)})
		if (err != nil) != tt.wantErr {
			t.Errorf("replicas %d: err = %v", tt.n, err)
		}
	}
}

type podGetter map[string]*v1.Pod

func (g podGetter) Get(_ context.Context, ns, name string) (runtime.Object, error) {
	if p, ok := g[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, errdefs.ErrNotFound
}

func boundPod(name, node string) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)}, Spec: v1.PodSpec{NodeName: node}}
}

func event(ns, kind, name string) *v1.Event {
	return &v1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: ns}, InvolvedObject: v1.ObjectReference{Kind: kind, Namespace: ns, Name: name}}
}

func TestNodeRestriction(t *testing.T) {
	pods := podGetter{"ns/mine": boundPod("mine", "n1"), "ns/theirs": boundPod("theirs", "n2")}
	node := func(name string) *v1.Node { return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	tests := []struct {
		name  string
		attrs generic.Attributes
		ok    bool
	}{
		{"own pod's status", generic.Attributes{Operation: generic.Update, Subresource: "status", Resource: "pods", Name: "mine", Object: boundPod("mine", "n1"), Old: boundPod("mine", "n1")}, true},
		{"another node's pod's status", generic.Attributes{Operation: generic.Update, Subresource: "status", Resource: "pods", Name: "theirs", Object: boundPod("theirs", "n2"), Old: boundPod("theirs", "n2")}, false},
		{"own pod's spec", generic.Attributes{Operation: generic.Update, Resource: "pods", Name: "mine", Object: boundPod("mine", "n1"), Old: boundPod("mine", "n1")}, false},
		{"delete own pod", generic.Attributes{Operation: generic.Delete, Resource: "pods", Name: "mine", Old: boundPod("mine", "n1")}, true},
		{"delete another node's pod", generic.Attributes{Operation: generic.Delete, Resource: "pods", Name: "theirs", Old: boundPod("theirs", "n2")}, false},
		{"create a pod", generic.Attributes{Operation: generic.Create, Resource: "pods", Name: "new", Object: boundPod("new", "n1")}, false},
		{"register itself", generic.Attributes{Operation: generic.Create, Resource: "nodes", Name: "n1", Object: node("n1")}, true},
		{"register another node", generic.Attributes{Operation: generic.Create, Resource: "nodes", Name: "n2", Object: node("n2")}, false},
		{"heartbeat another node", generic.Attributes{Operation: generic.Update, Subresource: "status", Resource: "nodes", Name: "n2", Object: node("n2"), Old: node("n2")}, false},
		{"delete itself", generic.Attributes{Operation: generic.Delete, Resource: "nodes", Name: "n1", Old: node("n1")}, false},
		{"event about itself", generic.Attributes{Operation: generic.Create, Resource: "events", Namespace: "default", Object: event("default", "Node", "n1")}, true},
		{"event about its pod", generic.Attributes{Operation: generic.Create, Resource: "events", Namespace: "ns", Object: event("ns", "Pod", "mine")}, true},
		{"event about another node's pod", generic.Attributes{Operation: generic.Create, Resource: "events", Namespace: "ns", Object: event("ns", "Pod", "theirs")}, false},
		{"event about another node", generic.Attributes{Operation: generic.Create, Resource: "events", Namespace: "default", Object: event("default", "Node", "n2")}, false},
		{"event in another namespace than its pod's", generic.Attributes{Operation: generic.Create, Resource: "events", Namespace: "elsewhere", Object: func() *v1.Event {
			e := event("elsewhere", "Pod", "mine")
			e.InvolvedObject.Namespace = "ns"
			return e
		}()}, false},
		{"its own lease", generic.Attributes{Operation: generic.Update, Resource: "leases", Namespace: "kube-node-lease", Name: "n1"}, true},
		{"another node's lease", generic.Attributes{Operation: generic.Update, Resource: "leases", Namespace: "kube-node-lease", Name: "n2"}, false},
		{"a lease elsewhere", generic.Attributes{Operation: generic.Create, Resource: "leases", Namespace: "tenant", Name: "n1"}, false},
		{"a service", generic.Attributes{Operation: generic.Create, Resource: "services", Namespace: "ns", Object: &v1.Service{}}, false},
	}
	restrict := admission.NodeRestriction(pods)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := restrict.Admit(as(node1), &tt.attrs)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want allowed %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, errdefs.ErrForbidden) {
				t.Fatalf("err = %v, want ErrForbidden", err)
			}
		})
	}
	// Other writers are not its business.
	if err := restrict.Admit(as(tenant), &generic.Attributes{Operation: generic.Create, Resource: "services", Object: &v1.Service{}}); err != nil {
		t.Fatalf("a tenant's write: %v", err)
	}
}

func TestParsePortRange(t *testing.T) {
	for in, want := range map[string]admission.PortRange{"30000-32767": {Min: 30000, Max: 32767}, "1-65535": {Min: 1, Max: 65535}, " 80 - 80 ": {Min: 80, Max: 80}} {
		if got, err := admission.ParsePortRange(in); err != nil || got != want {
			t.Errorf("ParsePortRange(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "80", "0-10", "10-5", "1-70000", "a-b"} {
		if _, err := admission.ParsePortRange(in); err == nil {
			t.Errorf("ParsePortRange(%q) accepted", in)
		}
	}
}
