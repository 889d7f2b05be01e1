package cli

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
)

func newProjectCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "project",
		Aliases: []string{"projects"},
		Short:   "Create, list, delete and switch projects, manage their members and their networks",
	}
	cmd.AddCommand(
		newProjectCreateCommand(g),
		newProjectListCommand(g),
		newProjectDeleteCommand(g),
		newProjectUseCommand(g),
		newProjectAddMemberCommand(g),
		newProjectRemoveMemberCommand(g),
		newProjectNetworkCommand(g),
	)
	return cmd
}

func newProjectCreateCommand(g *globals) *cobra.Command {
	var displayName, description string
	cmd := &cobra.Command{
		Use:   "create NAME [--display-name TEXT]",
		Short: "Create a project (a namespace you administer)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			project := &berthv1.Project{
				TypeMeta:   metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "Project"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec:       berthv1.ProjectSpec{DisplayName: displayName, Description: description},
			}
			if err := c.Create(cmd.Context(), client.Projects, "", project, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project/%s created\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&displayName, "display-name", "", "human-readable name")
	cmd.Flags().StringVar(&description, "description", "", "what the project is for")
	return cmd
}

func newProjectListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the projects you can see",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd, g, &getOptions{}, client.Projects, "")
		},
	}
}

func newProjectDeleteCommand(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME [--yes]",
		Short: "Delete a project and everything in it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !yes {
				if _, tty := terminalFD(cmd); !tty {
					return fmt.Errorf("refusing to delete project %q without --yes (stdin is not a terminal)", name)
				}
				ok, err := confirm(cmd, fmt.Sprintf("Delete project %q and everything in it?", name))
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("not deleted")
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), client.Projects, "", name); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project %q deleted\n", name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newProjectUseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make a project the default namespace of later commands",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Get(cmd.Context(), client.Projects, "", name, nil); err != nil {
				return err
			}
			cfg, path, err := g.config()
			if err != nil {
				return err
			}
			cfg.Namespace = name
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Now using project %q on %s.\n", name, c.Server())
			return nil
		},
	}
}

func newProjectAddMemberCommand(g *globals) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "add-member PROJECT USER --role admin|edit|view",
		Short: "Give a user a role in a project (or change it)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, user := args[0], args[1]
			switch role {
			case berthv1.RoleAdmin, berthv1.RoleEdit, berthv1.RoleView:
			default:
				return fmt.Errorf("--role must be admin, edit or view, not %q", role)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			member := &berthv1.Member{
				TypeMeta:   metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "Member"},
				ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: project},
				Spec:       berthv1.MemberSpec{Role: role},
			}
			verb := "added"
			err = c.Create(ctx, client.Members, project, member, nil)
			if apierrors.IsAlreadyExists(err) {
				var current berthv1.Member
				if err = c.Get(ctx, client.Members, project, user, &current); err == nil {
					current.Spec.Role = role
					err = c.Update(ctx, client.Members, project, user, &current, nil)
					verb = "updated"
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "member/%s %s to project %s as %s\n", user, verb, project, role)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "admin, edit or view")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newProjectRemoveMemberCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-member PROJECT USER",
		Short: "Take a user's role in a project away",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), client.Members, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "member/%s removed from project %s\n", args[1], args[0])
			return nil
		},
	}
}
