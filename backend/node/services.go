package node

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/clusterdns"
	"github.com/berthpaas/berth/backend/proxy"
	"github.com/berthpaas/berth/client"
)

// svcView is the agent's mirror of the cluster's services and endpoints,
// and of the service network's parameters: its proxy, its DNS server and
// the service variables of its containers read it.
type svcView struct {
	mu sync.RWMutex
	// The fields below are guarded by mu.
	services  map[string]*v1.Service   // by namespace/name
	endpoints map[string]*v1.Endpoints // by namespace/name
	svcSynced bool
	epSynced  bool
	network   *berthv1.ClusterNetwork

	// woken has a value after a change (capacity 1).
	woken chan struct{}
}

func newSvcView() *svcView {
	return &svcView{services: map[string]*v1.Service{}, endpoints: map[string]*v1.Endpoints{}, woken: make(chan struct{}, 1)}
}

func (v *svcView) changed(f func()) {
	v.mu.Lock()
	f()
	v.mu.Unlock()
	select {
	case v.woken <- struct{}{}:
	default:
	}
}

// Service implements clusterdns.Source.
func (v *svcView) Service(ns, name string) (*v1.Service, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s, ok := v.services[ns+"/"+name]
	return s, ok
}

// Endpoints implements clusterdns.Source.
func (v *svcView) Endpoints(ns, name string) (*v1.Endpoints, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e, ok := v.endpoints[ns+"/"+name]
	return e, ok
}

// synced reports whether both lists arrived.
func (v *svcView) synced() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.svcSynced && v.epSynced
}

// snapshot is what the proxy programs.
func (v *svcView) snapshot() ([]*v1.Service, map[string]*v1.Endpoints) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	svcs := make([]*v1.Service, 0, len(v.services))
	for _, s := range v.services {
		svcs = append(svcs, s)
	}
	eps := make(map[string]*v1.Endpoints, len(v.endpoints))
	for k, e := range v.endpoints {
		eps[k] = e
	}
	return svcs, eps
}

func (v *svcView) clusterNetwork() *berthv1.ClusterNetwork {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.network
}

