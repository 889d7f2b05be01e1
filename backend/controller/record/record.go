// Package record writes the events that the scheduler and the controllers
// report about objects (what kubectl describe shows). Repeats of an event
// are folded into the first one, whose count and lastTimestamp grow.
package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// maxRemembered bounds the events remembered for folding repeats.
const maxRemembered = 4096

// Recorder writes events as one component ("default-scheduler").
type Recorder struct {
	events    Events
	component string
	logger    *slog.Logger
	now       func() time.Time

	mu sync.Mutex
	// seen maps a repeatable event to the name of the stored one; guarded
	// by mu.
	seen map[seenKey]string
}

type seenKey struct {
	uid, eventType, reason, message string
}

// Events is what a recorder needs of the events registry.
type Events interface {
	Create(ctx context.Context, ns string, obj runtime.Object, opts metav1.CreateOptions) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// New returns a recorder that writes through events; logger is expected
// to be scoped to the component already.
func New(events Events, component string, logger *slog.Logger) *Recorder {
	return &Recorder{
		events:    events,
		component: component,
		logger:    logger,
		now:       time.Now,
		seen:      map[seenKey]string{},
	}
}

// Reference describes the object an event is about.
func Reference(kind string, obj metav1.Object) v1.ObjectReference {
	return v1.ObjectReference{
		Kind: kind, APIVersion: "v1", Namespace: obj.GetNamespace(), Name: obj.GetName(),
		UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
	}
}

// Eventf records an event about the object ref names. eventType is
// v1.EventTypeNormal or v1.EventTypeWarning. Failures are logged: an event
// is worth less than the work it reports.
func (r *Recorder) Eventf(ctx context.Context, ref v1.ObjectReference, eventType, reason, format string, args ...any) {
	message := fmt.Sprintf(format, args...)
	if len(message) > core.MaxEventMessageLength {
		message = message[:core.MaxEventMessageLength]
	}
	err := r.record(ctx, ref, eventType, reason, message)
	if errors.Is(err, storage.ErrParentNotFound) {
		// Events of cluster-scoped objects go to the default namespace,
		// which a cluster may not have.
		r.logger.Debug("event dropped: no namespace", "reason", reason, "object", ref.Name)
		return
	}
	if err != nil && ctx.Err() == nil {
		r.logger.Warn("record event", "reason", reason, "object", ref.Namespace+"/"+ref.Name, "error", err)
	}
}

func (r *Recorder) record(ctx context.Context, ref v1.ObjectReference, eventType, reason, message string) error {
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	now := metav1.NewTime(r.now())
	key := seenKey{uid: string(ref.UID), eventType: eventType, reason: reason, message: message}
	r.mu.Lock()
	name, repeat := r.seen[key]
	r.mu.Unlock()
	if repeat {
		_, err := r.events.Update(ctx, ns, name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
			ev := cur.(*v1.Event)
			ev.Count++
			ev.LastTimestamp = now
			return ev, nil
		}, metav1.UpdateOptions{})
		if err == nil || !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	ref.ResourceVersion = ""
	ev := &v1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()), Namespace: ns},
		InvolvedObject: ref,
		Reason:         reason,
		Message:        message,
		Type:           eventType,
		Source:         v1.EventSource{Component: r.component},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	if _, err := r.events.Create(ctx, ns, ev, metav1.CreateOptions{}); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) >= maxRemembered {
		clear(r.seen)
	}
	r.seen[key] = ev.Name
	return nil
}
