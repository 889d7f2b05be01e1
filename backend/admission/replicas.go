package admission

import (
	"context"
	"fmt"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultMaxReplicas caps spec.replicas of one controller until quotas
// exist: an RC of 2147483647 replicas would create pods until etcd is full.
const DefaultMaxReplicas = 500

// ReplicaLimit refuses replication controllers that ask for more than
// max replicas, whoever asks (a scale included).
func ReplicaLimit(max int32) generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		rc, ok := a.Object.(*v1.ReplicationController)
		if !ok || a.Subresource != "" || rc.Spec.Replicas == nil || *rc.Spec.Replicas <= max {
			return nil
		}
		return errdefs.Invalid("ReplicationController", rc.Name, field.ErrorList{
			field.Invalid(field.NewPath("spec", "replicas"), *rc.Spec.Replicas,
				fmt.Sprintf("must be less than or equal to %d, the most replicas this cluster allows one controller", max)),
		})
	})
}
