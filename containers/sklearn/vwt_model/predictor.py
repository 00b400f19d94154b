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
from typing import Any

import numpy as np

from .schema import Schema, SchemaError, schema_from


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
                self.session = ort.InferenceSession(str(model_dir / "model.onnx"), options,
                                                    providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ModelError(f"cannot load {model_dir / 'model.onnx'}: {exc}") from None
            self.input_name = self.session.get_inputs()[0].name
            self.output = self.meta.get("output")
            self.offset = float(self.meta.get("score_offset") or 0.0)
        else:
            raise ModelError(f"{meta_path}: unknown model format {self.format!r}")

    # ---- prediction
    def predict(self, X: np.ndarray) -> list[float]:
        """One score per row: the positive class probability, the risk score (0..1) or the value."""
        if self.session is None:
            return [self.prior] * X.shape[0]
        out = self.session.run([self.output], {self.input_name: X})[0]
        if self.task == "classification":
            scores = out[:, 1]
        elif self.task == "unsupervised":
            # decision_function = score_samples - offset_, and -score_samples is the isolation forest's
            # anomaly score s(x) in (0, 1]: higher means more anomalous (riskier)
            scores = -(out.ravel().astype(np.float64) + self.offset)
        else:
            scores = out.ravel()
        return np.round(scores.astype(np.float64), 6).tolist()

    # ---- request parsing
    def parse(self, body: bytes, content_type: str, max_rows: int) -> np.ndarray:
        if content_type == "text/csv":
            return self.parse_csv(body, max_rows)
        if content_type == "application/json":
            return self.parse_json(body, max_rows)
        raise BadInput(f"unsupported content type {content_type or '(none)'!r}: send text/csv or application/json", 415)

    def parse_csv(self, body: bytes, max_rows: int) -> np.ndarray:
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
                raise BadInput(f"row {i + 1} has {len(row)} columns; the model takes {n}, in this order: "
                               f"{', '.join(self.names)} (no header)")
        if [c.strip() for c in rows[0]] == self.names:
            raise BadInput("the first row is a header: send the values only, columns in training order")
        if self.schema.all_numeric:
            try:
                X = np.array(rows, dtype=np.float32)
                if np.isfinite(X).all():
                    return X
            except ValueError:
                pass
        return self._encode_rows(rows)

    def parse_json(self, body: bytes, max_rows: int) -> np.ndarray:
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
            raise BadInput("send a JSON record (an object of feature values), a list of records, "
                           'or {"records": [...]}')
        if not doc:
            raise BadInput("no records: the list is empty")
        if len(doc) > max_rows:
            raise BadInput(f"{len(doc)} records is more than the {max_rows} one request may hold; split the batch", 413)
        rows: list[list[Any]] = []
        n = len(self.names)
        names, index = self.names, self._name_index
        for i, record in enumerate(doc):
            if isinstance(record, dict):
                unknown = [k for k in record if k not in index]
                if unknown:
                    raise BadInput(f"record {i + 1}: unknown field(s) {', '.join(map(repr, unknown[:5]))}; "
                                   f"the model takes {', '.join(names)}")
                rows.append([record.get(name) for name in names])
            elif isinstance(record, list):
                if len(record) != n:
                    raise BadInput(f"record {i + 1} has {len(record)} values; the model takes {n}: {', '.join(names)}")
                rows.append(record)
            else:
                raise BadInput(f"record {i + 1} must be an object of feature values (or a list in training order), "
                               f"got {type(record).__name__}")
        if self.schema.all_numeric and {v.__class__ for row in rows for v in row} <= {int, float}:
            try:
                X = np.array(rows, dtype=np.float32)
                if np.isfinite(X).all():
                    return X
            except (ValueError, OverflowError):
                pass
        return self._encode_rows(rows, what="record")

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
