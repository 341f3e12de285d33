"""A Kafka client nobody on the hourglass team wrote: confluent-kafka (librdkafka).

The interop test drives hourglass with it, so that hourglass is checked against
a client independent of sarama and franz-go.

    rdkafka_client.py produce BROKERS TOPIC FILE...
        Every line of the files as one record, no key, acks=all, idempotent.
        Prints the number of records delivered.
    rdkafka_client.py table BROKERS TOPIC
        Reads the topic from the start to its end (a fresh consumer group),
        keeps the last value per key, as a reader of a compacted topic does,
        and prints {"key|window_start": count} as JSON, taking each value
        as hourglass's output row.
"""
import json
import sys
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition


def produce(brokers, topic, files):
    p = Producer({"bootstrap.servers": brokers, "acks": "all", "enable.idempotence": True, "linger.ms": 20})
    delivered, failed = 0, []

    def on_delivery(err, _msg):
        nonlocal delivered
        if err is not None:
            failed.append(err)
        else:
            delivered += 1

    for path in files:
        with open(path, "rb") as f:
            for line in f:
                line = line.rstrip(b"\n")
                if not line:
                    continue
                while True:
                    try:
                        p.produce(topic, value=line, on_delivery=on_delivery)
                        break
                    except BufferError:
                        p.poll(0.1)
                p.poll(0)
    if p.flush(60) != 0:
        sys.exit("records still undelivered after 60 s")
    if failed:
        sys.exit(f"{len(failed)} records failed: {failed[0]}")
    print(delivered)


def table(brokers, topic):
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "rdkafka-interop-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    meta = c.list_topics(topic, timeout=30)
    parts = meta.topics[topic].partitions
    if not parts:
        sys.exit(f"topic {topic} has no partitions")
    # Read up to the end offsets taken now.
    ends = {}
    for p in parts:
        _, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        ends[p] = high
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    pending = {p for p, high in ends.items() if high > 0}
    rows = {}
    while pending:
        msg = c.poll(30)
        if msg is None:
            sys.exit(f"no record within 30 s; partitions {sorted(pending)} not read to their end")
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                if msg.offset() >= ends[msg.partition()]:
                    pending.discard(msg.partition())
                continue
            sys.exit(f"consume: {msg.error()}")
        if msg.offset() >= ends[msg.partition()]:
            pending.discard(msg.partition())
            continue
        row = json.loads(msg.value())
        rows[msg.key().decode()] = row["count"]
        if msg.offset() + 1 >= ends[msg.partition()]:
            pending.discard(msg.partition())
    c.close()
    print(json.dumps(rows, sort_keys=True))


if __name__ == "__main__":
    cmd, brokers, topic, *rest = sys.argv[1:]
    if cmd == "produce":
        produce(brokers, topic, rest)
    elif cmd == "table":
        table(brokers, topic)
    else:
        sys.exit(f"unknown command {cmd}")
