package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/berthpaas/berth/backend/pki"
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/router"
)

// routerListeners are the router's listeners; nil ones are not served.
type routerListeners struct {
	http, https net.Listener
}

// listenRouter opens the router's listeners. An address the operator
// named that cannot be had stops the master; the default one, taken
// (another master on this machine), leaves this master without a router
// and says so.
func listenRouter(cfg Config, logger *slog.Logger) (routerListeners, error) {
	var lns routerListeners
	open := func(addr, flag string, explicit bool) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		ln, err := net.Listen("tcp", addr)
		switch {
		case err == nil:
			return ln, nil
		case !explicit && errors.Is(err, syscall.EADDRINUSE):
			logger.Warn("the router's default address is in use: this master serves no routes; give it another with "+flag, "address", addr)
			return nil, nil
		case errors.Is(err, syscall.EADDRINUSE):
			return nil, fmt.Errorf("cannot listen on %s for the router: the address is already in use; pick another with %s", addr, flag)
		default:
			return nil, fmt.Errorf("cannot listen on %s for the router (%s): %w", addr, flag, err)
		}
	}
	var err error
	if lns.http, err = open(cfg.RouterListen, "--router-listen", cfg.RouterListenSet); err != nil {
		return lns, err
	}
	if lns.https, err = open(cfg.RouterTLSListen, "--router-tls-listen", cfg.RouterTLSListenSet); err != nil {
		lns.close()
		return routerListeners{}, err
	}
	return lns, nil
}

func (l routerListeners) close() {
	for _, ln := range []net.Listener{l.http, l.https} {
		if ln != nil {
			ln.Close()
		}
	}
}

// coreRouter is where routes answer, for their default hosts and URLs.
func (l routerListeners) coreRouter(appsDomain string) core.Router {
	return core.Router{AppsDomain: appsDomain, HTTPPort: router.Port(l.http), HTTPSPort: router.Port(l.https)}
}

// startRouter serves routes on the listeners until ctx ends, and returns
// what stops it (closing every connection, websockets included).
func startRouter(ctx context.Context, cfg Config, regs *core.Registries, ca *pki.CA, lns routerListeners, logger *slog.Logger) func() {
	if lns.http == nil && lns.https == nil {
		return func() {}
	}
	rcfg := router.Config{
		Routes: regs.Routes, Services: regs.Services, Endpoints: regs.Endpoints, Secrets: regs.Secrets,
		PodNetwork: cfg.ClusterCIDR, AppsDomain: cfg.AppsDomain, Logger: logger,
		ReadHeaderTimeout: cfg.RouterReadHeaderTimeout,
	}
	if ca != nil {
		rcfg.Issuer = ca
	}
	rt := router.New(rcfg)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { rt.Run(ctx) })
	var servers []*http.Server
	serve := func(ln net.Listener, tlsConfig *tls.Config) {
		if ln == nil {
			return
		}
		srv := rt.Server()
		servers = append(servers, srv)
		if tlsConfig != nil {
			ln = tls.NewListener(ln, tlsConfig)
		}
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("router stopped", "address", ln.Addr().String(), "error", err)
			}
		})
		logger.Info("router serving", "address", ln.Addr().String(), "tls", tlsConfig != nil)
	}
	serve(lns.http, nil)
	serve(lns.https, rt.TLSConfig())
	return func() {
		cancel()
		for _, srv := range servers {
			shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
			if err := srv.Shutdown(shutdownCtx); err != nil {
				srv.Close()
			}
			stop()
		}
		wg.Wait()
	}
}
