package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/node/network"
	"github.com/berthpaas/berth/client"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodNetwork is the node's share of the cluster's pod network on its host
// (*network.Network).
type PodNetwork interface {
	// SetUp makes the host carry the node's pods on subnet, programmed
	// for c; network.ErrUnsupported when the host cannot.
	SetUp(ctx context.Context, subnet netip.Prefix, c network.Cluster) error
	// Sync programs the host for c.
	Sync(ctx context.Context, c network.Cluster) error
	// TearDown removes the node's network from the host.
	TearDown(ctx context.Context) error
	// Gateway is the host's address on the node's pod network, where pods
	// reach its DNS server; an error before SetUp.
	Gateway() (netip.Addr, error)
}

// clusterNetworkRefresh is how often the agent reads the ClusterNetwork
// again (a master restarted with other flags changes it).
const clusterNetworkRefresh = 30 * time.Second

// netView is what the agent knows of the cluster's pod network, fed by
// the Node and namespace watches and the ClusterNetwork.
type netView struct {
	mu sync.Mutex
	// The fields below are guarded by mu.
	nodes      map[string]*v1.Node // by name
	netIDs     map[string]string   // by namespace
	nodesSeen  bool                // a node list succeeded
	nsSeen     bool                // a namespace list succeeded
	cn         *berthv1.ClusterNetwork
	generation int // counts changes
	// nodeLists counts the lists of nodes: a new one (the watch broke,
	// the master may have restarted with other flags) reads the
	// ClusterNetwork again.
	nodeLists int

	// woken has a value after a change (capacity 1).
	woken chan struct{}
}

func newNetView() *netView {
	return &netView{nodes: map[string]*v1.Node{}, netIDs: map[string]string{}, woken: make(chan struct{}, 1)}
}

// changed applies a change to the view and wakes the runner.
func (v *netView) changed(f func()) {
	v.mu.Lock()
	f()
	v.generation++
	v.mu.Unlock()
	select {
	case v.woken <- struct{}{}:
	default:
	}
}

// cluster is the view as the network package takes it, with this node's
// own pods (local) in place of what its Node last published; ok is false
// until the view is complete.
func (v *netView) cluster(me string, local map[netip.Addr]string) (c network.Cluster, subnet netip.Prefix, generation int, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cn == nil || !v.nodesSeen || !v.nsSeen {
		return c, subnet, v.generation, false
	}
	cidr, err := netip.ParsePrefix(v.cn.Network)
	if err != nil {
		return c, subnet, v.generation, false
	}
	c = network.Cluster{CIDR: cidr, Isolation: v.cn.ProjectIsolation, NetIDs: maps.Clone(v.netIDs)}
	for _, n := range v.nodes {
		node := network.Node{Name: n.Name, Pods: map[netip.Addr]string{}}
		node.Subnet, _ = netip.ParsePrefix(n.Spec.PodCIDR)
		for _, a := range n.Status.Addresses {
			if a.Type == v1.NodeInternalIP {
				node.Address, _ = netip.ParseAddr(a.Address)
			}
		}
		if n.Name == me {
			subnet = node.Subnet
			node.Pods = local
		} else {
			var published map[string]string
			if err := json.Unmarshal([]byte(n.Annotations[berthv1.AnnotationPodIPs]), &published); err == nil {
				for ip, ns := range published {
					if addr, err := netip.ParseAddr(ip); err == nil {
						node.Pods[addr] = ns
					}
				}
			}
		}
		c.Nodes = append(c.Nodes, node)
	}
	return c, subnet, v.generation, true
}

// pokeNetwork asks the network runner to look at the node's pods again
// (one started with a new address, or was killed).
func (a *Agent) pokeNetwork() {
	select {
	case a.netWake <- struct{}{}:
	default:
	}
}

