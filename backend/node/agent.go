package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/systemd"
	"github.com/berthpaas/berth/client"
)

// Agent is one running node agent. Its runners (heartbeat, pod watch,
// resync) and the pod workers share it.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	rt     runtime.Runtime
	creds  *credentials
	hostIP string
	port   int
	scheme string // of container IDs, from the runtime's version ("docker")
	// allocatable is what the node offers pods (admission.go); set by
	// register, before the runners start.
	allocatable v1.ResourceList

	mu      sync.Mutex
	workers map[string]*podWorker // guarded by mu; by pod UID
	synced  bool                  // guarded by mu; a pod list has succeeded
	// gone holds the UIDs of pods the agent has terminated, with when, so
	// that a late watch event of such a pod does not start it again.
	gone map[string]time.Time // guarded by mu

	readyMu sync.Mutex
	ready   readiness // guarded by readyMu
	// network is the NetworkUnavailable condition as the network runner
	// last decided it (podnetwork.go); guarded by readyMu.
	network v1.NodeCondition
	// serviceCond is the ServiceProxyUnavailable condition as the
	// services runner last decided it (services.go); guarded by readyMu.
	serviceCond v1.NodeCondition
	// services mirrors the cluster's services and endpoints (services.go).
	services *svcView
	// netWake pokes the network runner (capacity 1).
	netWake chan struct{}
	// data are the secrets and config maps the pods use (poddata.go).
	data *dataCache
	// usage meters the containers (usage.go).
	usage *usageMeter
}

// Run runs the agent until ctx is done; the containers it started keep
// running after it returns. It fails at once on a bad config, a port it
// cannot listen on, or a bootstrap token the master refuses; a master that
// does not answer is retried for as long as ctx lasts.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	log := cfg.Logger.With("node", cfg.Name)
	opts, err := cfg.clientOptions()
	if err != nil {
		return err
	}
	hostIP, listen, err := endpointAddresses(cfg.Address, cfg.Listen)
	if err != nil {
		return err
	}
	cfg.Listen = listen
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	usage, err := newUsageMeter(cfg.Name, cfg.StateDir, cfg.Runtime, log)
	if err != nil {
		return err
	}
	a := &Agent{
		usage:   usage,
		cfg:     cfg,
		log:     log,
		rt:      cfg.Runtime,
		creds:   newCredentials(&cfg, opts, []string{hostIP}, log),
		hostIP:  hostIP,
		port:    ln.Addr().(*net.TCPAddr).Port,
		workers: map[string]*podWorker{},
		gone:    map[string]time.Time{},
		netWake: make(chan struct{}, 1),
		data:    newDataCache(cfg.DataRefreshInterval),
	}
	if cfg.Services || cfg.ServiceProxy {
		a.services = newSvcView()
	}
	return a.run(ctx, ln)
}

func (a *Agent) run(ctx context.Context, ln net.Listener) error {
	if err := a.retry(ctx, "join", func(ctx context.Context) error { return a.creds.load(ctx) }); err != nil {
		return err
	}
	if err := a.retry(ctx, "register", a.register); err != nil {
		return err
	}

	srv := a.newServer(ctx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(tls.NewListener(ln, a.creds.serverTLS())) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			srv.Close()
		}
	}()

	var wg sync.WaitGroup
	runners := []func(context.Context){a.heartbeat, a.watchPods, a.resync, a.rotateCredentials, a.watchUpgrades,
		func(ctx context.Context) { a.usage.runSampler(ctx, a.cfg.UsageInterval) },
		func(ctx context.Context) { a.usage.runSender(ctx, a.call, a.cfg.UsageInterval) },
	}
	if a.cfg.Network != nil {
		runners = append(runners, a.runNetwork)
	}
	if a.services != nil {
		runners = append(runners, a.runServices)
	}
	for _, runner := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runner(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := systemd.Watchdog(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("systemd watchdog", "error", err)
		}
	}()

	a.notify(systemd.Ready + "\n" + systemd.Status("registered as node "+a.cfg.Name))
	a.log.Info("node agent ready", "master", a.cfg.Master, "address", a.hostIP, "port", a.port)
	if a.cfg.Ready != nil {
		a.cfg.Ready(ln.Addr())
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("agent endpoint: %w", err)
	}
	a.notify(systemd.Stopping)
	a.log.Info("node agent stopping; containers keep running")
	wg.Wait()
	a.waitWorkers()
	return err
}

func (a *Agent) notify(state string) {
	if err := systemd.Notify(state); err != nil {
		a.log.Warn("sd_notify", "error", err)
	}
}

// retry runs op until it succeeds, backing off while the master does not
// answer. Refusals that waiting will not cure (a bad bootstrap token, a
// forbidden request, an invalid object) end it with the error.
func (a *Agent) retry(ctx context.Context, what string, op func(context.Context) error) error {
	bo := newBackOff(500*time.Millisecond, 30*time.Second)
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if permanent(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		a.log.Warn(what+" failed; retrying", "error", err)
		if !bo.Wait(ctx) {
			return ctx.Err()
		}
	}
}

// permanent reports refusals that retrying will not change.
func permanent(err error) bool {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		return strings.Contains(err.Error(), "bootstrap token")
	}
	code := apiErr.Code()
	return code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusBadRequest || code == http.StatusUnprocessableEntity
}

// killPod stops and removes a pod's containers, recording their last
// usage first.
func (a *Agent) killPod(ctx context.Context, uid string, grace time.Duration) error {
	a.usage.flushPod(ctx, uid)
	return a.rt.KillPod(ctx, uid, grace)
}

// stopPod stops a pod's containers and keeps them, recording their usage
// just before and the rest up to their exit.
func (a *Agent) stopPod(ctx context.Context, uid string, grace time.Duration) error {
	a.usage.flushPod(ctx, uid)
	err := a.rt.StopPod(ctx, uid, grace)
	a.usage.recordFinished(ctx, uid)
	return err
}

// startPod starts a stopped pod's containers again, recording the end of
// their last run first: the runtime starts their counters from zero.
func (a *Agent) startPod(ctx context.Context, uid string) error {
	a.usage.recordFinished(ctx, uid)
	return a.rt.StartPod(ctx, uid)
}

// api returns the client of the master, with the node's credential.
func (a *Agent) api() *client.Client { return a.creds.client() }

// call runs op with the node's client; when the master no longer accepts
// the credential, the agent joins again and runs op once more.
func (a *Agent) call(ctx context.Context, op func(*client.Client) error) error {
	c := a.api()
	err := op(c)
	if !apierrors.IsUnauthorized(err) {
		return err
	}
	a.log.Warn("the master refused the node's credential; joining again")
	if jerr := a.creds.join(ctx, c); jerr != nil {
		return fmt.Errorf("%w (join again: %v)", err, jerr)
	}
	return op(a.api())
}
