package clientgo

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

func testPod(name string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "registry.example/web:1"}}},
	}
}

// A SharedInformerFactory on client-go's defaults (a streaming list: a
// watch with sendInitialEvents) syncs, and sees every add, update and
// delete, in order.
func TestInformerOnDefaults(t *testing.T) {
	env := testenv.Start(t)
	cs := clientset(t, env, env.AdminToken)
	ctx := t.Context()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "inf"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := cs.CoreV1().Pods("inf").Create(ctx, testPod(fmt.Sprint("before-", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("inf"))
	pods := factory.Core().V1().Pods().Informer()
	var mu sync.Mutex
	var seen []string
	record := func(what string, obj any) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := obj.(*v1.Pod); ok {
			seen = append(seen, what+" "+p.Name)
		}
	}
	pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { record("add", obj) },
		UpdateFunc: func(_, obj any) { record("update", obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			record("delete", obj)
		},
	})
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	syncCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), pods.HasSynced) {
		t.Fatal("the informer did not sync within 15s")
	}
	if n := len(pods.GetStore().List()); n != 3 {
		t.Fatalf("synced with %d pods, want 3", n)
	}
	p, err := cs.CoreV1().Pods("inf").Create(ctx, testPod("after"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["v"] = "2"
	if _, err := cs.CoreV1().Pods("inf").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("inf").Delete(ctx, "after", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"add before-0", "add before-1", "add before-2", "add after", "update after", "delete after"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), seen...)
		mu.Unlock()
		if len(got) >= len(want) {
			// The initial list reaches handlers in any order (client-go
			// replaces its store from a map); what follows, in order.
			slices.Sort(got[:3])
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("events = %v, want %v", got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events = %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
