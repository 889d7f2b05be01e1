package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// testInfraStops: the infra process, init of its container, blocks until
// SIGTERM and then exits 0 (not killed at the end of the grace period).
func testInfraStops(t *testing.T, e *env) {
	ctx := t.Context()
	created, err := e.cli.ContainerCreate(ctx, &container.Config{
		Image: e.opts.InfraImage, Labels: map[string]string{"dev.berth.test": e.namespace},
	}, &container.HostConfig{CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// t.Context() is cancelled before cleanups run: the removal needs
	// one of its own.
	t.Cleanup(func() {
		if err := e.cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("remove the infra container: %v", err)
		}
	})
	if err := e.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	timeout := 30
	start := time.Now()
	if err := e.cli.ContainerStop(ctx, created.ID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	info, err := e.cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.ExitCode != 0 || info.State.OOMKilled {
		t.Errorf("infra exited %d (137: killed, not stopped by SIGTERM)", info.State.ExitCode)
	}
	t.Logf("stopped in %s", time.Since(start))
}
