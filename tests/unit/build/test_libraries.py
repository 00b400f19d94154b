"""The device-token authorizer's package: its pinned libraries, installed for the function's Python on Lambda's
platform from PyPI (once per machine), and its source; the same bytes for the same inputs. The main package does
not carry it."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.helpers import REPO
from vwt_deploy.build.libraries import build_authorizer_zip
from vwt_deploy.build.package import build_zip

PYTHON = "3.11"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> bytes:
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
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
