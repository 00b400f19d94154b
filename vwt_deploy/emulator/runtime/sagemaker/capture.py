"""Data capture, as SageMaker writes it: sampled requests and answers of an endpoint, as JSON Lines in S3.

An endpoint configuration's DataCaptureConfig (SageMaker API reference, DataCaptureConfig) names the share of
invocations to keep (`InitialSamplingPercentage`), what to keep (`CaptureOptions`: Input, Output), where
(`DestinationS3Uri`) and with which key (`KmsKeyId`). SageMaker writes
`<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl` (Developer Guide, "Capture data from real-time
endpoint"), one record a line:

    {"captureData": {"endpointInput": {"observedContentType": ..., "mode": "INPUT", "data": ..., "encoding": ...},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId": ..., "inferenceTime": "2026-11-28T21:00:00Z"}, "eventVersion": "0"}

`encoding` is JSON or CSV for the content types `CaptureContentTypeHeader` names, BASE64 otherwise (the data then
base64-encoded). Like SageMaker, records are buffered and written a file at a time: `flush_seconds` after the
first record of a file (or at 1,000 records), and when the endpoint's process stops.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import threading
import uuid
from typing import TYPE_CHECKING, Any

from vwt_deploy.emulator.runtime.sagemaker.common import log, split_s3

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime

FLUSH_ENV = "VWT_CAPTURE_FLUSH_SECONDS"
MAX_RECORDS_PER_FILE = 1000


def _encoded(content_type: str, data: bytes, header: dict[str, Any]) -> tuple[str, str]:
    """(data, encoding) as SageMaker records them for a content type."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in (t.lower() for t in header.get("JsonContentTypes") or ()):
        return data.decode("utf-8", errors="replace"), "JSON"
    if kind in (t.lower() for t in header.get("CsvContentTypes") or ()):
        return data.decode("utf-8", errors="replace"), "CSV"
    return base64.b64encode(data).decode(), "BASE64"


class CaptureWriter:
    """The data capture of one endpoint configuration's serve process."""

    def __init__(
        self, runtime: Runtime, region: str, endpoint: str, variant: str, config: dict[str, Any], credentials=None
    ):
        self.runtime, self.region, self.endpoint, self.variant = runtime, region, endpoint, variant
        self.credentials = credentials  # SageMaker writes the capture with the model's execution role
        self.percentage = float(config.get("InitialSamplingPercentage") or 0)
        self.modes = {o.get("CaptureMode") for o in config.get("CaptureOptions") or ()}
        self.header = config.get("CaptureContentTypeHeader") or {}
        self.bucket, prefix = split_s3(str(config["DestinationS3Uri"]).rstrip("/") + "/")
        self.prefix = f"{prefix}{endpoint}/{variant}/"
        self.kms_key = config.get("KmsKeyId")
        self.flush_seconds = float(os.environ.get(FLUSH_ENV) or 5.0)
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._timer: threading.Timer | None = None
        self._random = random.Random()

    @classmethod
    def of(
        cls, runtime: Runtime, region: str, endpoint: str, variant: str, config: Any, credentials=None
    ) -> CaptureWriter | None:
        """The writer of an endpoint configuration, or None when it captures nothing."""
        capture = getattr(config, "data_capture_config", None) or {}
        if not capture or capture.get("EnableCapture") is False or not capture.get("DestinationS3Uri"):
            return None
        return cls(runtime, region, endpoint, variant, capture, credentials)

    def record(self, request: bytes, request_type: str, answer: bytes, answer_type: str) -> None:
        """Keep one invocation, if it falls in the sample."""
        if self._random.uniform(0, 100) >= self.percentage:
            return
        data: dict[str, Any] = {}
        for mode, key, body, content_type in (
            ("Input", "endpointInput", request, request_type),
            ("Output", "endpointOutput", answer, answer_type),
        ):
            if mode in self.modes:
                text, encoding = _encoded(content_type, body, self.header)
                data[key] = {
                    "observedContentType": content_type,
                    "mode": mode.upper(),
                    "data": text,
                    "encoding": encoding,
                }
        now = dt.datetime.now(dt.timezone.utc)
        line = json.dumps(
            {
                "captureData": data,
                "eventVersion": "0",
                "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
            }
        )
        with self._lock:
            self._lines.append(line)
            full = len(self._lines) >= MAX_RECORDS_PER_FILE
            if not full and self._timer is None:
                self._timer = threading.Timer(self.flush_seconds, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        """Write the buffered records as one file (nothing when none are buffered)."""
        with self._lock:
            lines, self._lines = self._lines, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if not lines:
            return
        now = dt.datetime.now(dt.timezone.utc)
        key = f"{self.prefix}{now:%Y/%m/%d/%H}/{now:%M-%S-%f}-{uuid.uuid4().hex[:8]}.jsonl"
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key} if self.kms_key else {}
        try:
            self.runtime.client("s3", self.region, self.credentials).put_object(
                Bucket=self.bucket, Key=key, Body=("\n".join(lines) + "\n").encode(), **extra
            )
        except Exception as exc:  # SageMaker drops capture it cannot write; the endpoint keeps serving
            log.warning(
                "data capture of %s could not be written to s3://%s/%s: %s", self.endpoint, self.bucket, key, exc
            )
