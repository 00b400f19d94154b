"""`pipeline.label.handler`: label a model's training data for the retraining pipeline.

Actions (the event's "action"):

- "self_exclusion": self-exclusion anchor labeling. Players who self-excluded are
  the positive anchors of problem gambling; every other player is unlabelled and
  taken as negative. Reads every CSV under source bucket/prefix, writes one
  labelled CSV under output bucket/prefix with the label column (0/1) taken from
  the source column (which is dropped when it is another column, so the flag
  cannot leak into the features). Operators' labels win over the anchor: every CSV under labels bucket/prefix
  (header `user_id,label`, label a yes/no flag) labels every row of its player. An unknown user_id (no row of the
  data), two labels for one player (across files or rows), a bad value or a missing header fails the action with
  each reason by file, line and user_id, and nothing is written. The result counts rows by where their label came
  from: "labels": {"operator": n, "anchor": m}.
      {"action": "self_exclusion", "source": {"bucket", "prefix"}, "output": {"bucket", "prefix"},
       "labels": {"bucket", "prefix"} (optional), "label": "self_excluded", "source_column": "self_excluded"}
- "prepare_ground_truth": write a Ground Truth input manifest (one text object per
  player: the first data row of each `user_id`, which the object carries as
  "vwt-user-id"), the label categories and the worker UI template; with "labels", also
  workforce.json beside the manifest ({"labels": "s3://bucket/prefix/"}): where the local
  work team (the emulator's) takes its answers from, the operators' label files (AWS's
  work teams ignore it).
      {"action": "prepare_ground_truth", "source": {...}, "output": {...}, "categories": ["0", "1"], "title": "...",
       "label": "self_excluded" (a column of that name is not shown), "labels": {"bucket", "prefix"} (optional)}
- "merge_ground_truth": read the labeling job's output manifest and write the
  labelled CSV, joining the labels to the data by `user_id`, never by position (a
  file added to the prefix, or rows in another order, cannot shift them); rows of
  players the workers did not label are left out.
      {"action": "merge_ground_truth", "source": {...}, "output": {...}, "manifest_uri": "s3://...",
       "attribute": "vwt-label", "label": "self_excluded"}

Every action returns where its output is: {"bucket", "prefix", "s3_uri", "rows", "positives", ...}.
Errors are exceptions whose class name Step Functions reports (InvalidEvent, InvalidData, NoTrainingData).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3

TRUE = {"1", "true", "t", "yes", "y"}
FALSE = {"0", "false", "f", "no", "n", ""}
OUTPUT_NAME = "data.csv"
USER_ID = "user_id"  # the player's id column (vwt_deploy.contract.USER_ID_FIELD; the Lambda imports no tool code)
MANIFEST_ID = "vwt-user-id"  # the manifest object's member that carries it to the output manifest
#: the part size of the labelled copy's multipart upload: 10,000 parts of it hold 160 GiB
PART_BYTES = 16 * 1024 * 1024
LABEL = "label"  # the label column of an operator's label file (beside USER_ID)
MAX_REASONS = 20  # the row-level reasons an InvalidData lists; the rest are counted


class InvalidEvent(Exception):
    """The event is not what the state machine sends."""


class InvalidData(Exception):
    """The training data cannot be labelled as configured."""


class NoTrainingData(Exception):
    """The data prefix holds no CSV data."""


def _s3():
    return boto3.client("s3")


def _split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise InvalidEvent(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _csv_keys(s3, bucket: str, prefix: str, required: bool = True) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if obj["Size"] and name.lower().endswith(".csv") and not name.startswith((".", "_")):
                keys.append(obj["Key"])
    if not keys and required:
        raise NoTrainingData(f"no CSV files under s3://{bucket}/{prefix}")
    return sorted(keys)


def _reasons(problems: list[str]) -> str:
    shown = problems[:MAX_REASONS]
    more = len(problems) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def operator_labels(s3, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
    """user_id -> (label 0/1, where it was given) from every CSV under the prefix (none: {}). Every problem is
    collected by file, line and user_id, and all of them fail it at once (InvalidData)."""
    labels: dict[str, tuple[int, str]] = {}
    problems: list[str] = []
    for key in _csv_keys(s3, bucket, prefix, required=False):
        uri = f"s3://{bucket}/{key}"
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        reader = csv.reader(io.TextIOWrapper(body, encoding="utf-8-sig", newline=""))
        header = [c.strip() for c in next(reader, None) or []]
        if USER_ID not in header or LABEL not in header:
            problems.append(f"{uri} line 1: the header must name {USER_ID} and {LABEL}, got {','.join(header)!r}")
            continue
        at_user, at_label = header.index(USER_ID), header.index(LABEL)
        for line, values in enumerate(reader, start=2):
            if not values:
                continue
            where = f"{uri} line {line}"
            if len(values) != len(header):
                problems.append(f"{where}: {len(values)} values for {len(header)} columns")
                continue
            user, raw = values[at_user].strip(), values[at_label].strip()
            if not user:
                problems.append(f"{where}: {USER_ID} is empty")
                continue
            where += f", {USER_ID} {user}"
            try:
                if not raw:
                    raise InvalidData(f"{where}: the label is empty")
                value = flag(raw, where)
            except InvalidData as exc:
                problems.append(str(exc))
                continue
            if user in labels and labels[user][0] != value:
                problems.append(f"{where}: labelled {value}, but {labels[user][0]} at {labels[user][1]}")
                continue
            labels.setdefault(user, (value, where.rsplit(",", 1)[0]))
    if problems:
        raise InvalidData(f"the operators' labels under s3://{bucket}/{prefix} cannot be used: {_reasons(problems)}")
    return labels


def read_rows(s3, bucket: str, prefix: str) -> tuple[list[str], Iterator[tuple[str, int, dict[str, str]]]]:
    """(header, rows) of every CSV under the prefix, in key order; every file must have the same header."""
    keys = _csv_keys(s3, bucket, prefix)

    def open_csv(key: str):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        return csv.reader(io.TextIOWrapper(body, encoding="utf-8-sig", newline=""))

    first = open_csv(keys[0])
    header = next(first, None)
    if not header:
        raise InvalidData(f"s3://{bucket}/{keys[0]} has no header row")

    def rows() -> Iterator[tuple[str, int, dict[str, str]]]:
        for key in keys:
            reader = first if key == keys[0] else open_csv(key)
            if key != keys[0]:
                own = next(reader, None)
                if own != header:
                    raise InvalidData(f"s3://{bucket}/{key}: its header {own} differs from {keys[0]}'s {header}")
            for line, values in enumerate(reader, start=2):
                if not values:
                    continue
                if len(values) != len(header):
                    raise InvalidData(
                        f"s3://{bucket}/{key} line {line}: {len(values)} values for {len(header)} columns"
                    )
                yield key, line, dict(zip(header, values, strict=True))

    return header, rows()


def flag(value: str, where: str) -> int:
    v = value.strip().lower()
    if v in TRUE:
        return 1
    if v in FALSE:
        return 0
    raise InvalidData(f"{where}: {value!r} is not a yes/no flag (use 1/0, true/false or yes/no)")


def _output(event: dict) -> tuple[str, str]:
    out = event.get("output") or {}
    try:
        bucket, prefix = out["bucket"], out["prefix"]
    except KeyError as exc:
        raise InvalidEvent(f"output needs bucket and prefix (missing {exc})") from None
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def _source(event: dict) -> tuple[str, str]:
    src = event.get("source") or {}
    if "bucket" not in src:
        raise InvalidEvent("source needs bucket (and prefix)")
    return src["bucket"], src.get("prefix", "")


def _write_csv(s3, bucket: str, prefix: str, header: list[str], rows: Iterator[list[Any]]) -> int:
    """Stream rows to <prefix>data.csv as a multipart upload: memory holds one part, and neither /tmp (512 MB by
    default) nor the data's size bounds it (S3: parts of 5 MiB to 5 GiB, 10,000 of them; PART_BYTES each).

    Nothing is written unless every row was: a multipart upload becomes an object only when it is completed,
    and a bad row aborts it (S3 User Guide, "Uploading and copying objects using multipart upload")."""
    key = prefix + OUTPUT_NAME
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/csv")["UploadId"]
    parts: list[dict[str, Any]] = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    count = 0

    def send() -> None:
        data = buffer.getvalue().encode("utf-8")
        number = len(parts) + 1
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data)["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
        buffer.seek(0)
        buffer.truncate()

    try:
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
            if buffer.tell() >= PART_BYTES:  # characters, at least as many bytes: a part is never too small
                send()
        if not count:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            return 0
        send()  # the last part may be smaller than 5 MiB
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        raise
    return count


def self_exclusion(s3, event: dict) -> dict[str, Any]:
    label, source_column = event.get("label"), event.get("source_column")
    if not label or not source_column:
        raise InvalidEvent("self_exclusion needs label and source_column")
    src_bucket, src_prefix = _source(event)
    out_bucket, out_prefix = _output(event)
    if src_bucket == out_bucket and out_prefix.startswith(src_prefix):
        raise InvalidEvent(
            "the output prefix must not lie inside the source prefix (the next run would read its own output)"
        )
    given = _labels_location(event)
    if given and given[0] == src_bucket and (given[1].startswith(src_prefix) or src_prefix.startswith(given[1])):
        raise InvalidEvent("the labels prefix and the source prefix must lie apart (label files are not training data)")
    operator = operator_labels(s3, *given) if given else {}
    header, rows = read_rows(s3, src_bucket, src_prefix)
    if source_column not in header:
        raise InvalidData(
            f"the data under s3://{src_bucket}/{src_prefix} has no column {source_column!r}; "
            f"columns: {', '.join(header)}"
        )
    if operator:
        _require_user_id(header, f"s3://{src_bucket}/{src_prefix}", "operators' labels")
    out_header = [c for c in header if c not in (source_column, label)] + [label]
    positives = 0
    sources = {"operator": 0, "anchor": 0}
    found: set[str] = set()  # the labelled players the data has (bounded by the labels, not the data)

    def labelled() -> Iterator[list[Any]]:
        nonlocal positives
        for key, line, row in rows:
            where = f"s3://{src_bucket}/{key} line {line}"
            y = flag(row[source_column], f"{where}, column {source_column}")  # a bad anchor fails either way
            if operator:
                user = _user_id(row, where)
                if user in operator:
                    y = operator[user][0]
                    found.add(user)
                    sources["operator"] += 1
                else:
                    sources["anchor"] += 1
            else:
                sources["anchor"] += 1
            positives += y
            yield [row[c] for c in out_header[:-1]] + [y]
        unknown = [
            f"{where}, {USER_ID} {user}: no row of the data has it"
            for user, (_, where) in operator.items()
            if user not in found
        ]
        if unknown:  # raised inside the upload: it is aborted, nothing is written
            raise InvalidData(
                f"the operators' labels under s3://{given[0]}/{given[1]} name players the data under "
                f"s3://{src_bucket}/{src_prefix} does not have: {_reasons(sorted(unknown))}"
            )

    count = _write_csv(s3, out_bucket, out_prefix, out_header, labelled())
    if count == 0:
        raise NoTrainingData(f"no data rows under s3://{src_bucket}/{src_prefix}")
    return {
        "bucket": out_bucket,
        "prefix": out_prefix,
        "s3_uri": f"s3://{out_bucket}/{out_prefix}",
        "rows": count,
        "positives": positives,
        "labels": sources,
    }


def _labels_location(event: dict) -> tuple[str, str] | None:
    """Where the operators' label files are (None: the event names none)."""
    given = event.get("labels")
    if not given:
        return None
    if not isinstance(given, dict) or not given.get("bucket") or not given.get("prefix"):
        raise InvalidEvent("labels needs bucket and prefix")
    prefix = given["prefix"] if given["prefix"].endswith("/") else given["prefix"] + "/"
    return given["bucket"], prefix


