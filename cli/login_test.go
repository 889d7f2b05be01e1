package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/client/clienttest"
)

func TestLoginWritesConfig(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.AddUser("alice", "s3cret")
	path := filepath.Join(t.TempDir(), "berth", "config.json")
	t.Setenv("BERTH_CONFIG", path)

	out := mustRun(t, "s3cret\n", "login", srv.URL, "-u", "alice", "--password-stdin")
	if !strings.Contains(out, "Logged in to "+srv.URL+" as alice") {
		t.Errorf("output = %q", out)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("config mode = %o, want 600", mode)
	}
	dirInfo, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if mode := dirInfo.Mode().Perm(); mode != 0o700 {
		t.Errorf("config dir mode = %o, want 700", mode)
	}
	cfg, err := cli.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != srv.URL || cfg.Username != "alice" || !srv.TokenValid(cfg.Token) {
		t.Errorf("config = %+v", cfg)
	}

	if got := mustRun(t, "", "whoami"); got != "alice\n" {
		t.Errorf("whoami = %q", got)
	}
}

func TestLoginFailures(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.AddUser("alice", "s3cret")
	t.Setenv("BERTH_CONFIG", filepath.Join(t.TempDir(), "config.json"))

	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
	}{
		{"no tty without --password-stdin", "s3cret\n", []string{"login", srv.URL, "-u", "alice"}, "--password-stdin"},
		{"no username", "s3cret\n", []string{"login", srv.URL, "--password-stdin"}, "-u USER"},
		{"wrong password", "nope\n", []string{"login", srv.URL, "-u", "alice", "--password-stdin"}, `as "alice" failed: invalid username or password`},
		{"no server", "s3cret\n", []string{"login", "-u", "alice", "--password-stdin"}, "no server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigPath(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, berthConfig, xdg, home, want string
	}{
		{"BERTH_CONFIG wins", "/etc/berth.json", dir, dir, "/etc/berth.json"},
		{"XDG_CONFIG_HOME", "", "/xdg", dir, "/xdg/berth/config.json"},
		{"home", "", "", "/home/a", "/home/a/.config/berth/config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BERTH_CONFIG", tt.berthConfig)
			t.Setenv("XDG_CONFIG_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got, err := cli.ConfigPath(); err != nil || got != tt.want {
				t.Errorf("ConfigPath() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	out := mustRun(t, "", "logout")
	if !strings.Contains(out, "Logged out of "+f.srv.URL) {
		t.Errorf("output = %q", out)
	}
	if f.srv.TokenValid(f.token) {
		t.Error("token still valid after logout")
	}
	cfg := f.config(t)
	if cfg.Token != "" || cfg.Server != f.srv.URL || cfg.Namespace != "dev" {
		t.Errorf("config after logout = %+v", cfg)
	}
}

func TestUnauthorizedSuggestsLogin(t *testing.T) {
	f := newFixture(t)
	_, _, err := run(t, "", "get", "pods", "--token", "bogus")
	if err == nil || !strings.Contains(err.Error(), "berth login "+f.srv.URL) {
		t.Errorf("error = %v, want a hint to run berth login", err)
	}
}

func TestNoServer(t *testing.T) {
	t.Setenv("BERTH_CONFIG", filepath.Join(t.TempDir(), "config.json"))
	_, _, err := run(t, "", "get", "pods")
	if err == nil || !strings.Contains(err.Error(), "berth login") {
		t.Errorf("error = %v", err)
	}
}
