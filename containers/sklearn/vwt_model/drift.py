"""Data drift: how far the players an endpoint sees have moved from the players its model was trained on.

Training writes a baseline beside the model (`drift-baseline.json`): per feature, its distribution over the
training rows (numbers: ten bins at the training deciles; categories and booleans: the share of each value),
and the distribution of the served score over the hold-out. The drift check (`python -m vwt_model drift`, a
SageMaker Processing job) reads the endpoint's data capture, puts the captured requests and answers in the
same bins, and measures each distribution's population stability index:

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

(shares floored at 0.0001 so an empty bin counts, as is usual). Below 0.1 a population is commonly read as
stable, 0.1-0.25 as shifted, above 0.25 as changed; the catalogue sets the threshold that alarms.

The check's paths follow SageMaker Processing's (under $VWT_ML_ROOT, default /opt/ml):
  processing/model/    the serving model's model.tar.gz (or its files)
  processing/capture/  the endpoint's capture files (JSON Lines, as SageMaker writes them), any depth
  processing/output/   drift.json is written here
A check that cannot run exits 2 and says why in output/message (the job's ExitMessage).
Arguments: --since-hours H (only records captured in the last H hours; default 24), --now ISO (for tests).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .joblog import log
from .paths import MlPaths

BASELINE_FILE = "drift-baseline.json"
RESULT_FILE = "drift.json"
BINS = 10
FLOOR = 1e-4
FORMAT = 1


class DriftError(Exception):
    """The check cannot run: no model, no baseline, unreadable capture. The job fails with this message."""


# --------------------------------------------------------------------------- distributions


def _numeric_bins(values) -> dict[str, Any]:
    import numpy as np

    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"kind": "numeric", "edges": [], "expected": [1.0]}
    edges = sorted({float(e) for e in np.quantile(finite, [i / BINS for i in range(1, BINS)])})
    return {"kind": "numeric", "edges": edges, "expected": _shares(_numeric_codes(finite, edges), len(edges) + 1)}


def _numeric_codes(values, edges: list[float]):
    import numpy as np

    return np.searchsorted(np.asarray(edges, dtype=float), values, side="right")


def _shares(codes, bins: int) -> list[float]:
    import numpy as np

    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=bins)[:bins]
    total = max(int(counts.sum()), 1)
    return [round(float(c) / total, 6) for c in counts]


def psi(expected: list[float], actual: list[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, FLOOR), max(a, FLOOR)
        total += (a - e) * math.log(a / e)
    return round(total, 6)


def _feature_columns(schema, X) -> list[tuple[Any, Any]]:
    """(feature, one value per row): numbers as they are; a category as the index of its one-hot column (its
    number of values when none is set: an unseen value); a boolean as 0/1."""
    import numpy as np

    out, start = [], 0
    for feature in schema.features:
        block = X[:, start : start + feature.width]
        start += feature.width
        if feature.type == "category":
            codes = np.where(block.sum(axis=1) > 0, block.argmax(axis=1), feature.width)
            out.append((feature, codes))
        else:
            out.append((feature, block[:, 0].astype(float)))
    return out


def baseline(schema, X, scores) -> dict[str, Any]:
    """The baseline training writes: per feature and for the score, the bins and their expected shares."""
    import numpy as np

    features = {}
    for feature, values in _feature_columns(schema, X):
        if feature.type == "category":
            features[feature.name] = {"kind": "categorical", "expected": _shares(values, feature.width + 1)}
        elif feature.type == "bool":
            features[feature.name] = {"kind": "categorical", "expected": _shares(values.astype(np.int64), 2)}
        else:
            features[feature.name] = _numeric_bins(values)
    return {
        "format": FORMAT,
        "rows": int(X.shape[0]),
        "features": features,
        "score": _numeric_bins(np.asarray(scores, dtype=float)),
    }


def _actual(spec: dict[str, Any], values) -> list[float]:
    import numpy as np

    if spec["kind"] == "categorical":
        return _shares(np.asarray(values, dtype=np.int64), len(spec["expected"]))
    return _shares(_numeric_codes(np.asarray(values, dtype=float), spec["edges"]), len(spec["expected"]))


def compare(reference: dict[str, Any], schema, X, scores) -> dict[str, Any]:
    """PSI of every feature and of the score, the largest, and which feature it is."""
    features = {}
    for feature, values in _feature_columns(schema, X):
        spec = reference["features"].get(feature.name)
        if spec is not None:
            features[feature.name] = psi(spec["expected"], _actual(spec, values))
    worst = max(features, key=lambda k: features[k]) if features else None
    score_psi = psi(reference["score"]["expected"], _actual(reference["score"], scores)) if len(scores) else 0.0
    return {
        "records": int(X.shape[0]),
        "features": features,
        "max_feature_psi": features[worst] if worst else 0.0,
        "max_feature": worst,
        "score_psi": score_psi,
    }


# --------------------------------------------------------------------------- the capture


def _decoded(part: dict[str, Any]) -> bytes:
    data = part.get("data") or ""
    if (part.get("encoding") or "").upper() == "BASE64":
        return base64.b64decode(data)
    return data.encode() if isinstance(data, str) else json.dumps(data).encode()


def captured(folder: Path, since: dt.datetime) -> Iterator[tuple[bytes, bytes]]:
    """(request body, answer body) of every capture record at or after `since`."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                data = record["captureData"]
                when = record.get("eventMetadata", {}).get("inferenceTime")
            except (ValueError, KeyError, TypeError):
                raise DriftError(f"{path.name} line {number}: not a SageMaker data capture record") from None
            if when:
                stamp = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
                if stamp < since:
                    continue
            if "endpointInput" in data and "endpointOutput" in data:
                yield _decoded(data["endpointInput"]), _decoded(data["endpointOutput"])