// runNetwork keeps the node's pod network up and programmed: it follows
// every Node (subnets, addresses, pods) and namespace (NetIDs), reads the
// ClusterNetwork, sets the network up once the node has its subnet, syncs
// it on every change, and publishes the node's own pods on its Node. It
// says in the Node's NetworkUnavailable condition whether pods can have a
// network here, and why not. When ctx ends the network is torn down.
func (a *Agent) runNetwork(ctx context.Context) {
	log := a.log.With("runner", "pod-network")
	view := newNetView()
	var wg sync.WaitGroup
	wg.Go(func() { a.mirrorNodes(ctx, view, log) })
	wg.Go(func() { a.mirrorNamespaces(ctx, view, log) })
	defer func() {
		wg.Wait()
		teardownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := a.cfg.Network.TearDown(teardownCtx); err != nil {
			log.Error("pod network left on the host", "error", err)
		}
	}()

	ticker := time.NewTicker(a.cfg.ResyncInterval)
	defer ticker.Stop()
	var (
		up         netip.Prefix // the subnet set up; invalid while not
		synced     = -1         // the view's generation last synced
		syncedPods string       // the node's pods last synced
		published  string       // the node's pods last published
		readCN     time.Time
		readAtList = -1 // view.nodeLists when the ClusterNetwork was read
		lastReason string
	)
	for {
		view.mu.Lock()
		lists := view.nodeLists
		view.mu.Unlock()
		if time.Since(readCN) > clusterNetworkRefresh || lists != readAtList {
			var cn berthv1.ClusterNetwork
			err := a.call(ctx, func(api *client.Client) error {
				return api.Get(ctx, client.ClusterNetworks, "", berthv1.ClusterNetworkName, &cn)
			})
			if err == nil {
				readCN, readAtList = time.Now(), lists
				view.changed(func() { view.cn = &cn })
			} else if ctx.Err() == nil {
				log.Warn("cannot read the cluster network", "error", err)
			}
		}
		local, err := a.localPodIPs(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("cannot list the node's pods", "error", err)
		}
		c, subnet, gen, complete := view.cluster(a.cfg.Name, local)
		switch {
		case !complete || err != nil:
			// Without the node's own pods, rules would shut them off.
		case !subnet.IsValid():
			lastReason = a.setNetworkCondition(ctx, lastReason, "NoPodCIDR",
				"the master gave this node no pod subnet (spec.podCIDR): the cluster range may be full", log)
		case subnet != up:
			if err := a.cfg.Network.SetUp(ctx, subnet, c); err != nil {
				if ctx.Err() != nil {
					return
				}
				reason := "PodNetworkSetUpFailed"
				if errors.Is(err, network.ErrUnsupported) {
					reason = "HostUnsupported"
				}
				lastReason = a.setNetworkCondition(ctx, lastReason, reason, "pods get no network on this node: "+err.Error(), log)
				break
			}
			up, synced, syncedPods = subnet, gen, publishedForm(local)
			lastReason = a.setNetworkCondition(ctx, lastReason, "", fmt.Sprintf("pod network up on %s", subnet), log)
		case gen != synced || syncedPods != publishedForm(local):
			if err := a.cfg.Network.Sync(ctx, c); err != nil {
				if ctx.Err() == nil {
					log.Warn("pod network sync failed; retrying", "error", err)
				}
				break
			}
			synced, syncedPods = gen, publishedForm(local)
		}
		if up.IsValid() && err == nil {
			if form := publishedForm(local); form != published {
				if err := a.publishPodIPs(ctx, form); err != nil {
					if ctx.Err() == nil {
						log.Warn("cannot publish the node's pod addresses", "error", err)
					}
				} else {
					published = form
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-a.netWake:
		case <-view.woken:
		}
	}
}

// localPodIPs are the addresses of the node's running pods, by the
// runtime: address to namespace.
func (a *Agent) localPodIPs(ctx context.Context) (map[netip.Addr]string, error) {
	pods, err := a.rt.ListPods(ctx)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]string{}
	for _, p := range pods {
		if addr, err := netip.ParseAddr(p.IP); err == nil && p.InfraRunning {
			out[addr] = p.Namespace
		}
	}
	return out, nil
}

// publishedForm is the AnnotationPodIPs value of the node's pods.
func publishedForm(pods map[netip.Addr]string) string {
	m := make(map[string]string, len(pods))
	for ip, ns := range pods {
		m[ip.String()] = ns
	}
	data, _ := json.Marshal(m) // a map of strings always encodes; keys come out sorted
	return string(data)
}

// publishPodIPs writes the node's pods on its Node, where the other
// agents read which project each address belongs to.
func (a *Agent) publishPodIPs(ctx context.Context, form string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{berthv1.AnnotationPodIPs: form}}})
	if err != nil {
		return err
	}
	return a.call(ctx, func(api *client.Client) error {
		return api.Patch(ctx, client.Nodes, "", a.cfg.Name, client.MergePatch, patch, nil)
	})
}

