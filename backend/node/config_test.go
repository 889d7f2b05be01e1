package node

import (
	"net"
	"testing"
)

func TestEndpointAddresses(t *testing.T) {
	tests := []struct {
		name, address, listen string
		wantIP, wantListen    string // "*" for any non-loopback host address
		wantErr               bool
	}{
		{"explicit address, default port", "10.1.2.3", "", "10.1.2.3", "10.1.2.3:10250", false},
		{"loopback listen", "", "127.0.0.1:0", "127.0.0.1", "127.0.0.1:0", false},
		{"both", "10.1.2.3", "10.1.2.3:1234", "10.1.2.3", "10.1.2.3:1234", false},
		{"an explicit every-interface listen stays so", "10.1.2.3", "0.0.0.0:10250", "10.1.2.3", "0.0.0.0:10250", false},
		{"nothing: the host's address, not every interface", "", "", "*", "*", false},
		{"unspecified address", "0.0.0.0", "", "", "", true},
		{"not an address", "node1", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, listen, err := endpointAddresses(tt.address, tt.listen)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %s, %s", ip, listen)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantIP == "*" {
				host, port, _ := net.SplitHostPort(listen)
				if host != ip || port != "10250" || net.ParseIP(ip).IsUnspecified() {
					t.Fatalf("listen %s, address %s: want the address on 10250", listen, ip)
				}
				return
			}
			if ip != tt.wantIP || listen != tt.wantListen {
				t.Fatalf("got %s, %s; want %s, %s", ip, listen, tt.wantIP, tt.wantListen)
			}
		})
	}
}