UI_TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-classifier name="crowd-classifier" categories="{{ task.input.labels | to_json | escape }}"
                    header="%(title)s">
    <classification-target>{{ task.input.taskObject }}</classification-target>
    <full-instructions header="Instructions">Choose the label that fits the record.</full-instructions>
    <short-instructions>Choose the label that fits the record.</short-instructions>
  </crowd-classifier>
</crowd-form>
"""


def prepare_ground_truth(s3, event: dict) -> dict[str, Any]:
    categories = [str(c) for c in event.get("categories") or []]
    if len(categories) < 2:
        raise InvalidEvent("prepare_ground_truth needs at least two categories")
    src_bucket, src_prefix = _source(event)
    out_bucket, out_prefix = _output(event)
    header, rows = read_rows(s3, src_bucket, src_prefix)
    _require_user_id(header, f"s3://{src_bucket}/{src_prefix}")
    hidden = {USER_ID, event.get("label")}  # the worker sees neither the player's id nor a value of the label
    lines, seen = [], set()
    for key, line, row in rows:
        user = _user_id(row, f"s3://{src_bucket}/{key} line {line}")
        if user in seen:  # one task per player: the person is labelled, not each of their rows
            continue
        seen.add(user)
        text = ", ".join(f"{k}={v}" for k, v in row.items() if k not in hidden)
        lines.append(json.dumps({"source": text, MANIFEST_ID: user}, sort_keys=True))
    if not lines:
        raise NoTrainingData(f"no data rows under s3://{src_bucket}/{src_prefix}")
    manifest_key = out_prefix + "input.manifest"
    categories_key = out_prefix + "categories.json"
    template_key = out_prefix + "template.liquid.html"
    s3.put_object(Bucket=out_bucket, Key=manifest_key, Body=("\n".join(lines) + "\n").encode())
    s3.put_object(
        Bucket=out_bucket,
        Key=categories_key,
        Body=json.dumps({"document-version": "2018-11-28", "labels": [{"label": c} for c in categories]}).encode(),
    )
    title = str(event.get("title") or "Label the record").replace('"', "'")
    s3.put_object(Bucket=out_bucket, Key=template_key, Body=(UI_TEMPLATE % {"title": title}).encode())
    given = _labels_location(event)
    if given:
        workforce = json.dumps({"labels": f"s3://{given[0]}/{given[1]}"}).encode()
        s3.put_object(Bucket=out_bucket, Key=out_prefix + "workforce.json", Body=workforce)
    return {
        "manifest_uri": f"s3://{out_bucket}/{manifest_key}",
        "categories_uri": f"s3://{out_bucket}/{categories_key}",
        "ui_template_uri": f"s3://{out_bucket}/{template_key}",
        "rows": len(lines),
    }


def _require_user_id(header: list[str], where: str, whose: str = "Ground Truth's labels") -> None:
    if USER_ID not in header:
        raise InvalidData(
            f"{where} has no {USER_ID} column: {whose} are joined to the data by {USER_ID}, "
            "never by row position; add the player's id to every data file"
        )


def _user_id(row: dict[str, str], where: str) -> str:
    user = (row.get(USER_ID) or "").strip()
    if not user:
        raise InvalidData(f"{where}: {USER_ID} is empty (labels are joined by it)")
    return user


def _manifest_labels(s3, uri: str, attribute: str) -> dict[str, str]:
    """user_id -> the label Ground Truth's output manifest gives (objects without a label, or that failed, give
    none); two different labels for one player are refused with both lines."""
    bucket, key = _split_uri(uri)
    labels: dict[str, tuple[str, int]] = {}
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    for n, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            raise InvalidData(f"{uri} line {n} is not JSON") from None
        meta = item.get(f"{attribute}-metadata") or {}
        if MANIFEST_ID not in item or "class-name" not in meta or meta.get("failure-reason"):
            continue
        user, value = str(item[MANIFEST_ID]), str(meta["class-name"])
        if user in labels and labels[user][0] != value:
            raise InvalidData(
                f"{uri}: {USER_ID} {user} is labelled {labels[user][0]!r} on line {labels[user][1]} and "
                f"{value!r} on line {n}"
            )
        labels[user] = (value, n)
    return {user: value for user, (value, _) in labels.items()}


def merge_ground_truth(s3, event: dict) -> dict[str, Any]:
    attribute, label = event.get("attribute"), event.get("label")
    if not attribute or not label or not event.get("manifest_uri"):
        raise InvalidEvent("merge_ground_truth needs manifest_uri, attribute and label")
    labels = _manifest_labels(s3, event["manifest_uri"], attribute)
    src_bucket, src_prefix = _source(event)
    out_bucket, out_prefix = _output(event)
    header, rows = read_rows(s3, src_bucket, src_prefix)
    _require_user_id(header, f"s3://{src_bucket}/{src_prefix}")
    out_header = [c for c in header if c != label] + [label]
    positives = 0

    def labelled() -> Iterator[list[Any]]:
        nonlocal positives
        for key, line, row in rows:
            value = labels.get(_user_id(row, f"s3://{src_bucket}/{key} line {line}"))
            if value is not None:
                positives += value == "1"
                yield [row[c] for c in out_header[:-1]] + [value]

    count = _write_csv(s3, out_bucket, out_prefix, out_header, labelled())
    if count == 0:
        raise NoTrainingData(f"the labeling job labelled no rows ({event['manifest_uri']})")
    return {
        "bucket": out_bucket,
        "prefix": out_prefix,
        "s3_uri": f"s3://{out_bucket}/{out_prefix}",
        "rows": count,
        "positives": positives,
    }


ACTIONS = {
    "self_exclusion": self_exclusion,
    "prepare_ground_truth": prepare_ground_truth,
    "merge_ground_truth": merge_ground_truth,
}


def handler(event: dict, context: Any = None) -> dict[str, Any]:
    action = (event or {}).get("action")
    if action not in ACTIONS:
        raise InvalidEvent(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    result = ACTIONS[action](_s3(), event)
    print({"action": action, **result})  # where the output is, and the counts (by label source, too)
    return result
