"""Batch transform jobs: the container's `serve`, fed every object under an S3 prefix, its answers written to S3.

`TransformRun` moves moto's record through SageMaker's statuses (InProgress -> Completed, Failed, or Stopping ->
Stopped) as SageMaker Batch Transform does it (Developer Guide, "Use Batch Transform", "Associate Prediction Results
with Input Records", "Troubleshooting"; API reference, CreateTransformJob, TransformInput, TransformOutput,
DataProcessing, ModelClientConfig; "Use Your Own Inference Code with Batch Transform"):

- SageMaker acts as the **model's execution role** (a transform job has no role of its own): it pulls the image,
  fetches and unpacks the model's `model.tar.gz`, lists and reads the input and writes the output with that role's
  session, so IAM decides each read and write (a missing permission fails the job with AWS's message).
- Each instance runs the container's `serve` on a free port, with the model's and the job's `Environment` and
  `SAGEMAKER_BATCH=true` (plus `SAGEMAKER_MAX_PAYLOAD_IN_MB`, `SAGEMAKER_BATCH_STRATEGY` and
  `SAGEMAKER_MAX_CONCURRENT_TRANSFORMS` when the request sets them), and is used once `GET /ping` answers. Settings
  the request leaves out come from the container's `GET /execution-parameters`, else SageMaker's defaults
  (MaxConcurrentTransforms 1, MaxPayloadInMB 6, MultiRecord).
- Objects are partitioned between the instances by key; an instance transforms its objects one at a time, with up
  to MaxConcurrentTransforms requests in flight. An object is streamed: cut into records at newlines
  (`SplitType` Line; None sends the whole object), packed into mini-batches of at most MaxPayloadInMB (MultiRecord)
  or sent a record at a time (SingleRecord), POSTed to `/invocations` with the job's ContentType and Accept, and the
  answers written, in order, to `<S3OutputPath>/<key below the prefix's folder>.out` (a multipart upload, as
  SageMaker uploads; SSE-KMS with `TransformOutput.KmsKeyId`). `AssembleWith` Line ends every answer with a newline.
- `DataProcessing` on CSV: `InputFilter` selects the columns sent to the model, `JoinSource` Input appends each
  answer line to its input record, `OutputFilter` selects the columns written. The JSONPath subset SageMaker
  documents for CSV (each row is a JSON array, so only index-based paths): `$`, `$[i]`, `$[i,j,...]`, `$[i:j]` with
  an inclusive end as the Developer Guide states (`$[1:4]` is the second through fifth columns; either bound may be
  left out), negative indices (`-1` is the last column), and one range among indices (`$[0,5:]`, the API
  reference's example). Two ranges in one filter fail the job with the message SageMaker gave for them; an index
  outside a record fails that object. Filters with characters outside SageMaker's JSONPath operators are refused at
  creation (`check_filters`, in SageMaker's words).
- An object whose records the model refuses (a 4xx answer: `ClientError`; 5xx or no answer after
  ModelClientConfig's retries: `AlgorithmError`) gets no `.out` (its upload is aborted); the other objects are still
  transformed, and the job ends Failed, its `FailureReason` naming each failed object, the lines of the mini-batch
  and the container's message (the row it names, as a line of the object). An empty prefix fails the job, saying
  where it looked.
- StopTransformJob (and the emulator's own stop) stops the serve processes; the job ends Stopped, and the object in
  progress gets no `.out`. The serve processes' output goes to CloudWatch Logs (`/aws/sagemaker/TransformJobs`,
  stream `<job>/algo-<n>-<epoch>`), the job's own lines (SageMaker's `[sagemaker logs]: ...`) to
  `<job>/algo-<n>-<epoch>/data-log`.

Locally every instance shares this machine's cores: InstanceCount x MaxConcurrentTransforms requests are spread over
a serve process per 4 cores (`local_processes`; an instance beyond the objects would be idle on AWS too), at most
`LOCAL_INFLIGHT` in flight to each (measured: more only cost time); the output is the same. VolumeKmsKeyId is
recorded, not used (no volume). Not emulated: ManifestFile and AugmentedManifestFile inputs, Gzip compression,
RecordIO and TFRecord splitting, JSON DataProcessing (`$.features`, `SageMakerOutput`), DataCaptureConfig, the
job's instance metrics.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vwt_deploy.emulator.runtime import free_port
from vwt_deploy.emulator.runtime.sagemaker.common import (
    DEFAULT_STARTUP_TIMEOUT,
    FAILURE_REASON_MAX,
    LOG_SHIP_SECONDS,
    TRANSFORM_LOG_GROUP,
    AccessError,
    ArtifactError,
    JobError,
    LogShipper,
    execution_session,
    fetch_model,
    listen_failed,
    log,
    pull_image,
    serve_argv,
    split_s3,
    tail,
    utcnow,
    wait_healthy,
)

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime.sagemaker.service import SageMakerRuntime

MIB = 1024 * 1024
MAX_PAYLOAD_MB = 100  # MaxPayloadInMB, and MaxConcurrentTransforms x MaxPayloadInMB, may not exceed it
DEFAULT_PAYLOAD_MB = 6
DEFAULT_CONCURRENCY = 1
DEFAULT_STRATEGY = "MultiRecord"
DEFAULT_INVOCATION_TIMEOUT = 600  # ModelClientConfig.InvocationsTimeoutInSeconds
DEFAULT_INVOCATION_RETRIES = 3  # ModelClientConfig.InvocationsMaxRetries
#: Locally every instance shares this machine's cores. One serve process already parses and predicts a large batch
#: on up to 4 cores (vwt_model.predictor's `handle`), so there is a serve process per 4 cores (at most InstanceCount,
#: at most one per object), and at most LOCAL_INFLIGHT requests in flight to each (of InstanceCount x
#: MaxConcurrentTransforms). Measured on 2 cores (1,000,000 rows, bench/scoring_bench.py): 1 or 2 in flight to one
#: process are equal; 3 or 4 are 15-40% slower, and a second process is no faster and costs its start-up.
LOCAL_INFLIGHT = 2


def local_processes() -> int:
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // 4)


PART_BYTES = 16 * MIB  # the output's multipart upload parts (S3: 5 MiB at least, but for the last)
MESSAGE_MAX = 400  # characters of a container's error message kept in a FailureReason
#: SageMaker's JSONPath operators (its refusal of other characters names them: "Supported operators for ... are")
JSONPATH_OPERATORS = ["$", "[", "]", "*", ".", " ", ",", ":", "-", "'"]
CSV = "text/csv"


# =========================================================================== the CSV JSONPath subset


class FilterError(ValueError):
    """A filter that cannot apply to a record (an index outside it), or one the runtime cannot apply at all."""


@dataclass(frozen=True)
class Selector:
    """One item of `$[...]`: an index (`end` unused), or a range with an inclusive end (None: open)."""

    start: int | None
    end: int | None
    is_range: bool


class CsvPath:
    """A DataProcessing filter on CSV records: `$`, `$[i]`, `$[i,j]`, `$[i:j]` (inclusive), negative indices, one
    range among indices. `select` applies it to a record's fields; `project` to many unquoted records at once,
    splitting each only as far as it needs (IndexError when a record needs the careful path)."""

    def __init__(self, text: str | None, member: str):
        self.text, self.member = text or "$", member
        self.selectors = _parse_path(self.text, member)
        self.identity = self.selectors is None
        self._plan = None if self.identity else _fast_plan(self.selectors or [])
        only = self.selectors[0] if self.selectors and len(self.selectors) == 1 else None
        #: `a` of a filter `$[a:]` (a >= 1): the record after its first `a` fields, the commonest InputFilter
        self.tail = only.start if only and only.is_range and only.end is None and (only.start or 0) >= 1 else None

    def __repr__(self) -> str:
        return f"CsvPath({self.text!r})"

    def select(self, fields: list) -> list:
        """The selected fields of one record. FilterError if an index is outside it, or nothing is selected."""
        if self.selectors is None:
            return fields
        width, out = len(fields), []
        for s in self.selectors:
            if not s.is_range:
                i = s.start + width if s.start < 0 else s.start  # type: ignore[operator]
                if not 0 <= i < width:
                    raise FilterError(
                        f'{self.member} "{self.text}" selects column {s.start}, but the record has {width} column'
                        + ("" if width == 1 else "s")
                    )
                out.append(fields[i])
                continue
            lo = 0 if s.start is None else (max(s.start + width, 0) if s.start < 0 else s.start)
            hi = width - 1 if s.end is None else (s.end + width if s.end < 0 else min(s.end, width - 1))
            out.extend(fields[lo : hi + 1])
        if not out:
            raise FilterError(
                f'{self.member} "{self.text}" selects no column: the record has {width} column'
                + ("" if width == 1 else "s")
            )
        return out

    def project(self, records: list[bytes]) -> list[bytes]:
        """The selected columns of each unquoted record, comma-joined. IndexError where a record is too narrow for
        the quick way (the careful way then names it); ValueError if the filter has no quick way."""
        if self.selectors is None:
            return records
        if self._plan is None:
            raise ValueError("no quick way")
        forward, backward, getters = self._plan
        fwd = [r.split(b",", forward) for r in records] if forward is not None else None
        bwd = [r.rsplit(b",", backward) for r in records] if backward is not None else None
        columns = [getter(fwd, bwd) for getter in getters]
        if len(columns) == 1:
            return columns[0]
        return list(map(b",".join, zip(*columns, strict=True)))


def _parse_path(text: str, member: str) -> list[Selector] | None:
    """The selectors of `$[...]` (None for `$`). FilterError for anything outside the CSV subset."""
    compact = text.replace(" ", "")
    if compact == "$":
        return None
    found = re.fullmatch(r"\$\[([^\[\]]*)\]", compact)
    if not found:
        raise FilterError(
            f'{member} "{text}" is not a JSONPath SageMaker applies to CSV: each record is taken as a JSON array, so '
            'only index-based paths apply ("$", "$[1]", "$[1,3]", "$[1:4]", "$[0,5:]")'
        )
    selectors = []
    for item in found.group(1).split(","):
        if re.fullmatch(r"-?\d+", item):
            selectors.append(Selector(int(item), None, False))
            continue
        bounds = re.fullmatch(r"(-?\d+)?:(-?\d+)?", item)
        if not bounds:
            raise FilterError(f'{member} "{text}": {item!r} is neither an index nor a range ("2", "-1", "1:4", "5:")')
        start, end = (int(b) if b is not None else None for b in bounds.groups())
        selectors.append(Selector(start, end, True))
    if sum(s.is_range for s in selectors) > 1:  # SageMaker's words for "$[0:2,246:]"
        raise FilterError(
            f"Invalid JsonPath: {text}: only single range filters of format (eg: [1:5]) are supported. Format "
            f"[{found.group(1)}] is not supported"
        )
    return selectors


def _fast_plan(selectors: list[Selector]):
    """(forward maxsplit, backward maxsplit, column getters) for `CsvPath.project`, or None when a selector needs
    the record's width (a range with a negative end, or from a negative start to a set end)."""
    forward = backward = None
    for s in selectors:
        if not s.is_range:
            if s.start >= 0:  # type: ignore[operator]
                forward = max(forward or 0, s.start + 1)  # type: ignore[operator]
            else:
                backward = max(backward or 0, -s.start)  # type: ignore[operator]
        elif (s.start or 0) >= 0 and s.end is not None and s.end >= 0:
            forward = max(forward or 0, s.end + 1)
        elif (s.start or 0) >= 0 and s.end is None:
            forward = max(forward or 0, s.start or 0)
        elif s.start is not None and s.start < 0 and s.end is None:
            backward = max(backward or 0, -s.start)
        else:
            return None
    getters: list[Callable] = []
    for s in selectors:
        getters.append(_getter(s, forward))
    return forward, backward, getters


