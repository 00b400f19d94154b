"""The Lambda package: one deterministic zip of `lambdas/` plus the bundled `catalogue.json`.

Every handler (`predict.handler.handler`, `pipeline.size.handler`,
`pipeline.label.handler`) ships in the same zip. The zip is byte-for-byte the
same for the same code and configuration (fixed timestamps, sorted entries,
fixed permissions), so Terraform's `source_code_hash` only changes when
something real changed.

`catalogue.json` at the zip root is the environment's model catalogue in the
plain form the Lambda reads with the standard library: features, task, label,
the intervention table, the record limit and this environment's endpoint
names. `catalogue_document(env)` makes it; the prediction handler calls it too
when it runs from the source tree (tests, the local runtime) with no bundled
file.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from .config import Environment
from .errors import VwtError
from .project import Project

CATALOGUE_FORMAT = 1
CATALOGUE_NAME = "catalogue.json"
#: the key of every prediction record that names the player; no feature may take it
USER_ID_FIELD = "user_id"

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_EXCLUDED_DIRS = {"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".hypothesis"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".swp", "~", ".md")  # byte code, editor files, docs


def consumer_of(task: str) -> str:
    """Where a model's predictions go: risk models (a score) to the intervention topic, regression to the operator."""
    return "operator" if task == "regression" else "intervention"


def catalogue_document(env: Environment) -> dict[str, Any]:
    """The catalogue as the Lambda reads it (JSON types only, stable order)."""
    models = []
    for model in env.catalogue.models:
        names = [f.name for f in model.features]
        if USER_ID_FIELD in names:
            raise VwtError(
                f"model {model.name}: a feature is named {USER_ID_FIELD!r}, which prediction records use for the player id",
                "rename the feature in the model catalogue",
            )
        features = []
        for f in model.features:
            entry: dict[str, Any] = {"name": f.name, "type": f.type, "required": f.required}
            if f.min is not None:
                entry["min"] = int(f.min) if f.type == "int" and float(f.min).is_integer() else f.min
            if f.max is not None:
                entry["max"] = int(f.max) if f.type == "int" and float(f.max).is_integer() else f.max
            if f.allowed:
                entry["allowed"] = list(f.allowed)
            if not f.required:
                entry["default"] = _typed_default(f.type, f.default, model.name, f.name)
            if f.description:
                entry["description"] = f.description
            features.append(entry)
        models.append({
            "name": model.name,
            "description": model.description,
            "task": model.task,
            "label": model.label,
            "consumer": consumer_of(model.task),
            "endpoint_name": env.endpoint_name(model.name),
            "features": features,
        })
    return {
        "format": CATALOGUE_FORMAT,
        "environment": env.name,
        "region": env.region,
        "max_records": env.api.max_records,
        "cors_allow_origins": list(env.api.cors_allow_origins),
        "user_id_field": USER_ID_FIELD,
        "intervention": {
            "levels": list(env.catalogue.intervention.levels),
            "risk_groups": [
                {"name": g.name, "min_score": g.min_score, "level": g.level}
                for g in env.catalogue.intervention.risk_groups
            ],
        },
        "models": models,
    }


def _typed_default(kind: str, value: Any, model: str, feature: str) -> Any:
    """A default of the feature's own type (YAML gives `default: 0` for a float, `false` for a bool...)."""
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError
        if kind == "int":
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise VwtError(
            f"model {model}: feature {feature}: default {value!r} is not a {kind}",
            "give the optional feature a default of its own type in the model catalogue",
        ) from None


def catalogue_bytes(env: Environment) -> bytes:
    return (json.dumps(catalogue_document(env), indent=1, sort_keys=True) + "\n").encode()


def _source_files(lambdas_dir: Path) -> list[tuple[str, Path]]:
    files = []
    for path in lambdas_dir.rglob("*"):
        rel = path.relative_to(lambdas_dir)
        parts = rel.parts
        if any(p in _EXCLUDED_DIRS or p.startswith(".") for p in parts):
            continue
        if not path.is_file() or path.name.endswith(_EXCLUDED_SUFFIXES):
            continue
        if path.name.startswith("test_") or path.name.endswith("_test.py") or path.name == "conftest.py":
            continue
        if parts == (CATALOGUE_NAME,):
            continue  # the bundled catalogue is always the one made from the configuration
        files.append((PurePosixPath(*parts).as_posix(), path))
    return sorted(files)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so the permissions below are read
    info.external_attr = (0o100644 << 16)  # a regular file, rw-r--r--
    return info


def build_zip(lambdas_dir: Path, catalogue: bytes) -> bytes:
    """The package's bytes: every source file under `lambdas_dir` (sorted) and `catalogue.json`."""
    if not lambdas_dir.is_dir():
        raise VwtError(f"no Lambda sources at {lambdas_dir}", "run from the repository (it holds lambdas/)")
    buffer = io.BytesIO()
    entries = [(CATALOGUE_NAME, None), *_source_files(lambdas_dir)]
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, path in sorted(entries, key=lambda e: e[0]):
            data = catalogue if path is None else path.read_bytes()
            zf.writestr(_entry(name), data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def package_path(project: Project, env_name: str) -> Path:
    return project.env_dir(env_name) / "build" / "lambda.zip"


def build_package(project: Project, env: Environment) -> Path:
    """Build the zip under `.vwt/envs/<env>/build/lambda.zip`; written atomically, left alone when unchanged."""
    data = build_zip(project.lambdas_dir, catalogue_bytes(env))
    out = package_path(project, env.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.read_bytes() == data:
        return out
    tmp = out.with_suffix(".zip.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def artifacts(project: Project, env: Environment) -> dict[str, str]:
    """Extra tfvars for `Deployment.artifacts()`: the path of the freshly built Lambda package."""
    return {"lambda_package_path": str(build_package(project, env))}
