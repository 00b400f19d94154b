"""The Lambda package: one deterministic zip of `lambdas/` plus the bundled `catalogue.json`.

Every handler (`predict.handler.handler`, `pipeline.size.handler`,
`pipeline.label.handler`) ships in the same zip. The zip is byte-for-byte the
same for the same code and configuration (fixed timestamps, sorted entries,
fixed permissions), so Terraform's `source_code_hash` only changes when
something real changed.

`catalogue.json` at the zip root is the environment's model catalogue in the
plain form the Lambda reads with the standard library (`vwt_deploy.build.catalogue`).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

from vwt_deploy.build.catalogue import catalogue_bytes
from vwt_deploy.config import Environment
from vwt_deploy.contract import CATALOGUE_NAME
from vwt_deploy.errors import VwtError
from vwt_deploy.files import write_if_changed
from vwt_deploy.project import Project

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_EXCLUDED_DIRS = {"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".hypothesis"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".swp", "~", ".md")  # byte code, editor files, docs


#: the device-token authorizer: a package of its own, with its libraries (`build_authorizer_package`)
AUTHORIZER_DIR = "authorizer"


def source_files(lambdas_dir: Path, skip: tuple[str, ...] = (AUTHORIZER_DIR,)) -> list[tuple[str, Path]]:
    files = []
    for path in lambdas_dir.rglob("*"):
        rel = path.relative_to(lambdas_dir)
        parts = rel.parts
        if any(p in _EXCLUDED_DIRS or p.startswith(".") for p in parts) or parts[0] in skip:
            continue
        if not path.is_file() or path.name.endswith(_EXCLUDED_SUFFIXES):
            continue
        if path.name.startswith("test_") or path.name.endswith("_test.py") or path.name == "conftest.py":
            continue
        if parts == (CATALOGUE_NAME,):
            continue  # the bundled catalogue is always the one made from the configuration
        files.append((PurePosixPath(*parts).as_posix(), path))
    return sorted(files)


def zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so the permissions below are read
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    return info


def build_zip(lambdas_dir: Path, catalogue: bytes) -> bytes:
    """The package's bytes: every source file under `lambdas_dir` (sorted) and `catalogue.json`."""
    if not lambdas_dir.is_dir():
        raise VwtError(f"no Lambda sources at {lambdas_dir}", "run from the repository (it holds lambdas/)")
    buffer = io.BytesIO()
    entries = [(CATALOGUE_NAME, None), *source_files(lambdas_dir)]
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, path in sorted(entries, key=lambda e: e[0]):
            data = catalogue if path is None else path.read_bytes()
            zf.writestr(zip_entry(name), data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def package_path(project: Project, env_name: str) -> Path:
    return project.env_dir(env_name) / "build" / "lambda.zip"


def build_package(project: Project, env: Environment) -> Path:
    """Build the zip under `.vwt/envs/<env>/build/lambda.zip`; written atomically, left alone when unchanged."""
    return write_if_changed(package_path(project, env.name), build_zip(project.lambdas_dir, catalogue_bytes(env)))


def artifacts(project: Project, env: Environment) -> dict[str, str]:
    """Extra tfvars for `Deployment.artifacts()`: the path of the freshly built Lambda package, and of the
    device-token authorizer's when the environment takes device tokens."""
    out = {"lambda_package_path": str(build_package(project, env))}
    if env.api.device_tokens.enabled:
        from vwt_deploy.build.libraries import build_authorizer_package

        out["authorizer_package_path"] = str(build_authorizer_package(project, env))
    return out