def _getter(s: Selector, forward: int | None) -> Callable:
    """One selector's column over the split records. A record too narrow for it raises IndexError (`p[n]` on a
    list that lacks it), and the careful way takes over: it clamps ranges as JSONPath does, or names the record."""
    if not s.is_range:
        i = s.start
        if i >= 0:  # type: ignore[operator]
            return lambda fwd, bwd: [p[i] for p in fwd]
        return lambda fwd, bwd: [p[i] for p in bwd]
    if (s.start or 0) >= 0 and s.end is not None:
        lo, hi = s.start or 0, s.end
        return lambda fwd, bwd: [b",".join(p[lo : hi + 1]) if len(p) > hi else p[hi] for p in fwd]
    if (s.start or 0) >= 0:
        lo = s.start or 0
        if lo == forward:  # split no further than this: the last piece is the rest of the record, as it is
            return lambda fwd, bwd: [p[lo] for p in fwd]
        return lambda fwd, bwd: [b",".join(p[lo:]) if len(p) > lo else p[lo] for p in fwd]
    k = -s.start  # type: ignore[operator]
    return lambda fwd, bwd: [b",".join(p[-k:]) if len(p) >= k else p[-k] for p in bwd]


def check_filters(request: dict) -> None:
    """What SageMaker refuses at CreateTransformJob in a DataProcessing filter: a character outside its JSONPath
    operators (and letters and digits), in its words (ValidationError from moto's exceptions)."""
    from vwt_deploy.emulator.runtime.sagemaker.validation import errors

    processing = request.get("data_processing") or {}
    types = {
        "InputFilter": (request.get("transform_input") or {}).get("ContentType") or "",
        "OutputFilter": (request.get("transform_output") or {}).get("Accept") or "",
    }
    for member, content_type in types.items():
        text = processing.get(member)
        if text is None:
            continue
        if not text.startswith("$"):
            raise errors().ValidationError(
                f'Invalid {member}: "{text}". A JsonPath must start with the root operator "$".'
            )
        for char in text:
            if not char.isalnum() and char not in JSONPATH_OPERATORS:
                raise errors().ValidationError(
                    f'Invalid {member}: "{text}". Unexpected "{char}" in JsonPath. Supported operators for '
                    f'"{content_type}" are {JSONPATH_OPERATORS}'
                )


