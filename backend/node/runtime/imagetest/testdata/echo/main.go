// Command echo is the HTTP server of the berth-test-echo image. It listens
// on $PORT (8080 by default), answers every request with its method, path
// and body, and logs one line per request to stdout. With LOG_EVERY set to
// a duration it also logs a tick line that often.
//
// Two paths help tests: /exit?code=N exits with code N after answering,
// and /print?bytes=N&end=cr logs one line of N bytes that ends in "\r\n"
// (with end=cr) or "\n".
//
// It answers UDP datagrams on the same port with "udp host=<hostname>".
// `echo udp-ask ADDR LOCALPORT N` is a UDP client: it sends N datagrams
// to ADDR from LOCALPORT, one socket for all (one flow, as a resolver
// keeps), 200 ms apart, and prints each answer or "no answer".
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 5 && os.Args[1] == "udp-ask" {
		udpAsk(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if every := os.Getenv("LOG_EVERY"); every != "" {
		d, err := time.ParseDuration(every)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "LOG_EVERY=%q: not a positive duration\n", every)
			os.Exit(2)
		}
		go tick(d)
	}
	if every := os.Getenv("PROGRESS_EVERY"); every != "" {
		d, err := time.ParseDuration(every)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "PROGRESS_EVERY=%q: not a positive duration\n", every)
			os.Exit(2)
		}
		go progress(d)
	}
	hostname, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Printf("%s %s %s %d\n", r.Method, r.URL.RequestURI(), r.RemoteAddr, len(body))
		fmt.Fprintf(w, "%s %s\nhost=%s\n", r.Method, r.URL.RequestURI(), hostname)
		w.Write(body)
	})
	http.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Printf("exiting with code %d\n", code)
		fmt.Fprintf(w, "exiting with code %d\n", code)
		w.(http.Flusher).Flush()
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(code)
		}()
	})
	http.HandleFunc("/print", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		end := "\n"
		if r.URL.Query().Get("end") == "cr" {
			end = "\r\n"
		}
		os.Stdout.WriteString(strings.Repeat("x", n) + end)
		fmt.Fprintf(w, "printed %d bytes\n", n)
	})

	// As PID 1 a process gets only the signals it handles.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		os.Exit(0)
	}()
	go udpEcho(port, hostname)
	fmt.Printf("listening on :%s\n", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func tick(d time.Duration) {
	for n := 1; ; n++ {
		time.Sleep(d)
		fmt.Printf("tick %d %s\n", n, time.Now().UTC().Format(time.RFC3339Nano))
	}
}

// progress writes a progress bar, one write each step (os.Stdout is not
// buffered).
func progress(d time.Duration) {
	for n := 1; ; n++ {
		time.Sleep(d)
		fmt.Printf("\rprogress %d%% %d", n, time.Now().UnixNano())
	}
}

func udpEcho(port, hostname string) {
	c, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	buf := make([]byte, 2048)
	for {
		_, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		c.WriteTo([]byte("udp host="+hostname+"\n"), from)
	}
}

func udpAsk(addr, localPort, count string) {
	lport, _ := strconv.Atoi(localPort)
	n, _ := strconv.Atoi(count)
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{Port: lport})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for range n {
		c.WriteTo([]byte("ask"), raddr)
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		m, _, err := c.ReadFrom(buf)
		if err != nil {
			fmt.Println("no answer")
			// The rest of the 200 ms has passed.
			continue
		}
		os.Stdout.Write(buf[:m])
		time.Sleep(200 * time.Millisecond)
	}
}
