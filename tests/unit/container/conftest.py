"""Fixtures of the container tests: a SageMaker-style ML root in a tmp folder, a trained model, a served model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.container import MlRoot, Served, classifier_root


@pytest.fixture
def ml_root(tmp_path: Path) -> MlRoot:
    return MlRoot(tmp_path / "ml")


@pytest.fixture
def serve_model():
    started: list[Served] = []

    def start(model_dir: Path, env: dict | None = None, ready: bool = True) -> Served:
        served = Served(model_dir, env)
        started.append(served)
        if ready:
            served.wait_ready()
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture(scope="session")
def trained_classifier(tmp_path_factory) -> MlRoot:
    """One small random forest classifier over tests.helpers.container.SCHEMA (trained once per session)."""
    root = classifier_root(tmp_path_factory.mktemp("clf") / "ml")
    assert root.train() == 0, root.failure.read_text() if root.failure.exists() else ""
    return root
