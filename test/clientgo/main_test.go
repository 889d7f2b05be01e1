// Package clientgo tests Berth with the real client-go, on its defaults,
// as a controller or operator written for Kubernetes would use it:
// informers, typed clients, deletes, leader election. -short skips them.
package clientgo

import (
	"os"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// clientset is a typed client of env on client-go's defaults, over TLS
// with the master's CA, authenticated by token.
func clientset(t *testing.T, env *testenv.Env, token string) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(restConfig(env, token))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func restConfig(env *testenv.Env, token string) *rest.Config {
	return &rest.Config{
		Host:            env.HTTPSURL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: env.CAFile},
	}
}
