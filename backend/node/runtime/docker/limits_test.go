package docker

import (
	"testing"

	"github.com/docker/docker/api/types/container"
)

func TestLimitsApply(t *testing.T) {
	tests := []struct {
		name            string
		limits          Limits
		memory          int64 // the spec's limit
		wantPids        int64 // 0: none
		wantMem, wantSw int64
	}{
		{name: "defaults", wantPids: DefaultPidsLimit, wantMem: DefaultMemoryLimit, wantSw: DefaultMemoryLimit},
		{name: "the spec's memory limit stays, swap follows it", memory: 64 << 20, wantPids: DefaultPidsLimit, wantMem: 64 << 20, wantSw: 64 << 20},
		{name: "no defaults", limits: Limits{PidsLimit: -1, DefaultMemory: -1}},
		{name: "set", limits: Limits{PidsLimit: 10, DefaultMemory: 1 << 30}, wantPids: 10, wantMem: 1 << 30, wantSw: 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := tt.limits.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			host := &container.HostConfig{}
			host.Memory = tt.memory
			l.apply(host)
			switch {
			case tt.wantPids == 0 && host.PidsLimit != nil:
				t.Errorf("PidsLimit %d, want none", *host.PidsLimit)
			case tt.wantPids != 0 && (host.PidsLimit == nil || *host.PidsLimit != tt.wantPids):
				t.Errorf("PidsLimit %v, want %d", host.PidsLimit, tt.wantPids)
			}
			if host.Memory != tt.wantMem || host.MemorySwap != tt.wantSw {
				t.Errorf("Memory %d MemorySwap %d, want %d %d", host.Memory, host.MemorySwap, tt.wantMem, tt.wantSw)
			}
			if lc := host.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "10485760" || lc.Config["max-file"] != "5" {
				t.Errorf("log config %+v, want json-file rotated at 10Mi, 5 files", lc)
			}
		})
	}
	if _, err := (Limits{LogMaxFiles: -1}).withDefaults(); err == nil {
		t.Errorf("negative log files accepted")
	}
}
