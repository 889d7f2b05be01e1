// Package endpoints is the endpoints controller: it keeps, for every
// service with a selector, an Endpoints object of the same name that lists
// the pods the selector matches, as Kubernetes' endpoints controller does.
//
//	service or pod event ──▶ queue (namespace/name of each service
//	concerned) ──▶ sync:
//	  service gone              ──▶ delete its endpoints
//	  service without selector  ──▶ leave its endpoints to whoever writes them
//	  pods the selector matches ──▶ ready ones in addresses, others (not
//	    ready, or being deleted) in notReadyAddresses, each with its node
//	    and a reference to the pod; ports resolved from each service port's
//	    targetPort (a number, or the name of a container port)
//	  differs from what is stored ──▶ create or update the endpoints
//
// Pods that are finished, or have no IP yet, are left out. Services with
// publishNotReadyAddresses list every such pod as ready.
package endpoints

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/controller/cache"
	"github.com/berthpaas/berth/backend/controller/queue"
	"github.com/berthpaas/berth/backend/controller/record"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
)

// Component names the controller in events and audit entries.
const Component = "endpoint-controller"

// Defaults of Options.
const (
	DefaultWorkers      = 2
	DefaultResyncPeriod = 5 * time.Minute
)

// errorRetryDelay is the pause before syncing a service again after a
// failure.
const errorRetryDelay = time.Second

// Options tune the controller; zero fields take the defaults.
type Options struct {
	Workers      int
	ResyncPeriod time.Duration
}

// Services is what the controller needs of the services registry.
type Services interface {
	cache.Source
}

// Pods is what the controller needs of the pods registry.
type Pods interface {
	cache.Source
}

// Endpoints is what the controller needs of the endpoints registry.
type Endpoints interface {
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
	Create(ctx context.Context, ns string, obj runtime.Object, opts metav1.CreateOptions) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
	Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error)
}

// Controller keeps the endpoints of services.
type Controller struct {
	services  Services
	pods      Pods
	endpoints Endpoints
	recorder  *record.Recorder
	logger    *slog.Logger
	opts      Options
}

// New returns an endpoints controller; it records events through events.
func New(services Services, pods Pods, endpoints Endpoints, events record.Events, logger *slog.Logger, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = DefaultResyncPeriod
	}
	logger = logger.With("component", Component)
	return &Controller{
		services: services, pods: pods, endpoints: endpoints,
		recorder: record.New(events, Component, logger), logger: logger, opts: opts,
	}
}

// run is the state of one Run.
type run struct {
	*Controller
	svcInformer *cache.Informer[*v1.Service]
	podInformer *cache.Informer[*v1.Pod]
	queue       *queue.Queue
}

// Run keeps endpoints until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Component))
	r := &run{Controller: c, queue: queue.New()}
	defer r.queue.Stop()
	r.svcInformer = cache.New(c.services, "", generic.ListOptions{}, r.onService, c.logger)
	r.podInformer = cache.New(c.pods, "", generic.ListOptions{}, r.onPod, c.logger)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.svcInformer.Run(ctx) })
	wg.Go(func() { r.podInformer.Run(ctx) })
	if !r.svcInformer.WaitForSync(ctx) || !r.podInformer.WaitForSync(ctx) {
		return
	}
	// Endpoints whose service went while no controller ran.
	if err := r.queueLeftovers(ctx); err != nil && ctx.Err() == nil {
		c.logger.Warn("list endpoints", "error", err)
	}
	for range c.opts.Workers {
		wg.Go(func() { r.work(ctx) })
	}
	ticker := time.NewTicker(c.opts.ResyncPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			for _, svc := range r.svcInformer.List() {
				r.queue.Add(cache.Key(svc))
			}
		}
	}
}

func (r *run) queueLeftovers(ctx context.Context) error {
	list, err := r.endpoints.List(ctx, "", generic.ListOptions{})
	if err != nil {
		return err
	}
	for i := range list.(*v1.EndpointsList).Items {
		ep := &list.(*v1.EndpointsList).Items[i]
		if _, ok := r.svcInformer.Get(cache.Key(ep)); !ok {
			r.queue.Add(cache.Key(ep))
		}
	}
	return nil
}

