//go:build linux

package docker

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// dialInNetns connects to port on the loopback address (IPv4, then IPv6)
// of the network namespace of process pid. The socket is made by an OS
// thread that has entered that namespace; once made, it stays there
// whichever thread uses it. The thread goes back to the agent's namespace
// before Go may run anything else on it, or, if it cannot, is never
// unlocked, so that it ends with its goroutine.
func dialInNetns(ctx context.Context, pid int, port uint16) (net.Conn, error) {
	target, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("the pod's network namespace: %w", err)
	}
	defer target.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			goruntime.UnlockOSThread()
			done <- result{err: fmt.Errorf("the agent's network namespace: %w", err)}
			return
		}
		defer own.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			done <- result{err: fmt.Errorf("entering the pod's network namespace: %w", err)}
			return
		}
		conn, err := dialLoopback(ctx, port)
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
		done <- result{conn, err}
	}()
	res := <-done
	return res.conn, res.err
}

// dialLoopback connects to port on 127.0.0.1, or on ::1 if nothing
// answers there, as the kubelet's runtimes do.
func dialLoopback(ctx context.Context, port uint16) (net.Conn, error) {
	var d net.Dialer
	p := strconv.Itoa(int(port))
	conn, err := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", p))
	if err == nil {
		return conn, nil
	}
	conn, err6 := d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", p))
	if err6 == nil {
		return conn, nil
	}
	return nil, err
}
