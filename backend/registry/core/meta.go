package core

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// keepSystemMeta copies from old the metadata that only the system sets, so
// that a client replacing an object with a manifest that lacks them (kubectl
// replace) is not told it changed an immutable field. The resourceVersion is
// left alone: it is the client's compare-and-swap precondition.
func keepSystemMeta(meta, old *metav1.ObjectMeta) {
	if meta.UID == "" {
		meta.UID = old.UID
	}
	meta.CreationTimestamp = old.CreationTimestamp
	meta.DeletionTimestamp = old.DeletionTimestamp.DeepCopy()
	meta.DeletionGracePeriodSeconds = nil
	if old.DeletionGracePeriodSeconds != nil {
		seconds := *old.DeletionGracePeriodSeconds
		meta.DeletionGracePeriodSeconds = &seconds
	}
	meta.Generation = old.Generation
}

// keepMetaForStatus replaces meta with old for a status update: the status
// subresource may change status only. The resourceVersion the client sent
// stays, as the precondition of the compare-and-swap, and so do the
// managedFields the field manager computed for the write.
func keepMetaForStatus(meta, old *metav1.ObjectMeta) {
	resourceVersion, managedFields := meta.ResourceVersion, meta.ManagedFields
	*meta = *old.DeepCopy()
	meta.ResourceVersion, meta.ManagedFields = resourceVersion, managedFields
}