func (r *run) work(ctx context.Context) {
	for {
		key, ok := r.queue.Get(ctx)
		if !ok {
			return
		}
		if err := r.sync(ctx, key); err != nil && ctx.Err() == nil {
			r.logger.Warn("sync", "service", key, "error", err)
			r.queue.AddAfter(key, errorRetryDelay)
		}
		r.queue.Done(key)
	}
}

func (r *run) onService(old, cur *v1.Service) {
	if cur != nil {
		r.queue.Add(cache.Key(cur))
	} else {
		r.queue.Add(cache.Key(old))
	}
}

// onPod queues the services in the pod's namespace that select it, before
// or after the change.
func (r *run) onPod(old, cur *v1.Pod) {
	for _, svc := range r.svcInformer.List() {
		if svc.Spec.Selector == nil {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, p := range []*v1.Pod{old, cur} {
			if p != nil && p.Namespace == svc.Namespace && sel.Matches(labels.Set(p.Labels)) {
				r.queue.Add(cache.Key(svc))
				break
			}
		}
	}
}

// sync brings the endpoints of one service in line with its pods.
func (r *run) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	svc, ok := r.svcInformer.Get(key)
	if !ok {
		_, err := r.endpoints.Delete(ctx, ns, name, metav1.DeleteOptions{})
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	}
	if svc.Spec.Selector == nil {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var pods []*v1.Pod
	for _, p := range r.podInformer.List() {
		if p.Namespace == ns && sel.Matches(labels.Set(p.Labels)) {
			pods = append(pods, p)
		}
	}
	subsets := Subsets(svc, pods)
	want := &v1.Endpoints{
		TypeMeta:   metav1.TypeMeta{Kind: "Endpoints", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: endpointsLabels(svc)},
		Subsets:    subsets,
	}
	obj, err := r.endpoints.Get(ctx, ns, name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		_, err = r.endpoints.Create(ctx, ns, want, metav1.CreateOptions{})
		if errors.Is(err, storage.ErrParentNotFound) {
			return nil // the namespace is going
		}
		return r.reportFailure(ctx, svc, err)
	case err != nil:
		return err
	}
	cur := obj.(*v1.Endpoints)
	if apiequality.Semantic.DeepEqual(cur.Subsets, want.Subsets) && apiequality.Semantic.DeepEqual(cur.Labels, want.Labels) {
		return nil
	}
	_, err = r.endpoints.Update(ctx, ns, name, generic.UpdateSpec, func(current runtime.Object) (runtime.Object, error) {
		ep := current.(*v1.Endpoints)
		ep.Labels, ep.Subsets = want.Labels, want.Subsets
		return ep, nil
	}, metav1.UpdateOptions{})
	if errors.Is(err, storage.ErrNotFound) {
		r.queue.Add(key) // deleted meanwhile: create it anew
		return nil
	}
	return r.reportFailure(ctx, svc, err)
}

// reportFailure records a write the controller could not make on its
// service, as kube's FailedToUpdateEndpoint, and returns err.
func (r *run) reportFailure(ctx context.Context, svc *v1.Service, err error) error {
	if err != nil && ctx.Err() == nil {
		r.recorder.Eventf(ctx, record.Reference("Service", svc), v1.EventTypeWarning, "FailedToUpdateEndpoint",
			"Failed to update endpoint %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return err
}

// endpointsLabels are the service's labels, with Kubernetes' mark of a
// headless service's endpoints.
func endpointsLabels(svc *v1.Service) map[string]string {
	out := make(map[string]string, len(svc.Labels)+1)
	for k, v := range svc.Labels {
		out[k] = v
	}
	if svc.Spec.ClusterIP == v1.ClusterIPNone {
		out[v1.IsHeadlessService] = ""
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Subsets are the endpoint subsets of svc given the pods its selector
// matches: for each pod that should be listed, its address (ready or
// not) under the ports it resolves, grouped by identical port sets and
// sorted, so that equal inputs give equal subsets.
func Subsets(svc *v1.Service, pods []*v1.Pod) []v1.EndpointSubset {
	type entry struct {
		addr  v1.EndpointAddress
		ready bool
		ports []v1.EndpointPort
	}
	var entries []entry
	for _, pod := range pods {
		if !listed(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		e := entry{addr: address(pod, svc), ready: svc.Spec.PublishNotReadyAddresses || podReady(pod)}
		for _, sp := range svc.Spec.Ports {
			if port, ok := findPort(pod, &sp); ok {
				e.ports = append(e.ports, v1.EndpointPort{Name: sp.Name, Port: port, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
			}
		}
		if len(svc.Spec.Ports) > 0 && len(e.ports) == 0 {
			continue // serves none of the service's ports
		}
		entries = append(entries, e)
	}
	bySet := map[string]*v1.EndpointSubset{}
	var keys []string
	for _, e := range entries {
		key := portsKey(e.ports)
		ss, ok := bySet[key]
		if !ok {
			ss = &v1.EndpointSubset{Ports: e.ports}
			bySet[key] = ss
			keys = append(keys, key)
		}
		if e.ready {
			ss.Addresses = append(ss.Addresses, e.addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, e.addr)
		}
	}
	sort.Strings(keys)
	subsets := make([]v1.EndpointSubset, 0, len(keys))
	for _, key := range keys {
		ss := bySet[key]
		sortAddresses(ss.Addresses)
		sortAddresses(ss.NotReadyAddresses)
		subsets = append(subsets, *ss)
	}
	if len(subsets) == 0 {
		return nil
	}
	return subsets
}

// listed reports whether a pod belongs in the endpoints at all: it has an
// address, is not finished, and is not being deleted (unless the service
// publishes not-ready addresses).
func listed(pod *v1.Pod, publishNotReady bool) bool {
	switch {
	case pod.Status.PodIP == "":
		return false
	case pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed:
		return false
	case pod.DeletionTimestamp != nil && !publishNotReady:
		return false
	}
	return true
}

func podReady(pod *v1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func address(pod *v1.Pod, svc *v1.Service) v1.EndpointAddress {
	a := v1.EndpointAddress{
		IP: pod.Status.PodIP,
		TargetRef: &v1.ObjectReference{
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		node := pod.Spec.NodeName
		a.NodeName = &node
	}
	// A pod names itself in the service's DNS when its subdomain is the
	// service (headless services' pods, as Kubernetes' StatefulSets do).
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && svc.Namespace == pod.Namespace {
		a.Hostname = pod.Spec.Hostname
	}
	return a
}

// findPort resolves a service port's targetPort on a pod: a number is
// itself; a name is the container port of that name and protocol.
func findPort(pod *v1.Pod, sp *v1.ServicePort) (int32, bool) {
	switch sp.TargetPort.Type {
	case intstr.String:
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				proto := p.Protocol
				if proto == "" {
					proto = v1.ProtocolTCP
				}
				if p.Name == sp.TargetPort.StrVal && proto == sp.Protocol {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	default:
		if sp.TargetPort.IntVal == 0 {
			return sp.Port, true
		}
		return sp.TargetPort.IntVal, true
	}
}

func portsKey(ports []v1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = p.Name + "/" + string(p.Protocol) + "/" + strconv.Itoa(int(p.Port))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// sortAddresses orders addresses by IP, numerically.
func sortAddresses(addrs []v1.EndpointAddress) {
	slices.SortFunc(addrs, func(a, b v1.EndpointAddress) int {
		ia, errA := netip.ParseAddr(a.IP)
		ib, errB := netip.ParseAddr(b.IP)
		if errA != nil || errB != nil {
			return strings.Compare(a.IP, b.IP)
		}
		return ia.Compare(ib)
	})
}
