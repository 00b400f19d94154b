"""The drift baseline training writes, and the drift check over a SageMaker-style data capture."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.helpers.container import FEATURES, MlRoot, capture_record, classifier_root, make_rows
from vwt_model import drift
from vwt_model.paths import MlPaths

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> MlRoot:
    """A classifier trained on 3,000 players: a baseline whose deciles are not mostly sampling noise."""
    root = classifier_root(tmp_path_factory.mktemp("drift") / "ml", n=3000)
    assert root.train() == 0
    return root


def _processing(tmp_path: Path, trained: MlRoot, records: list[str], as_tarball: bool = True) -> Path:
    root = tmp_path / "ml"
    model = root / "processing" / "model"
    model.mkdir(parents=True)
    if as_tarball:
        with tarfile.open(model / "model.tar.gz", "w:gz") as tar:
            for path in trained.model.iterdir():
                tar.add(path, arcname=path.name)
    else:
        shutil.copytree(trained.model, model, dirs_exist_ok=True)
    capture = root / "processing" / "capture" / "ep" / "AllTraffic" / "2026" / "11" / "29" / "11"
    capture.mkdir(parents=True)
    (capture / "part.jsonl").write_text("\n".join(records) + ("\n" if records else ""))
    return root


def _shifted(rows: list[dict]) -> list[dict]:
    """Players who deposit five times as often, all on casino."""
    return [{**r, "deposits_per_week": r["deposits_per_week"] * 5, "product": "casino"} for r in rows]


def _scores(rows: list[dict], high: bool = False) -> list[float]:
    return [0.9 if high else min(r["deposits_per_week"] / 20, 1.0) for r in rows]


def test_training_writes_the_baseline_beside_the_model(trained_classifier: MlRoot):
    reference = json.loads((trained_classifier.model / drift.BASELINE_FILE).read_text())
    assert set(reference["features"]) == set(FEATURES) and reference["rows"] > 0
    for spec in [*reference["features"].values(), reference["score"]]:
        assert abs(sum(spec["expected"]) - 1) < 1e-3
    assert len(reference["features"]["deposits_per_week"]["edges"]) == drift.BINS - 1
    assert len(reference["features"]["product"]["expected"]) == 4 + 1  # the 4 values, and an unseen one


def test_the_same_players_do_not_drift_and_shifted_ones_do(tmp_path, trained: MlRoot):
    trained_classifier = trained
    same = make_rows(2000, "classification", seed=11)
    recent = NOW - dt.timedelta(hours=1)
    quiet = drift.run(
        MlPaths(_processing(tmp_path / "a", trained_classifier, [capture_record(same, _scores(same), recent)])), now=NOW
    )
    assert quiet["status"] == "checked" and quiet["records"] == 2000
    assert quiet["max_feature_psi"] < 0.1, quiet["features"]
    moved = _shifted(same)
    loud = drift.run(
        MlPaths(
            _processing(tmp_path / "b", trained_classifier, [capture_record(moved, _scores(moved, high=True), recent)])
        ),
        now=NOW,
    )
    assert loud["max_feature_psi"] > 0.25 and loud["max_feature"] in ("deposits_per_week", "product"), loud
    assert loud["features"]["deposits_per_week"] > 0.25 and loud["features"]["product"] > 0.25
    assert loud["score_psi"] > quiet["score_psi"]
    written = json.loads((tmp_path / "b" / "ml" / "processing" / "output" / drift.RESULT_FILE).read_text())
    assert written["max_feature_psi"] == loud["max_feature_psi"]


def test_no_captured_requests_in_the_window_says_so(tmp_path, trained_classifier: MlRoot):
    rows = make_rows(50, "classification", seed=3)
    old = capture_record(rows, _scores(rows), NOW - dt.timedelta(days=3))
    for records in ([], [old]):
        folder = tmp_path / str(len(records))
        result = drift.run(MlPaths(_processing(folder, trained_classifier, records, as_tarball=False)), now=NOW)
        assert result["status"] == "no_data" and result["records"] == 0
        assert "no captured requests in the last 24 hours" in result["message"] and "max_feature_psi" not in result


def test_a_model_without_a_baseline_says_so(tmp_path, trained_classifier: MlRoot):
    root = _processing(tmp_path, trained_classifier, [], as_tarball=False)
    (root / "processing" / "model" / drift.BASELINE_FILE).unlink()
    result = drift.run(MlPaths(root), now=NOW)
    assert result["status"] == "no_baseline" and "retrain it" in result["message"]


def test_a_broken_capture_fails_the_job_with_the_reason(tmp_path, trained_classifier: MlRoot):
    root = _processing(tmp_path, trained_classifier, ["not json"])
    proc = subprocess.run(
        [sys.executable, "-m", "vwt_model", "drift", "--now", NOW.isoformat()],
        env={"VWT_ML_ROOT": str(root), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(drift.__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "part.jsonl line 1: not a SageMaker data capture record" in (root / "output" / "message").read_text()


@pytest.mark.parametrize(
    ("expected", "actual", "low", "high"), [([0.5, 0.5], [0.5, 0.5], 0, 1e-9), ([0.5, 0.5], [0.9, 0.1], 0.5, 1)]
)
def test_psi(expected, actual, low, high):
    assert low <= drift.psi(expected, actual) <= high
