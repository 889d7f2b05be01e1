package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A log socket pings its client, answers the client's pings, and takes a
// client that answers nothing for two ping periods for gone.
func TestLogSocketKeepalive(t *testing.T) {
	const period = 200 * time.Millisecond
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ls := newLogSocket(context.Background(), conn, false, period)
		defer ls.close()
		<-ls.ctx.Done()
		ended <- context.Cause(ls.ctx)
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	t.Run("pings both ways", func(t *testing.T) {
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var pings, pongs atomic.Int32
		conn.SetPingHandler(func(data string) error {
			pings.Add(1)
			return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		conn.SetPongHandler(func(string) error {
			pongs.Add(1)
			return nil
		})
		if err := conn.WriteControl(websocket.PingMessage, []byte("client"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		// Control frames are handled while reading. The server sends no
		// data: a read that ends by its deadline, not by the connection
		// closing, shows the server kept a client that answers its pings.
		conn.SetReadDeadline(time.Now().Add(5 * period))
		_, _, err = conn.ReadMessage()
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read: %v, want a timeout (the server dropped a client that answers pings?)", err)
		}
		if pings.Load() < 2 || pongs.Load() < 1 {
			t.Errorf("pings from the server %d, pongs to the client's ping %d; want several and one", pings.Load(), pongs.Load())
		}
		conn.Close()
		if err := <-ended; !errors.Is(err, errLogClientGone) {
			t.Errorf("the socket ended with %v, want errLogClientGone", err)
		}
	})

	t.Run("a silent client is dropped", func(t *testing.T) {
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The client never reads, so it never answers a ping.
		select {
		case err := <-ended:
			if !errors.Is(err, errLogClientGone) {
				t.Errorf("the socket ended with %v, want errLogClientGone", err)
			}
		case <-time.After(20 * period):
			t.Fatalf("a client silent for %v is still served", 20*period)
		}
	})
}
