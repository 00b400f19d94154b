"""The fair gate's numbers: the training job scores the champion (the model serving when the run started) on the
same hold-out as the new model, and logs it under a name the new model's metric regex cannot match."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.helpers.container import SCHEMA, MlRoot, classifier_root, make_rows, write_csv
from vwt_model import spec
from vwt_model.baseline import build_artifact
from vwt_model.evaluate import champion_name
from vwt_model.predictor import Predictor


def _pack(model_dir: Path, out: Path) -> Path:
    """model_dir as SageMaker's model.tar.gz, in a champion channel folder (SageMaker keeps the key's file name)."""
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return out / "model.tar.gz"


def _challenger(tmp_path: Path, champion_tar: Path | None, seed: int = 5) -> MlRoot:
    root = MlRoot(tmp_path / "challenger")
    write_csv(root.channel("train") / "data.csv", make_rows(400, "classification", seed=seed))
    root.schema()
    root.hyperparameters(algorithm="logistic_regression", task="classification", label="self_excluded")
    if champion_tar is not None:
        (root.channel("champion") / "model.tar.gz").write_bytes(champion_tar.read_bytes())
    return root


def _holdout(root: MlRoot) -> tuple[list[dict], np.ndarray]:
    """The hold-out rows the job validated on, recomputed with the job's own seeded split."""
    from sklearn.model_selection import train_test_split

    rows = list(__import__("csv").DictReader((root.channel("train") / "data.csv").open()))
    y = np.array([int(r["self_excluded"]) for r in rows])
    _, val = train_test_split(np.arange(len(rows)), test_size=0.2, random_state=0, stratify=y)
    return [rows[i] for i in val], y[val]


def test_the_champion_is_scored_on_the_same_holdout_and_logged_apart(tmp_path, capsys):
    champion = classifier_root(tmp_path / "champion")
    assert champion.train() == 0
    root = _challenger(tmp_path, _pack(champion.model, tmp_path / "packed"))
    capsys.readouterr()  # the champion's own training log

    assert root.train() == 0, root.failure.read_text() if root.failure.exists() else ""

    out = capsys.readouterr().out
    metrics = json.loads((root.model / "metrics.json").read_text())
    logged = dict(re.findall(r"^(\S+:\S+)=(\S+)$", out, re.M))
    assert set(logged) == {
        *spec.METRICS["classification"],
        *(champion_name(m) for m in spec.METRICS["classification"]),
        "champion:scored",
    }
    assert logged["champion:scored"] == "1"
    # the challenger's regex finds its own value, not the champion's (which is logged on another line)
    assert float(re.search(spec.metric_regex("validation:auc"), out).group(1)) == pytest.approx(
        metrics["validation:auc"], rel=1e-5
    )
    # recompute the champion's AUC on the same rows, with the champion model itself
    rows, y = _holdout(root)
    predictor = Predictor(champion.model)
    features = [{k: r[k] for k in (f["name"] for f in SCHEMA["features"])} for r in rows]
    for r in features:
        r["night_player"] = r["night_player"] == "true"
    scores = predictor.predict(predictor.parse(json.dumps(features).encode(), "application/json", 1000))
    assert metrics["champion:auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-5)
    assert metrics["champion:auc"] != pytest.approx(metrics["validation:auc"])  # two different models
    meta = json.loads((root.model / "model.json").read_text())
    assert meta["champion"]["metrics"]["champion:auc"] == metrics["champion:auc"]
    assert f"same {len(rows)} hold-out rows" in meta["champion"]["scored"]


def test_the_baseline_champion_scores_what_a_constant_scores(tmp_path, capsys):
    baseline = build_artifact(SCHEMA["features"], "classification", tmp_path / "baseline")
    root = _challenger(tmp_path, baseline)
    assert root.train() == 0
    metrics = json.loads((root.model / "metrics.json").read_text())
    assert metrics["champion:auc"] == 0.5  # a constant ranks no one above anyone


def test_a_champion_that_cannot_score_the_rows_is_no_number_and_says_why(tmp_path, capsys):
    other = {"features": [*SCHEMA["features"], {"name": "age", "type": "int", "min": 18}]}
    baseline = build_artifact(other["features"], "classification", tmp_path / "baseline")
    root = _challenger(tmp_path, baseline)
    assert root.train() == 0  # the new model still trains; the gate decides on the floor alone
    out = capsys.readouterr().out
    assert "champion:scored=0" in out.splitlines()
    meta = json.loads((root.model / "model.json").read_text())
    metrics = meta["metrics"]
    # every line is logged (a Step Functions filter of a missing metric fails): the champion's names carry a tie
    assert meta["champion"]["metrics"] == {**{champion_name(k): v for k, v in metrics.items()}, "champion:scored": 0}
    assert "cannot score this hold-out" in meta["champion"]["scored"] and "age" in meta["champion"]["scored"]


def test_without_a_champion_channel_nothing_is_compared(tmp_path, capsys):
    root = _challenger(tmp_path, None)
    assert root.train() == 0
    assert "champion:scored=0" in capsys.readouterr().out.splitlines()
    assert "no champion channel" in json.loads((root.model / "model.json").read_text())["champion"]["scored"]
