"""Loading a model folder and predicting: ONNX models run by onnxruntime, or the baseline constant.

Needs numpy and onnxruntime only (no scikit-learn at serving time). Requests are
parsed into the encoded float32 matrix the model was trained on (schema.py's
encoding); every problem raises BadInput naming the row and the column.
"""

from __future__ import annotations

import csv
import json
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .schema import Schema, SchemaError, schema_from

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

ARROW_MIN_ROWS = 32  # below this the plain Python split is faster than pyarrow's reader
PARALLEL_MIN_BYTES = 64 * 1024  # CSV bodies from this size are parsed and predicted in parallel chunks
SCORE_DECIMALS = 6  # served scores are rounded to this (training scores its hold-out the same way)


class BadInput(ValueError):
    """A request the model cannot take; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class ModelError(RuntimeError):
    """The model folder is missing or invalid."""


def _unpack_if_needed(model_dir: Path) -> None:
    """SageMaker unpacks model.tar.gz; a bare folder holding only model.tar.gz (local use) is unpacked here."""
    if (model_dir / "model.json").exists() or not (model_dir / "model.tar.gz").exists():
        return
    with tarfile.open(model_dir / "model.tar.gz") as tar:
        tar.extractall(model_dir, filter="data")


def anomaly_scores(decision, offset: float, calibration: dict | None = None) -> np.ndarray:
    """The served score of an unsupervised model from its ONNX output, the estimator's decision_function.

    decision_function = score_samples - offset_, and -score_samples is the isolation forest's anomaly score
    s(x) in (0, 1]: higher means more anomalous (riskier). With a `calibration` (model.json's, fitted against the
    anchor by training) the served score is its Platt scaling, the probability of the anchor: calibrated(s).
    Training scores its hold-out with this too."""
    return calibrated(-(np.asarray(decision).ravel().astype(np.float64) + offset), calibration)


def calibrated(raw, calibration: dict | None) -> np.ndarray:
    """Platt scaling of raw anomaly scores, sigmoid(a * raw + b) (strictly increasing: a > 0), or the raw scores
    themselves without a calibration. sigmoid(z) = exp(-log(1 + exp(-z))), which never overflows."""
    raw = np.asarray(raw, dtype=np.float64)
    if not calibration:
        return raw
    return np.exp(-np.logaddexp(0.0, -(calibration["a"] * raw + calibration["b"])))


def read_calibration(doc: object) -> dict | None:
    """model.json's `calibration` ({"method": "platt", "a": > 0, "b"}) as {"a", "b"}, None when absent; ModelError
    for anything else (a served score must never be a silently different function)."""
    if doc is None:
        return None
    bad = ModelError(f'invalid calibration {doc!r}: expected {{"method": "platt", "a": > 0, "b": finite}}')
    if not isinstance(doc, dict) or doc.get("method") != "platt":
        raise bad
    try:
        a, b = float(doc["a"]), float(doc["b"])
    except (KeyError, TypeError, ValueError):
        raise bad from None
    if not (np.isfinite(a) and np.isfinite(b) and a > 0):
        raise bad
    return {"a": a, "b": b}


class Predictor:
    def __init__(self, model_dir: str | os.PathLike, threads: int = 1):
        model_dir = Path(model_dir)
        _unpack_if_needed(model_dir)
        meta_path = model_dir / "model.json"
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise ModelError(f"{meta_path} does not exist: no model to serve") from None
        except (OSError, ValueError) as exc:
            raise ModelError(f"{meta_path} is not readable JSON: {exc}") from None
        try:
            self.schema: Schema = schema_from(self.meta["schema"]["features"])
        except (KeyError, TypeError, SchemaError) as exc:
            raise ModelError(f"{meta_path}: invalid schema: {exc}") from None
        self.format = self.meta.get("format")
        self.task = self.meta.get("task")
        self.version = str(self.meta.get("version") or "unknown")
        self.names = list(self.schema.names)
        self._name_index = {n: i for i, n in enumerate(self.names)}
        self._arrow: tuple[Any, Any, Any] | None = None  # (pyarrow, pyarrow.csv, .data) where pyarrow is installed
        self._setup_arrow()
        self.workers = max(
            1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
        )
        self._pool: ThreadPoolExecutor | None = None  # made for the first large batch
        self.calibration: dict | None = None  # an unsupervised ONNX model's Platt scaling (model.json)
        if self.format == "baseline":
            self.prior = float(self.meta.get("prior", 0.0))
            self.session = None
        elif self.format == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            try:
                self.session = ort.InferenceSession(
                    str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ModelError(f"cannot load {model_dir / 'model.onnx'}: {exc}") from None
            self.input_name = self.session.get_inputs()[0].name
            self.output = self.meta.get("output")
            self.offset = float(self.meta.get("score_offset") or 0.0)
            try:
                self.calibration = read_calibration(self.meta.get("calibration"))
            except ModelError as exc:
                raise ModelError(f"{meta_path}: {exc}") from None
        else:
            raise ModelError(f"{meta_path}: unknown model format {self.format!r}")

    @property
    def anomaly_cut(self) -> float | None:
        """The served score above which an unsupervised ONNX model's estimator flags an anomaly (its offset, in the
        served score's units: calibrated where the model is); None for the baseline, which flags no one."""
        if self.session is None:
            return None
        return float(calibrated([-self.offset], self.calibration)[0])

    # ---- prediction
    def predict(self, X: np.ndarray) -> list[float]:
        """One score per row: the positive class probability, the risk score (0..1) or the value."""
        if self.session is None:
            return [self.prior] * X.shape[0]
        out = self.session.run([self.output], {self.input_name: X})[0]
        if self.task == "classification":
            scores = out[:, 1]
        elif self.task == "unsupervised":
            scores = anomaly_scores(out, self.offset, self.calibration)
        else:
            scores = out.ravel()
        return np.round(scores.astype(np.float64), SCORE_DECIMALS).tolist()

    def handle(self, body: bytes, content_type: str, max_rows: int) -> list[float]:
        """Parse a request body and predict. Large CSV batches are cut at line boundaries into one chunk per
        core, and the chunks are parsed and predicted in parallel (pyarrow and onnxruntime release the GIL)."""
        if (
            content_type == "text/csv"
            and self.session is not None
            and self._arrow is not None
            and self.workers > 1
            and len(body) >= PARALLEL_MIN_BYTES
            and body.count(b"\n") < max_rows
        ):
            parts = self._parallel(body)
            if parts is not None:
                return [score for part in parts for score in part]
        return self.predict(self.parse(body, content_type, max_rows))

    def _parallel(self, body: bytes) -> list[list[float]] | None:
        chunks, start, size = [], 0, len(body) // self.workers
        for _ in range(self.workers - 1):
            cut = body.find(b"\n", start + size)
            if cut < 0:
                break
            chunks.append(body[start : cut + 1])
            start = cut + 1
        chunks.append(body[start:])
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="vwt-batch")
        futures = [self._pool.submit(self._chunk, chunk) for chunk in chunks[1:]]
        parts = [self._chunk(chunks[0]), *(f.result() for f in futures)]  # the first chunk on this thread
        done = [part for part in parts if part is not None]
        # a chunk that is off (None): the sequential path finds it and names the row
        return done if len(done) == len(parts) else None

    def _chunk(self, chunk: bytes) -> list[float] | None:
        X = self._parse_csv_arrow(chunk, 1 << 62)
        return None if X is None or not len(X) else self.predict(X)

    # ---- request parsing
    def parse(self, body: bytes, content_type: str, max_rows: int) -> np.ndarray:
        if content_type == "text/csv":
            return self.parse_csv(body, max_rows)
        if content_type == "application/json":
            return self.parse_json(body, max_rows)
        raise BadInput(f"unsupported content type {content_type or '(none)'!r}: send text/csv or application/json", 415)

    def parse_csv(self, body: bytes, max_rows: int) -> np.ndarray:
        if self._arrow is not None and body.count(b"\n") >= ARROW_MIN_ROWS - 1:
            X = self._parse_csv_arrow(body, max_rows)
            if X is not None:
                return X
        rows = self._csv_rows(body, max_rows)
        if self.schema.all_numeric:
            X = _finite_matrix(rows)
            if X is not None:
                return X
        return self._encode_rows(rows)

    def _csv_rows(self, body: bytes, max_rows: int) -> list[list[str]]:
        """The body's CSV rows (no header), each as wide as the model's features, or BadInput saying what is off."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"the body is not UTF-8 text: {exc}") from None
        if "\x00" in text:
            raise BadInput("the body holds NUL bytes: send CSV text")
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise BadInput(f"empty body: send one CSV line per record, no header, columns {', '.join(self.names)}")
        if len(lines) > max_rows:
            raise BadInput(f"{len(lines)} rows is more than the {max_rows} one request may hold; split the batch", 413)
        if '"' in text:
            try:
                rows = list(csv.reader(lines, strict=True))
            except csv.Error as exc:
                raise BadInput(f"malformed CSV: {exc}") from None
        else:
            rows = [line.split(",") for line in lines]
        n = len(self.names)
        for i, row in enumerate(rows):
            if len(row) != n:
                raise BadInput(
                    f"row {i + 1} has {len(row)} columns; the model takes {n}, in this order: "
                    f"{', '.join(self.names)} (no header)"
                )
        if [c.strip() for c in rows[0]] == self.names:
            raise BadInput("the first row is a header: send the values only, columns in training order")
        return rows

    def _parse_csv_arrow(self, body: bytes, max_rows: int) -> np.ndarray | None:
        """Batches: pyarrow's multi-threaded CSV reader, then column-wise encoding (the training code's for
        categories and booleans). None when anything is off: the row-by-row path then names the problem."""
        if self._arrow is None:
            return None
        pa, pacsv, data = self._arrow
        try:
            table = pacsv.read_csv(
                pa.py_buffer(body), read_options=self._arrow_read, convert_options=self._arrow_convert
            )
        except (pa.ArrowException, ValueError):
            return None
        if table.num_rows > max_rows:
            raise BadInput(
                f"{table.num_rows} rows is more than the {max_rows} one request may hold; split the batch", 413
            )
        if self.schema.all_numeric:
            X = np.empty((table.num_rows, self.schema.width), dtype=np.float32)
            for i, column in enumerate(table.columns):
                if column.null_count:
                    return None
                X[:, i] = column.to_numpy()
        else:
            try:
                X = data.encode(table, self.schema, "request", check_range=False)
            except data.DataError:
                return None
        return X if np.isfinite(X).all() else None

    def _setup_arrow(self) -> None:
        """pyarrow parses large CSV batches when it is installed (it is in the image); else the pure path does."""
        try:
            import pyarrow as pa
            import pyarrow.csv as pacsv

            from . import data
        except ImportError:
            self._arrow = None
            return
        self._arrow = (pa, pacsv, data)
        self._arrow_read = pacsv.ReadOptions(column_names=list(self.names))
        types = {f.name: (pa.float64() if f.numeric else pa.string()) for f in self.schema.features}
        self._arrow_convert = pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        )

    def parse_json(self, body: bytes, max_rows: int) -> np.ndarray:
        rows = self._json_rows(_json_records(body, max_rows))
        if self.schema.all_numeric and {v.__class__ for row in rows for v in row} <= {int, float}:
            X = _finite_matrix(rows)
            if X is not None:
                return X
        return self._encode_rows(rows, what="record")

    def _json_rows(self, records: list) -> list[list[Any]]:
        """Each record (an object of feature values, or a list in training order) as a row in training order."""
        rows: list[list[Any]] = []
        n = len(self.names)
        names, index = self.names, self._name_index
        for i, record in enumerate(records):
            if isinstance(record, dict):
                unknown = [k for k in record if k not in index]
                if unknown:
                    raise BadInput(
                        f"record {i + 1}: unknown field(s) {', '.join(map(repr, unknown[:5]))}; "
                        f"the model takes {', '.join(names)}"
                    )
                rows.append([record.get(name) for name in names])
            elif isinstance(record, list):
                if len(record) != n:
                    raise BadInput(f"record {i + 1} has {len(record)} values; the model takes {n}: {', '.join(names)}")
                rows.append(record)
            else:
                raise BadInput(
                    f"record {i + 1} must be an object of feature values (or a list in training order), "
                    f"got {type(record).__name__}"
                )
        return rows

    def _encode_rows(self, rows: list[list[Any]], what: str = "row") -> np.ndarray:
        X = np.empty((len(rows), self.schema.width), dtype=np.float32)
        for i, row in enumerate(rows):
            try:
                encoded = self.schema.encode_row([v.strip() if isinstance(v, str) else v for v in row])
            except ValueError as exc:
                raise BadInput(f"{what} {i + 1}: {exc}") from None
            try:
                X[i] = encoded
            except OverflowError:
                raise BadInput(f"{what} {i + 1}: a value is too large") from None
            if not np.isfinite(X[i]).all():
                bad = int(np.flatnonzero(~np.isfinite(X[i]))[0])
                raise BadInput(f"{what} {i + 1}: {self.schema.encoded_names()[bad]} is too large for a 32-bit float")
        return X


def _json_records(body: bytes, max_rows: int) -> list:
    """The records of a JSON body: one record, a list of them, or {"records"|"instances": [...]}."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if isinstance(doc, dict):
        if "records" in doc or "instances" in doc:
            key = "records" if "records" in doc else "instances"
            doc = doc[key]
            if not isinstance(doc, list):
                raise BadInput(f"{key!r} must be a list of records")
        else:
            doc = [doc]
    if not isinstance(doc, list):
        raise BadInput('send a JSON record (an object of feature values), a list of records, or {"records": [...]}')
    if not doc:
        raise BadInput("no records: the list is empty")
    if len(doc) > max_rows:
        raise BadInput(f"{len(doc)} records is more than the {max_rows} one request may hold; split the batch", 413)
    return doc


def _finite_matrix(rows: list[list[Any]]) -> np.ndarray | None:
    """The rows as float32 when every value converts and stays finite; None sends them to the slow path."""
    try:
        X = np.array(rows, dtype=np.float32)
    except (ValueError, OverflowError):
        return None
    return X if np.isfinite(X).all() else None
