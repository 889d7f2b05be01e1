package node

import (
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/client"
)

// A pod's secrets and config maps are read by the agent, with the node's
// credential (the master lets a node get only those its pods use), and
// handed to the runtime with the pod. Each is read again once it is older
// than Config.DataRefreshInterval, so that a change reaches the pod's
// volumes within that and a resync, without a read per pod per resync.

// dataCache remembers the secrets and config maps the agent read.
type dataCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[dataKey]dataEntry // guarded by mu
}

type dataKey struct {
	resource, namespace, name string
}

type dataEntry struct {
	obj  any // *v1.Secret or *v1.ConfigMap; nil: it does not exist
	read time.Time
}

func newDataCache(ttl time.Duration) *dataCache {
	return &dataCache{ttl: ttl, now: time.Now, entries: map[dataKey]dataEntry{}}
}

// podData reads what pod uses: every secret and config map its
// containers' env and envFrom and its volumes name. A missing one is left
// out (the runtime decides whether the pod can do without it); another
// error is returned, unless an earlier read can stand in.
func (a *Agent) podData(ctx context.Context, pod *v1.Pod) (runtime.PodData, error) {
	secrets, configMaps := podDataNames(pod)
	data := runtime.PodData{Secrets: map[string]*v1.Secret{}, ConfigMaps: map[string]*v1.ConfigMap{}}
	for _, name := range secrets {
		obj, err := a.dataObject(ctx, client.Secrets, pod.Namespace, name, func() any { return &v1.Secret{} })
		if err != nil {
			return data, err
		}
		if s, ok := obj.(*v1.Secret); ok {
			data.Secrets[name] = s
		}
	}
	for _, name := range configMaps {
		obj, err := a.dataObject(ctx, client.ConfigMaps, pod.Namespace, name, func() any { return &v1.ConfigMap{} })
		if err != nil {
			return data, err
		}
		if cm, ok := obj.(*v1.ConfigMap); ok {
			data.ConfigMaps[name] = cm
		}
	}
	return data, nil
}

// dataObject returns the object ns/name of res, read again when the cached
// one is older than the cache's time to live; nil when it does not exist.
func (a *Agent) dataObject(ctx context.Context, res client.Resource, ns, name string, newObj func() any) (any, error) {
	c := a.data
	key := dataKey{res.Resource, ns, name}
	now := c.now()
	c.mu.Lock()
	cached, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(cached.read) < c.ttl {
		return cached.obj, nil
	}
	obj := newObj()
	err := a.call(ctx, func(api *client.Client) error {
		return api.Get(ctx, res, ns, name, obj)
	})
	switch {
	case apierrors.IsNotFound(err):
		obj = nil
	case err != nil && ok:
		a.log.Warn("reading what a pod uses failed; using what was read before",
			"resource", res.Resource, "namespace", ns, "name", name, "error", err)
		return cached.obj, nil
	case err != nil:
		return nil, err
	}
	c.mu.Lock()
	c.entries[key] = dataEntry{obj: obj, read: now}
	// Forget what no pod has asked for in a while.
	for k, e := range c.entries {
		if now.Sub(e.read) > 10*c.ttl {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
	return obj, nil
}

// podDataNames are the secrets and config maps of its namespace that pod
// uses in its containers' env and envFrom and its volumes, each once.
func podDataNames(pod *v1.Pod) (secrets, configMaps []string) {
	seen := map[dataKey]bool{}
	add := func(list *[]string, resource, name string) {
		k := dataKey{resource: resource, name: name}
		if name != "" && !seen[k] {
			seen[k] = true
			*list = append(*list, name)
		}
	}
	for _, vol := range pod.Spec.Volumes {
		if vol.Secret != nil {
			add(&secrets, "secrets", vol.Secret.SecretName)
		}
		if vol.ConfigMap != nil {
			add(&configMaps, "configmaps", vol.ConfigMap.Name)
		}
	}
	for _, containers := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range containers {
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil {
					add(&secrets, "secrets", e.SecretRef.Name)
				}
				if e.ConfigMapRef != nil {
					add(&configMaps, "configmaps", e.ConfigMapRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if ref := e.ValueFrom.SecretKeyRef; ref != nil {
					add(&secrets, "secrets", ref.Name)
				}
				if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
					add(&configMaps, "configmaps", ref.Name)
				}
			}
		}
	}
	return secrets, configMaps
}
