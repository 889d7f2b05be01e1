// Command hello is Berth's sample application: a small HTTP server that
// greets, logs every request, and says which pod answered; /headers shows
// the request's host and forwarding headers, and /ws echoes websocket
// messages (what a router must pass through). It uses the standard
// library only. `make examples`
// builds it into the image berth-examples/hello (FROM scratch), so a new
// cluster has something to deploy with no registry.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	pod := os.Getenv("POD_NAME")
	if pod == "" {
		pod, _ = os.Hostname()
	}
	log.SetFlags(log.LstdFlags | log.LUTC)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s %s from %s", r.Method, r.URL.Path, r.Proto, r.RemoteAddr)
		fmt.Fprintf(w, "Hello from Berth! pod=%s path=%s time=%s\n", pod, r.URL.Path, time.Now().UTC().Format(time.RFC3339))
	})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pod=%s\nhost=%s\n", pod, r.Host)
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port"} {
			fmt.Fprintf(w, "%s=%s\n", strings.ToLower(h), strings.Join(r.Header.Values(h), ","))
		}
	})
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { echoWebsocket(w, r, pod) })
	log.Printf("hello listening on :%s (pod %s)", port, pod)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}

// websocketGUID is RFC 6455's key suffix.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// echoWebsocket answers each text or binary message of a websocket with
// "<pod>: <message>" until the client closes it (RFC 6455, unfragmented
// messages up to 64 KiB).
func echoWebsocket(w http.ResponseWriter, r *http.Request, pod string) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "a websocket upgrade is expected", http.StatusBadRequest)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(key + websocketGUID))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	if rw.Flush() != nil {
		return
	}
	for {
		op, msg, err := readFrame(rw.Reader)
		if err != nil || op == 0x8 {
			return
		}
		if op != 0x1 && op != 0x2 {
			continue
		}
		if writeFrame(rw.Writer, op, append([]byte(pod+": "), msg...)) != nil || rw.Flush() != nil {
			return
		}
	}
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op, masked, n := h[0]&0x0f, h[1]&0x80 != 0, uint64(h[1]&0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		return 0, nil, errors.New("message too long")
	}
	var mask [4]byte
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range msg {
			msg[i] ^= mask[i%4]
		}
	}
	return op, msg, nil
}

func writeFrame(w *bufio.Writer, op byte, msg []byte) error {
	w.WriteByte(0x80 | op)
	if len(msg) < 126 {
		w.WriteByte(byte(len(msg)))
	} else {
		w.WriteByte(126)
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(len(msg)))
		w.Write(b[:])
	}
	_, err := w.Write(msg)
	return err
}
