package fake

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestRuntime(opts Options) (*Runtime, *clock) {
	r := New(opts)
	c := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	r.now = c.Now
	return r, c
}

func testPod(uid string, policy v1.RestartPolicy, env ...v1.EnvVar) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + uid, Namespace: "demo", UID: types.UID(uid)},
		Spec: v1.PodSpec{
			RestartPolicy: policy,
			Containers:    []v1.Container{{Name: "app", Image: "example/app", Env: env}},
		},
	}
}

func env(kv ...string) []v1.EnvVar {
	var out []v1.EnvVar
	for i := 0; i < len(kv); i += 2 {
		out = append(out, v1.EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestSyncPodAdoptsInsteadOfDuplicating(t *testing.T) {
	r, _ := newTestRuntime(Options{})
	ctx := t.Context()
	first, err := r.SyncPod(ctx, testPod("u1", v1.RestartPolicyAlways), runtime.PodData{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.IP, "10.") || !first.InfraRunning {
		t.Fatalf("pod status %+v: want a 10.x address and infra running", first)
	}
	if c := first.Containers[0]; c.State != runtime.StateRunning || c.ID == "" {
		t.Fatalf("container %+v, want running", c)
	}
	again, err := r.SyncPod(ctx, testPod("u1", v1.RestartPolicyAlways), runtime.PodData{})
	if err != nil {
		t.Fatal(err)
	}
	if again.IP != first.IP || again.Containers[0].ID != first.Containers[0].ID || r.Created() != 1 {
		t.Fatalf("second sync made a new pod: %+v after %+v, created %d", again, first, r.Created())
	}
	other, _ := r.SyncPod(ctx, testPod("u2", v1.RestartPolicyAlways), runtime.PodData{})
	if other.IP == first.IP {
		t.Fatalf("two pods share IP %s", other.IP)
	}
	pods, err := r.ListPods(ctx)
	if err != nil || len(pods) != 2 {
		t.Fatalf("ListPods = %d pods, %v; want 2", len(pods), err)
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name       string
		policy     v1.RestartPolicy
		env        []v1.EnvVar
		wantState  runtime.State
		wantReason string
		wantCode   int
		wantCount  int32
	}{
		{"runs forever", v1.RestartPolicyAlways, nil, runtime.StateRunning, "", 0, 0},
		{"always restarts a success", v1.RestartPolicyAlways, env("FAKE_EXIT_AFTER", "2s"), runtime.StateRunning, "", 0, 1},
		{"on failure keeps a success", v1.RestartPolicyOnFailure, env("FAKE_EXIT_AFTER", "2s"), runtime.StateExited, "Completed", 0, 0},
		{"on failure restarts a failure", v1.RestartPolicyOnFailure, env("FAKE_EXIT_AFTER", "2s", "FAKE_EXIT_CODE", "3"), runtime.StateRunning, "", 0, 1},
		{"never keeps a failure", v1.RestartPolicyNever, env("FAKE_EXIT_CODE", "3"), runtime.StateExited, "Error", 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, clk := newTestRuntime(Options{})
			pod := testPod("u1", tt.policy, tt.env...)
			if _, err := r.SyncPod(t.Context(), pod, runtime.PodData{}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(3 * time.Second)
			st, err := r.SyncPod(t.Context(), pod, runtime.PodData{})
			if err != nil {
				t.Fatal(err)
			}
			c := st.Containers[0]
			if c.State != tt.wantState || c.Reason != tt.wantReason || c.ExitCode != tt.wantCode || c.RestartCount != tt.wantCount {
				t.Fatalf("container %+v, want %s %q code %d restarts %d", c, tt.wantState, tt.wantReason, tt.wantCode, tt.wantCount)
			}
		})
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	r, clk := newTestRuntime(Options{RestartBackOff: runtime.BackOff{Initial: 10 * time.Second}})
	pod := testPod("u1", v1.RestartPolicyAlways, env("FAKE_EXIT_CODE", "1")...)
	ctx := t.Context()
	r.SyncPod(ctx, pod, runtime.PodData{}) // starts and exits at once
	st, _ := r.SyncPod(ctx, pod, runtime.PodData{})
	if c := st.Containers[0]; c.RestartCount != 1 {
		t.Fatalf("first restart not immediate: %+v", c)
	}
	clk.Advance(5 * time.Second)
	st, _ = r.SyncPod(ctx, pod, runtime.PodData{})
	if c := st.Containers[0]; c.State != runtime.StateWaiting || c.Reason != "CrashLoopBackOff" || c.RestartCount != 1 {
		t.Fatalf("within the back-off: %+v, want CrashLoopBackOff", c)
	}
	clk.Advance(6 * time.Second)
	st, _ = r.SyncPod(ctx, pod, runtime.PodData{})
	if c := st.Containers[0]; c.RestartCount != 2 {
		t.Fatalf("after the back-off: %+v, want restart 2", c)
	}
}

func TestStartDelayAndUnpullable(t *testing.T) {
	r, clk := newTestRuntime(Options{StartDelay: time.Second})
	ctx := t.Context()
	st, _ := r.SyncPod(ctx, testPod("u1", v1.RestartPolicyAlways), runtime.PodData{})
	if c := st.Containers[0]; c.State != runtime.StateWaiting || c.Reason != "ContainerCreating" {
		t.Fatalf("before the start delay: %+v", c)
	}
	clk.Advance(time.Second)
	st, _ = r.SyncPod(ctx, testPod("u1", v1.RestartPolicyAlways), runtime.PodData{})
	if c := st.Containers[0]; c.State != runtime.StateRunning {
		t.Fatalf("after the start delay: %+v", c)
	}

	bad := testPod("u2", v1.RestartPolicyAlways)
	bad.Spec.Containers[0].Image = "example/unpullable"
	for _, want := range []string{"ErrImagePull", "ImagePullBackOff"} {
		st, err := r.SyncPod(ctx, bad, runtime.PodData{})
		if err != nil {
			t.Fatal(err)
		}
		if c := st.Containers[0]; c.State != runtime.StateWaiting || c.Reason != want || c.Message == "" {
			t.Fatalf("unpullable image: %+v, want waiting %s", c, want)
		}
	}
}

func TestStopStartKill(t *testing.T) {
	r, clk := newTestRuntime(Options{})
	ctx := t.Context()
	pod := testPod("u1", v1.RestartPolicyAlways)
	r.SyncPod(ctx, pod, runtime.PodData{})
	if err := r.StopPod(ctx, "u1", time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	st, _ := r.SyncPod(ctx, pod, runtime.PodData{})
	if c := st.Containers[0]; c.State != runtime.StateExited || c.ExitCode != 143 {
		t.Fatalf("stopped pod after a sync: %+v, want exited 143", c)
	}
	if err := r.StartPod(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	st, _ = r.SyncPod(ctx, pod, runtime.PodData{})
	if c := st.Containers[0]; c.State != runtime.StateRunning {
		t.Fatalf("started pod: %+v, want running", c)
	}
	if err := r.KillPod(ctx, "u1", 0); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"kill":  r.KillPod(ctx, "u1", 0),
		"stop":  r.StopPod(ctx, "u1", 0),
		"start": r.StartPod(ctx, "u1"),
	} {
		if !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s of a killed pod = %v, want ErrNotFound", name, err)
		}
	}
}

func TestLogs(t *testing.T) {
	r, clk := newTestRuntime(Options{})
	ctx := t.Context()
	r.SyncPod(ctx, testPod("u1", v1.RestartPolicyNever, env("FAKE_EXIT_AFTER", "5s")...), runtime.PodData{})
	clk.Advance(3 * time.Second)
	two, seven := int64(2), int64(7)
	atTwo := time.Date(2025, 1, 1, 0, 0, 2, 0, time.UTC)
	justAfterTwo := atTwo.Add(time.Nanosecond)
	tests := []struct {
		name string
		opts runtime.LogOptions
		want []string
	}{
		{"all", runtime.LogOptions{}, []string{`fake container "app" of pod demo/web-u1 started (image example/app)`, "fake log line 1 of app", "fake log line 2 of app", "fake log line 3 of app"}},
		{"tail", runtime.LogOptions{TailLines: &two}, []string{"fake log line 2 of app", "fake log line 3 of app"}},
		{"since", runtime.LogOptions{SinceSeconds: &two}, []string{"fake log line 1 of app", "fake log line 2 of app", "fake log line 3 of app"}},
		{"timestamps", runtime.LogOptions{TailLines: &two, Timestamps: true}, []string{"2025-01-01T00:00:02.000000000Z fake log line 2 of app", "2025-01-01T00:00:03.000000000Z fake log line 3 of app"}},
		{"sinceTime, inclusive", runtime.LogOptions{SinceTime: &atTwo}, []string{"fake log line 2 of app", "fake log line 3 of app"}},
		{"sinceTime, to the nanosecond", runtime.LogOptions{SinceTime: &justAfterTwo}, []string{"fake log line 3 of app"}},
		{"limitBytes", runtime.LogOptions{TailLines: &two, LimitBytes: &seven}, []string{"fake lo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := r.Logs(ctx, "u1", "app", tt.opts, &buf); err != nil {
				t.Fatal(err)
			}
			if got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("log = %q, want %q", got, tt.want)
			}
		})
	}
	if err := r.Logs(ctx, "u1", "app", runtime.LogOptions{Previous: true}, &bytes.Buffer{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("previous log of a first instance = %v, want ErrNotFound", err)
	}
}

func TestLogsFollowEndsWithTheContainer(t *testing.T) {
	r := New(Options{LogInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r.SyncPod(ctx, testPod("u1", v1.RestartPolicyNever, env("FAKE_EXIT_AFTER", "100ms")...), runtime.PodData{})
	var buf bytes.Buffer
	if err := r.Logs(ctx, "u1", "", runtime.LogOptions{Follow: true}, &buf); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("follow did not end when the container exited")
	}
	if n := strings.Count(buf.String(), "\n"); n < 10 {
		t.Fatalf("followed %d lines, want about 11:\n%s", n, buf.String())
	}
}

func TestExecDiffAttach(t *testing.T) {
	r, _ := newTestRuntime(Options{})
	ctx := t.Context()
	r.SyncPod(ctx, testPod("u1", v1.RestartPolicyAlways), runtime.PodData{})
	var out bytes.Buffer
	code, err := r.Exec(ctx, "u1", "app", []string{"ls", "-l"}, runtime.Streams{Stdout: &out})
	if err != nil || code != 0 || out.String() != "fake exec: ls -l\n" {
		t.Fatalf("Exec = %d, %v, %q", code, err, out.String())
	}
	changes, err := r.Diff(ctx, "u1", "app")
	if err != nil || changes == nil || len(changes) != 0 {
		t.Fatalf("Diff = %v, %v; want an empty list", changes, err)
	}
	out.Reset()
	if err := r.Attach(ctx, "u1", "app", runtime.Streams{Stdin: strings.NewReader("hi\n"), Stdout: &out}); err != nil || out.String() != "hi\n" {
		t.Fatalf("Attach = %v, %q", err, out.String())
	}
	if _, err := r.Exec(ctx, "u1", "nope", nil, runtime.Streams{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Exec in a missing container = %v, want ErrNotFound", err)
	}
}

func TestEngineDown(t *testing.T) {
	r, _ := newTestRuntime(Options{CPUs: 8, MemoryBytes: 1 << 30})
	ctx := t.Context()
	r.SyncPod(ctx, testPod("u1", v1.RestartPolicyAlways), runtime.PodData{})
	r.SetDown(true)
	if _, err := r.ListPods(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ListPods while down = %v", err)
	}
	if _, err := r.SyncPod(ctx, testPod("u1", v1.RestartPolicyAlways), runtime.PodData{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("SyncPod while down = %v", err)
	}
	r.SetDown(false)
	pods, err := r.ListPods(ctx)
	if err != nil || len(pods) != 1 {
		t.Fatalf("after the engine returned: %v, %v", pods, err)
	}
	info, err := r.Info(ctx)
	if err != nil || info.CPUs != 8 || info.MemoryBytes != 1<<30 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}
