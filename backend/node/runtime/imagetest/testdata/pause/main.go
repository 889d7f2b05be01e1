// Command pause holds a pod's namespaces: it blocks until SIGTERM or SIGINT
// and exits 0. It stands in for `berth pause` in tests.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
