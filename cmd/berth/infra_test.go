package main

import (
	"bufio"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// TestCgoBerthRunsInfra builds berth as `go build` does on a machine with
// a C compiler (CGO_ENABLED=1, dynamically linked), starts `berth node`
// with it and runs the infra image that node built: the infra container
// must not depend on how berth was linked.
func TestCgoBerthRunsInfra(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: builds berth with cgo and needs the Docker engine")
	}
	cli := dockerClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "berth-cgo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/berth")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build with cgo: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		t.Fatal("berth built with CGO_ENABLED=1 is static; the test would prove nothing")
	}

	// No master answers: the agent gets as far as its infra image, then
	// retries the join until it is stopped.
	state := t.TempDir()
	token := filepath.Join(state, "token")
	if err := os.WriteFile(token, []byte("none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node := exec.CommandContext(ctx, bin, "node", "--master", "http://127.0.0.1:1", "--name", "cgo-test",
		"--token-file", token, "--state-dir", filepath.Join(state, "node"), "--listen", "127.0.0.1:0")
	stderr, err := node.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		node.Process.Kill()
		node.Wait()
	})
	tagRE := regexp.MustCompile(`berth-infra:[0-9a-f]{16}`)
	image := ""
	var lines []string
	sc := bufio.NewScanner(stderr)
	for image == "" && sc.Scan() {
		lines = append(lines, sc.Text())
		image = tagRE.FindString(sc.Text())
	}
	if image == "" {
		t.Fatalf("berth node (cgo) built no infra image; it said:\n%q", lines)
	}
	go func() {
		for sc.Scan() {
		}
	}()

	created, err := cli.ContainerCreate(ctx, &container.Config{Image: image}, &container.HostConfig{CapDrop: []string{"ALL"}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true}) })
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("the infra image of a cgo berth does not start: %v", err)
	}
	info, err := cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !info.State.Running {
		t.Fatalf("infra container not running: %+v", info.State)
	}
	timeout := 30
	if err := cli.ContainerStop(ctx, created.ID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if info, err = cli.ContainerInspect(ctx, created.ID); err != nil || info.State.ExitCode != 0 {
		t.Errorf("infra container after SIGTERM: %+v, %v; want exit 0", info.State, err)
	}
}