def check_limits(request: dict) -> None:
    """MaxPayloadInMB at most 100 MB, and MaxConcurrentTransforms x MaxPayloadInMB too (CreateTransformJob's
    MaxPayloadInMB)."""
    from vwt_deploy.emulator.runtime.sagemaker.validation import errors

    payload = request.get("max_payload_in_mb")
    concurrency = request.get("max_concurrent_transforms")
    if payload is not None and payload > MAX_PAYLOAD_MB:
        raise errors().ValidationError(
            f"MaxPayloadInMB {payload} is more than the {MAX_PAYLOAD_MB} MB a transform job's payload may have."
        )
    if payload and concurrency and payload * concurrency > MAX_PAYLOAD_MB:
        raise errors().ValidationError(
            f"MaxConcurrentTransforms x MaxPayloadInMB ({concurrency} x {payload} MB) is more than "
            f"{MAX_PAYLOAD_MB} MB: lower either."
        )


# =========================================================================== records and mini-batches


class ObjectFailed(Exception):
    """An object that cannot be transformed: its FailureReason (the job goes on with the other objects)."""


class _Stopped(Exception):
    pass


@dataclass
class Batch:
    """One mini-batch of an object: its lines (as read), its records and what is sent to the model."""

    first: int  # the object's line number of the batch's first line
    last: int  # ... of its last line
    raw: bytes  # the lines, as read
    records: list[bytes] | None = None  # the records (blank lines left out), once split
    numbers: list[int] | None = None  # each record's line number, where blank lines were left out
    payload: bytes = b""
    heads: list | None = None  # each record split after its first `head_width` fields (by the InputFilter `$[a:]`)
    head_width: int = 0

    def lines(self) -> str:
        return f"line {self.first}" if self.first == self.last else f"lines {self.first}-{self.last}"

    def line_of(self, record: int) -> int:
        """The object's line number of the batch's `record`-th record (0-based)."""
        return self.numbers[record] if self.numbers is not None else self.first + record

    def split(self) -> list[bytes]:
        if self.records is None:
            raw = self.raw
            records = raw.split(b"\n")
            if records[-1] == b"":  # the newline that ends the last line
                records.pop()
            if b"\r" in raw:
                records = [r[:-1] if r.endswith(b"\r") else r for r in records]
            if not all(records):  # blank lines are no records
                self.numbers = [self.first + i for i, r in enumerate(records) if r]
                records = [r for r in records if r]
            self.records = records
        return self.records


def _quoted(data: bytes) -> bool:
    return b'"' in data


def _csv_fields(record: bytes) -> list[str]:
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FilterError(f"the record is not UTF-8 text ({exc})") from None
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise FilterError(f"the record is not CSV (RFC 4180): {exc}") from None
    return rows[0] if rows else [""]


