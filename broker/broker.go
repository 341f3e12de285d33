package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultPartitions is the partition count of topics created on first use
// when Config.Partitions is zero.
const DefaultPartitions = 8

// Config describes an embedded broker. Its zero value is a usable in-memory
// broker on a free port of 127.0.0.1 with DefaultPartitions partitions.
type Config struct {
	// Listen is the host:port to listen on. Empty means 127.0.0.1 on a free
	// port; port 0 also means a free port. The broker advertises the address
	// it actually listens on, so clients must be able to reach that host.
	Listen string
	// Partitions is the partition count of topics that are created
	// implicitly (auto-creation, or CreateTopics with -1 partitions), like
	// Kafka's num.partitions. Zero means DefaultPartitions.
	Partitions int
	// DataDir, when set, keeps topics, committed offsets and producer state
	// in this directory across restarts (kfake's disk persistence). Empty
	// means memory only.
	DataDir string
	// Users, when any, turn on SASL: clients must authenticate as one of
	// them (each a superuser). Empty means no authentication.
	Users []User
	// TLS, when set, serves TLS only, with this config's certificates.
	TLS *tls.Config
}

// User is a SASL user of the embedded broker.
type User struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// Broker is a running embedded broker. Close stops it.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start starts a broker described by cfg and returns once it accepts
// connections.
func Start(cfg Config) (*Broker, error) {
	host, port, err := splitListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	parts := cfg.Partitions
	if parts == 0 {
		parts = DefaultPartitions
	}
	if parts < 0 {
		return nil, fmt.Errorf("broker: partitions must be positive, got %d", parts)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DefaultNumPartitions(parts),
		kfake.AllowAutoTopicCreation(),
		kfake.ClusterID("hourglass"),
		// kfake hard-codes 127.0.0.1; replace only the host so the
		// advertised address is the one the user asked for.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if len(cfg.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.Users {
			switch u.Mechanism {
			case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			default:
				return nil, fmt.Errorf("broker: SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.Mechanism)
			}
			if u.Name == "" || u.Password == "" {
				return nil, errors.New("broker: a SASL user needs a name and a password")
			}
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		c.Close()
		return nil, errors.New("start embedded broker: no listener")
	}
	return &Broker{cluster: c, addr: addrs[0]}, nil
}

// Addr is the host:port clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, first writing its state to the data directory if
// it has one. It is safe to call more than once.
func (b *Broker) Close() {
	b.cluster.Close()
}

func splitListen(listen string) (string, int, error) {
	if listen == "" {
		return "127.0.0.1", 0, nil
	}
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("broker: listen address %q: %w", listen, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("broker: listen address %q: bad port", listen)
	}
	return host, port, nil
}
