"""`pipeline.size.handler`: measure a model's training data and pick the training resources.

Event (rendered into the state machine from the configuration):
    {"bucket": "<data bucket>", "prefix": "training/",
     "sizing": [{"max_gb": 1, "instance_type": "ml.m5.large", "instance_count": 1, "volume_gb": 30}, ...,
                {"max_gb": null, ...}]}   # environment's training.sizing, increasing max_gb, last row open
Result:
    {"bytes": int, "gb": float, "objects": int, "rows": int, "rows_estimated": bool,
     "instance_type": str, "instance_count": int, "volume_gb": int}

Data points (`rows`) are counted exactly for objects up to SAMPLE_BYTES and
estimated from the average line length of their first SAMPLE_BYTES otherwise,
so measuring stays fast and cheap however big the data is. Raises
NoTrainingData when the prefix holds no data (the state machine reports it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import boto3

SAMPLE_BYTES = int(os.environ.get("VWT_SIZE_SAMPLE_BYTES", str(1024 * 1024)))
#: at most this many objects are read to count rows; the rest are estimated from the bytes per row seen
MAX_SAMPLED_OBJECTS = int(os.environ.get("VWT_SIZE_MAX_SAMPLED", "200"))
GB = 1024**3
DATA_SUFFIXES = (".csv", ".csv.gz", ".txt")


class NoTrainingData(Exception):
    """The data prefix holds no training data."""


class InvalidEvent(Exception):
    """The event is not what the state machine sends."""


def _s3():
    return boto3.client("s3")


def list_objects(s3, bucket: str, prefix: str) -> Iterator[dict]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/") or obj["Size"] == 0:
                continue  # folder markers and empty objects hold no data
            yield obj


def _is_data(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return not name.startswith((".", "_")) and name.lower().endswith(DATA_SUFFIXES)


def count_rows(s3, bucket: str, key: str, size: int) -> tuple[int, bool]:
    """(data rows, estimated?) of one CSV object: exact when it fits the sample, else from the sample's line length."""
    if key.lower().endswith(".gz"):
        return 0, True  # compressed: counted by the bytes-per-row estimate of the caller
    whole = size <= SAMPLE_BYTES
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if not whole:
        kwargs["Range"] = f"bytes=0-{SAMPLE_BYTES - 1}"
    body = s3.get_object(**kwargs)["Body"].read()
    lines = body.count(b"\n")
    if whole:
        if body and not body.endswith(b"\n"):
            lines += 1
        return max(lines - 1, 0), False  # minus the header
    if lines <= 1:
        return 1, True  # one line longer than the sample: at least one row
    complete = body[: body.rfind(b"\n") + 1]
    per_line = len(complete) / lines
    return max(int(round(size / per_line)) - 1, 1), True


def choose_size(sizing: list[dict], data_bytes: int) -> dict[str, Any]:
    if not sizing:
        raise InvalidEvent("sizing is empty: the state machine passes the environment's training.sizing table")
    gb = data_bytes / GB
    row = sizing[-1]
    for candidate in sizing:
        if candidate.get("max_gb") is not None and gb <= float(candidate["max_gb"]):
            row = candidate
            break
    # the training volume holds a copy of the data: never smaller than the data plus headroom
    volume = max(int(row.get("volume_gb", 30)), math.ceil(gb * 1.2) + 5)
    return {
        "instance_type": row["instance_type"],
        "instance_count": int(row.get("instance_count", 1)),
        "volume_gb": volume,
    }


def measure(s3, bucket: str, prefix: str) -> dict[str, Any]:
    total = objects = rows = 0
    estimated = False
    sampled_bytes = sampled_rows = 0
    unsampled_bytes = 0
    for obj in list_objects(s3, bucket, prefix):
        if not _is_data(obj["Key"]):
            continue
        objects += 1
        total += obj["Size"]
        if objects <= MAX_SAMPLED_OBJECTS and not obj["Key"].lower().endswith(".gz"):
            n, est = count_rows(s3, bucket, obj["Key"], obj["Size"])
            rows += n
            estimated = estimated or est
            sampled_bytes += obj["Size"]
            sampled_rows += n
        else:
            unsampled_bytes += obj["Size"]
    if unsampled_bytes:
        estimated = True
        if sampled_rows:
            rows += int(round(unsampled_bytes * sampled_rows / sampled_bytes))
        else:
            rows += max(unsampled_bytes // 100, 1)  # compressed only: assume about 100 bytes per row
    return {"bytes": total, "gb": round(total / GB, 6), "objects": objects, "rows": rows, "rows_estimated": estimated}


def handler(event: dict, context: Any = None) -> dict[str, Any]:
    try:
        bucket = event["bucket"]
        prefix = event.get("prefix", "")
        sizing = event["sizing"]
    except (KeyError, TypeError) as exc:
        raise InvalidEvent(f"the event needs bucket and sizing (missing {exc})") from None
    result = measure(_s3(), bucket, prefix)
    if result["objects"] == 0 or result["rows"] == 0:
        raise NoTrainingData(f"no training data under s3://{bucket}/{prefix} (CSV files with a header and rows)")
    result.update(choose_size(sizing, result["bytes"]))
    print({"measured": f"s3://{bucket}/{prefix}", **result})
    return result
