#!/usr/bin/env bash
# Runs a command against real Apache Kafka in KRaft mode on 127.0.0.1.
#
#   scripts/kafka-test.sh [--nodes N] -- COMMAND [ARGS...]
#
# Fetches the broker (org.apache.kafka:kafka_2.13 and its runtime
# dependencies) from Maven Central with mvn into a cache outside the repo
# ($HOURGLASS_CACHE, default ~/.cache/hourglass), formats storage, starts N
# combined broker+controller nodes (default 1) on free ports, waits until
# they serve, runs COMMAND with HOURGLASS_TEST_BROKERS set, and stops every
# process it started, also when COMMAND fails or the script is interrupted.
# HOURGLASS_TEST_KAFKA_RESTART names a script that restarts node N (default
# 1) on its ports and data, for broker-restart tests. Every node also has a
# SASL_PLAINTEXT listener with one SCRAM-SHA-512 user, named to COMMAND by
# HOURGLASS_TEST_SASL_BROKERS, _USER and _PASSWORD. Exits with COMMAND's
# status.
set -euo pipefail

KAFKA_VERSION=4.1.1
NODES=1
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--nodes N] -- COMMAND..." >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--nodes N] -- COMMAND..." >&2; exit 2; }

CACHE=${HOURGLASS_CACHE:-$HOME/.cache/hourglass}
LIBS=$CACHE/kafka-$KAFKA_VERSION/libs
if [ ! -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; then
  echo "kafka-test: fetching Apache Kafka $KAFKA_VERSION from Maven Central into $LIBS" >&2
  tmp=$(mktemp -d)
  cat > "$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>hourglass</groupId><artifactId>kafka-test-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
  </dependencies>
</project>
POM
  mkdir -p "$LIBS.partial"
  (cd "$tmp" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$LIBS.partial" -DincludeScope=runtime)
  rm -rf "$LIBS" && mv "$LIBS.partial" "$LIBS"
  rm -rf "$tmp"
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hourglass-kafka.XXXXXX")
node_pids() { cat "$WORK"/node*.pid 2>/dev/null || true; }
cleanup() {
  status=$?
  for pid in $(node_pids); do kill "$pid" 2>/dev/null || true; done
  for pid in $(node_pids); do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ -n "${CI:-}" ]; then
    for n in $(seq 1 "$NODES"); do echo "--- kafka node $n log (tail)"; tail -n 40 "$WORK/node$n.log" 2>/dev/null || true; done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT INT TERM

CLUSTER_ID=$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
BROKER_PORTS=(); SASL_PORTS=(); CONTROLLER_PORTS=(); VOTERS=""
for n in $(seq 1 "$NODES"); do
  BROKER_PORTS+=("$(free_port)"); SASL_PORTS+=("$(free_port)"); CONTROLLER_PORTS+=("$(free_port)")
  VOTERS="${VOTERS:+$VOTERS,}$n@127.0.0.1:${CONTROLLER_PORTS[$((n-1))]}"
done
RF=$(( NODES < 3 ? NODES : 3 ))
# Every node also has a SASL_PLAINTEXT listener with one SCRAM-SHA-512 user,
# for the secure-cluster tests.
SASL_USER=hourglass
SASL_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
for n in $(seq 1 "$NODES"); do
  cat > "$WORK/node$n.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$VOTERS
listeners=PLAINTEXT://127.0.0.1:${BROKER_PORTS[$((n-1))]},SASL_PLAINTEXT://127.0.0.1:${SASL_PORTS[$((n-1))]},CONTROLLER://127.0.0.1:${CONTROLLER_PORTS[$((n-1))]}
advertised.listeners=PLAINTEXT://127.0.0.1:${BROKER_PORTS[$((n-1))]},SASL_PLAINTEXT://127.0.0.1:${SASL_PORTS[$((n-1))]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$WORK/data$n
num.partitions=8
default.replication.factor=$RF
min.insync.replicas=$(( RF > 1 ? 2 : 1 ))
offsets.topic.replication.factor=$RF
transaction.state.log.replication.factor=$RF
transaction.state.log.min.isr=$(( RF > 1 ? 2 : 1 ))
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.segment.bytes=16777216
PROPS
  java -cp "$LIBS/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$WORK/node$n.properties" \
    --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]" >/dev/null
done
# restart.sh N [DOWN] stops node N (SIGTERM, as an operator would) and starts
# it again on the same ports and data, DOWN seconds later (default 0); tests
# of broker restarts and outages call it.
cat > "$WORK/restart.sh" <<RESTART
#!/usr/bin/env bash
set -eu
n=\${1:-1}
pid=\$(cat "$WORK/node\$n.pid")
kill "\$pid"
for _ in \$(seq 1 300); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.1; done
kill -9 "\$pid" 2>/dev/null || true
sleep "\${2:-0}"
java -Xmx512m -Xms256m -cp "$LIBS/*" kafka.Kafka "$WORK/node\$n.properties" >> "$WORK/node\$n.log" 2>&1 &
echo \$! > "$WORK/node\$n.pid"
port=\$(sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$WORK/node\$n.properties")
for _ in \$(seq 1 600); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()" "\$port" 2>/dev/null && exit 0
  sleep 0.1
done
echo "restart: node \$n not serving after 60s" >&2
exit 1
RESTART
chmod +x "$WORK/restart.sh"
for n in $(seq 1 "$NODES"); do
  java -Xmx512m -Xms256m -cp "$LIBS/*" kafka.Kafka "$WORK/node$n.properties" > "$WORK/node$n.log" 2>&1 &
  echo $! > "$WORK/node$n.pid"
done

BROKERS=""; SASL_BROKERS=""
for n in $(seq 1 "$NODES"); do
  BROKERS="${BROKERS:+$BROKERS,}127.0.0.1:${BROKER_PORTS[$((n-1))]}"
  SASL_BROKERS="${SASL_BROKERS:+$SASL_BROKERS,}127.0.0.1:${SASL_PORTS[$((n-1))]}"
done
# Serving means: every node accepts connections and the cluster can create
# and describe a topic (the controller quorum has a leader).
deadline=$((SECONDS + 120))
until python3 - "$BROKERS" <<'PY' 2>/dev/null
import socket, sys
for hp in sys.argv[1].split(","):
    h, p = hp.rsplit(":", 1)
    socket.create_connection((h, int(p)), timeout=1).close()
PY
do
  for pid in $(node_pids); do kill -0 "$pid" 2>/dev/null || { echo "kafka-test: a broker exited during start-up" >&2; tail -n 40 "$WORK"/node*.log >&2; exit 1; }; done
  [ $SECONDS -lt $deadline ] || { echo "kafka-test: brokers not serving after 120s" >&2; tail -n 40 "$WORK"/node*.log >&2; exit 1; }
  sleep 0.5
done
echo "kafka-test: Apache Kafka $KAFKA_VERSION, $NODES node(s) at $BROKERS" >&2
set +e
HOURGLASS_TEST_BROKERS=$BROKERS HOURGLASS_TEST_KAFKA_NODES=$NODES HOURGLASS_TEST_KAFKA_RESTART=$WORK/restart.sh \
  HOURGLASS_TEST_SASL_BROKERS=$SASL_BROKERS HOURGLASS_TEST_SASL_USER=$SASL_USER HOURGLASS_TEST_SASL_PASSWORD=$SASL_PASSWORD "$@"
status=$?
set -e
exit $status