def _csv_line(fields: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue().encode("utf-8")


# =========================================================================== the job


@dataclass
class Settings:
    """What the job runs with: the request's settings, the container's execution parameters, SageMaker's defaults."""

    bucket: str
    prefix: str
    base: str  # the prefix's folder: an object's output keeps its key below it
    out_bucket: str
    out_prefix: str
    content_type: str | None
    accept: str | None
    split: str  # Line or None
    assemble: str  # Line or None
    join: bool  # JoinSource Input
    input_filter: CsvPath
    output_filter: CsvPath
    sse: dict[str, str]
    timeout: float
    retries: int
    strategy: str = DEFAULT_STRATEGY
    payload_mb: int = DEFAULT_PAYLOAD_MB
    concurrency: int = DEFAULT_CONCURRENCY  # MaxConcurrentTransforms as settled
    inflight: int = 1  # requests in flight to each local serve process

    @property
    def payload_bytes(self) -> int:
        return self.payload_mb * MIB

    @property
    def passthrough(self) -> bool:
        """The answers are written as they come (no join, no output filter)."""
        return not self.join and self.output_filter.identity


class Instance:
    """One local instance: a `serve` process, its keep-alive pool, its threads and its logs."""

    def __init__(self, run: TransformRun, index: int):
        self.run, self.index = run, index
        self.host = f"algo-{index}"
        self.log_path = run.root / f"{self.host}.log"
        self.data_log_path = run.root / f"{self.host}-data.log"
        self.proc: subprocess.Popen | None = None
        self.pool: Any = None
        self.port = 0
        self.executor: ThreadPoolExecutor | None = None
        stream = f"{run.name}/{self.host}-{int(time.time())}"
        self.shippers = [
            LogShipper(run.runtime, run.backend, TRANSFORM_LOG_GROUP, stream, self.log_path),
            LogShipper(run.runtime, run.backend, TRANSFORM_LOG_GROUP, f"{stream}/data-log", self.data_log_path),
        ]
        self._log_lock = threading.Lock()

    def say(self, message: str) -> None:
        """A line of SageMaker's data log."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self._log_lock, self.data_log_path.open("a") as fh:
            for line in message.splitlines() or [""]:
                fh.write(f"{stamp}: [sagemaker logs]: {line}\n")

    def start(self, env: dict[str, str], timeout: float) -> None:
        """Start `serve` and wait for GET /ping (JobError with the reason if it does not answer)."""
        import urllib3

        run = self.run
        why = "not started"
        for _attempt in range(3):  # a port taken between free_port() and the child's bind: try another
            self.port = free_port()
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self.proc = run.runtime.spawn(
                f"transform job {run.name} ({self.host})",
                serve_argv(self.port, run.model_dir),
                env=env,
                log_path=self.log_path,
            )
            self.pool = urllib3.HTTPConnectionPool(
                "127.0.0.1",
                self.port,
                maxsize=32,
                block=False,
                timeout=urllib3.Timeout(connect=5, read=run.settings.timeout),
                retries=False,
            )
            why = wait_healthy(self.proc, self.pool, self.log_path, timeout, run._stopping)
            if why is None:
                return
            self.stop()
            if run._stopping():
                raise _Stopped()
            if not listen_failed(self.log_path, offset):
                break
        raise JobError(f"AlgorithmError: the model's container did not start on {self.host}: {why}")

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.proc is not None:
            self.run.runtime.stop(self.proc, timeout=10)

    def flush_logs(self, final: bool = False) -> None:
        for shipper in self.shippers:
            shipper.flush(final)


class _Output:
    """An object's `.out`: a multipart upload, its parts sent in the background as they fill (bounded: at most two
    parts wait), completed at the end or aborted (SageMaker leaves no partial output)."""

    def __init__(self, s3, bucket: str, key: str, sse: dict[str, str], executor: ThreadPoolExecutor):
        self.s3, self.bucket, self.key, self.sse, self.executor = s3, bucket, key, sse, executor
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[Future] = []
        self.size = 0

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        if len(self.buffer) >= PART_BYTES:
            self._send_part()

    def _send_part(self) -> None:
        part, number = bytes(self.buffer), len(self.parts) + 1
        self.buffer.clear()
        if self.upload_id is None:
            self.upload_id = self._call(self.s3.create_multipart_upload, Bucket=self.bucket, Key=self.key, **self.sse)[
                "UploadId"
            ]
        self.parts.append(self.executor.submit(self._upload_part, number, part))
        waiting = [f for f in self.parts if not f.done()]
        if len(waiting) > 2:
            waiting[0].result()

    def _upload_part(self, number: int, body: bytes) -> dict:
        answer = self._call(
            self.s3.upload_part,
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def complete(self) -> None:
        if self.buffer or not self.parts:
            self._send_part()
        parts = [f.result() for f in self.parts]
        self._call(
            self.s3.complete_multipart_upload,
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": parts},
        )
        self.upload_id = None

    def abort(self) -> None:
        for future in self.parts:
            future.cancel()
        for future in self.parts:
            with contextlib.suppress(Exception):  # the output is given up either way
                future.result()
        if self.upload_id is not None:
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            except Exception:  # noqa: BLE001 - an upload left behind is S3's lifecycle's to clean, as on AWS
                log.warning("could not abort the upload of %s", self.uri, exc_info=True)
            self.upload_id = None

    def _call(self, fn: Callable, **kwargs) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise ObjectFailed(f"ClientError: could not write the output {self.uri}: {exc}") from None


class TransformRun:
    """One transform job, run in a background thread: its instances' serve processes and the objects they
    transform."""

    def __init__(self, owner: SageMakerRuntime, backend, job):
        self.runtime, self.status_lock = owner.runtime, owner.status_lock
        self.backend, self.job = backend, job
        self.name = job.transform_job_name
        self.root = self.runtime.work / "transform" / self.name
        self.model_dir = self.root / "model"
        self.stop_requested = threading.Event()
        self.done = threading.Event()
        self.instances: list[Instance] = []
        self.settings: Settings
        self.credentials = None
        self.failures: list[tuple[str, str]] = []  # (key, reason)
        self._lock = threading.Lock()
        self._s3: Any = None

    # ------------------------------------------------------------------ the record
    def start(self) -> None:
        job = self.job
        shutil.rmtree(self.root, ignore_errors=True)  # a job of this name from an earlier emulator run
        self.root.mkdir(parents=True)
        job.transform_job_status, job.failure_reason = "InProgress", None
        job.transform_start_time = job.transform_end_time = None
        job.labeling_job_arn = job.auto_ml_job_arn = None  # moto's "" is no ARN: SageMaker leaves them out
        job.last_modified_time = utcnow()
        threading.Thread(target=self._run, name=f"transform {self.name}", daemon=True).start()

    def request_stop(self) -> None:
        with self.status_lock:
            if self.job.transform_job_status == "InProgress":
                self.job.transform_job_status, self.job.last_modified_time = "Stopping", utcnow()
        self.stop_requested.set()

    def _stopping(self) -> bool:
        return self.stop_requested.is_set() or self.runtime.stopping

    def _finish(self, status: str, reason: str | None = None) -> None:
        job, now = self.job, utcnow()
        job.transform_end_time = job.last_modified_time = now
        job.failure_reason = reason[:FAILURE_REASON_MAX] if reason else None
        with self.status_lock:
            job.transform_job_status = status

    # ------------------------------------------------------------------ the run
    def _run(self) -> None:
        status, reason = "Failed", None
        try:
            self.settings = self._settings()
            container, role = self._model()
            self.credentials = execution_session(self.runtime, role)
            pull_image(self.runtime, self.credentials, container.get("Image", ""))
            self._s3 = self.runtime.client("s3", self.backend.region_name, self.credentials)
            keys = self._list()
            if self._stopping():
                raise _Stopped()
            self._start_instances(container, len(keys))
            self._transform(keys)
            if self._stopping():
                raise _Stopped()
            status, reason = ("Failed", self._failure_reason()) if self.failures else ("Completed", None)
        except _Stopped:
            status = "Stopped"
        except (JobError, AccessError) as exc:
            self._say(str(exc))
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug here must still end the job, with the reason
            log.exception("transform job %s", self.name)
            reason = f"InternalServerError: {type(exc).__name__}: {exc}"
        finally:
            for instance in self.instances:  # the instances are released before the job ends
                instance.stop()
                if instance.executor is not None:
                    instance.executor.shutdown(wait=True, cancel_futures=True)
                instance.flush_logs(final=True)
            shutil.rmtree(self.model_dir, ignore_errors=True)  # a copy of S3's: not kept
            self._finish(status, reason)
            self.done.set()

    def _say(self, message: str) -> None:
        if self.instances:
            self.instances[0].say(message)

    def _settings(self) -> Settings:
        """The request, checked for what the local runtime can do (JobError with SageMaker's ClientError if not)."""
        job = self.job
        source = (job.transform_input.get("DataSource") or {}).get("S3DataSource")
        if not source:
            raise JobError("ClientError: the local runtime reads S3DataSource inputs only")
        kind = source.get("S3DataType", "S3Prefix")
        if kind != "S3Prefix":
            raise JobError(f"ClientError: S3DataType {kind} is not supported by the local runtime; use S3Prefix")
        compression = job.transform_input.get("CompressionType") or "None"
        if compression != "None":
            raise JobError(
                f"ClientError: CompressionType {compression} is not supported by the local runtime; store the input "
                "uncompressed (CompressionType None)"
            )
        split = job.transform_input.get("SplitType") or "None"
        if split not in ("Line", "None"):
            raise JobError(f"ClientError: SplitType {split} is not supported by the local runtime; use Line (or None)")
        output = job.transform_output or {}
        try:
            bucket, prefix = split_s3(source.get("S3Uri", ""))
            out_bucket, out_prefix = split_s3(output.get("S3OutputPath", ""))
        except ValueError as exc:
            raise JobError(f"ClientError: {exc}") from None
        processing = job.data_processing or {}
        content_type, accept = job.transform_input.get("ContentType"), output.get("Accept")
        join = (processing.get("JoinSource") or "None") == "Input"
        filters_input = (processing.get("InputFilter") or "$").replace(" ", "") != "$"
        filters_output = (processing.get("OutputFilter") or "$").replace(" ", "") != "$"
        if filters_input and _media(content_type) != CSV:
            raise JobError(
                f"ClientError: the local runtime applies an InputFilter to text/csv input only (ContentType "
                f"{content_type or 'not set'}); JSON filters are not emulated"
            )
        if (join or filters_output) and not (_media(content_type) == CSV and _media(accept) == CSV):
            raise JobError(
                "ClientError: JoinSource Input and an OutputFilter need text/csv in and out locally (ContentType "
                f"{content_type or 'not set'}, Accept {accept or 'not set'}); SageMaker's JSON joins are not emulated"
            )
        try:
            input_filter = CsvPath(processing.get("InputFilter"), "InputFilter")
            output_filter = CsvPath(processing.get("OutputFilter"), "OutputFilter")
        except FilterError as exc:
            raise JobError(f"ClientError: {exc}") from None
        assemble = output.get("AssembleWith") or "None"
        if (join or filters_output) and assemble != "Line":
            raise JobError(
                "ClientError: with text/csv, joining or filtering the output needs AssembleWith Line (and SplitType "
                'Line): "If you set input and output formats to text/csv, you must also set the SplitType and '
                'AssembleWith parameters to line"'
            )
        client = job.model_client_config or {}
        settings = Settings(
            bucket=bucket,
            prefix=prefix,
            base=prefix[: prefix.rfind("/") + 1],
            out_bucket=out_bucket,
            out_prefix=out_prefix if not out_prefix or out_prefix.endswith("/") else out_prefix + "/",
            content_type=content_type,
            accept=accept,
            split=split,
            assemble=assemble,
            join=join,
            input_filter=input_filter,
            output_filter=output_filter,
            sse={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": output["KmsKeyId"]}
            if output.get("KmsKeyId")
            else {},
            timeout=float(client.get("InvocationsTimeoutInSeconds") or DEFAULT_INVOCATION_TIMEOUT),
            retries=int(client.get("InvocationsMaxRetries", DEFAULT_INVOCATION_RETRIES) or 0),
        )
        if job.max_payload_in_mb == 0 and not (input_filter.identity and settings.passthrough):
            raise JobError(
                "ClientError: MaxPayloadInMB 0 streams each object whole (chunked): the local runtime applies no "
                "DataProcessing to it"
            )
        return settings

    def _model(self) -> tuple[dict, str]:
        """The model's container (with a ModelDataUrl) and its execution role."""
        model = self.backend._models.get(self.job.model_name)
        if model is None:
            raise JobError(f"ClientError: model {self.job.model_name} does not exist (any more)")
        container = model.primary_container or (model.containers or [None])[0] or {}
        if not container.get("ModelDataUrl"):
            raise JobError(
                f"ClientError: model {model.model_name} has no ModelDataUrl: the local runtime serves a model.tar.gz"
            )
        return container, model.execution_role_arn

    def _list(self) -> list[str]:
        """The input objects' keys (ListObjectsV2 as the role), in key order."""
        from botocore.exceptions import BotoCoreError, ClientError

        s = self.settings
        uri = f"s3://{s.bucket}/{s.prefix}"
        keys: list[str] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=s.bucket, Prefix=s.prefix):
                keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        except (ClientError, BotoCoreError) as exc:
            raise JobError(f"ClientError: could not list the input {uri}: {exc}") from None
        if not keys:
            raise JobError(
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Put the data '
                "there, or fix TransformInput's S3Uri."
            )
        return sorted(keys)

    def _start_instances(self, container: dict, objects: int) -> None:
        """Fetch the model, start the serve processes and settle the execution parameters."""
        job = self.job
        try:
            fetch_model(
                self.runtime, self.backend.region_name, container["ModelDataUrl"], self.model_dir, self.credentials
            )
        except ArtifactError as exc:
            raise JobError(f"ClientError: {exc}") from None
        env = {**(container.get("Environment") or {}), "SAGEMAKER_BATCH": "true"}
        if job.max_payload_in_mb is not None:  # the last three only when the request sets them, as SageMaker does
            env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(job.max_payload_in_mb)
        if job.batch_strategy:
            env["SAGEMAKER_BATCH_STRATEGY"] = "MULTI_RECORD" if job.batch_strategy == "MultiRecord" else "SINGLE_RECORD"
        if job.max_concurrent_transforms:
            env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(job.max_concurrent_transforms)
        env.update(job.environment or {})
        env.update({"PYTHONPATH": str(self.runtime.container_dir), "PYTHONUNBUFFERED": "1"})
        requested = int((job.transform_resources or {}).get("InstanceCount") or 1)
        count = max(1, min(requested, objects, local_processes()))
        self.instances = [Instance(self, i + 1) for i in range(count)]
        for instance in self.instances:
            if self._stopping():
                raise _Stopped()
            instance.start(env, DEFAULT_STARTUP_TIMEOUT)
        s = self.settings
        self._execution_parameters()
        # the requests SageMaker would have in flight (InstanceCount x MaxConcurrentTransforms), shared by the
        # local processes, at most LOCAL_INFLIGHT each: more only cost this machine's cores (bench/scoring_bench.py)
        s.inflight = max(1, min(LOCAL_INFLIGHT, -(-requested * s.concurrency // count)))
        for instance in self.instances:
            instance.executor = ThreadPoolExecutor(s.inflight, thread_name_prefix=f"{self.name}-invoke")
        job.transform_start_time = utcnow()
        for instance in self.instances:
            instance.say(
                f"MaxConcurrentTransforms={s.concurrency}, MaxPayloadInMB={s.payload_mb}, BatchStrategy="
                f"{'MULTI_RECORD' if s.strategy == 'MultiRecord' else 'SINGLE_RECORD'}"
            )
            instance.say(
                f"local: InstanceCount {requested} on {count} serve process(es) for {objects} object(s), "
                f"{s.inflight} request(s) in flight each"
            )

    def _execution_parameters(self) -> None:
        """Precedence as SageMaker's: the request, then the container's GET /execution-parameters, then defaults."""
        job, s = self.job, self.settings
        answer: dict = {}
        if not (job.max_concurrent_transforms and job.batch_strategy and job.max_payload_in_mb is not None):
            try:
                response = self.instances[0].pool.request("GET", "/execution-parameters", timeout=2.0)
                if response.status == 200:
                    answer = json.loads(response.data)
            except Exception:  # noqa: BLE001 - an optional route: no answer means the defaults
                answer = {}
            answer = answer if isinstance(answer, dict) else {}
        s.strategy = job.batch_strategy or {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}.get(
            str(answer.get("BatchStrategy")), DEFAULT_STRATEGY
        )
        payload = job.max_payload_in_mb if job.max_payload_in_mb is not None else answer.get("MaxPayloadInMB")
        ok = isinstance(payload, int) and 0 <= payload <= MAX_PAYLOAD_MB
        s.payload_mb = payload if ok else DEFAULT_PAYLOAD_MB  # type: ignore[assignment]
        concurrency = job.max_concurrent_transforms or answer.get("MaxConcurrentTransforms")
        s.concurrency = concurrency if isinstance(concurrency, int) and concurrency > 0 else DEFAULT_CONCURRENCY

    # ------------------------------------------------------------------ the objects
    def _transform(self, keys: list[str]) -> None:
        """Each instance transforms its share of the objects (SageMaker partitions them by key) in a thread; this
        one ships the logs and stops the processes on a stop request."""
        count = len(self.instances)
        threads = [
            threading.Thread(
                target=self._instance_loop, args=(inst, keys[i::count]), name=f"{self.name} {inst.host}", daemon=True
            )
            for i, inst in enumerate(self.instances)
        ]
        for thread in threads:
            thread.start()
        stopped = False
        last_ship = time.monotonic()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.1)
            if self._stopping() and not stopped:
                stopped = True
                for instance in self.instances:
                    instance.stop()  # requests in flight end now; the loops see the stop
            if time.monotonic() - last_ship >= LOG_SHIP_SECONDS:
                last_ship = time.monotonic()
                for instance in self.instances:
                    instance.flush_logs()

    def _instance_loop(self, instance: Instance, keys: list[str]) -> None:
        uploads = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-upload")
        try:
            for key in keys:
                if self._stopping():
                    return
                try:
                    self._transform_object(instance, key, uploads)
                except ObjectFailed as exc:
                    if self._stopping():
                        return
                    instance.say(str(exc))
                    with self._lock:
                        self.failures.append((key, str(exc)))
                except _Stopped:
                    return
                except Exception as exc:  # noqa: BLE001 - a bug here fails the object, with the reason
                    log.exception("transform job %s: %s", self.name, key)
                    with self._lock:
                        self.failures.append((key, f"InternalServerError: s3://{self.settings.bucket}/{key}: {exc}"))
        finally:
            uploads.shutdown(wait=True, cancel_futures=True)

    def _output_key(self, key: str) -> str:
        s = self.settings
        return s.out_prefix + key[len(s.base) :] + ".out"

    def _transform_object(self, instance: Instance, key: str, uploads: ThreadPoolExecutor) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        s = self.settings
        uri = f"s3://{s.bucket}/{key}"
        try:
            body = self._s3.get_object(Bucket=s.bucket, Key=key)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise ObjectFailed(f"ClientError: could not read the input {uri}: {exc}") from None
        out = _Output(self._s3, s.out_bucket, self._output_key(key), s.sse, uploads)
        try:
            if s.payload_mb == 0:
                out.write(self._invoke_streamed(instance, uri, body))
                done = "the whole object in one chunked request"
            else:
                batches, lines = self._stream(instance, uri, body, out)
                done = f"{lines} line(s) in {batches} mini-batch(es)"
            if self._stopping():
                raise _Stopped()
            out.complete()
            instance.say(f"{uri}: {done} -> {out.uri} ({out.size} bytes)")
        except BaseException:
            out.abort()
            raise
        finally:
            body.close()

    def _stream(self, instance: Instance, uri: str, body, out: _Output) -> tuple[int, int]:
        """The object's mini-batches to the model, `inflight` at a time, the answers written in order (at most
        inflight + 1 batches are held). (mini-batches, lines) sent."""
        assert instance.executor is not None
        inflight = self.settings.inflight
        pending: deque[tuple[Batch, Future]] = deque()
        batches = last = 0
        try:
            for batch in self._batches(uri, body):
                if self._stopping():
                    raise _Stopped()
                pending.append((batch, instance.executor.submit(self._invoke, instance, uri, batch)))
                batches, last = batches + 1, batch.last
                while len(pending) > inflight:
                    done, future = pending.popleft()
                    out.write(self._output(uri, done, future.result()))
            while pending:
                done, future = pending.popleft()
                out.write(self._output(uri, done, future.result()))
            return batches, last
        finally:
            for _, future in pending:
                future.cancel()
            for _, future in pending:
                with contextlib.suppress(BaseException):  # the object has failed or stopped already
                    future.result()

    # ------------------------------------------------------------------ reading
    def _batches(self, uri: str, body) -> Iterator[Batch]:
        """The object's mini-batches: whole lines, at most MaxPayloadInMB each (MultiRecord), one record each
        (SingleRecord), or the whole object (SplitType None)."""
        s = self.settings
        limit = s.payload_bytes
        if s.split == "None":
            data = b""
            while len(data) <= limit and (chunk := body.read(limit + 1 - len(data))):
                data += chunk
            if len(data) > limit:
                raise ObjectFailed(
                    f"ClientError: {uri}: the object is larger than MaxPayloadInMB ({s.payload_mb} MB) and SplitType "
                    "is None, so it cannot be sent in one request: set SplitType Line, or a larger MaxPayloadInMB"
                )
            if data:
                yield self._batch(uri, data, 1)
            return
        line = 1
        try:
            for piece in _pieces(body, limit):
                count = piece.count(b"\n") + (0 if piece.endswith(b"\n") else 1)
                batch = self._batch(uri, piece, line)
                line += count
                if s.strategy == "SingleRecord":
                    yield from self._single(uri, batch)
                else:
                    yield from self._fit(uri, batch)
        except _TooLong:
            raise ObjectFailed(
                f"ClientError: {uri}: line {line} is longer than MaxPayloadInMB ({s.payload_mb} MB): a record "
                "must fit in one request"
            ) from None

    def _batch(self, uri: str, raw: bytes, first: int) -> Batch:
        """A batch of whole lines, with what goes to the model (the InputFilter's columns)."""
        s = self.settings
        last = first + raw.count(b"\n") - (1 if raw.endswith(b"\n") else 0)
        batch = Batch(first, last, raw)
        clean = not (raw.startswith(b"\n") or b"\n\n" in raw or b"\r" in raw)
        if s.input_filter.identity and clean:
            batch.payload = raw
            return batch
        records = batch.split()
        if not records:
            return batch
        if s.input_filter.identity:
            selected = list(records)
        else:
            selected = self._tail(batch, records, s.input_filter.tail) or self._project(
                uri, batch, s.input_filter, records
            )
        selected.append(b"")  # the payload ends with a newline
        batch.payload = b"\n".join(selected)
        return batch

    @staticmethod
    def _tail(batch: Batch, records: list[bytes], a: int | None) -> list[bytes] | None:
        """The InputFilter `$[a:]` on unquoted records, keeping each record's first `a` fields for the join (None
        when it does not apply, or a record has no more than `a` fields: the careful way then names it)."""
        if a is None or _quoted(batch.raw):
            return None
        if a == 1:
            parts: list = [r.partition(b",") for r in records]
            selected = [p[2] for p in parts]
            if b"" in selected:  # a record of one field (or an empty second one): the careful way decides
                return None
        else:
            parts = [r.split(b",", a) for r in records]
            if any(len(p) <= a for p in parts):
                return None
            selected = [p[a] for p in parts]
        batch.heads, batch.head_width = parts, a
        return selected

    def _project(self, uri: str, batch: Batch, path: CsvPath, records: list[bytes]) -> list[bytes]:
        """`path`'s columns of each record: the quick way for unquoted CSV, else record by record (which names the
        line of a record that does not fit)."""
        quoted = _quoted(batch.raw)
        if not quoted:
            try:
                return path.project(records)
            except (IndexError, ValueError):
                pass
        out = []
        for i, record in enumerate(records):
            try:
                if quoted:
                    out.append(_csv_line(path.select(_csv_fields(record))))
                else:
                    out.append(b",".join(path.select(record.split(b","))))
            except FilterError as exc:
                raise ObjectFailed(f"ClientError: {uri}: line {batch.line_of(i)}: {exc}") from None
        return out

    def _single(self, uri: str, batch: Batch) -> Iterator[Batch]:
        """SingleRecord: one request per record."""
        records = batch.split()
        payloads = (
            records
            if self.settings.input_filter.identity
            else self._project(uri, batch, self.settings.input_filter, records)
        )
        for i, (record, payload) in enumerate(zip(records, payloads, strict=True)):
            number = batch.line_of(i)
            yield Batch(number, number, record + b"\n", [record], None, payload)

    def _fit(self, uri: str, batch: Batch) -> Iterator[Batch]:
        """A batch whose payload is over MaxPayloadInMB (an InputFilter that repeats columns): in halves."""
        if len(batch.payload) <= self.settings.payload_bytes:
            yield batch
            return
        records = batch.split()
        if len(records) < 2:
            raise ObjectFailed(
                f"ClientError: {uri}: line {batch.first}: the record, filtered, is larger than MaxPayloadInMB "
                f"({self.settings.payload_mb} MB)"
            )
        half = len(records) // 2
        for lo, hi in ((0, half), (half, len(records))):
            part = self._batch(uri, b"\n".join(records[lo:hi]) + b"\n", batch.line_of(lo))
            part.numbers = [batch.line_of(i) for i in range(lo, hi)]
            part.last = part.numbers[-1]
            yield from self._fit(uri, part)

    # ------------------------------------------------------------------ the model
    def _invoke(self, instance: Instance, uri: str, batch: Batch) -> bytes:
        """POST the batch to /invocations: the answer's body, or ObjectFailed (4xx: ClientError; 5xx or no answer
        after ModelClientConfig's retries: AlgorithmError)."""
        import urllib3

        s = self.settings
        headers = {}
        if s.content_type:
            headers["Content-Type"] = s.content_type
        if s.accept:
            headers["Accept"] = s.accept
        why = ""
        for _attempt in range(s.retries + 1):
            if self._stopping():
                raise _Stopped()
            try:
                response = instance.pool.urlopen("POST", "/invocations", body=batch.payload, headers=headers)
            except urllib3.exceptions.HTTPError as exc:
                if self._stopping():
                    raise _Stopped() from None
                why = (
                    f"AlgorithmError: {uri}: {batch.lines()}: the model did not answer ({exc}); last lines of its "
                    f"log:\n{tail(instance.log_path)}"
                )
                continue
            if response.status < 400:
                return response.data
            message = _message(response.data)
            detail = (
                f"{uri}: {batch.lines()}: the model answered {response.status}: {message}"
                f"{self._row_line(batch, message)}"
            )
            if response.status < 500:
                raise ObjectFailed(f"ClientError: {detail}")
            why = f"AlgorithmError: {detail}"
        raise ObjectFailed(why)

    def _row_line(self, batch: Batch, message: str) -> str:
        """ " (line N of the object)" when the container's message names a row of the mini-batch."""
        found = re.match(r"(?:row|record) (\d+)\b", message)
        if not found or batch.first == batch.last:
            return ""
        row = int(found.group(1))
        records = batch.split()
        if not 1 <= row <= len(records):
            return ""
        return f" (line {batch.line_of(row - 1)} of the object)"

    def _invoke_streamed(self, instance: Instance, uri: str, body) -> bytes:
        """MaxPayloadInMB 0: the whole object in one request, with HTTP chunked encoding."""
        s = self.settings
        headers = {k: v for k, v in (("Content-Type", s.content_type), ("Accept", s.accept)) if v}

        def chunks() -> Iterator[bytes]:
            while True:
                chunk = body.read(MIB)
                if not chunk:
                    return
                yield chunk

        try:
            response = instance.pool.urlopen("POST", "/invocations", body=chunks(), headers=headers, chunked=True)
        except Exception as exc:  # noqa: BLE001 - urllib3's errors and S3's
            raise ObjectFailed(f"AlgorithmError: {uri}: the model did not answer ({exc})") from None
        if response.status >= 400:
            kind = "ClientError" if response.status < 500 else "AlgorithmError"
            raise ObjectFailed(
                f"{kind}: {uri}: the whole object (chunked): the model answered {response.status}: "
                f"{_message(response.data)}"
            )
        answer = response.data
        if self.settings.assemble == "Line" and answer and not answer.endswith(b"\n"):
            answer += b"\n"
        return answer

    # ------------------------------------------------------------------ writing
    def _output(self, uri: str, batch: Batch, answer: bytes) -> bytes:
        """What the batch adds to the `.out`: the answer (newline-ended with AssembleWith Line), or each answer line
        joined to its input record and filtered."""
        s = self.settings
        if s.passthrough:
            if s.assemble == "Line" and answer and not answer.endswith(b"\n"):
                return answer + b"\n"
            return answer
        records = batch.split()
        answers = answer.split(b"\n")
        if answers and answers[-1] == b"":
            answers.pop()
        if b"\r" in answer:
            answers = [a[:-1] if a.endswith(b"\r") else a for a in answers]
        if len(answers) != len(records):
            raise ObjectFailed(
                f"ClientError: {uri}: {batch.lines()}: the model answered {len(answers)} line(s) for "
                f"{len(records)} record(s), so they cannot be joined line by line (Accept {s.accept})"
            )
        if _quoted(batch.raw) or _quoted(answer):
            return self._output_csv(uri, batch, records, answers)
        lines = self._quick_join(batch, records, answers, answer) if s.join else None
        if lines is None:
            joined = list(map(b",".join, zip(records, answers, strict=True))) if s.join else answers
            lines = self._project(uri, batch, s.output_filter, joined)
        lines = list(lines)
        lines.append(b"")
        return b"\n".join(lines)

    def _quick_join(self, batch: Batch, records: list[bytes], answers: list[bytes], answer: bytes) -> list | None:
        """JoinSource Input with an OutputFilter of input columns among the ones the InputFilter split off (or the
        first) and the answer's last column (`$[0,-1]`), without building the joined records; None otherwise."""
        path = self.settings.output_filter
        if path.selectors is None:
            return None
        single = b"," not in answer  # each answer line is one column: -1 is the whole line
        columns = []
        for sel in path.selectors:
            if sel.is_range or sel.start is None:
                return None
            if sel.start == -1 and single:
                columns.append(answers)
            elif sel.start >= 0 and batch.heads is not None and sel.start < batch.head_width:
                i = sel.start
                columns.append([p[i] for p in batch.heads])
            elif sel.start == 0:  # every record has a first column
                columns.append([r.partition(b",")[0] for r in records])
            else:
                return None
        if len(columns) == 1:
            return columns[0]
        return list(map(b",".join, zip(*columns, strict=True)))

    def _output_csv(self, uri: str, batch: Batch, records: list[bytes], answers: list[bytes]) -> bytes:
        """The careful way, for quoted CSV: field by field, written back with RFC 4180 quoting."""
        s = self.settings
        out = []
        for i, (record, answer) in enumerate(zip(records, answers, strict=True)):
            try:
                fields = (_csv_fields(record) if s.join else []) + _csv_fields(answer)
                out.append(_csv_line(s.output_filter.select(fields)))
            except FilterError as exc:
                raise ObjectFailed(f"ClientError: {uri}: line {batch.line_of(i)}: {exc}") from None
        return b"\n".join(out) + b"\n"

    def _failure_reason(self) -> str:
        """The first failed object's reason, and how many others failed (each is in the data log)."""
        failures = sorted(self.failures)
        reason = failures[0][1]
        if len(failures) > 1:
            others = ", ".join(f"s3://{self.settings.bucket}/{k}" for k, _ in failures[1:4])
            more = f" and {len(failures) - 4} more" if len(failures) > 4 else ""
            reason += f" (and {len(failures) - 1} other object(s) failed: {others}{more})"
        stream = self.instances[0].shippers[1].stream if self.instances else ""
        return f"{reason.rstrip('.')}. See the job's data log ({TRANSFORM_LOG_GROUP}, {stream})."


class _TooLong(Exception):
    """A line longer than a payload."""


def _pieces(body, limit: int) -> Iterator[bytes]:
    """The stream cut at newlines into pieces of whole lines, at most `limit` bytes each (the last one may lack its
    newline). _TooLong at a line longer than `limit`."""
    carry = b""
    while True:
        chunk = body.read(limit)
        if not chunk:
            break
        data = carry + chunk if carry else chunk
        start = 0
        while len(data) - start > limit:
            cut = data.rfind(b"\n", start, start + limit) + 1
            if cut == 0:
                raise _TooLong()
            yield data[start:cut]
            start = cut
        carry = data[start:]
    if carry:
        yield carry


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _message(body: bytes) -> str:
    """A container's error answer: its JSON "error" (or "message"), else its text; at most MESSAGE_MAX characters."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        text = str(doc.get("error") or doc.get("message") or text)
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 3] + "..."
