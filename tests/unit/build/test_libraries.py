"""The device-token authorizer's package: its pinned libraries, installed for the function's Python on Lambda's
platform from PyPI (once per machine), and its source; the same bytes for the same inputs, zipped again only when
they change. The main package does not carry it."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.helpers import REPO
from vwt_deploy.build import libraries
from vwt_deploy.build.libraries import build_authorizer_package, build_authorizer_zip
from vwt_deploy.build.package import build_zip
from vwt_deploy.config import load
from vwt_deploy.project import Project

PYTHON = "3.11"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    """The libraries' cache of this module's tests: PyPI is asked once."""
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def package(cache) -> bytes:
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", cache)
    try:
        first = build_authorizer_zip(REPO / "lambdas", PYTHON)
        assert build_authorizer_zip(REPO / "lambdas", PYTHON) == first  # from the cache: the same bytes
        return first
    finally:
        mp.undo()


def test_the_authorizer_carries_its_libraries_and_its_source(package):
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert "authorizer/device_token.py" in names
    assert "jwt/__init__.py" in names and any(n.startswith("cryptography/hazmat/bindings/_rust") for n in names)
    assert not any(n.startswith(("bin/", "predict/", "pipeline/")) or "__pycache__" in n for n in names)
    assert len(package) < 8_000_000  # measured: 4.8 MB for PyJWT, cryptography and cffi


def test_the_main_package_leaves_the_authorizer_out():
    names = zipfile.ZipFile(io.BytesIO(build_zip(REPO / "lambdas", b"{}"))).namelist()
    assert not any(n.startswith("authorizer/") for n in names) and "predict/handler.py" in names


def test_the_package_is_zipped_again_only_when_its_inputs_or_the_zip_changed(project_dir, cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", cache)
    zipped = []
    monkeypatch.setattr(libraries, "build_authorizer_zip", lambda *a: zipped.append(a) or build_authorizer_zip(*a))
    project = Project(project_dir)
    env = load("local", project_dir)
    out = build_authorizer_package(project, env)
    first = out.read_bytes()
    assert build_authorizer_package(project, env) == out and len(zipped) == 1  # unchanged: not zipped again
    source = project_dir / "lambdas" / "authorizer" / "device_token.py"
    source.write_text(source.read_text() + "\n# changed\n")
    build_authorizer_package(project, env)
    assert len(zipped) == 2 and out.read_bytes() != first
    assert "# changed" in zipfile.ZipFile(out).read("authorizer/device_token.py").decode()
    out.write_bytes(b"not a zip")  # a zip changed since it was made is made again
    build_authorizer_package(project, env)
    assert len(zipped) == 3 and zipfile.ZipFile(out).testzip() is None
