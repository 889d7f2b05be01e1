package cli

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berthpaas/berth/client"
)

// exposeOptions are the flags of berth expose, kubectl expose's.
type exposeOptions struct {
	name, port, targetPort, protocol, serviceType string
	clusterIP, sessionAffinity, selector          string
	labels                                        []string
	// withRoute also makes a route to the service (--route).
	withRoute bool
	route     routeOptions
}

func newExposeCommand(g *globals) *cobra.Command {
	o := &exposeOptions{}
	cmd := &cobra.Command{
		Use:   "expose (pod|rc) NAME [--port PORT] [--target-port PORT] [--type ClusterIP|NodePort] [--name SERVICE]",
		Short: "Put a service in front of a pod or a replication controller's pods",
		Long: `Create a service that selects the pods of a replication controller (its
selector) or one pod (its labels), with a stable cluster IP, a DNS name
(SERVICE.PROJECT.svc.cluster.local) and environment variables in the
containers started after it. Without --port, the service takes the ports
of the pods' containers.`,
		Example: `  berth expose rc web --port 80 --target-port 8080
  berth expose pod db --port 5432 --name database
  berth expose rc web --type NodePort
  berth expose rc web --port 80 --target-port 8080 --route
  berth expose rc web --port 80 --route --hostname shop.example.com`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if len(args) == 2 {
				name = args[1]
			} else if k, n, ok := strings.Cut(kind, "/"); ok {
				kind, name = k, n
			}
			if name == "" {
				return errors.New("expose: give the kind and the name of what to expose, e.g. berth expose rc web --port 80")
			}
			res, err := client.LookupResource(kind)
			if err != nil {
				return err
			}
			return runExpose(cmd, g, o, res, name)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.name, "name", "", "name of the service (default: the name of what is exposed)")
	flags.StringVar(&o.port, "port", "", "port the service serves (default: the containers' ports)")
	flags.StringVar(&o.targetPort, "target-port", "", "port, number or name, of the containers that the service forwards to (default: --port)")
	flags.StringVar(&o.protocol, "protocol", "", "TCP or UDP (default: the container port's, else TCP)")
	flags.StringVar(&o.serviceType, "type", "", "ClusterIP (default) or NodePort (also a port on every node, 30000-32767)")
	flags.StringVar(&o.clusterIP, "cluster-ip", "", `cluster IP to ask for, or "None" for a headless service (default: one is allocated)`)
	flags.StringVar(&o.sessionAffinity, "session-affinity", "", "None (default) or ClientIP: a client's connections go to one pod")
	flags.StringVar(&o.selector, "selector", "", "label selector of the pods, k=v,k2=v2 (default: the replication controller's selector, or the pod's labels)")
	flags.StringSliceVarP(&o.labels, "labels", "l", nil, "labels of the service, k=v (default: those of what is exposed)")
	flags.BoolVar(&o.withRoute, "route", false, "also make the service reachable from outside through the router, by a route of the same name")
	o.route.register(cmd, "with --route: port of the service the route takes, by name or number (default: its first)")
	return cmd
}

func runExpose(cmd *cobra.Command, g *globals, o *exposeOptions, res client.Resource, name string) error {
	namespace, c, err := g.target()
	if err != nil {
		return err
	}
	if !o.withRoute && (o.route != routeOptions{}) {
		return errors.New("expose: --hostname, --path, --route-port, --tls and --tls-secret are for a route: add --route")
	}
	ctx := cmd.Context()
	var meta metav1.ObjectMeta
	var selector map[string]string
	var spec *corev1.PodSpec
	switch res.String() {
	case client.Pods.String():
		var pod corev1.Pod
		if err := c.Get(ctx, client.Pods, namespace, name, &pod); err != nil {
			return err
		}
		meta, selector, spec = pod.ObjectMeta, pod.Labels, &pod.Spec
	case client.ReplicationControllers.String():
		var rc corev1.ReplicationController
		if err := c.Get(ctx, client.ReplicationControllers, namespace, name, &rc); err != nil {
			return err
		}
		meta, selector = rc.ObjectMeta, rc.Spec.Selector
		if rc.Spec.Template != nil {
			spec = &rc.Spec.Template.Spec
		}
	default:
		return fmt.Errorf("expose: cannot expose %s: give a pod or a replication controller", res)
	}
	svc, err := o.service(meta, selector, spec)
	if err != nil {
		return err
	}
	var created corev1.Service
	if err := c.Create(ctx, client.Services, namespace, svc, &created); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "service/%s exposed\n", created.Name)
	if !o.withRoute {
		return nil
	}
	return createRoute(cmd, g, o.route.route(created.Name, created.Name))
}

// service builds the service that exposes the pods of an object with
// metadata meta, whose pods selector selects and run spec.
func (o *exposeOptions) service(meta metav1.ObjectMeta, selector map[string]string, spec *corev1.PodSpec) (*corev1.Service, error) {
	if o.selector != "" {
		sel, err := parseKeyValues("--selector", strings.Split(o.selector, ","))
		if err != nil {
			return nil, err
		}
		selector = sel
	}
	if len(selector) == 0 {
		return nil, fmt.Errorf("expose: %s has no labels to select its pods by: give --selector", meta.Name)
	}
	labels := meta.Labels
	if len(o.labels) > 0 {
		l, err := parseKeyValues("--labels", o.labels)
		if err != nil {
			return nil, err
		}
		labels = l
	}
	ports, err := o.ports(spec)
	if err != nil {
		return nil, err
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: cmp.Or(o.name, meta.Name), Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector:        selector,
			Ports:           ports,
			Type:            corev1.ServiceType(o.serviceType),
			ClusterIP:       o.clusterIP,
			SessionAffinity: corev1.ServiceAffinity(o.sessionAffinity),
		},
	}
	return svc, nil
}

// ports are --port (and --target-port), or else one service port for
// each container port of spec.
func (o *exposeOptions) ports(spec *corev1.PodSpec) ([]corev1.ServicePort, error) {
	protocol := corev1.Protocol(strings.ToUpper(o.protocol))
	if o.port != "" {
		port, err := strconv.ParseInt(o.port, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--port %q: want a port number", o.port)
		}
		target := intstr.FromInt32(int32(port))
		if o.targetPort != "" {
			target = intstr.Parse(o.targetPort)
		}
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		return []corev1.ServicePort{{Port: int32(port), TargetPort: target, Protocol: protocol}}, nil
	}
	var ports []corev1.ServicePort
	if spec != nil {
		for _, c := range spec.Containers {
			for _, p := range c.Ports {
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				if protocol != "" {
					proto = protocol
				}
				ports = append(ports, corev1.ServicePort{Port: p.ContainerPort, TargetPort: intstr.FromInt32(p.ContainerPort), Protocol: proto})
			}
		}
	}
	if len(ports) == 0 {
		return nil, errors.New("expose: the pods declare no container port: give --port")
	}
	if len(ports) > 1 {
		for i := range ports {
			ports[i].Name = fmt.Sprintf("port-%d", i+1)
		}
	}
	return ports, nil
}

// parseKeyValues reads k=v pairs.
func parseKeyValues(flag string, pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}
