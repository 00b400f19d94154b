"""A Lambda package that carries third-party libraries: the device-token authorizer's (PyJWT and cryptography).

Lambda's Python runtime provides the standard library and boto3 only, so the libraries go into the package, built
for the function's runtime: its Python version (`Environment.lambda_runtime`) and Lambda's x86_64 Linux
(manylinux_2_28, which Amazon Linux 2023's glibc 2.34 runs). pip installs exactly what
`lambdas/authorizer/requirements.txt` pins, as binary wheels only (`--only-binary=:all:`, never a build on this
machine), once per requirements, Python version and platform, into the user's cache
(`$XDG_CACHE_HOME/vwt-deploy/lambda-libraries/`, default `~/.cache/...`); a new machine downloads them from PyPI once.
The zip holds the libraries and the authorizer's source, with fixed timestamps, so it is the same bytes for the
same inputs.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from vwt_deploy.build.package import AUTHORIZER_DIR, source_files, zip_entry
from vwt_deploy.config import Environment
from vwt_deploy.errors import VwtError
from vwt_deploy.files import write_if_changed
from vwt_deploy.project import Project

PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
_SKIPPED = ("bin/", "__pycache__/")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vwt-deploy" / "lambda-libraries"


def libraries(requirements: Path, python: str) -> Path:
    """The folder of the libraries `requirements` pins, installed for CPython `python` (`3.12`) on Lambda's
    platform: from the cache, else installed now. VwtError with pip's words when it cannot."""
    digest = hashlib.sha256(requirements.read_bytes() + f"{python} {PLATFORMS}".encode()).hexdigest()[:16]
    out = cache_dir() / f"py{python}-{digest}"
    if out.is_dir():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        target = Path(tmp) / "site"
        argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                "--only-binary=:all:", "--implementation", "cp", "--python-version", python, "--target", str(target),
                *[a for p in PLATFORMS for a in ("--platform", p)], "-r", str(requirements)]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            raise VwtError(
                f"cannot install the authorizer's libraries ({requirements.name}) for Python {python}:\n"
                f"    {done.stderr.strip()[-1500:]}",
                f"pip reads them from PyPI once per machine: check the network, or the pins in {requirements}",
            )
        try:
            target.rename(out)  # another build may have made it meanwhile: theirs is the same
        except OSError:
            if not out.is_dir():
                raise
    return out


def _entries(lambdas_dir: Path, site: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file): the libraries at the root and `authorizer/`, sorted."""
    entries = [(p.relative_to(site).as_posix(), p) for p in site.rglob("*") if p.is_file()]
    entries = [(n, p) for n, p in entries if not n.startswith(_SKIPPED) and "/__pycache__/" not in n]
    return sorted(entries + _sources(lambdas_dir))


def _sources(lambdas_dir: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file) of the authorizer's own source, `authorizer/...`."""
    return [(n, p) for n, p in source_files(lambdas_dir, skip=()) if n.startswith(f"{AUTHORIZER_DIR}/")]


def build_authorizer_zip(lambdas_dir: Path, python: str) -> bytes:
    """The authorizer's package: its libraries at the root and `authorizer/` (sorted, fixed timestamps)."""
    site = libraries(lambdas_dir / AUTHORIZER_DIR / "requirements.txt", python)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, path in _entries(lambdas_dir, site):
            zf.writestr(zip_entry(PurePosixPath(name).as_posix()), path.read_bytes(), zipfile.ZIP_DEFLATED, 9)
    return buffer.getvalue()


def _inputs_digest(lambdas_dir: Path, python: str) -> str:
    """What the zip is made of: the libraries' cache folder (named by the pins, the Python and the platforms; its
    files never change) and the authorizer's source files, by content."""
    digest = hashlib.sha256(libraries(lambdas_dir / AUTHORIZER_DIR / "requirements.txt", python).name.encode())
    for name, path in _sources(lambdas_dir):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_authorizer_package(project: Project, env: Environment) -> Path:
    """`.vwt/envs/<env>/build/authorizer.zip`, for the environment's Lambda runtime. Zipping the libraries takes
    seconds, so it is done only when the inputs changed: `authorizer.zip.inputs` beside it holds the inputs' digest
    and the zip's own (a zip changed or replaced since is rebuilt too)."""
    python = env.lambda_runtime.removeprefix("python")
    out = project.env_dir(env.name) / "build" / "authorizer.zip"
    stamp = out.with_name(out.name + ".inputs")
    inputs = _inputs_digest(project.lambdas_dir, python)
    made = out.exists() and stamp.exists() and stamp.read_text().split() == [inputs, _sha256(out)]
    if made:
        return out
    data = build_authorizer_zip(project.lambdas_dir, python)
    write_if_changed(out, data)
    write_if_changed(stamp, f"{inputs} {_sha256(out)}\n")
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
