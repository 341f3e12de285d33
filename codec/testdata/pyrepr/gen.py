#!/usr/bin/env python3
"""Writes pyrepr.jsonl: Python's own repr() of generated nested values, the
fixtures of codec's Python-literal tests.

Each line is {"repr": repr(value), "tagged": value in a tagged JSON form that
survives JSON exactly, "exact": whether hourglass's encoder must reproduce
repr byte for byte (dict keys inserted sorted, no tuples)}.

Tagged form: {"d": [[key, v], ...]} dict, {"l": [...]} list, {"t": [...]}
tuple, {"s": str}, {"b": hex} bytes, {"i": "decimal"} int, {"f": float.hex()}
float, {"bool": true|false}, null for None.

Run: python3 gen.py > pyrepr.jsonl   (Python 3.8+, no packages needed)
"""
import json
import math
import random

rng = random.Random(20161128)
CHARS = "abcXYZ019 _'\"\\\n\t\x00\x07\x7f\xe9\u00ff\u0100\u20ac\u200b\U0001F600\ufeff"


def rstr():
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, 8)))


def scalar():
    k = rng.randint(0, 9)
    if k == 0:
        return rng.choice([True, False, None])
    if k == 1:
        return rng.choice([0, -1, 281323062375219200, 2**63 - 1, -(2**63), 2**64, 10**30, -(10**25)])
    if k == 2:
        return rng.randint(-10**6, 10**6)
    if k == 3:
        return rng.choice([0.0, -0.0, 1.0, 1e16, 1e15, 1e-5, 1e-4, 0.1, 351.570546978, 1.7976931348623157e308,
                           5e-324, float("inf"), float("-inf"), float("nan"), 123456789012345678.0])
    if k == 4:
        return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30)
    if k == 5:
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 6)))
    return rstr()


def value(depth, tuples):
    if depth > 3 or rng.random() < 0.4:
        return scalar()
    k = rng.randint(0, 2)
    if k == 0:
        keys = sorted({rstr() for _ in range(rng.randint(0, 5))})
        if not tuples:
            return {key: value(depth + 1, tuples) for key in keys}
        rng.shuffle(keys)  # key order varies between senders
        return {key: value(depth + 1, tuples) for key in keys}
    items = [value(depth + 1, tuples) for _ in range(rng.randint(0, 4))]
    if k == 1 and tuples:
        return tuple(items)
    return items


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
    if isinstance(v, tuple):
        return {"t": [tag(x) for x in v]}
    if isinstance(v, list):
        return {"l": [tag(x) for x in v]}
    if isinstance(v, dict):
        return {"d": [[k, tag(x)] for k, x in v.items()]}
    raise TypeError(type(v))


for i in range(400):
    tuples = i % 2 == 1
    top = {"alertId": rng.randint(0, 2**62), "payload": value(0, tuples)}
    print(json.dumps({"repr": repr(top), "tagged": tag(top), "exact": not tuples}, ensure_ascii=True))
