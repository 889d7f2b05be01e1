// Command hello is Berth's sample application: a small HTTP server that
// greets, logs every request, and says which pod answered. `make examples`
// builds it into the image berth-examples/hello (FROM scratch), so a new
// cluster has something to deploy with no registry.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
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
	log.Printf("hello listening on :%s (pod %s)", port, pod)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
