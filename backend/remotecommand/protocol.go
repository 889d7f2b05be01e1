package remotecommand

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
)

// Subprotocols, in the server's order of preference.
const (
	ProtocolV5 = k8sremotecommand.StreamProtocolV5Name // "v5.channel.k8s.io"
	ProtocolV4 = k8sremotecommand.StreamProtocolV4Name // "v4.channel.k8s.io"
	// ProtocolV1 is the unversioned predecessor: no exit codes, errors as
	// plain text on the error channel.
	ProtocolV1 = k8sremotecommand.StreamProtocolV1Name // "channel.k8s.io"
)

// serverProtocols lists what Serve accepts, preferred first.
var serverProtocols = []string{ProtocolV5, ProtocolV4, ProtocolV1}

// clientProtocols lists what Dial offers, preferred first.
var clientProtocols = []string{ProtocolV5, ProtocolV4}

// Channel bytes.
const (
	channelStdin  byte = k8sremotecommand.StreamStdIn
	channelStdout byte = k8sremotecommand.StreamStdOut
	channelStderr byte = k8sremotecommand.StreamStdErr
	channelError  byte = k8sremotecommand.StreamErr
	channelResize byte = k8sremotecommand.StreamResize
	channelClose  byte = k8sremotecommand.StreamClose
)

// The error classes of the package.
var (
	// ErrInvalidOptions: the request's query parameters do not describe a
	// session (bad boolean, no stream selected).
	ErrInvalidOptions = errors.New("invalid remote command options")
	// ErrUnsupportedProtocol: client and server share no subprotocol.
	ErrUnsupportedProtocol = errors.New("unsupported streaming protocol")
	// ErrSessionClosed: the session has ended, or the peer went away
	// before it could end properly.
	ErrSessionClosed = errors.New("remote command session closed")
	// ErrStdinCloseUnsupported: the negotiated protocol (v4) cannot signal
	// the end of stdin.
	ErrStdinCloseUnsupported = errors.New("protocol cannot close stdin")
)

// StatusError is a failure the server reported on the error channel other
// than a non-zero exit code.
type StatusError struct {
	Status metav1.Status
}

func (e *StatusError) Error() string {
	if e.Status.Message != "" {
		return e.Status.Message
	}
	return fmt.Sprintf("remote command failed: %s", e.Status.Reason)
}

// supportsClose reports whether the protocol has the close channel.
func supportsClose(protocol string) bool { return protocol == ProtocolV5 }

// exitStatus is the outcome of run as the kubelet reports it.
func exitStatus(code int, err error) metav1.Status {
	typeMeta := metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	if err == nil && (code < 0 || code > 255) {
		err = fmt.Errorf("exit code %d out of range 0-255", code)
	}
	switch {
	case err != nil:
		return metav1.Status{
			TypeMeta: typeMeta,
			Status:   metav1.StatusFailure,
			Reason:   metav1.StatusReasonInternalError,
			Code:     500,
			Message:  fmt.Sprintf("error executing command in container: %v", err),
			Details:  &metav1.StatusDetails{Causes: []metav1.StatusCause{{Message: err.Error()}}},
		}
	case code == 0:
		return metav1.Status{TypeMeta: typeMeta, Status: metav1.StatusSuccess}
	default:
		return metav1.Status{
			TypeMeta: typeMeta,
			Status:   metav1.StatusFailure,
			Reason:   k8sremotecommand.NonZeroExitCodeReason,
			Message:  fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Type:    k8sremotecommand.ExitCodeCauseType,
				Message: strconv.Itoa(code),
			}}},
		}
	}
}

// encodeStatus renders st for the error channel of protocol; nil means
// nothing is sent.
func encodeStatus(protocol string, st metav1.Status) ([]byte, error) {
	if protocol == ProtocolV1 {
		if st.Status == metav1.StatusSuccess {
			return nil, nil
		}
		return []byte(st.Message), nil
	}
	return json.Marshal(st)
}

// decodeStatus turns the error channel's content into an exit code or an
// error, as client-go does.
func decodeStatus(data []byte) (int, error) {
	if len(data) == 0 {
		return 0, nil
	}
	var st metav1.Status
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, fmt.Errorf("error channel: %w in %q", err, data)
	}
	switch st.Status {
	case metav1.StatusSuccess:
		return 0, nil
	case metav1.StatusFailure:
		if st.Reason != k8sremotecommand.NonZeroExitCodeReason {
			return 0, &StatusError{Status: st}
		}
		if st.Details != nil {
			for _, c := range st.Details.Causes {
				if c.Type != k8sremotecommand.ExitCodeCauseType {
					continue
				}
				code, err := strconv.Atoi(c.Message)
				if err != nil {
					return 0, fmt.Errorf("error channel: invalid exit code %q", c.Message)
				}
				return code, nil
			}
		}
		return 0, fmt.Errorf("error channel: %s status without an %s cause", st.Reason, k8sremotecommand.ExitCodeCauseType)
	default:
		return 0, fmt.Errorf("error channel: unknown status %q", st.Status)
	}
}

// frameWriter serialises the data messages of one connection; control
// frames go through websocket.Conn.WriteControl, which is safe alongside.
type frameWriter struct {
	conn    *websocket.Conn
	timeout time.Duration

	mu sync.Mutex // guards writes of data messages on conn
}

// write sends p as one binary message on channel.
func (f *frameWriter) write(channel byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.conn.SetWriteDeadline(time.Now().Add(f.timeout)); err != nil {
		return err
	}
	w, err := f.conn.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte{channel}); err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		return err
	}
	return w.Close()
}

// channelWriter is an io.Writer onto one channel of a connection.
type channelWriter struct {
	channel byte
	write   func(channel byte, p []byte) error
}

var _ io.Writer = channelWriter{}

func (w channelWriter) Write(p []byte) (int, error) {
	if err := w.write(w.channel, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
