package broker

import (
	"net"
	"testing"
)

func TestStartListensAndCloses(t *testing.T) {
	b, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", b.Addr(), err)
	}
	conn.Close()
	b.Close()
	b.Close() // idempotent
	if c, err := net.Dial("tcp", b.Addr()); err == nil {
		c.Close()
		t.Fatal("still listening after Close")
	}
}

func TestSplitListen(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"", "127.0.0.1", 0, true},
		{"127.0.0.1:9092", "127.0.0.1", 9092, true},
		{":9092", "127.0.0.1", 9092, true},
		{"localhost:0", "localhost", 0, true},
		{"9092", "", 0, false},
		{"host:port", "", 0, false},
		{"h:70000", "", 0, false},
	}
	for _, tt := range tests {
		host, port, err := splitListen(tt.in)
		if (err == nil) != tt.ok || host != tt.host || port != tt.port {
			t.Errorf("splitListen(%q) = %q, %d, %v", tt.in, host, port, err)
		}
	}
	if _, err := Start(Config{Partitions: -1}); err == nil {
		t.Error("negative partitions accepted")
	}
}
