package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/portforward"
	"github.com/berthpaas/berth/backend/remotecommand"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// newServer builds the endpoint the master proxies pod operations to.
// There is no write timeout: a log follow lasts as long as the container.
func (a *Agent) newServer(ctx context.Context) *http.Server {
	return &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

// handler serves the agent's endpoint. Who may call it is settled before
// any request is read: the listener serves TLS and requires the master's
// client certificate (credentials.serverTLS).
func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /pods/{uid}/log", a.serveLog)
	// Websockets upgrade a GET, SPDY a POST (as kubectl sends them).
	for _, method := range []string{"GET", "POST"} {
		mux.HandleFunc(method+" /pods/{uid}/exec", a.serveExec)
		mux.HandleFunc(method+" /pods/{uid}/attach", a.serveAttach)
		mux.HandleFunc(method+" /pods/{uid}/portforward", a.servePortForward)
	}
	mux.HandleFunc("GET /pods/{uid}/diff", a.serveDiff)
	mux.HandleFunc("POST /pods/{uid}/stop", a.serveLifecycle(func(ctx context.Context, uid string, grace time.Duration) error {
		return a.stopPod(ctx, uid, grace)
	}))
	mux.HandleFunc("POST /pods/{uid}/start", a.serveLifecycle(func(ctx context.Context, uid string, _ time.Duration) error {
		return a.startPod(ctx, uid)
	}))
	mux.HandleFunc("POST /pods/{uid}/restart", a.serveLifecycle(func(ctx context.Context, uid string, grace time.Duration) error {
		if err := a.stopPod(ctx, uid, grace); err != nil {
			return err
		}
		return a.startPod(ctx, uid)
	}))
	return mux
}

// writeStatus answers with a Kubernetes Status, which the master passes
// on to kubectl.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg,
	})
}

// writeError answers with the Status that errdefs.Status, the one mapper,
// makes of a runtime error.
func writeError(w http.ResponseWriter, err error) {
	st := errdefs.Status(err, schema.GroupResource{}, "").ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	json.NewEncoder(w).Encode(st)
}

func logOptions(r *http.Request) (runtime.LogOptions, error) {
	q := r.URL.Query()
	var opts runtime.LogOptions
	for name, dst := range map[string]*bool{"follow": &opts.Follow, "timestamps": &opts.Timestamps, "previous": &opts.Previous} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return opts, errdefs.BadRequest("%s=%q is not a boolean", name, v)
			}
			*dst = b
		}
	}
	for name, dst := range map[string]**int64{"tailLines": &opts.TailLines, "sinceSeconds": &opts.SinceSeconds, "limitBytes": &opts.LimitBytes} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return opts, errdefs.BadRequest("%s=%q is not a non-negative integer", name, v)
			}
			*dst = &n
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return opts, errdefs.BadRequest("sinceTime=%q is not an RFC 3339 time", v)
		}
		opts.SinceTime = &t
	}
	if opts.SinceTime != nil && opts.SinceSeconds != nil {
		return opts, errdefs.BadRequest("at most one of sinceTime or sinceSeconds may be specified")
	}
	return opts, nil
}

// flushWriter sends every write to the client at once, so a follower sees
// bytes as they arrive; it never splits or joins lines.
type flushWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	if !f.started {
		f.started = true
		f.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		f.w.Header().Set("X-Content-Type-Options", "nosniff")
		f.w.WriteHeader(http.StatusOK)
	}
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, f.rc.Flush()
}

func (a *Agent) serveLog(w http.ResponseWriter, r *http.Request) {
	opts, err := logOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	uid, container := r.PathValue("uid"), r.URL.Query().Get("container")
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	if opts.Follow {
		// A follower gets the headers now, not with the first line, which
		// may be hours away; so a missing container is answered first.
		if err := a.checkContainer(r.Context(), uid, container); err != nil {
			writeError(w, err)
			return
		}
		fw.Write(nil)
	}
	err = a.rt.Logs(r.Context(), uid, container, opts, fw)
	cut := err != nil || r.Context().Err() != nil
	switch {
	case err != nil && !fw.started:
		writeError(w, err)
	case cut && fw.started:
		if r.Context().Err() == nil {
			a.log.Warn("log stream ended early", "pod_uid", uid, "container", container, "error", err)
		}
		// A stream cut short (the agent stopping, the engine failing)
		// must not end as a log that ended does: aborting the response
		// tells the master, and through it the client, to ask again.
		panic(http.ErrAbortHandler)
	case !fw.started:
		// An empty log: send the headers all the same.
		fw.Write(nil)
	}
}

