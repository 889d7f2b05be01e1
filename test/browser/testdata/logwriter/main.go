// Command logwriter is the program of the browser tests' log-writing
// image: an HTTP server on :8080 that, when asked, writes to stdout
//
//	/flood?tag=T&rate=N&seconds=S   N lines a second for S seconds (0: until
//	                                it exits), each "T n=SEQ t=UNIXMILLI xxx…":
//	                                SEQ counts from 0, t is when it was written
//	/progress?hz=N&seconds=S        a progress bar that never ends its line:
//	                                "\rprogress P% step K" N times a second
//
// and logs "logwriter listening" once it listens.
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// out serializes the writers: a line is one write, never split by another.
var out sync.Mutex

func write(s string) {
	out.Lock()
	defer out.Unlock()
	os.Stdout.WriteString(s)
}

func main() {
	http.HandleFunc("/flood", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rate, _ := strconv.Atoi(q.Get("rate"))
		seconds, _ := strconv.Atoi(q.Get("seconds"))
		go flood(q.Get("tag"), max(rate, 1), time.Duration(seconds)*time.Second)
		fmt.Fprintln(w, "flooding")
	})
	http.HandleFunc("/progress", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		hz, _ := strconv.Atoi(q.Get("hz"))
		seconds, _ := strconv.Atoi(q.Get("seconds"))
		go progress(max(hz, 1), time.Duration(seconds)*time.Second)
		fmt.Fprintln(w, "progressing")
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		os.Exit(0)
	}()
	write("logwriter listening\n")
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// flood writes rate lines a second, in steps of 5 ms, for d (0: forever).
func flood(tag string, rate int, d time.Duration) {
	pad := strings.Repeat("x", 40)
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for seq := 0; d == 0 || time.Since(start) < d; {
		now := <-tick.C
		due := int(now.Sub(start).Seconds() * float64(rate))
		var b strings.Builder
		for ; seq < due; seq++ {
			fmt.Fprintf(&b, "%s n=%06d t=%d %s\n", tag, seq, time.Now().UnixMilli(), pad)
		}
		write(b.String())
	}
}

func progress(hz int, d time.Duration) {
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(hz))
	defer tick.Stop()
	for k := 0; d == 0 || time.Since(start) < d; k++ {
		<-tick.C
		write(fmt.Sprintf("\rprogress %d%% step %d", k%101, k))
	}
}
