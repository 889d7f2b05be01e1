package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
)

// newProjectNetworkCommand manages projects' places on the pod network,
// as OpenShift's `oc adm pod-network` did: pods reach the pods of their
// own project, of the projects joined with it and of global projects.
func newProjectNetworkCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Join projects' networks, make projects global or isolate them (cluster admins)",
	}
	set := func(use, short string, args cobra.PositionalArgs, netID func(ctx context.Context, c *client.Client, args []string) (string, []string, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.client()
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				id, projects, err := netID(ctx, c, args)
				if err != nil {
					return err
				}
				for _, p := range projects {
					out, err := putProjectNetwork(ctx, c, p, id)
					if err != nil {
						return err
					}
					printProjectNetwork(cmd.OutOrStdout(), out)
				}
				return nil
			},
		}
	}
	cmd.AddCommand(
		set("join PROJECT OTHER...", "Put the OTHER projects on PROJECT's network: their pods and PROJECT's reach each other", cobra.MinimumNArgs(2),
			func(ctx context.Context, c *client.Client, args []string) (string, []string, error) {
				to, err := getProjectNetwork(ctx, c, args[0])
				if err != nil {
					return "", nil, err
				}
				return to.NetID, args[1:], nil
			}),
		set("make-global PROJECT...", "Let the projects' pods reach, and be reached by, every pod", cobra.MinimumNArgs(1),
			func(_ context.Context, _ *client.Client, args []string) (string, []string, error) {
				return berthv1.GlobalNetID, args, nil
			}),
		set("isolate PROJECT...", "Put each project back on a network of its own", cobra.MinimumNArgs(1),
			func(_ context.Context, _ *client.Client, args []string) (string, []string, error) {
				return "", args, nil
			}),
		&cobra.Command{
			Use: "show PROJECT...", Short: "Show the projects' networks and who shares them", Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.client()
				if err != nil {
					return err
				}
				for _, p := range args {
					pn, err := getProjectNetwork(cmd.Context(), c, p)
					if err != nil {
						return err
					}
					printProjectNetwork(cmd.OutOrStdout(), pn)
				}
				return nil
			},
		},
	)
	return cmd
}

func projectNetworkPath(project string) string { return client.Projects.Path("", project) + "/network" }

func getProjectNetwork(ctx context.Context, c *client.Client, project string) (*berthv1.ProjectNetwork, error) {
	var pn berthv1.ProjectNetwork
	if err := c.Do(ctx, http.MethodGet, projectNetworkPath(project), nil, nil, &pn); err != nil {
		return nil, err
	}
	return &pn, nil
}

func putProjectNetwork(ctx context.Context, c *client.Client, project, netID string) (*berthv1.ProjectNetwork, error) {
	body := &berthv1.ProjectNetwork{
		TypeMeta:   metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "ProjectNetwork"},
		ObjectMeta: metav1.ObjectMeta{Name: project},
		NetID:      netID,
	}
	var out berthv1.ProjectNetwork
	if err := c.Do(ctx, http.MethodPut, projectNetworkPath(project), nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func printProjectNetwork(w io.Writer, pn *berthv1.ProjectNetwork) {
	switch {
	case pn.NetID == berthv1.GlobalNetID:
		fmt.Fprintf(w, "project %s: global (reaches and is reached by every pod)\n", pn.Name)
	case len(pn.Joined) == 0:
		fmt.Fprintf(w, "project %s: a network of its own (netID %s)\n", pn.Name, pn.NetID)
	default:
		fmt.Fprintf(w, "project %s: joined with %s (netID %s)\n", pn.Name, strings.Join(pn.Joined, ", "), pn.NetID)
	}
}
