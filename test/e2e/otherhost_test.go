package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// otherHost is another machine beside the host: a network namespace
// joined to the host by a veth pair on a /24 of 198.18.0.0/15 (RFC 2544,
// benchmarking), its default route through the host. The namespace and
// the pair are removed when the test ends; nothing else is added.
type otherHost struct {
	ns string
	// gateway is the host's address on their link.
	gateway string
	client  *http.Client
}

func newOtherHost(t *testing.T) *otherHost {
	t.Helper()
	tag := fmt.Sprintf("%05x", rand.IntN(1<<20))
	third := 20 + rand.IntN(200)
	h := &otherHost{ns: "berth-oh-" + tag, gateway: fmt.Sprintf("198.18.%d.1", third)}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	hostEnd := "boh" + tag
	run("ip", "netns", "add", h.ns)
	t.Cleanup(func() {
		// The pair first: a namespace's links go with it only once the
		// kernel dismantles it, in the background, seconds later on a
		// loaded host.
		if exec.Command("ip", "link", "show", hostEnd).Run() == nil {
			if out, err := exec.Command("ip", "link", "del", hostEnd).CombinedOutput(); err != nil {
				t.Errorf("ip link del %s: %v: %s", hostEnd, err, out)
			}
		}
		if out, err := exec.Command("ip", "netns", "del", h.ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", h.ns, err, out)
		}
	})
	run("ip", "link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	run("ip", "addr", "add", h.gateway+"/24", "dev", hostEnd)
	run("ip", "link", "set", hostEnd, "up")
	run("ip", "-n", h.ns, "addr", "add", fmt.Sprintf("198.18.%d.2/24", third), "dev", "eth0")
	run("ip", "-n", h.ns, "link", "set", "lo", "up")
	run("ip", "-n", h.ns, "link", "set", "eth0", "up")
	run("ip", "-n", h.ns, "route", "add", "default", "via", h.gateway)
	h.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return h.dial(ctx, network, addr)
		},
	}}
	return h
}

// dial connects from the other machine: the socket is made on a thread
// in its namespace (and stays there); the thread is thrown away.
func (h *otherHost) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		ns, err := netns.GetFromName(h.ns)
		if err == nil {
			defer ns.Close()
			err = netns.Set(ns)
		}
		if err != nil {
			done <- result{nil, fmt.Errorf("entering %s: %w", h.ns, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

// get fetches url from the other machine.
func (h *otherHost) get(url string) (string, error) {
	resp, err := h.client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
