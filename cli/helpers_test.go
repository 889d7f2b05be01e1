package cli_test

import (
	"encoding/json"
	"github.com/berthpaas/berth/internal/syncbuf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/client/clienttest"
)

// fixture is a fake server and a config file logged in to it as alice,
// with "dev" as the default namespace.
type fixture struct {
	srv        *clienttest.Server
	configPath string
	token      string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := clienttest.NewServer(t)
	f := &fixture{srv: srv, configPath: filepath.Join(t.TempDir(), "config.json"), token: srv.IssueToken("alice")}
	t.Setenv("BERTH_CONFIG", f.configPath)
	cfg := &cli.Config{Server: srv.URL, Token: f.token, Username: "alice", Namespace: "dev"}
	if err := cfg.Save(f.configPath); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) config(t *testing.T) cli.Config {
	t.Helper()
	data, err := os.ReadFile(f.configPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg cli.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// syncBuffer is shared with the other tests.
type syncBuffer = syncbuf.Buffer

// run runs berth with args and stdin in-process.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut syncBuffer
	root := cli.NewRootCommand()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// mustRun is run that fails the test on an error.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, stdin, args...)
	if err != nil {
		t.Fatalf("berth %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
