package kafka

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSettings: -X settings reach both clients, sarama's config and
// franz-go's options, over hourglass's defaults; unknown names and bad
// values are errors.
func TestSettings(t *testing.T) {
	s, err := ParseSettings([]string{"session.timeout.ms=45000", "client.rack = rack-b", "fetch.max.bytes=1048576", "rebalance.timeout.ms=60000", "group.instance.id=pod-0"})
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Brokers: []string{"127.0.0.1:9"}, Settings: s}
	sc, err := c.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Consumer.Group.Session.Timeout != 45*time.Second || sc.RackID != "rack-b" || sc.Consumer.Fetch.Max != 1<<20 ||
		sc.Consumer.Group.Rebalance.Timeout != time.Minute || sc.Net.ReadTimeout < time.Minute || sc.Consumer.Group.InstanceId != "pod-0" {
		t.Errorf("sarama: session %v, rack %q, fetch max %d, rebalance %v, read timeout %v",
			sc.Consumer.Group.Session.Timeout, sc.RackID, sc.Consumer.Fetch.Max, sc.Consumer.Group.Rebalance.Timeout, sc.Net.ReadTimeout)
	}
	opts, err := c.Kgo()
	if err != nil {
		t.Fatal(err)
	}
	group, err := c.GroupOpts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(append(opts, group...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.SessionTimeout); got != 45*time.Second {
		t.Errorf("franz-go session timeout %v", got)
	}
	if got := cl.OptValue(kgo.Rack); got != "rack-b" {
		t.Errorf("franz-go rack %v", got)
	}
	if got := cl.OptValue(kgo.FetchMaxBytes); got != int32(1<<20) {
		t.Errorf("franz-go fetch max bytes %v", got)
	}
	if got := cl.OptValue(kgo.InstanceID); got != "pod-0" {
		t.Errorf("franz-go instance ID %v", got)
	}
	if got := cl.OptValue(kgo.HeartbeatInterval); got != GroupHeartbeat {
		t.Errorf("franz-go heartbeat %v, want the default %v", got, GroupHeartbeat)
	}

	for _, bad := range [][]string{{"session.timeout.ms=soon"}, {"fetch.max.bytes=-1"}, {"no-equals"}, {"linger.ms.typo=5"}, {"group.instance.id=a b"}, {"group.instance.id="}} {
		if _, err := ParseSettings(bad); err == nil {
			t.Errorf("-X %v accepted", bad)
		}
	}
	if _, err := ParseSettings([]string{"acks=all"}); !errors.Is(err, ErrUnknownSetting) || !strings.Contains(err.Error(), "session.timeout.ms") {
		t.Errorf("an unknown setting: %v, want ErrUnknownSetting listing the known ones", err)
	}
}

// TestStepFetchOpts: the rekey step's fetch bounds give way to -X.
func TestStepFetchOpts(t *testing.T) {
	for _, tt := range []struct {
		settings Settings
		want     int
	}{
		{nil, 2},
		{Settings{"fetch.max.bytes": "52428800"}, 1},
		{Settings{"max.partition.fetch.bytes": "1048576", "fetch.max.bytes": "52428800"}, 0},
	} {
		if got := len((Config{Settings: tt.settings}).StepFetchOpts()); got != tt.want {
			t.Errorf("%v: %d options, want %d", tt.settings, got, tt.want)
		}
	}
}
