package generic

import (
	"context"

	"github.com/berthpaas/berth/backend/registry/storage"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The hooks a resource may give its Registry, as kube-apiserver's generic
// registry.Store has them. Pure rules are optional interfaces of the
// Strategy (GracefulDeleteStrategy, TerminatingStrategy, TableConvertor);
// hooks that do I/O are fields of the Registry (Admission, Allocator, Charger,
// AfterCreate, AfterDelete, Finalizer, Auditor), set by whoever builds the
// registries
// (core.NewRegistries). Generic code asks for a hook, never for a
// resource's name.

// Operation is what a write does.
type Operation string

const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// Attributes describe one write to admission: who makes it is in the
// context (auth.IdentityFrom).
type Attributes struct {
	Operation Operation
	// Resource is the registry's resource ("pods"); Subresource is "" or
	// "status".
	Resource, Subresource string
	Namespace, Name       string
	// Object is the object to be stored (nil for deletes); admission may
	// change it. Old is the stored object (nil for creates).
	Object, Old runtime.Object
	DryRun      bool
}

// Admission decides, and may amend, every write of a registry after its
// strategy's defaults and before its validation, for every caller alike:
// API requests, controllers and the scheduler.
type Admission interface {
	// Admit returns nil to let the write go on, or an error (an errdefs
	// class: ErrForbidden, *errdefs.InvalidError ...) that refuses it.
	Admit(ctx context.Context, a *Attributes) error
}

// AdmissionFunc is an Admission of one function.
type AdmissionFunc func(ctx context.Context, a *Attributes) error

// Admit calls f.
func (f AdmissionFunc) Admit(ctx context.Context, a *Attributes) error { return f(ctx, a) }

// Chain runs admissions in order; the first refusal ends it.
type Chain []Admission

// Admit runs each admission in turn.
func (c Chain) Admit(ctx context.Context, a *Attributes) error {
	for _, adm := range c {
		if err := adm.Admit(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// Charger keeps quotas, as Kubernetes' ResourceQuota admission does: it
// runs after validation, as the last step before a new object is stored,
// and takes the object's cost from its namespace's quotas (refusing it
// with errdefs.ErrForbidden when one would be exceeded). The registry
// calls the returned undo when the store refuses the object after all
// (its name taken, its namespace going), so that nothing is charged for
// an object that does not exist. A dry run is checked, never charged.
type Charger interface {
	Charge(ctx context.Context, a *Attributes) (undo func(context.Context), err error)
}

// Finalizer makes deletion two-phase, as a namespace's is: Delete marks
// the object terminating (TerminatingStrategy), blocks new objects in it,
// calls Finalize to remove what it owns, and only then removes it. A
// failed Finalize leaves the object terminating; deleting it again
// (a controller does) resumes.
type Finalizer interface {
	Finalize(ctx context.Context, obj runtime.Object) error
}

// Auditor records the writes of in-process components (the controllers,
// the scheduler), which do not pass the API's HTTP audit.
type Auditor interface {
	// RecordWrite is called after every write attempt; err is its outcome.
	RecordWrite(ctx context.Context, verb, resource, namespace, name string, err error)
}

// GracefulDeleteStrategy is a Strategy whose objects may be deleted
// gracefully: marked with deletionTimestamp and removed later by whoever
// finishes the work (a pod's node agent).
type GracefulDeleteStrategy interface {
	// CheckGracefulDelete returns whether obj is deleted gracefully under
	// opts, and the grace period in seconds.
	CheckGracefulDelete(obj runtime.Object, opts *metav1.DeleteOptions) (graceful bool, grace int64)
}

// DependentsStrategy is a Strategy whose objects own others (a
// replication controller its pods): a delete that asks to orphan them or
// to go after them (propagationPolicy Orphan, Foreground) leaves the
// object with the orphan or foregroundDeletion finalizer for its
// controller to honour.
type DependentsStrategy interface {
	HasDependents()
}

// TerminatingStrategy is a Strategy whose objects show their deletion
// while they are finalized (a namespace's phase Terminating).
type TerminatingStrategy interface {
	PrepareForDelete(obj runtime.Object)
}

// TableConvertor is a Strategy that declares its resource's columns for
// `kubectl get` (Table output).
type TableConvertor interface {
	TableColumns() []metav1.TableColumnDefinition
	// TableRow returns the cells of one object, one per column.
	TableRow(obj runtime.Object) []any
}

// Allocator hands out the values of a resource that no two objects may
// hold (a service's cluster IP and node ports), as kube-apiserver's
// service allocators do. Each value an object holds is a storage.Claim,
// written and removed in the transactions that write and remove the
// object, so a value is never held twice, and never leaked.
type Allocator interface {
	// Claims returns the claims of the values obj holds.
	Claims(obj runtime.Object) []storage.Claim
	// Allocate gives obj the values it leaves to the server, among those
	// no claim holds; on an update old is the stored object (nil on a
	// create), whose values obj keeps. It returns the keys of the claims
	// it picked, and field errors for values obj asks for that are not
	// to be had (outside the range).
	Allocate(ctx context.Context, obj, old runtime.Object) (picked []string, errs field.ErrorList, err error)
	// Taken is the field error of a value obj asked for whose claim,
	// key, another object holds ("provided IP is already allocated").
	Taken(obj runtime.Object, key string) *field.Error
}
