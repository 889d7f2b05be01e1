package remotecommand

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// ClientSession is the client end of one exec or attach session. Its
// methods are safe for concurrent use; Run may be called once.
type ClientSession struct {
	conn     *websocket.Conn
	protocol string
	frames   *frameWriter

	stdinMu     sync.Mutex // guards stdinClosed
	stdinClosed bool
}

// Dial opens a session at rawURL (ws, wss, http or https; the query
// carries the Options), offering v5.channel.k8s.io and v4.channel.k8s.io.
// header is sent with the handshake (e.g. Authorization); tlsConfig may be
// nil. A refused upgrade is reported with the server's status and body.
func Dial(ctx context.Context, rawURL string, header http.Header, tlsConfig *tls.Config) (*ClientSession, error) {
	return dial(ctx, rawURL, header, tlsConfig, clientProtocols)
}

func dial(ctx context.Context, rawURL string, header http.Header, tlsConfig *tls.Config, protocols []string) (*ClientSession, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	dialer := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: websocket.DefaultDialer.HandshakeTimeout,
		TLSClientConfig:  tlsConfig,
		Subprotocols:     protocols,
	}
	conn, resp, err := dialer.DialContext(ctx, u.String(), header)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return nil, fmt.Errorf("dial %s: %s: %s", u.Redacted(), resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	protocol := conn.Subprotocol()
	if !slices.Contains(protocols, protocol) {
		conn.Close()
		return nil, fmt.Errorf("server chose subprotocol %q: %w", protocol, ErrUnsupportedProtocol)
	}
	return &ClientSession{
		conn:     conn,
		protocol: protocol,
		frames:   &frameWriter{conn: conn, timeout: DefaultWriteTimeout},
	}, nil
}

// Protocol is the negotiated subprotocol.
func (c *ClientSession) Protocol() string { return c.protocol }

// WriteStdin sends p to the command's stdin.
func (c *ClientSession) WriteStdin(p []byte) error {
	return c.frames.write(channelStdin, p)
}

// CloseStdin tells the server that stdin has ended (v5 close channel).
// On v4 it returns ErrStdinCloseUnsupported: there the command only sees
// stdin end when the connection closes.
func (c *ClientSession) CloseStdin() error {
	if !supportsClose(c.protocol) {
		return ErrStdinCloseUnsupported
	}
	c.stdinMu.Lock()
	defer c.stdinMu.Unlock()
	if c.stdinClosed {
		return nil
	}
	c.stdinClosed = true
	return c.frames.write(channelClose, []byte{channelStdin})
}

// Resize sends a terminal size (TTY sessions).
func (c *ClientSession) Resize(size runtime.TerminalSize) error {
	msg, err := json.Marshal(size)
	if err != nil {
		return err
	}
	return c.frames.write(channelResize, msg)
}

// Close drops the connection.
func (c *ClientSession) Close() error { return c.conn.Close() }

// Run runs the session to its end and closes it: it copies stdin (if not
// nil) to the command and then closes stdin, forwards resize events,
// writes the command's stdout and stderr (nil writers discard), and
// returns the exit code the server reports. exitCode is meaningful only
// when err is nil. A failure other than an exit code is a *StatusError;
// ctx ending returns ctx's error. Like client-go, Run does not wait for a
// stdin Read that blocks: that goroutine ends at its next Read.
func (c *ClientSession) Run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, resize <-chan runtime.TerminalSize) (exitCode int, err error) {
	sessCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.conn.Close()
	stop := context.AfterFunc(sessCtx, func() { c.conn.Close() })
	defer stop()

	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	extend, ping := Keepalive(c.conn, DefaultPingPeriod, c.frames.timeout)
	wg.Go(func() { ping(sessCtx) })
	if resize != nil {
		wg.Go(func() { c.forwardResize(sessCtx, resize) })
	}
	if stdin != nil {
		go c.copyStdin(stdin)
	}

	status, readErr := c.readLoop(extend, stdout, stderr)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if len(status) == 0 && !websocket.IsCloseError(readErr, websocket.CloseNormalClosure) {
		return 0, fmt.Errorf("session ended without an exit status: %w", readErr)
	}
	return decodeStatus(status)
}

// readLoop demultiplexes the server's messages until the connection ends
// and returns the content of the error channel and the error that ended the
// connection (never nil).
func (c *ClientSession) readLoop(extend func(), stdout, stderr io.Writer) ([]byte, error) {
	var status []byte
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			return status, err
		}
		extend()
		if typ != websocket.BinaryMessage || len(data) < 2 {
			continue
		}
		var w io.Writer
		switch data[0] {
		case channelStdout:
			w = stdout
		case channelStderr:
			w = stderr
		case channelError:
			status = append(status, data[1:]...)
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(data[1:]); err != nil {
			return status, fmt.Errorf("write output: %w", err)
		}
	}
}

func (c *ClientSession) copyStdin(stdin io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			if werr := c.WriteStdin(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// On v4 this fails: the command sees EOF only when the
			// connection closes.
			_ = c.CloseStdin()
			return
		}
	}
}

func (c *ClientSession) forwardResize(ctx context.Context, resize <-chan runtime.TerminalSize) {
	for {
		select {
		case <-ctx.Done():
			return
		case size, ok := <-resize:
			if !ok {
				return
			}
			if err := c.Resize(size); err != nil {
				return
			}
		}
	}
}
