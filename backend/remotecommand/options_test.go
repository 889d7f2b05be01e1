package remotecommand

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		want    Options
		wantErr error
	}{
		{
			name:  "kubectl exec -i",
			query: "command=sh&command=-c&command=echo+hi&container=web&stdin=true&stdout=true&stderr=true",
			want:  Options{Stdin: true, Stdout: true, Stderr: true, Command: []string{"sh", "-c", "echo hi"}, Container: "web"},
		},
		{
			name:  "tty drops stderr",
			query: "command=sh&stdin=true&stdout=true&stderr=true&tty=true",
			want:  Options{Stdin: true, Stdout: true, TTY: true, Command: []string{"sh"}},
		},
		{
			name:  "kubelet style ones and bare names",
			query: "stdout=1&stderr&stdin=0",
			want:  Options{Stdout: true, Stderr: true},
		},
		{
			name:  "attach without command",
			query: "stdout=true&container=app",
			want:  Options{Stdout: true, Container: "app"},
		},
		{name: "no stream", query: "command=ls&stdout=false", wantErr: ErrInvalidOptions},
		{name: "tty only", query: "tty=true&stderr=true", wantErr: ErrInvalidOptions},
		{name: "bad boolean", query: "stdout=yes", wantErr: ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/exec?"+tt.query, nil)
			got, err := ParseOptions(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
}
