#!/usr/bin/env python3
"""Writes fixtures.jsonl: Avro records written by fastavro, a real Avro
implementation no one here wrote, for codec's Avro tests.

Two schema sets:
  legacy  hourglass's reconstruction of the DM-8160 era alert
          (alerts/schema/legacy in this repository)
  v11_1   Rubin's alert schema v11.1 from the PyPI package lsst-alert-packet
          (lsst/alert/packet/schema/11/1), its sample alert and random alerts

Each line: {"set": ..., "schemaless": hex (fastavro.schemaless_writer),
"wire": hex (Confluent wire format: 0x00, schema id, the same datum),
"id": schema id, "tagged": the datum as fastavro reads it back, in the
tagged JSON of ../pyrepr/gen.py (timestamps as integer microseconds)}.

Run from this directory:
  python3 -m venv /tmp/v && /tmp/v/bin/pip install fastavro==1.13.1 lsst-alert-packet==30.2026.2700
  /tmp/v/bin/python gen.py > fixtures.jsonl
"""
import datetime
import io
import json
import math
import os
import random
import struct

import fastavro
import lsst.alert.packet

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20170101)


def tag(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, float):
        return {"f": v.hex() if math.isfinite(v) else repr(v)}
    if isinstance(v, str):
        return {"s": v}
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, datetime.datetime):
        delta = v - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return {"i": str((delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds)}
    if isinstance(v, (list, tuple)):
        return {"l": [tag(x) for x in v]}
    if isinstance(v, dict):
        return {"d": [[k, tag(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def random_value(schema, named, depth=0):
    """A random datum of a parsed fastavro schema."""
    if isinstance(schema, str):
        if schema in named:
            return random_value(named[schema], named, depth)
        return {
            "null": lambda: None,
            "boolean": lambda: rng.random() < 0.5,
            "int": lambda: rng.randint(-2**31, 2**31 - 1),
            "long": lambda: rng.choice([rng.randint(-2**63, 2**63 - 1), rng.randint(0, 10**6), 281323062375219200]),
            "float": lambda: rng.choice([struct.unpack("f", struct.pack("f", rng.uniform(-1e6, 1e6)))[0], float("nan"), 0.0]),
            "double": lambda: rng.choice([rng.uniform(0, 360), rng.uniform(-1e300, 1e300), float("nan"), float("-inf"), -0.0]),
            "string": lambda: "".join(rng.choice("ugrizy_é😀 ") for _ in range(rng.randint(0, 6))),
            "bytes": lambda: bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 40))),
        }[schema]()
    if isinstance(schema, list):  # union: favour null where allowed
        if "null" in schema and rng.random() < 0.3:
            return None
        choices = [s for s in schema if s != "null"] or schema
        return random_value(rng.choice(choices), named, depth)
    t = schema["type"]
    if schema.get("logicalType") == "timestamp-micros":
        return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=rng.randint(0, 10**13))
    if t == "record":
        return {f["name"]: random_value(f["type"], named, depth + 1) for f in schema["fields"]}
    if t == "array":
        return [random_value(schema["items"], named, depth + 1) for _ in range(rng.randint(0, 3 if depth < 3 else 0))]
    if t == "map":
        return {str(i): random_value(schema["values"], named, depth + 1) for i in range(rng.randint(0, 2))}
    if t == "enum":
        return rng.choice(schema["symbols"])
    if t == "fixed":
        return bytes(rng.randint(0, 255) for _ in range(schema["size"]))
    return random_value(t, named, depth)


def emit(set_name, schema, schema_id, datum):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, datum)
    body = buf.getvalue()
    back = fastavro.schemaless_reader(io.BytesIO(body), schema)
    wire = b"\x00" + struct.pack(">I", schema_id) + body
    print(json.dumps({"set": set_name, "id": schema_id, "schemaless": body.hex(), "wire": wire.hex(), "tagged": tag(back)}))


def collect_named(schema, named):
    if isinstance(schema, dict):
        if "name" in schema and schema.get("type") in ("record", "enum", "fixed"):
            named[schema["name"]] = schema
        for v in schema.values():
            collect_named(v, named)
    elif isinstance(schema, list):
        for v in schema:
            collect_named(v, named)


def main():
    legacy = fastavro.schema.load_schema(os.path.join(HERE, "../../../alerts/schema/legacy/lsst.alert.avsc"))
    with open(os.path.join(HERE, "../legacy_alert.json")) as f:
        sample = json.load(f)
    sample["cutoutDifference"] = {"fileName": "diff.fits", "stampData": bytes(range(256))}
    sample["cutoutTemplate"] = None
    emit("legacy", legacy, 42, sample)
    named = {}
    collect_named(legacy, named)
    for _ in range(30):
        emit("legacy", legacy, 42, random_value(legacy, named))

    base = os.path.join(os.path.dirname(lsst.alert.packet.__file__), "schema", "11", "1")
    rubin = fastavro.schema.load_schema(os.path.join(base, "lsst.v11_1.alert.avsc"))
    with open(os.path.join(base, "sample_data", "alert.json")) as f:
        rubin_sample = json.load(f)
    emit("v11_1", rubin, 1101, rubin_sample)
    named = {}
    collect_named(rubin, named)
    for _ in range(30):
        emit("v11_1", rubin, 1101, random_value(rubin, named))


if __name__ == "__main__":
    main()