def _rows_and_scores(schema, pairs: Iterator[tuple[bytes, bytes]]):
    """The captured requests as encoded rows, and the scores the endpoint answered them with."""
    import numpy as np

    from .predictor import _json_records

    names = [f.name for f in schema.features]
    rows: list[list[float]] = []
    scores: list[float] = []
    for request, answer in pairs:
        try:
            records = _json_records(request, 1_000_000)
            predictions = json.loads(answer).get("predictions") or []
        except Exception:  # noqa: BLE001 - a request the endpoint refused (4xx): not what the model saw
            continue
        if len(predictions) != len(records):
            continue
        for record, score in zip(records, predictions, strict=True):
            values = [record.get(n) for n in names] if isinstance(record, dict) else list(record)
            try:
                rows.append(schema.encode_row(values))
            except (ValueError, TypeError):
                continue
            scores.append(float(score))
    width = schema.width
    return np.asarray(rows, dtype=float).reshape(-1, width), np.asarray(scores, dtype=float)


# --------------------------------------------------------------------------- the job


def _model_files(folder: Path, work: Path) -> Path:
    """The folder holding model.json and the baseline: `folder` itself, or where its model.tar.gz extracts."""
    if (folder / "model.json").is_file():
        return folder
    tarballs = sorted(folder.rglob("*.tar.gz"))
    if not tarballs:
        raise DriftError(f"no model under {folder}: give the serving model's model.tar.gz as the model input")
    work.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(work, filter="data")
    return work


def run(paths: MlPaths, since_hours: float = 24.0, now: dt.datetime | None = None) -> dict[str, Any]:
    from .schema import schema_from

    processing = paths.root / "processing"
    model_dir = _model_files(processing / "model", processing / "work" / "model")
    meta = json.loads((model_dir / "model.json").read_text())
    reference_path = model_dir / BASELINE_FILE
    now = now or dt.datetime.now(dt.timezone.utc)
    out = processing / "output"
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "model_version": meta.get("version"),
        "since_hours": since_hours,
        "checked_at": now.isoformat(),
    }
    if not reference_path.is_file():
        result.update(
            records=0,
            status="no_baseline",
            message=f"model {meta.get('version')} has no drift baseline "
            "(the baseline model, or one trained before drift monitoring): retrain it to check drift",
        )
    else:
        schema = schema_from(meta["schema"]["features"])
        capture = processing / "capture"
        X, scores = _rows_and_scores(schema, captured(capture, now - dt.timedelta(hours=since_hours)))
        if X.shape[0] == 0:
            result.update(
                records=0,
                status="no_data",
                message=f"no captured requests in the last {since_hours:g} "
                "hours: nothing to compare, no drift metric published",
            )
        else:
            result.update(compare(json.loads(reference_path.read_text()), schema, X, scores), status="checked")
    (out / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    log(f"drift: {json.dumps(result, sort_keys=True)}")
    return result


def main(since_hours: float = 24.0, now: str | None = None) -> int:
    paths = MlPaths.from_env()
    try:
        run(paths, since_hours, dt.datetime.fromisoformat(now) if now else None)
    except DriftError as exc:
        log(f"drift check failed: {exc}")
        # a processing container's exit message: DescribeProcessingJob's ExitMessage (its first 1 KB)
        message = paths.root / "output" / "message"
        message.parent.mkdir(parents=True, exist_ok=True)
        message.write_text(str(exc)[:1024] + "\n")
        return 2
    return 0