// networkCondition is the node's NetworkUnavailable condition at now, as
// the network runner last decided it; nil for an agent without a pod
// network.
func (a *Agent) networkCondition(now time.Time) *v1.NodeCondition {
	if a.cfg.Network == nil {
		return nil
	}
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	c := a.network
	if c.Type == "" {
		c = v1.NodeCondition{
			Type: v1.NodeNetworkUnavailable, Status: v1.ConditionTrue, Reason: "PodNetworkStarting",
			Message: "the pod network is being set up", LastTransitionTime: metav1.NewTime(now),
		}
	}
	c.LastHeartbeatTime = metav1.NewTime(now)
	return &c
}

// setNetworkCondition records why pods can (reason "") or cannot have a
// network on the node, says so in the log when it changes, and writes the
// condition at once. It returns the reason, for the next call.
func (a *Agent) setNetworkCondition(ctx context.Context, last, reason, msg string, log *slog.Logger) string {
	if reason == last && (reason != "" || a.networkCondition(time.Now()).Status == v1.ConditionFalse) {
		return reason
	}
	now := metav1.Now()
	cond := v1.NodeCondition{Type: v1.NodeNetworkUnavailable, Status: v1.ConditionFalse, Reason: "PodNetworkReady", Message: msg, LastTransitionTime: now}
	if reason != "" {
		cond.Status, cond.Reason = v1.ConditionTrue, reason
		log.Error("pods cannot have a network on this node", "reason", reason, "error", msg)
	} else {
		log.Info("pods have a network on this node", "detail", msg)
	}
	a.readyMu.Lock()
	a.network = cond
	a.readyMu.Unlock()
	if err := a.call(ctx, func(api *client.Client) error {
		return a.patchNodeStatus(ctx, api, map[string]any{"status": map[string]any{"conditions": a.conditions(time.Now(), nil)}})
	}); err != nil && ctx.Err() == nil {
		log.Warn("cannot write the network condition; the next heartbeat will", "error", err)
	}
	return reason
}

// listed is one page of any list.
type listed struct {
	Metadata metav1.ListMeta   `json:"metadata"`
	Items    []json.RawMessage `json:"items"`
}

// follow mirrors res: it lists it (replace gets the items), then hands
// every change to event, and lists again when the watch ends, backing off
// while the master does not answer.
func (a *Agent) follow(ctx context.Context, res client.Resource, log *slog.Logger, replace func([]json.RawMessage) error, event func(client.Event) error) {
	bo := newBackOff(500*time.Millisecond, 30*time.Second)
	for ctx.Err() == nil {
		err := a.followOnce(ctx, res, replace, event, bo)
		if ctx.Err() != nil {
			return
		}
		if err == nil || apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
			continue
		}
		log.Warn("cannot follow "+res.Resource+"; retrying with back-off", "error", err)
		if !bo.Wait(ctx) {
			return
		}
	}
}

