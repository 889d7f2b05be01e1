package main

import (
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/node/runtime/docker"
)

func TestLimitFlags(t *testing.T) {
	defaults := limitFlags{pids: docker.DefaultPidsLimit, memory: "512Mi", logMaxSize: "10Mi", logMaxFiles: 5, emptyDirDefault: "1Gi"}
	tests := []struct {
		name    string
		edit    func(*limitFlags)
		wantErr string
	}{
		{name: "defaults", edit: func(*limitFlags) {}},
		{name: "zero memory and emptyDir limits are none", edit: func(l *limitFlags) { l.memory, l.emptyDirDefault = "0", "0" }},
		{name: "bad size", edit: func(l *limitFlags) { l.memory = "lots" }, wantErr: "--default-memory-limit"},
		{name: "zero pids", edit: func(l *limitFlags) { l.pids = 0 }, wantErr: "--pids-limit"},
		{name: "zero log size", edit: func(l *limitFlags) { l.logMaxSize = "0" }, wantErr: "--container-log-max-size"},
		{name: "zero log files", edit: func(l *limitFlags) { l.logMaxFiles = 0 }, wantErr: "--container-log-max-files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := defaults
			tt.edit(&f)
			got, err := f.parse()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := got.Containers
			if f.memory == "0" {
				if c.DefaultMemory != -1 || got.EmptyDirLimit != -1 {
					t.Errorf("limits %+v, want none (-1)", got)
				}
				return
			}
			if c.PidsLimit != 1024 || c.DefaultMemory != 512<<20 || c.LogMaxSize != 10<<20 || c.LogMaxFiles != 5 || got.EmptyDirLimit != 1<<30 {
				t.Errorf("limits %+v", got)
			}
		})
	}
}
