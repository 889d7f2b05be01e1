package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	berthapi "github.com/berthpaas/berth/backend/api"
)

// arrivals records what a log follower received, and when.
type arrivals struct {
	mu     sync.Mutex
	data   []byte    // guarded by mu; only ever appended to
	writes []arrival // guarded by mu
}

// arrival is one Write: the end of its bytes in data, and when it came.
type arrival struct {
	end int
	at  time.Time
}

func (a *arrivals) Write(p []byte) (int, error) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.data = append(a.data, p...)
	a.writes = append(a.writes, arrival{end: len(a.data), at: now})
	return len(p), nil
}

// snapshot is what arrived so far (not to be modified).
func (a *arrivals) snapshot() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.data[:len(a.data):len(a.data)]
}

// arrivedAt is when byte i arrived.
func (a *arrivals) arrivedAt(i int) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, _ := slices.BinarySearchFunc(a.writes, i, func(w arrival, i int) int { return w.end - 1 - i })
	return a.writes[k].at
}

// berthCLIFollow is the berth CLI as a user runs it, with flags for the server,
// the token and the namespace, in a home of its own; not started.
func berthCLIFollow(t *testing.T, ctx context.Context, server, token, ns string, args ...string) *exec.Cmd {
	t.Helper()
	cmd, _, _ := berthCommand(t, ctx, append([]string{"--server", server, "--token", token, "-n", ns}, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "BERTH_CONFIG="+filepath.Join(home, "config.json"))
	return cmd
}

// logSocketURL is the websocket URL of a pod's log.
func logSocketURL(serverURL, ns, pod, query string) string {
	return "ws" + strings.TrimPrefix(serverURL, "http") + "/api/v1/namespaces/" + ns + "/pods/" + pod + "/log?" + query
}

var (
	progressStep = regexp.MustCompile(`^progress (\d+)% (\d+)$`)
	anyTime      = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`)
)

// checkProgress checks the progress bar of the echo image (PROGRESS_EVERY)
// as a follower received it: no time inside (with times, the bar's line
// starts with one), and every step written after the follower began,
// once, in order, each within 100 ms of its write. (Steps written before
// come from Docker's log, in its 16 KiB pieces; those written in the
// moment before the follow began are in neither source yet.)
func checkProgress(t *testing.T, who string, a *arrivals, timestamps bool) {
	t.Helper()
	data := a.snapshot()
	began := a.arrivedAt(0).Add(time.Second)
	// The echo server said it listens first; the bar is the line after.
	skip := bytes.LastIndexByte(data, '\n') + 1
	text := string(data[skip:])
	if timestamps {
		stamp, rest, _ := strings.Cut(text, " ")
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || !strings.HasPrefix(rest, "\r") {
			t.Errorf("%s: the bar's line does not start with its time: %.80q", who, text)
			return
		}
		text, skip = rest, skip+len(stamp)+1
	}
	if anyTime.MatchString(text) {
		t.Errorf("%s: a time inside the bar: %.300q", who, text)
		return
	}
	steps := strings.Split(text, "\r")
	var lats []time.Duration
	prev, pos := 0, 0
	for i, step := range steps {
		start := pos
		pos += len(step) + 1
		if i == 0 || i == len(steps)-1 {
			continue // before the first "\r"; the last may be cut short
		}
		m := progressStep.FindStringSubmatch(step)
		written := int64(0)
		if m != nil {
			written, _ = strconv.ParseInt(m[2], 10, 64)
		}
		if m == nil || time.Unix(0, written).Before(began) {
			continue // history (one step may be cut where the follow joined)
		}
		n, _ := strconv.Atoi(m[1])
		if prev != 0 && n != prev+1 {
			t.Errorf("%s: step %d follows step %d", who, n, prev)
		}
		prev = n
		lats = append(lats, a.arrivedAt(skip+start+len(step)-1).Sub(time.Unix(0, written)))
	}
	if len(lats) < 50 {
		t.Errorf("%s: %d steps after the follow began, want at least 50", who, len(lats))
		return
	}
	slices.Sort(lats)
	p50, p99, worst := lats[len(lats)/2], lats[len(lats)*99/100], lats[len(lats)-1]
	t.Logf("%s: %d steps, after their write: p50 %v, p99 %v, max %v", who, len(lats), p50.Round(time.Microsecond), p99.Round(time.Microsecond), worst.Round(time.Microsecond))
	// Steps waited for Docker's log driver (16 KiB, 23 s here) before;
	// each comes by itself now. Two cores shared by many test runs stall
	// any process now and then (the writer too, between taking its time
	// and writing), so this test asks for the typical step within 100 ms
	// and none held back; bench/ (BenchmarkLogPartialWrites) measures the
	// latency itself against its target.
	if p50 > 100*time.Millisecond || worst > 2*time.Second {
		t.Errorf("%s: steps came p50 %v, max %v after their write; want p50 within 100 ms and none after 2 s", who, p50, worst)
	}
}

// A "\r" progress bar at 50 Hz reaches `berth logs -f`, a client-go
// log stream (kubectl's, which kubectl logs -f reads) and the log
// websocket (as the console reads it, with times) write by write, with no
// time inside it. They got it every 16 KiB before, 23 s here, with
// Docker's times spliced in. (kubectl logs -f itself prints what it reads
// only line by line, bufio's ReadBytes('\n') in its DefaultConsumeRequest:
// the bar's steps reach it at once, and it shows them when the line ends.)
func TestLogsProgressBar(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-progress")
	c.create(c.echoPod("bar", v1.EnvVar{Name: "PROGRESS_EVERY", Value: "20ms"}))
	c.waitPod("bar", podStartTimeout, "running", isRunning)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	cli := &arrivals{}
	clientGo := &arrivals{}
	socket := &arrivals{}
	followers := map[string]*arrivals{"berth logs -f": cli, "client-go": clientGo, "websocket": socket}
	berthLogs := berthCLIFollow(t, ctx, c.url, c.env.AdminToken, c.ns, "logs", "-f", "bar")
	berthLogs.Stdout = cli
	if err := berthLogs.Start(); err != nil {
		t.Fatalf("berth logs -f: %v", err)
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: c.env.HTTPSURL, BearerToken: c.env.AdminToken, TLSClientConfig: rest.TLSClientConfig{CAFile: c.env.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := cs.CoreV1().Pods(c.ns).GetLogs("bar", &v1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatalf("client-go log stream: %v", err)
	}
	defer stream.Close()
	go func() { _, _ = io.Copy(clientGo, stream) }()
	d := websocket.Dialer{Subprotocols: []string{berthapi.LogProtocolBinary}}
	conn, _, err := d.DialContext(ctx, logSocketURL(c.url, c.ns, "bar", "follow=true&timestamps=true"), http.Header{"Authorization": {"Bearer " + c.env.AdminToken}})
	if err != nil {
		t.Fatalf("log websocket: %v", err)
	}
	defer conn.Close()
	go func() {
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			socket.Write(msg)
		}
	}()

	// Three seconds of the bar (150 steps) after the followers began.
	started := time.Now()
	if !waitFor(time.Minute, func() bool {
		if time.Since(started) < 4*time.Second {
			return false
		}
		for _, a := range followers {
			if bytes.Count(a.snapshot(), []byte("\r")) < 150 {
				return false
			}
		}
		return true
	}) {
		for name, a := range followers {
			t.Logf("%s received %.200q", name, a.snapshot())
		}
		t.Fatal("not every follower got 100 steps of the bar within a minute")
	}
	cancel()
	_ = berthLogs.Wait()
	for name, a := range followers {
		checkProgress(t, name, a, name == "websocket")
	}
}

// logLines is a follower's output as the numbered lines of the writer
// ("line N"), with what else it holds.
func logLines(out string) (numbers []int, other []string) {
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n, err := strconv.Atoi(strings.TrimPrefix(l, "line ")); err == nil && strings.HasPrefix(l, "line ") {
			numbers = append(numbers, n)
		} else if l != "" {
			other = append(other, l)
		}
	}
	return numbers, other
}

// checkConsecutive checks that a follower got the writer's lines from the
// first on, each once, in order.
func checkConsecutive(t *testing.T, who, out string, atLeast int) {
	t.Helper()
	numbers, other := logLines(out)
	if len(other) > 0 {
		t.Errorf("%s: lines that are not the writer's: %q", who, other[:min(len(other), 5)])
	}
	for i, n := range numbers {
		if n != i+1 {
			t.Errorf("%s: line %d is %q, want \"line %d\" (lost or repeated lines)", who, i+1, "line "+strconv.Itoa(n), i+1)
			return
		}
	}
	if len(numbers) < atLeast {
		t.Errorf("%s: %d lines, want at least %d", who, len(numbers), atLeast)
	}
}

// socketFollower follows a pod's log over the websocket as the console
// does, with times, reconnecting after every loss by the rule the API
// documents (serveLogSocket), until ctx ends or the server ends the log.
type socketFollower struct {
	mu    sync.Mutex
	lines []socketLine // guarded by mu
}

type socketLine struct {
	at   time.Time
	text string
}

func (f *socketFollower) run(ctx context.Context, serverURL, token, ns, pod string) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		query := "follow=true&timestamps=true"
		f.mu.Lock()
		var since time.Time
		var mine []socketLine // the lines stamped since or later: the new stream repeats them
		if n := len(f.lines); n > 0 {
			since = f.lines[n-1].at
			for _, l := range f.lines[max(n-1000, 0):] {
				if !l.at.Before(since) {
					mine = append(mine, l)
				}
			}
			query += "&sinceTime=" + since.Format(time.RFC3339Nano)
		}
		f.mu.Unlock()
		d := websocket.Dialer{Subprotocols: []string{berthapi.LogProtocolBinary}, HandshakeTimeout: 10 * time.Second}
		conn, _, err := d.DialContext(ctx, logSocketURL(serverURL, ns, pod, query), http.Header{"Authorization": {"Bearer " + token}})
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		var pending []byte
		for {
			kind, msg, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == berthapi.CloseCredentialEnded) {
					stop()
					conn.Close()
					return
				}
				break
			}
			if kind != websocket.BinaryMessage {
				continue // a Status before a close: the close says what to do
			}
			pending = append(pending, msg...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				stamp, text, _ := strings.Cut(string(pending[:i]), " ")
				pending = pending[i+1:]
				at, _ := time.Parse(time.RFC3339Nano, stamp)
				if len(mine) > 0 && mine[0].text == text {
					mine = mine[1:] // had it
					continue
				}
				mine = nil
				f.mu.Lock()
				f.lines = append(f.lines, socketLine{at, text})
				f.mu.Unlock()
			}
		}
		stop()
		conn.Close()
		// The unfinished line in pending is dropped: it comes again.
	}
}

func (f *socketFollower) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, l := range f.lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// The master restarted five times (berth up: its node agent with it, on a
// new port) under log followers: the followers lost their streams, and a request in
// the moment after the restart could get a 503 that named an address. Now
// the master waits for the agent, and `berth logs -f` and a websocket
// follower that resumes as the API documents get every line once, those
// written during each outage too.
func TestLogsAcrossMasterRestarts(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := startPodClusterAt(t, "e2e-logrestart", addr)
	c.create(c.shellPod("writer", v1.RestartPolicyAlways, `i=0; while true; do i=$((i+1)); echo "line $i"; usleep 20000; done`))
	c.waitPod("writer", podStartTimeout, "running", isRunning)
	token := c.env.AdminToken // a session: it outlives restarts
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	cli := berthCLIFollow(t, ctx, c.url, token, c.ns, "logs", "-f", "writer")
	var cliOut, cliErr syncBuffer
	cli.Stdout, cli.Stderr = &cliOut, &cliErr
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	socket := &socketFollower{}
	socketDone := make(chan struct{})
	go func() {
		defer close(socketDone)
		socket.run(ctx, c.url, token, c.ns, "writer")
	}()
	lines := func(out string) int { n, _ := logLines(out); return len(n) }
	followed := func(n int) bool { return lines(cliOut.String()) >= n && lines(socket.output()) >= n }
	if !waitFor(time.Minute, func() bool { return followed(50) }) {
		t.Fatalf("the followers have %d and %d lines after a minute", lines(cliOut.String()), lines(socket.output()))
	}

	const restarts = 5
	for i := range restarts {
		c.up.terminate()
		time.Sleep(2 * time.Second) // the outage: the writer goes on
		c.up = startUpArgs(t, c.up.dataDir, addr)
		c.connect()
		// At once after the restart, while the agent may not have
		// published its new address yet.
		resp := c.env.Do(t, http.MethodGet, "/api/v1/namespaces/"+c.ns+"/pods/writer/log?tailLines=1", token, nil)
		if resp.Code != http.StatusOK {
			t.Errorf("restart %d: the log answered %d %s at once after the restart", i+1, resp.Code, resp.Body)
		}
		written := lines(c.logNow(t, "writer"))
		if !waitFor(time.Minute, func() bool { return followed(written + 20) }) {
			out := cliOut.String()
			t.Fatalf("restart %d: the followers have %d and %d lines, the writer %d+ (berth logs said: %s; exited: %v)\ncli ends %q\nsocket ends %q\nlog starts %.200q\ncontainers %s",
				i+1, lines(out), lines(socket.output()), written, cliErr.String(), cli.ProcessState,
				out[max(len(out)-100, 0):], socket.output()[max(len(socket.output())-100, 0):], c.logNow(t, "writer"), describePod(c.waitPod("writer", time.Second, "any", func(*v1.Pod) bool { return true })))
		}
	}
	cancel()
	_ = cli.Wait()
	<-socketDone
	checkConsecutive(t, "berth logs -f", cliOut.String(), 200)
	checkConsecutive(t, "websocket", socket.output(), 200)
	if n := strings.Count(cliErr.String(), "reconnecting"); n != restarts {
		t.Errorf("berth logs -f said it reconnects %d times, want %d: %s", n, restarts, cliErr.String())
	}
}

// logNow is the pod's whole log as the API has it now.
func (c *podCluster) logNow(t *testing.T, pod string) string {
	t.Helper()
	resp := c.env.Do(t, http.MethodGet, "/api/v1/namespaces/"+c.ns+"/pods/"+pod+"/log", c.env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	return string(resp.Body)
}