// inNamespace are the services of namespace, by name.
func (v *svcView) inNamespace(ns string) []*v1.Service {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []*v1.Service
	for _, s := range v.services {
		if s.Namespace == ns {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// mirror keeps the view of one resource equal to the cluster's.
func mirror[T any](a *Agent, ctx context.Context, res client.Resource, view *svcView, log *slog.Logger, store func() map[string]*T, setSynced func()) {
	key := func(raw []byte) (string, *T, error) {
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		obj := new(T)
		if err := json.Unmarshal(raw, obj); err != nil {
			return "", nil, fmt.Errorf("decode %s: %w", res.Resource, err)
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return "", nil, err
		}
		return meta.Metadata.Namespace + "/" + meta.Metadata.Name, obj, nil
	}
	a.follow(ctx, res, log, func(items []json.RawMessage) error {
		fresh := map[string]*T{}
		for _, raw := range items {
			k, obj, err := key(raw)
			if err != nil {
				return err
			}
			fresh[k] = obj
		}
		view.changed(func() {
			m := store()
			clear(m)
			for k, o := range fresh {
				m[k] = o
			}
			setSynced()
		})
		return nil
	}, func(ev client.Event) error {
		k, obj, err := key(ev.Object)
		if err != nil {
			return err
		}
		view.changed(func() {
			if ev.Type == client.Deleted {
				delete(store(), k)
			} else {
				store()[k] = obj
			}
		})
		return nil
	})
}

// serviceConditionType is the Node condition that says whether the
// node's service proxy and DNS work.
const serviceConditionType v1.NodeConditionType = "ServiceProxyUnavailable"

// runServices mirrors the services and endpoints, serves DNS on the pod
// network's gateway, and, when the agent runs the service proxy, programs
// the host for them, one agent per host and service network at a time.
func (a *Agent) runServices(ctx context.Context) {
	log := a.log.With("runner", "services")
	view := a.services
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		mirror(a, ctx, client.Services, view, log, func() map[string]*v1.Service { return view.services }, func() { view.svcSynced = true })
	})
	wg.Go(func() {
		mirror(a, ctx, client.Endpoints, view, log, func() map[string]*v1.Endpoints { return view.endpoints }, func() { view.epSynced = true })
	})
	wg.Go(func() { a.readClusterNetwork(ctx, view, log) })
	if a.cfg.Network != nil {
		wg.Go(func() { a.serveDNS(ctx, view, log) })
	}
	if a.cfg.ServiceProxy {
		wg.Go(func() { a.runProxy(ctx, view, log) })
	}
}

func (a *Agent) readClusterNetwork(ctx context.Context, view *svcView, log *slog.Logger) {
	for {
		var cn berthv1.ClusterNetwork
		err := a.call(ctx, func(api *client.Client) error {
			return api.Get(ctx, client.ClusterNetworks, "", berthv1.ClusterNetworkName, &cn)
		})
		wait := clusterNetworkRefresh
		switch {
		case err == nil:
			view.changed(func() { view.network = &cn })
		case ctx.Err() == nil:
			log.Warn("cannot read the cluster network", "error", err)
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// serveDNS serves the cluster's names on the pod network's gateway, once
// there is one, for as long as the agent runs.
func (a *Agent) serveDNS(ctx context.Context, view *svcView, log *slog.Logger) {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	failing := ""
	for ctx.Err() == nil {
		gw, err := a.cfg.Network.Gateway()
		cn := view.clusterNetwork()
		if err == nil && cn != nil {
			domain := cmpOr(cn.ClusterDomain, berthv1.DefaultClusterDomain)
			srv := clusterdns.New(view, domain, clusterdns.DefaultUpstreams(), log)
			addr := clusterdns.Addr(gw)
			log.Info("DNS server listening", "address", addr, "domain", domain)
			err = srv.ListenAndServe(ctx, addr)
			if err != nil && failing != err.Error() {
				log.Error("DNS server stopped; trying again", "error", err)
				failing = err.Error()
			}
		}
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
	}
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// proxyLockDir holds the locks by which the agents of one host decide
// which of them programs a service network's rules.
const proxyLockDir = "/run/berth"

// runProxy programs the host's rules for the services while this agent
// holds the host's lock of the service network; the others stand by,
// and one of them takes over within proxyStandbyPoll when it goes
// (stopped, or killed: the kernel drops a dead process's lock).
func (a *Agent) runProxy(ctx context.Context, view *svcView, log *slog.Logger) {
	log = log.With("part", "service-proxy")
	for ctx.Err() == nil {
		cn := view.clusterNetwork()
		if cn == nil || cn.ServiceNetwork == "" || !view.synced() {
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		id := proxy.ID(cn.ServiceNetwork)
		lock, holder, err := tryHostLock(filepath.Join(a.proxyLockDir(), "service-proxy-"+id+".lock"), a.cfg.Name)
		switch {
		case err != nil:
			a.setServiceCondition(ctx, "HostUnsupported", "the service proxy cannot run on this host: "+err.Error(), log)
			if !sleepCtx(ctx, 5*time.Second) {
				return
			}
			continue
		case lock == nil:
			a.setServiceCondition(ctx, "", "the service proxy of this host is node "+holder+"'s agent; this one stands by", log)
			if !sleepCtx(ctx, proxyStandbyPoll) {
				return
			}
			continue
		}
		a.leadProxy(ctx, view, cn.ServiceNetwork, log)
		lock.Close()
	}
}

// proxyStandbyPoll is how often a standing-by agent tries the lock.
const proxyStandbyPoll = 100 * time.Millisecond

func (a *Agent) proxyLockDir() string {
	if a.cfg.ProxyLockDir != "" {
		return a.cfg.ProxyLockDir
	}
	return proxyLockDir
}

// leadProxy runs the proxier until ctx ends or the service network
// changes.
func (a *Agent) leadProxy(ctx context.Context, view *svcView, network string, log *slog.Logger) {
	p, err := proxy.New(ctx, network, log)
	if err != nil {
		a.setServiceCondition(ctx, "HostUnsupported", err.Error(), log)
		sleepCtx(ctx, 5*time.Second)
		return
	}
	log.Info("service proxy running", "service_network", network, "chains", "BERTH-*-"+proxy.ID(network))
	a.setServiceCondition(ctx, "", "the service proxy programs this host's iptables", log)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	for {
		p.Update(view.snapshot())
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				log.Error("service proxy stopped", "error", err)
			}
			return
		case <-view.woken:
			if cn := view.clusterNetwork(); cn != nil && cn.ServiceNetwork != network {
				stop()
				<-done
				return
			}
		}
	}
}

// tryHostLock takes the lock file at path without waiting; nil when
// another process holds it, with what that process wrote in it.
func tryHostLock(path, me string) (*os.File, string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, "", err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, "", err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		data, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, strings.TrimSpace(string(data)), nil
		}
		return nil, "", err
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(me+" (pid "+strconv.Itoa(os.Getpid())+")\n"), 0)
	}
	return f, "", nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// setServiceCondition records whether the node's service proxy works
// (reason "" when it does) and writes the node's conditions on a change.
func (a *Agent) setServiceCondition(ctx context.Context, reason, msg string, log *slog.Logger) {
	cond := v1.NodeCondition{Type: serviceConditionType, Status: v1.ConditionFalse, Reason: "ServiceProxyReady", Message: msg}
	if reason != "" {
		cond.Status, cond.Reason = v1.ConditionTrue, reason
	}
	a.readyMu.Lock()
	same := a.serviceCond.Reason == cond.Reason && a.serviceCond.Message == cond.Message
	if !same {
		cond.LastTransitionTime = metav1.Now()
		a.serviceCond = cond
	}
	a.readyMu.Unlock()
	if same {
		return
	}
	if reason != "" {
		log.Error("the service proxy cannot run on this node", "reason", reason, "error", msg)
	} else {
		log.Info(msg)
	}
	if err := a.call(ctx, func(api *client.Client) error {
		return a.patchNodeStatus(ctx, api, map[string]any{"status": map[string]any{"conditions": a.conditions(time.Now(), nil)}})
	}); err != nil && ctx.Err() == nil {
		log.Warn("cannot write the service proxy condition; the next heartbeat will", "error", err)
	}
}

// serviceCondition is the condition setServiceCondition last recorded;
// nil before.
func (a *Agent) serviceCondition() *v1.NodeCondition {
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	if a.serviceCond.Type == "" {
		return nil
	}
	c := a.serviceCond
	return &c
}

// errServicesNotSynced: the agent has not yet listed the services, whose
// variables a container must get when it starts. [retried]
var errServicesNotSynced = errors.New("waiting for the list of services, which containers' environment names")

// resolvePod is the pod as the runtime must run it: each container gets
// the variables of its project's services (before its own, which may
// refer to them), and, with dnsPolicy ClusterFirst, the node's DNS server
// and the project's search path in resolv.conf.
func (a *Agent) resolvePod(pod *v1.Pod) (*v1.Pod, error) {
	if a.services == nil {
		return pod, nil
	}
	if !a.services.synced() {
		return nil, errServicesNotSynced
	}
	out := pod.DeepCopy()
	if out.Spec.EnableServiceLinks == nil || *out.Spec.EnableServiceLinks {
		env := ServiceEnv(a.services.inNamespace(pod.Namespace))
		for i := range out.Spec.Containers {
			c := &out.Spec.Containers[i]
			c.Env = append(slices.Clone(env), c.Env...)
		}
	}
	if a.cfg.Network != nil && !out.Spec.HostNetwork {
		if gw, err := a.cfg.Network.Gateway(); err == nil {
			domain := berthv1.DefaultClusterDomain
			if cn := a.services.clusterNetwork(); cn != nil && cn.ClusterDomain != "" {
				domain = cn.ClusterDomain
			}
			out.Spec.DNSConfig, out.Spec.DNSPolicy = DNSConfig(pod, gw, domain)
		}
	}
	return out, nil
}

// DNSConfig is the resolv.conf of a pod on a node whose DNS server is at
// server, as the kubelet writes it: for ClusterFirst (the default) the
// server, the search path <ns>.svc.<domain> svc.<domain> <domain> and
// ndots:5, then what the pod's dnsConfig adds; for None only its
// dnsConfig; for Default the host's (no config).
func DNSConfig(pod *v1.Pod, server netip.Addr, domain string) (*v1.PodDNSConfig, v1.DNSPolicy) {
	own := pod.Spec.DNSConfig
	switch pod.Spec.DNSPolicy {
	case v1.DNSNone:
		return own, v1.DNSNone
	case v1.DNSDefault:
		return nil, v1.DNSDefault
	}
	ndots := "5"
	cfg := &v1.PodDNSConfig{
		Nameservers: []string{server.String()},
		Searches:    []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain},
		Options:     []v1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}},
	}
	if own != nil {
		cfg.Nameservers = append(cfg.Nameservers, own.Nameservers...)
		cfg.Searches = append(cfg.Searches, own.Searches...)
		for _, o := range own.Options {
			cfg.Options = slices.DeleteFunc(cfg.Options, func(x v1.PodDNSConfigOption) bool { return x.Name == o.Name })
			cfg.Options = append(cfg.Options, o)
		}
	}
	if len(cfg.Nameservers) > 3 {
		cfg.Nameservers = cfg.Nameservers[:3]
	}
	return cfg, v1.DNSNone
}

