package docker

import (
	"fmt"
	"strconv"

	"github.com/docker/docker/api/types/container"
)

// Defaults of the bounds every container gets (Options).
const (
	// DefaultPidsLimit caps the processes of one container: a fork bomb
	// stops there instead of at the host's limit.
	DefaultPidsLimit = 1024
	// DefaultMemoryLimit is the memory limit of a container whose spec
	// sets none.
	DefaultMemoryLimit = 512 << 20
	// DefaultLogMaxSize and DefaultLogMaxFiles rotate each container's
	// log, as the kubelet's containerLogMaxSize and containerLogMaxFiles.
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 5
)

// Limits bound what one container may take of the host.
type Limits struct {
	// PidsLimit caps the processes of a container; DefaultPidsLimit when
	// 0, none when negative.
	PidsLimit int64
	// DefaultMemory is the memory limit, in bytes, of a container that
	// sets none; DefaultMemoryLimit when 0, none when negative.
	DefaultMemory int64
	// LogMaxSize is the size, in bytes, at which a container's log is
	// rotated; DefaultLogMaxSize when 0.
	LogMaxSize int64
	// LogMaxFiles is how many log files of a container are kept, the
	// current one included; DefaultLogMaxFiles when 0.
	LogMaxFiles int
}

func (l Limits) withDefaults() (Limits, error) {
	if l.PidsLimit == 0 {
		l.PidsLimit = DefaultPidsLimit
	}
	if l.DefaultMemory == 0 {
		l.DefaultMemory = DefaultMemoryLimit
	}
	if l.LogMaxSize == 0 {
		l.LogMaxSize = DefaultLogMaxSize
	}
	if l.LogMaxFiles == 0 {
		l.LogMaxFiles = DefaultLogMaxFiles
	}
	switch {
	case l.LogMaxSize < 0:
		return l, fmt.Errorf("log max size %d: want a positive size", l.LogMaxSize)
	case l.LogMaxFiles < 1:
		return l, fmt.Errorf("log max files %d: want at least 1", l.LogMaxFiles)
	}
	return l, nil
}

// apply bounds a container: its pids, its memory when the spec set none,
// its swap to no more than its memory (so that a memory limit cannot be
// dodged through swap), and its log by rotation.
func (l Limits) apply(host *container.HostConfig) {
	if l.PidsLimit > 0 {
		pids := l.PidsLimit
		host.PidsLimit = &pids
	}
	if host.Memory == 0 && l.DefaultMemory > 0 {
		host.Memory = l.DefaultMemory
	}
	if host.Memory > 0 {
		host.MemorySwap = host.Memory
	}
	host.LogConfig = container.LogConfig{
		Type: "json-file",
		Config: map[string]string{
			"max-size": strconv.FormatInt(l.LogMaxSize, 10),
			"max-file": strconv.Itoa(l.LogMaxFiles),
		},
	}
}