func (a *Agent) followOnce(ctx context.Context, res client.Resource, replace func([]json.RawMessage) error, event func(client.Event) error, bo *backOff) error {
	var list listed
	if err := a.call(ctx, func(api *client.Client) error { return api.List(ctx, res, "", client.ListOptions{}, &list) }); err != nil {
		return fmt.Errorf("list %s: %w", res.Resource, err)
	}
	if err := replace(list.Items); err != nil {
		return err
	}
	bo.Reset()
	var events <-chan client.Event
	if err := a.call(ctx, func(api *client.Client) error {
		var err error
		events, err = api.Watch(ctx, res, "", client.ListOptions{ResourceVersion: list.Metadata.ResourceVersion})
		return err
	}); err != nil {
		return fmt.Errorf("watch %s: %w", res.Resource, err)
	}
	for ev := range events {
		switch ev.Type {
		case client.Error:
			return ev.Err
		case client.Added, client.Modified, client.Deleted:
			if err := event(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// mirrorNodes keeps view.nodes equal to the cluster's Nodes.
func (a *Agent) mirrorNodes(ctx context.Context, view *netView, log *slog.Logger) {
	decode := func(raw []byte) (*v1.Node, error) {
		var n v1.Node
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("decode node: %w", err)
		}
		return &n, nil
	}
	a.follow(ctx, client.Nodes, log, func(items []json.RawMessage) error {
		nodes := map[string]*v1.Node{}
		for _, raw := range items {
			n, err := decode(raw)
			if err != nil {
				return err
			}
			nodes[n.Name] = n
		}
		view.changed(func() { view.nodes, view.nodesSeen = nodes, true; view.nodeLists++ })
		return nil
	}, func(ev client.Event) error {
		n, err := decode(ev.Object)
		if err != nil {
			return err
		}
		view.mu.Lock()
		old, known := view.nodes[n.Name]
		if known && ev.Type != client.Deleted {
			// Heartbeats change nothing of the network: no sync.
			view.nodes[n.Name] = n
		}
		same := known && ev.Type != client.Deleted && networkFace(old) == networkFace(n)
		view.mu.Unlock()
		if same {
			return nil
		}
		view.changed(func() {
			if ev.Type == client.Deleted {
				delete(view.nodes, n.Name)
			} else {
				view.nodes[n.Name] = n
			}
		})
		return nil
	})
}

// networkFace is what of a Node matters to the pod network.
func networkFace(n *v1.Node) string {
	face := n.Spec.PodCIDR + "|" + n.Annotations[berthv1.AnnotationPodIPs]
	for _, a := range n.Status.Addresses {
		if a.Type == v1.NodeInternalIP {
			face += "|" + a.Address
		}
	}
	return face
}

// mirrorNamespaces keeps view.netIDs equal to the namespaces' NetIDs.
func (a *Agent) mirrorNamespaces(ctx context.Context, view *netView, log *slog.Logger) {
	decode := func(raw []byte) (*v1.Namespace, error) {
		var ns v1.Namespace
		if err := json.Unmarshal(raw, &ns); err != nil {
			return nil, fmt.Errorf("decode namespace: %w", err)
		}
		return &ns, nil
	}
	a.follow(ctx, client.Namespaces, log, func(items []json.RawMessage) error {
		ids := map[string]string{}
		for _, raw := range items {
			ns, err := decode(raw)
			if err != nil {
				return err
			}
			ids[ns.Name] = berthv1.NetIDOf(ns)
		}
		view.changed(func() { view.netIDs, view.nsSeen = ids, true })
		return nil
	}, func(ev client.Event) error {
		ns, err := decode(ev.Object)
		if err != nil {
			return err
		}
		id := berthv1.NetIDOf(ns)
		view.mu.Lock()
		same := ev.Type != client.Deleted && view.netIDs[ns.Name] == id
		view.mu.Unlock()
		if same {
			return nil
		}
		view.changed(func() {
			if ev.Type == client.Deleted {
				delete(view.netIDs, ns.Name)
			} else {
				view.netIDs[ns.Name] = id
			}
		})
		return nil
	})
}