// checkContainer reports runtime.ErrNotFound unless the runtime has the
// pod and, when named, the container.
func (a *Agent) checkContainer(ctx context.Context, uid, container string) error {
	pods, err := a.rt.ListPods(ctx)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if p.UID != uid {
			continue
		}
		if container == "" {
			return nil
		}
		for _, c := range p.Containers {
			if c.Name == container {
				return nil
			}
		}
		return fmt.Errorf("container %q of pod %q: %w", container, uid, runtime.ErrNotFound)
	}
	return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
}

func (a *Agent) serveExec(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommand.ParseOptions(r)
	if err == nil && len(opts.Command) == 0 {
		err = errdefs.BadRequest("exec needs a command")
	}
	if err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	uid := r.PathValue("uid")
	a.serveSession(w, r, opts, "exec", func(ctx context.Context, s runtime.Streams) (int, error) {
		return a.rt.Exec(ctx, uid, opts.Container, opts.Command, s)
	})
}

func (a *Agent) serveAttach(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommand.ParseOptions(r)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	uid := r.PathValue("uid")
	a.serveSession(w, r, opts, "attach", func(ctx context.Context, s runtime.Streams) (int, error) {
		return 0, a.rt.Attach(ctx, uid, opts.Container, s)
	})
}

func (a *Agent) serveSession(w http.ResponseWriter, r *http.Request, opts remotecommand.Options, kind string, run remotecommand.RunFunc) {
	log := a.log.With("pod_uid", r.PathValue("uid"), "container", opts.Container, "session", kind)
	srv := remotecommand.Server{Logger: log}
	if err := srv.Serve(w, r, opts, run); err != nil && r.Context().Err() == nil {
		log.Debug("session ended", "error", err)
	}
}

// servePortForward forwards the connections of a `kubectl port-forward`
// to ports of the pod, in its network namespace (runtime.DialPort). The
// pod must be on this host: a port forward to a pod that is not is a 404
// before any upgrade.
func (a *Agent) servePortForward(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if !portforward.IsUpgrade(r) {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "a port forward needs a SPDY or websocket upgrade")
		return
	}
	if err := a.checkContainer(r.Context(), uid, ""); err != nil {
		writeError(w, err)
		return
	}
	log := a.log.With("pod_uid", uid, "session", "portforward")
	srv := portforward.Server{Logger: log}
	err := srv.Serve(r.Context(), w, r, func(ctx context.Context, port uint16) (net.Conn, error) {
		return a.rt.DialPort(ctx, uid, port)
	})
	if err != nil {
		log.Debug("port forward refused", "error", err)
	}
}

func (a *Agent) serveDiff(w http.ResponseWriter, r *http.Request) {
	changes, err := a.rt.Diff(r.Context(), r.PathValue("uid"), r.URL.Query().Get("container"))
	if err != nil {
		writeError(w, err)
		return
	}
	if changes == nil {
		changes = []runtime.Change{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(changes)
}

// serveLifecycle serves stop, start and restart: it answers once the
// runtime has done it, and has the pod's worker report the new state.
func (a *Agent) serveLifecycle(op func(ctx context.Context, uid string, grace time.Duration) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		uid := r.PathValue("uid")
		grace := defaultGrace
		wk := a.worker(uid)
		if wk != nil {
			grace = wk.grace()
		}
		if err := op(r.Context(), uid, grace); err != nil {
			writeError(w, err)
			return
		}
		if wk != nil {
			wk.poke()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	}
}
