package remotecommand

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Options are the parameters of an exec or attach session, as kubectl
// sends them in the query string.
type Options struct {
	// Stdin, Stdout and Stderr select the streams to connect; at least
	// one is set. Stderr is never set together with TTY.
	Stdin, Stdout, Stderr bool
	// TTY asks for a terminal: stdout and stderr are merged into stdout
	// and the client may send resize events.
	TTY bool
	// Command is the command to exec (repeated `command=` parameters);
	// empty for attach.
	Command []string
	// Container is the container's name in the pod spec; "" leaves the
	// choice to the caller.
	Container string
}

// ParseOptions reads Options from r's query string (`stdin`, `stdout`,
// `stderr`, `tty`, repeated `command`, `container`). Booleans accept what
// strconv.ParseBool does and a bare name means true. Like the kubelet, it
// drops stderr when tty is set. The error wraps ErrInvalidOptions.
func ParseOptions(r *http.Request) (Options, error) {
	q := r.URL.Query()
	var opts Options
	for _, f := range []struct {
		name string
		dst  *bool
	}{
		{"stdin", &opts.Stdin},
		{"stdout", &opts.Stdout},
		{"stderr", &opts.Stderr},
		{"tty", &opts.TTY},
	} {
		v, ok := q[f.name]
		if !ok || len(v) == 0 {
			continue
		}
		if v[0] == "" {
			*f.dst = true
			continue
		}
		b, err := strconv.ParseBool(strings.ToLower(v[0]))
		if err != nil {
			return Options{}, fmt.Errorf("query parameter %q: %q is not a boolean: %w", f.name, v[0], ErrInvalidOptions)
		}
		*f.dst = b
	}
	opts.Command = q["command"]
	opts.Container = q.Get("container")
	if err := opts.normalize(); err != nil {
		return Options{}, err
	}
	return opts, nil
}

// normalize drops stderr under a TTY and checks that a stream is selected.
func (o *Options) normalize() error {
	if o.TTY {
		o.Stderr = false
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return fmt.Errorf("at least one of stdin, stdout and stderr must be set: %w", ErrInvalidOptions)
	}
	return nil
}
