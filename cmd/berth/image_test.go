package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/berthpaas/berth/internal/testbin"
)

// TestMain runs the tests, then removes the berth binary testbin built for
// them.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// TestImage builds the berth image from the repository's Dockerfile with no
// registry (the static binary built here, a tar context, the Docker Engine
// API), runs `berth version` in it and checks what it prints.
func TestImage(t *testing.T) {
	cli := dockerClient(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The static binary, as `make build` makes it.
	bin := testbin.Berth(t)

	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatalf("the repository's Dockerfile: %v", err)
	}
	tarCtx, err := buildContext(dockerfile, bin)
	if err != nil {
		t.Fatalf("build context: %v", err)
	}

	tag := fmt.Sprintf("berth-imagetest:%d", time.Now().UnixNano())
	resp, err := cli.ImageBuild(ctx, tarCtx, build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
	})
	if err != nil {
		t.Fatalf("ImageBuild: %v", err)
	}
	buildLog, err := readBuildStream(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("image build failed: %v\nbuild output:\n%s", err, buildLog)
	}
	// Tagged only once the build succeeded: nothing to remove before.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Logf("removing image %s: %v", tag, err)
		}
	})
	t.Logf("built %s", tag)

	inspect, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatalf("ImageInspect: %v", err)
	}
	if u := inspect.Config.User; u != "65532:65532" && u != "65532" {
		t.Errorf("image user = %q, want the non-root 65532", u)
	}
	if ep := inspect.Config.Entrypoint; len(ep) != 1 || ep[0] != "/berth" {
		t.Errorf("image entrypoint = %q, want [/berth]", ep)
	}

	created, err := cli.ContainerCreate(ctx,
		&container.Config{Image: tag, Cmd: []string{"version"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatalf("ContainerCreate: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Logf("removing container %s: %v", created.ID[:12], err)
		}
	})

	waitC, errC := cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("ContainerStart: %v", err)
	}
	var exitCode int64
	select {
	case w := <-waitC:
		if w.Error != nil {
			t.Fatalf("ContainerWait: %s", w.Error.Message)
		}
		exitCode = w.StatusCode
	case err := <-errC:
		t.Fatalf("ContainerWait: %v", err)
	}

	logs, err := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("ContainerLogs: %v", err)
	}
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
		t.Fatalf("reading container logs: %v", err)
	}
	if exitCode != 0 {
		t.Fatalf("berth version exited %d\nstdout: %s\nstderr: %s", exitCode, stdout.String(), stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "berth ") {
		t.Fatalf("berth version printed %q (stderr %q), want a line starting with \"berth \"", stdout.String(), stderr.String())
	}
	t.Logf("berth version in the image: %s", strings.TrimSpace(stdout.String()))
}

// dockerClient answers the Docker Engine from the environment (DOCKER_HOST
// and friends), or ends the test: a failure, unless -short, which skips.
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	const hint = "the Docker Engine does not answer; run scripts/setup (or `make setup`) to install and start it"
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = cli.Ping(ctx)
		cancel()
		if err != nil {
			cli.Close()
		}
	}
	if err != nil {
		if testing.Short() {
			t.Skipf("%s (%v)", hint, err)
		}
		t.Fatalf("%s: %v", hint, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// buildContext is the tar the Dockerfile expects (see its header): the
// Dockerfile, the binary as "berth" and the empty rootfs directories.
func buildContext(dockerfile []byte, bin string) (io.Reader, error) {
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dirs := []struct {
		name string
		mode int64
	}{
		{"rootfs/", 0o755},
		{"rootfs/tmp/", 0o1777},
		{"rootfs/var/", 0o755},
		{"rootfs/var/lib/", 0o755},
		{"rootfs/var/lib/berth/", 0o755},
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: now}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, dockerfile},
		{"berth", 0o755, binary},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: now}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// readBuildStream reads the JSON messages of an image build to the end and
// returns the build's output; the error is the first errorDetail, if any.
func readBuildStream(r io.Reader) (string, error) {
	var out strings.Builder
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Status      string `json:"status"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return out.String(), nil
			}
			return out.String(), fmt.Errorf("reading the build stream: %w", err)
		}
		out.WriteString(msg.Stream)
		if msg.Status != "" {
			out.WriteString(msg.Status + "\n")
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			return out.String(), errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return out.String(), errors.New(msg.Error)
		}
	}
}
