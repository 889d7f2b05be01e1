package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/client"
)

// runOptions are the flags of berth run.
type runOptions struct {
	image    string
	ports    []string
	env      []string
	labels   []string
	replicas int32
	rc       bool
	restart  string
	cpu      string
	memory   string
	command  bool
}

func newRunCommand(g *globals) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run NAME --image IMAGE [flags] [-- ARGS...]",
		Short: "Run an image as a pod, or as a replication controller of pods",
		Long: `Create a pod named NAME with one container, also named NAME, that runs IMAGE.
The pod is labelled run=NAME, plus the labels of -l.

With --replicas above 1, or --rc, create instead a replication controller
NAME that keeps that many such pods running (selector run=NAME).

Arguments after -- replace the image's CMD, as with docker run; with
--command they replace its ENTRYPOINT too. --cpu and --memory set both the
request the scheduler reserves and the limit the container runs under.`,
		Example: `  berth run web --image hello:latest --port 8080
  berth run shell --image busybox --restart Never -- sleep 3600
  berth run web --image hello:latest --replicas 3 -l tier=front --cpu 250m --memory 64Mi`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash > 1 || (dash == -1 && len(args) > 1) {
				return errors.New("give only NAME before --: berth run NAME --image IMAGE -- ARGS")
			}
			namespace, err := g.ns()
			if err != nil {
				return err
			}
			res, obj, err := o.object(args[0], namespace, args[1:])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Create(cmd.Context(), res, namespace, obj, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s/%s created\n", res.Singular, args[0])
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.image, "image", "", "image to run (required)")
	flags.StringArrayVarP(&o.ports, "port", "p", nil, "container port to expose, PORT or PORT/udp (repeatable)")
	flags.StringArrayVarP(&o.env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	flags.StringSliceVarP(&o.labels, "labels", "l", nil, "extra labels k=v,k2=v2 (repeatable)")
	flags.Int32Var(&o.replicas, "replicas", 1, "number of pods; above 1 creates a replication controller")
	flags.BoolVar(&o.rc, "rc", false, "create a replication controller even for one replica")
	flags.StringVar(&o.restart, "restart", "", "restart policy: Always (default), OnFailure or Never")
	flags.StringVar(&o.cpu, "cpu", "", "CPU request and limit, e.g. 500m")
	flags.StringVar(&o.memory, "memory", "", "memory request and limit, e.g. 128Mi")
	flags.BoolVar(&o.command, "command", false, "the arguments after -- replace the image's ENTRYPOINT, not its CMD")
	_ = cmd.MarkFlagRequired("image")
	return cmd
}

// object builds the pod, or the replication controller, that run creates.
func (o *runOptions) object(name, namespace string, args []string) (client.Resource, any, error) {
	spec, err := o.podSpec(name, args)
	if err != nil {
		return client.Resource{}, nil, err
	}
	labels := map[string]string{"run": name}
	for _, kv := range o.labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return client.Resource{}, nil, fmt.Errorf("--labels %q: want KEY=VALUE", kv)
		}
		labels[k] = v
	}
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
	if o.replicas < 0 {
		return client.Resource{}, nil, fmt.Errorf("--replicas %d: must not be negative", o.replicas)
	}
	if !o.rc && o.replicas <= 1 {
		if o.replicas == 0 {
			return client.Resource{}, nil, errors.New("--replicas 0 makes sense only with --rc")
		}
		return client.Pods, &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: meta,
			Spec:       spec,
		}, nil
	}
	if spec.RestartPolicy != corev1.RestartPolicyAlways {
		return client.Resource{}, nil, fmt.Errorf("--restart %s: a replication controller's pods restart Always", spec.RestartPolicy)
	}
	replicas := o.replicas
	return client.ReplicationControllers, &corev1.ReplicationController{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"},
		ObjectMeta: meta,
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: map[string]string{"run": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       spec,
			},
		},
	}, nil
}

func (o *runOptions) podSpec(name string, args []string) (corev1.PodSpec, error) {
	if o.image == "" {
		return corev1.PodSpec{}, errors.New("--image is required")
	}
	ct := corev1.Container{Name: name, Image: o.image}
	if o.command {
		ct.Command = args
	} else {
		ct.Args = args
	}
	for _, p := range o.ports {
		port, err := parsePort(p)
		if err != nil {
			return corev1.PodSpec{}, err
		}
		ct.Ports = append(ct.Ports, port)
	}
	for _, kv := range o.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return corev1.PodSpec{}, fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		ct.Env = append(ct.Env, corev1.EnvVar{Name: k, Value: v})
	}
	resources := corev1.ResourceList{}
	for _, r := range []struct {
		flag, value string
		name        corev1.ResourceName
	}{{"--cpu", o.cpu, corev1.ResourceCPU}, {"--memory", o.memory, corev1.ResourceMemory}} {
		if r.value == "" {
			continue
		}
		q, err := resource.ParseQuantity(r.value)
		if err != nil {
			return corev1.PodSpec{}, fmt.Errorf("%s %q: %w", r.flag, r.value, err)
		}
		resources[r.name] = q
	}
	if len(resources) > 0 {
		ct.Resources = corev1.ResourceRequirements{Requests: resources, Limits: resources.DeepCopy()}
	}
	restart := corev1.RestartPolicyAlways
	switch strings.ToLower(o.restart) {
	case "", "always":
	case "onfailure":
		restart = corev1.RestartPolicyOnFailure
	case "never":
		restart = corev1.RestartPolicyNever
	default:
		return corev1.PodSpec{}, fmt.Errorf("--restart %q: use Always, OnFailure or Never", o.restart)
	}
	return corev1.PodSpec{Containers: []corev1.Container{ct}, RestartPolicy: restart}, nil
}

// parsePort reads PORT or PORT/PROTOCOL.
func parsePort(s string) (corev1.ContainerPort, error) {
	number, proto, _ := strings.Cut(s, "/")
	n, err := strconv.ParseInt(number, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return corev1.ContainerPort{}, fmt.Errorf("--port %q: want a port number from 1 to 65535, optionally /tcp or /udp", s)
	}
	protocol := corev1.ProtocolTCP
	switch strings.ToLower(proto) {
	case "", "tcp":
	case "udp":
		protocol = corev1.ProtocolUDP
	case "sctp":
		protocol = corev1.ProtocolSCTP
	default:
		return corev1.ContainerPort{}, fmt.Errorf("--port %q: unknown protocol %q", s, proto)
	}
	return corev1.ContainerPort{ContainerPort: int32(n), Protocol: protocol}, nil
}
