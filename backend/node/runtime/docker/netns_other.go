//go:build !linux

package docker

import (
	"context"
	"errors"
	"net"
)

// dialInNetns needs Linux's network namespaces.
func dialInNetns(context.Context, int, uint16) (net.Conn, error) {
	return nil, errors.New("port forwarding needs a Linux host")
}
