package cli

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/backend/version"
	"github.com/berthpaas/berth/client"
)

// DefaultNamespace is used when neither --namespace nor the config names
// one.
const DefaultNamespace = "default"

// globals are the flags every command shares, and what they resolve to.
type globals struct {
	server    string
	token     string
	namespace string
	insecure  bool
	root      *cobra.Command
}

// NewRootCommand returns the berth command with the CLI's subcommands and
// the extra ones (main adds the server commands: up, master, version). It
// neither prints errors nor exits: Execute returns the error for main to
// print once.
func NewRootCommand(extra ...*cobra.Command) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Berth: deploy containers onto a cluster of atomic hosts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.root = root
	flags := root.PersistentFlags()
	flags.StringVar(&g.server, "server", "", "URL of the Berth API server (default from the config)")
	flags.StringVar(&g.token, "token", "", "bearer token (default from the config)")
	flags.StringVarP(&g.namespace, "namespace", "n", "", `namespace (project) to work in (default from the config, else "default")`)
	flags.BoolVar(&g.insecure, "insecure-skip-tls-verify", false, "accept any server certificate (test servers only)")

	root.AddCommand(
		newLoginCommand(g),
		newLogoutCommand(g),
		newWhoAmICommand(g),
		newPasswdCommand(g),
		newProjectCommand(g),
		newUserCommand(g),
		newTokenCommand(g),
		newGetCommand(g),
		newApplyCommand(g),
		newCreateCommand(g),
		newDeleteCommand(g),
		newRunCommand(g),
		newPsCommand(g),
		newLogsCommand(g),
		newExecCommand(g),
		newAttachCommand(g),
		newPortForwardCommand(g),
		newDiffCommand(g),
		newDescribeCommand(g),
		newScaleCommand(g),
		newExposeCommand(g),
		newRouteCommand(g),
		newHostImageCommand(g),
		newUsageCommand(g),
	)
	root.AddCommand(newPodActionCommands(g)...)
	root.AddCommand(extra...)
	addNodeCommands(root, g)
	addLoginHints(root, g)
	return root
}

// config loads the config file and its path.
func (g *globals) config() (*Config, string, error) {
	path, err := ConfigPath()
	if err != nil {
		return nil, "", err
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, "", err
	}
	return cfg, path, nil
}

// client returns a client of the server and token in effect: the flags',
// else the config's.
func (g *globals) client() (*client.Client, error) {
	cfg, _, err := g.config()
	if err != nil {
		return nil, err
	}
	server, token := cfg.Server, cfg.Token
	if g.server != "" {
		server = g.server
	}
	if g.token != "" {
		token = g.token
	}
	if server == "" {
		return nil, errors.New(`no server: log in first with "berth login URL -u USER", or pass --server`)
	}
	opts := []client.Option{client.WithUserAgent("berth/" + version.Version)}
	if g.insecure || cfg.InsecureSkipTLSVerify {
		opts = append(opts, client.WithInsecureSkipTLSVerify())
	}
	return client.New(server, token, opts...), nil
}

// target is the namespace and the client of a command that acts in one
// project.
func (g *globals) target() (string, *client.Client, error) {
	namespace, err := g.ns()
	if err != nil {
		return "", nil, err
	}
	c, err := g.client()
	return namespace, c, err
}

// ns is the namespace in effect: --namespace, else the config's, else
// "default".
func (g *globals) ns() (string, error) {
	if g.namespace != "" {
		return g.namespace, nil
	}
	cfg, _, err := g.config()
	if err != nil {
		return "", err
	}
	if cfg.Namespace != "" {
		return cfg.Namespace, nil
	}
	return DefaultNamespace, nil
}

// namespaceExplicit reports whether the user passed --namespace.
func (g *globals) namespaceExplicit() bool {
	return g.root.PersistentFlags().Changed("namespace")
}

// addLoginHints makes every command but login explain what to do when the
// server does not accept the credential.
func addLoginHints(cmd *cobra.Command, g *globals) {
	for _, sub := range cmd.Commands() {
		addLoginHints(sub, g)
	}
	run := cmd.RunE
	if run == nil || cmd.Name() == "login" {
		return
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if apierrors.IsUnauthorized(err) {
			return fmt.Errorf("%w\nyour token is missing, expired or revoked: log in again with \"berth login %s -u USER\"", err, g.serverForHint())
		}
		return err
	}
}

func (g *globals) serverForHint() string {
	if g.server != "" {
		return g.server
	}
	if cfg, _, err := g.config(); err == nil && cfg.Server != "" {
		return cfg.Server
	}
	return "URL"
}
