#!/usr/bin/env python3
"""Writes alerts-null.avro and alerts-deflate.avro: Avro object container
files of 25 seed-era alerts each, written by fastavro.writer, for the tests
of codec.ReadOCF and `hourglass ingest --format avro`. The alerts are the
first 25 legacy fixtures of fixtures.jsonl, so tests know what to expect.

Run from this directory with fastavro installed (see gen.py):
  /tmp/v/bin/python gen_ocf.py
"""
import io
import json
import os

import fastavro

HERE = os.path.dirname(os.path.abspath(__file__))
schema = fastavro.schema.load_schema(os.path.join(HERE, "../../../alerts/schema/legacy/lsst.alert.avsc"))
records = []
with open(os.path.join(HERE, "fixtures.jsonl")) as f:
    for line in f:
        fx = json.loads(line)
        if fx["set"] == "legacy":
            records.append(fastavro.schemaless_reader(io.BytesIO(bytes.fromhex(fx["schemaless"])), schema))
        if len(records) == 25:
            break
for codec in ("null", "deflate"):
    with open(os.path.join(HERE, "alerts-%s.avro" % codec), "wb") as out:
        fastavro.writer(out, schema, records, codec=codec, sync_interval=4000)
