package remotecommand

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults of the keepalive and of writes.
const (
	// DefaultPingPeriod is how often a side pings its peer.
	DefaultPingPeriod = 30 * time.Second
	// DefaultWriteTimeout bounds one message write.
	DefaultWriteTimeout = 10 * time.Second
)

// Keepalive keeps conn's read deadline two ping periods ahead of the last
// frame received (data, ping or pong), so a peer that neither talks nor
// answers pings makes reads fail; it answers the peer's pings. It installs
// the handlers and returns extend, which the caller's read loop calls
// after each message, and a function that pings every period until ctx is
// done, which the caller runs in a goroutine. period < 0 disables both.
// Exec and attach sessions use it, and the API's log websocket.
func Keepalive(conn *websocket.Conn, period, writeTimeout time.Duration) (extend func(), ping func(ctx context.Context)) {
	if period < 0 {
		return func() {}, func(context.Context) {}
	}
	extend = func() {
		// An error here means the connection is already broken; the next
		// read reports it.
		_ = conn.SetReadDeadline(time.Now().Add(2 * period))
	}
	conn.SetPongHandler(func(string) error {
		extend()
		return nil
	})
	conn.SetPingHandler(func(data string) error {
		extend()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	extend()
	ping = func(ctx context.Context) {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
					return
				}
			}
		}
	}
	return extend, ping
}