// ServiceEnv are the variables of a project's services for its
// containers, as the kubelet sets them: the Kubernetes ones
// ({SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT, {SVC}_SERVICE_PORT_{NAME}) and
// Docker links' ({SVC}_PORT, {SVC}_PORT_{P}_{PROTO} and its _PROTO, _PORT
// and _ADDR), for every service with a cluster IP.
func ServiceEnv(services []*v1.Service) []v1.EnvVar {
	var env []v1.EnvVar
	add := func(name, value string) { env = append(env, v1.EnvVar{Name: name, Value: value}) }
	for _, svc := range services {
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == v1.ClusterIPNone || svc.Spec.Type == v1.ServiceTypeExternalName || len(svc.Spec.Ports) == 0 {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
		first := svc.Spec.Ports[0]
		add(prefix+"_SERVICE_HOST", ip)
		add(prefix+"_SERVICE_PORT", strconv.Itoa(int(first.Port)))
		for _, p := range svc.Spec.Ports {
			if p.Name != "" {
				add(prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port)))
			}
		}
		url := func(p v1.ServicePort) string {
			return fmt.Sprintf("%s://%s:%d", strings.ToLower(string(p.Protocol)), ip, p.Port)
		}
		add(prefix+"_PORT", url(first))
		for _, p := range svc.Spec.Ports {
			link := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(string(p.Protocol)))
			add(link, url(p))
			add(link+"_PROTO", strings.ToLower(string(p.Protocol)))
			add(link+"_PORT", strconv.Itoa(int(p.Port)))
			add(link+"_ADDR", ip)
		}
	}
	return env
}
