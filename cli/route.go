package cli

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
)

// routeOptions are what a route asks for, from flags.
type routeOptions struct {
	hostname, path, port, tlsSecret string
	tls                             bool
}

func (o *routeOptions) register(cmd *cobra.Command, portHelp string) {
	flags := cmd.Flags()
	flags.StringVar(&o.hostname, "hostname", "", "host name the route answers (default: SERVICE-PROJECT.<apps domain>)")
	flags.StringVar(&o.path, "path", "", "path prefix the route takes (default: /)")
	flags.StringVar(&o.port, "route-port", "", portHelp)
	flags.BoolVar(&o.tls, "tls", false, "serve the route over HTTPS too, with a certificate of the cluster CA (hosts under the apps domain)")
	flags.StringVar(&o.tlsSecret, "tls-secret", "", "serve the route over HTTPS too, with the certificate and key of this kubernetes.io/tls secret of the project")
}

// route builds the route name of service.
func (o *routeOptions) route(name, service string) *berthv1.Route {
	r := &berthv1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "Route"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       berthv1.RouteSpec{Host: o.hostname, Path: o.path, To: berthv1.RouteTarget{Kind: "Service", Name: service}},
	}
	if o.port != "" {
		r.Spec.Port = &berthv1.RoutePort{TargetPort: intstr.Parse(o.port)}
	}
	if o.tls || o.tlsSecret != "" {
		r.Spec.TLS = &berthv1.RouteTLS{SecretName: o.tlsSecret}
	}
	return r
}

// createRoute creates the route and says where it answers.
func createRoute(cmd *cobra.Command, g *globals, r *berthv1.Route) error {
	namespace, c, err := g.target()
	if err != nil {
		return err
	}
	var created berthv1.Route
	if err := c.Create(cmd.Context(), client.Routes, namespace, r, &created); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "route/%s created: %s\n", created.Name, cmp.Or(created.Status.URL, created.Spec.Host+created.Spec.Path))
	return nil
}

func newRouteCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "route",
		Aliases: []string{"routes"},
		Short:   "Make services reachable from outside by host name, through the router",
		Long: `A route sends the requests whose host is its host name, and whose path
starts with its path, to the ready pods of a service of the project, through
the master's router. Host names are unique in the cluster.`,
	}
	cmd.AddCommand(newRouteCreateCommand(g), newRouteListCommand(g), newRouteDeleteCommand(g))
	return cmd
}

func newRouteCreateCommand(g *globals) *cobra.Command {
	o := &routeOptions{}
	var service string
	cmd := &cobra.Command{
		Use:   "create NAME --service SERVICE [--hostname HOST] [--path /PREFIX] [--route-port PORT] [--tls | --tls-secret SECRET]",
		Short: "Create a route to a service",
		Example: `  berth route create web --service web
  berth route create shop --service web --hostname shop.example.com --path /api
  berth route create secure --service web --tls`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if service == "" {
				return errors.New("route create: give the service to route to with --service")
			}
			return createRoute(cmd, g, o.route(args[0], service))
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service of the project that gets the requests")
	o.register(cmd, "port of the service, by name or number (default: its first)")
	return cmd
}

func newRouteListCommand(g *globals) *cobra.Command {
	o := &getOptions{output: "wide"}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the project's routes and their URLs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGet(cmd, g, o, client.Routes, "")
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all projects (cluster admins)")
	return cmd
}

func newRouteDeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete routes; their host names come free",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			namespace, c, err := g.target()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if err := c.Delete(cmd.Context(), client.Routes, namespace, strings.TrimPrefix(name, "route/")); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "route/%s deleted\n", name)
			}
			return errors.Join(errs...)
		},
	}
}
