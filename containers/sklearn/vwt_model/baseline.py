"""The baseline artifact: what a fresh environment serves before its first training run.

Pure standard library: the deployment tool builds it without scikit-learn.
`build_artifact(features, task, out_path)` writes a deterministic `model.tar.gz`
(same inputs -> same bytes) holding one `model.json`:

    {"format": "baseline", "version": "baseline", "task": ..., "prior": ...,
     "schema": {"features": [...]}}

The image's server serves it like a trained model: requests are checked against
the features, and every row gets the constant `prior`. The default prior is 0.0
(no risk, so no intervention, until a real model is trained; for regression,
zero).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .schema import schema_from
from .spec import TASKS

FORMAT = "baseline"
VERSION = "baseline"


def baseline_document(features: Iterable[Any], task: str, prior: float = 0.0) -> dict:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not math.isfinite(prior):
        raise ValueError(f"prior must be a finite number, got {prior!r}")
    if task != "regression" and not 0.0 <= prior <= 1.0:
        raise ValueError(f"prior of a {task} model is a risk score in [0, 1], got {prior!r}")
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "prior": float(prior),
        "schema": schema_from(features).to_dict(),
    }


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def build_artifact(features: Iterable[Any], task: str, out_path: str | os.PathLike, prior: float = 0.0) -> Path:
    """Write the baseline `model.tar.gz` to out_path (a file path, or a folder to hold model.tar.gz)."""
    doc = baseline_document(features, task, prior)
    body = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    data = _tar_bytes({"model.json": body})
    out = Path(out_path)
    if out.is_dir():
        out = out / "model.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.read_bytes() == data:
        return out
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out
