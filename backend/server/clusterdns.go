package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/uuid"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/storage"
)

// ensureClusterDNS makes the namespace kube-system (no members: cluster
// admins only) and in it the service kube-dns, at the address every node
// agent serves DNS on (ClusterNetwork.ClusterDNS), so that no other
// service takes it and kubectl users find it where Kubernetes has it. A
// kube-dns made before keeps its address.
func ensureClusterDNS(ctx context.Context, store *storage.Store, regs *core.Registries, ip netip.Addr, logger *slog.Logger) error {
	ns := &v1.Namespace{
		TypeMeta:   metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: berthv1.ClusterDNSNamespace, UID: uuid.NewUUID(), CreationTimestamp: metav1.Now()},
		Status:     v1.NamespaceStatus{Phase: v1.NamespaceActive},
	}
	err := store.Create(ctx, storage.Key("namespaces", "", ns.Name), ns, storage.CreateOptions{})
	if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("create namespace %s: %w", ns.Name, err)
	}
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity("master"))
	obj, err := regs.Services.Get(ctx, berthv1.ClusterDNSNamespace, berthv1.ClusterDNSService)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		svc := clusterDNSService(ip)
		if _, err := regs.Services.Create(ctx, svc.Namespace, svc, metav1.CreateOptions{}); err != nil {
			// The address is another service's (a range shared with an
			// older cluster): pods' DNS queries would reach it.
			logger.Error("cannot create the kube-dns service that holds the cluster DNS address; no node will serve DNS", "address", ip, "error", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read the kube-dns service: %w", err)
	}
	if got := obj.(*v1.Service).Spec.ClusterIP; got != ip.String() {
		logger.Error("the kube-dns service is not at the cluster DNS address; no node will serve DNS", "kube_dns", got, "address", ip)
	}
	return nil
}

func clusterDNSService(ip netip.Addr) *v1.Service {
	return &v1.Service{
		TypeMeta: metav1.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: berthv1.ClusterDNSService, Namespace: berthv1.ClusterDNSNamespace,
			Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
		},
		Spec: v1.ServiceSpec{
			ClusterIP: ip.String(),
			Ports: []v1.ServicePort{
				{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
}
