"""An unsupervised model's served score is its anomaly score calibrated against the anchor (Platt scaling fitted on
the training rows), so the catalogue's risk-group thresholds mean for it what they mean for a classifier's
probability: recomputed independently here, the AUC it is gated on unchanged, the shares per risk group on the
sample data sensible, an inverse anchor refused, a champion scored with its own calibration (or none)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tests.helpers.container import CONTEXT, SCHEMA, MlRoot, make_rows, write_csv
from vwt_model.predictor import ModelError, Predictor, read_calibration

ANCHOR = "self_excluded"
#: the catalogue's intervention.risk_groups thresholds (test_report keeps spec.DEFAULT_RISK_GROUPS equal to them)
THRESHOLDS = (0.0, 0.3, 0.6, 0.85)


def _rows(n: int = 1000, seed: int = 3, inverse: bool = False) -> list[dict]:
    """Behaviour rows whose self_excluded anchor is absent on every 7th row; `inverse` flips it (the anomaly score
    then ranks it the wrong way round)."""
    rows = make_rows(n, "classification", seed=seed)
    for i, row in enumerate(rows):
        value = bool(row[ANCHOR]) != inverse
        row[ANCHOR] = "" if i % 7 == 0 else ("true" if value else "false")
    return rows


def _trained(base: Path, rows: list[dict], **hp) -> MlRoot:
    root = MlRoot(base)
    write_csv(root.channel("train") / "data.csv", rows)
    root.schema()
    root.hyperparameters(**{"algorithm": "isolation_forest", "task": "unsupervised", "anchor": ANCHOR, **hp})
    assert root.train() == 0, root.failure.read_text() if root.failure.exists() else ""
    return root


def _split(root: MlRoot, name: str = "data.csv") -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    """(all rows, anchor 1.0/0.0/NaN, training indices, hold-out indices): the job's seeded split, stratified by the
    anchor (1, 0, -1 absent), recomputed."""
    rows = list(csv.DictReader((root.channel("train") / name).open()))
    anchor = np.array([{"true": 1.0, "false": 0.0}.get(r[ANCHOR], np.nan) for r in rows])
    strata = np.nan_to_num(anchor, nan=-1).astype(int)
    train, val = train_test_split(np.arange(len(rows)), test_size=0.2, random_state=0, stratify=strata)
    return rows, anchor, train, val


def _matrix(model_dir: Path, rows: list[dict]) -> np.ndarray:
    """The encoded feature matrix of rows (CSV, the schema's features in order, as an endpoint receives them)."""
    predictor = Predictor(model_dir)
    body = "\n".join(",".join(r[n] for n in predictor.names) for r in rows).encode()
    return predictor.parse(body, "text/csv", 10**6)


def _raw(model_dir: Path, X: np.ndarray) -> np.ndarray:
    """The uncalibrated anomaly score -score_samples from the ONNX model and model.json's offset alone (not the
    predictor's code), on as many threads as training ran it."""
    meta = json.loads((model_dir / "model.json").read_text())
    options = ort.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    out = session.run([meta["output"]], {session.get_inputs()[0].name: X})[0].ravel().astype(np.float64)
    return -(out + meta["score_offset"])


def _counts(scores: np.ndarray) -> np.ndarray:
    """How many scores fall in each risk group (low, medium, high, severe)."""
    return np.bincount(np.searchsorted(THRESHOLDS, scores, side="right") - 1, minlength=len(THRESHOLDS))


def _shares(scores: np.ndarray) -> np.ndarray:
    return _counts(scores) / len(scores)


def _pack(model_dir: Path, folder: Path, drop: str | None = None) -> Path:
    """model_dir as a champion channel's model.tar.gz; `drop`: a model.json key left out (an older model)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = json.loads((model_dir / "model.json").read_text())
    meta.pop(drop, None)
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        tar.add(model_dir / "model.onnx", arcname="model.onnx")
        data = json.dumps(meta).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return folder / "model.tar.gz"


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> MlRoot:
    return _trained(tmp_path_factory.mktemp("calibrated") / "ml", _rows(), no_trees=50)


def test_the_served_score_is_the_platt_scaling_fitted_on_the_training_rows(calibrated):
    root = calibrated
    meta = json.loads((root.model / "model.json").read_text())
    rows, anchor, train, val = _split(root)
    X = _matrix(root.model, rows)
    raw = _raw(root.model, X)

    # an independent fit: the anchored training rows only (never the hold-out), unpenalised, unweighted
    fit = train[~np.isnan(anchor[train])]
    lr = LogisticRegression(C=np.inf, random_state=0, max_iter=1000).fit(raw[fit].reshape(-1, 1), anchor[fit])
    stored = meta["calibration"]
    assert stored["method"] == "platt"
    assert (stored["a"], stored["b"]) == pytest.approx((lr.coef_[0, 0], lr.intercept_[0]), rel=1e-3)
    assert stored["a"] > 0
    assert (stored["rows"], stored["positives"]) == (len(fit), int(anchor[fit].sum()))
    # the hold-out's anchor was not used: a fit that includes it gives other parameters
    every = np.flatnonzero(~np.isnan(anchor))
    lr_all = LogisticRegression(C=np.inf, max_iter=1000).fit(raw[every].reshape(-1, 1), anchor[every])
    assert stored["a"] != pytest.approx(lr_all.coef_[0, 0], rel=1e-3)

    served = np.array(Predictor(root.model).predict(X))
    want = 1.0 / (1.0 + np.exp(-(stored["a"] * raw + stored["b"])))
    assert served == pytest.approx(np.round(want, 6), abs=2e-6)
    assert not np.allclose(served, np.round(raw, 6), atol=0.01)  # it is not the raw score any more


def test_calibration_leaves_the_anchor_auc_the_raw_scores(calibrated):
    root = calibrated
    metrics = json.loads((root.model / "metrics.json").read_text())
    rows, anchor, _, val = _split(root)
    X = _matrix(root.model, [rows[i] for i in val])
    raw, served = _raw(root.model, X), np.array(Predictor(root.model).predict(X))
    present = ~np.isnan(anchor[val])

    raw_auc = roc_auc_score(anchor[val][present], np.round(raw, 6)[present])
    assert metrics["validation:anchor_auc"] == pytest.approx(raw_auc, abs=1e-3)  # within rounding's ties
    assert metrics["validation:anchor_auc"] == pytest.approx(roc_auc_score(anchor[val][present], served[present]))
    order = np.argsort(raw, kind="stable")
    assert (np.diff(served[order]) >= 0).all()  # the same ranking
    # the anomaly cut is the same rows in either units: raw > -offset, served > its calibrated image
    offset = json.loads((root.model / "model.json").read_text())["score_offset"]
    assert metrics["validation:anomaly_rate"] == pytest.approx(float((raw > -offset).mean()), abs=2 / len(val))


def test_the_report_measures_the_served_score_against_the_anchor(calibrated):
    root = calibrated
    folder = root.root / "output" / "data" / "report"
    doc = json.loads((folder / "report.json").read_text())
    section = doc["unsupervised"]
    meta = json.loads((root.model / "model.json").read_text())
    metrics = json.loads((root.model / "metrics.json").read_text())
    rows, anchor, _, val = _split(root)
    served = np.array(Predictor(root.model).predict(_matrix(root.model, [rows[i] for i in val])))
    present = ~np.isnan(anchor[val])

    assert section["calibration"] == meta["calibration"]
    assert "calibrated against the anchor" in section["score"]
    assert section["scores"]["median"] == pytest.approx(float(np.median(served)), abs=1e-9)
    assert [g["count"] for g in section["risk_groups"]] == _counts(served).tolist()
    against = section["anchor"]
    assert (against["rows"], against["positives"]) == (int(present.sum()), int(anchor[val][present].sum()))
    assert against["auc"] == pytest.approx(metrics["validation:anchor_auc"], abs=1e-12)
    bins = against["calibration"]
    assert (
        sum(b["count"] for b in bins) == against["rows"] and sum(b["positives"] for b in bins) == against["positives"]
    )
    assert {"calibration.png", "score_distribution.png", "feature_importance.png"} == set(doc["figures"])
    assert "Against the anchor" in (folder / "report.html").read_text()


def test_on_the_sample_data_the_risk_groups_mean_what_they_mean_for_a_classifier(tmp_path):
    from tests.helpers import REPO
    from vwt_deploy.config import load
    from vwt_deploy.operate.sample import generate

    env = load("local", REPO)
    model = env.catalogue.model("gb-unusual-behaviour")
    data = generate(env, model.data_bucket, 5000, seed=0)
    root = MlRoot(tmp_path / "ml")
    (root.channel("train") / "synthetic.csv").write_bytes(data.to_csv())
    (root.channel("train") / "schema.json").write_bytes(data.schema_json())
    root.hyperparameters(
        algorithm="isolation_forest", task="unsupervised", anchor=model.anchor, **dict(model.hyperparameters)
    )
    assert root.train() == 0, root.failure.read_text()
    rows, anchor, _, val = _split(root, "synthetic.csv")
    X = _matrix(root.model, rows)
    raw, served = _raw(root.model, X), np.array(Predictor(root.model).predict(X))

    # before: nearly every player is "medium" (the raw score's median is about 0.43), no one "low"
    assert 0.4 < np.median(raw) < 0.46 and _shares(raw)[1] > 0.95
    # after: the median player is far below the first intervention threshold, most players are "low", and the few
    # in each higher group are there because their score says their self-exclusion is that likely
    assert np.median(served) < 0.1 < THRESHOLDS[1]
    low, medium, high, severe = _shares(served)
    assert low > 0.9 and 0 < medium < 0.1 and high + severe < 0.05
    # calibration in the large: on the hold-out the mean served score is the anchor's rate
    present = ~np.isnan(anchor[val])
    assert served[val][present].mean() == pytest.approx(anchor[val][present].mean(), abs=0.02)
    # and the hold-out's players in the higher groups self-exclude far more often than those below
    s, y = served[val][present], anchor[val][present]
    assert y[s >= THRESHOLDS[1]].mean() > 3 * y[s < THRESHOLDS[1]].mean()


def test_an_anchor_the_score_ranks_the_wrong_way_round_fails_the_job(tmp_path, capsys):
    root = MlRoot(tmp_path / "ml")
    write_csv(root.channel("train") / "data.csv", _rows(inverse=True))
    root.schema()
    root.hyperparameters(algorithm="isolation_forest", task="unsupervised", anchor=ANCHOR, no_trees=20)

    assert root.train() == 1
    reason = root.failure.read_text()
    assert f"the anomaly score ranks the anchor '{ANCHOR}' the wrong way round on the training rows" in reason
    assert "cannot be calibrated into a risk" in reason
    assert root.model_files() == []


@pytest.mark.parametrize("drop", [None, "calibration"], ids=["champion calibrated", "champion without calibration"])
def test_the_champion_is_scored_with_its_own_calibration_or_its_raw_score(tmp_path, capsys, calibrated, drop):
    champion_tar = _pack(calibrated.model, tmp_path / "packed", drop)
    root = MlRoot(tmp_path / "challenger")
    write_csv(root.channel("train") / "data.csv", _rows(seed=8))
    root.schema()
    root.hyperparameters(algorithm="isolation_forest", task="unsupervised", anchor=ANCHOR, no_trees=30, random_state=0)
    (root.channel("champion") / "model.tar.gz").write_bytes(champion_tar.read_bytes())
    assert root.train() == 0, root.failure.read_text() if root.failure.exists() else ""

    metrics = json.loads((root.model / "metrics.json").read_text())
    assert metrics["champion:scored"] == 1
    rows, anchor, _, val = _split(root)
    X = _matrix(calibrated.model, [rows[i] for i in val])
    raw, present = _raw(calibrated.model, X), ~np.isnan(anchor[val])
    offset = json.loads((calibrated.model / "model.json").read_text())["score_offset"]
    # with or without its calibration the champion ranks, and flags, the same rows
    assert metrics["champion:anchor_auc"] == pytest.approx(roc_auc_score(anchor[val][present], raw[present]), abs=1e-3)
    assert metrics["champion:anomaly_rate"] == pytest.approx(float((raw > -offset).mean()), abs=2 / len(val))
    champion = Predictor(champion_tar.parent)
    assert (champion.calibration is None) == (drop == "calibration")
    if drop:
        assert champion.anomaly_cut == pytest.approx(-offset)
    else:
        a, b = champion.calibration["a"], champion.calibration["b"]
        assert champion.anomaly_cut == pytest.approx(1 / (1 + np.exp(a * offset - b)))


@pytest.mark.parametrize(
    "doc",
    [
        {"method": "platt", "a": -1.0, "b": 0.0},
        {"method": "platt", "a": 0.0, "b": 0.0},
        {"method": "isotonic", "a": 1.0, "b": 0.0},
        {"method": "platt", "a": "x", "b": 0.0},
        {"method": "platt", "a": float("inf"), "b": 0.0},
        {"method": "platt", "a": 1.0},
        [1.0, 2.0],
    ],
)
def test_a_model_with_an_invalid_calibration_is_not_served(tmp_path, calibrated, doc):
    with pytest.raises(ModelError, match="invalid calibration"):
        read_calibration(doc)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes((calibrated.model / "model.onnx").read_bytes())
    meta = json.loads((calibrated.model / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "calibration": doc}))
    with pytest.raises(ModelError, match=r"model\.json: invalid calibration"):
        Predictor(folder)


def test_serving_a_calibrated_model_imports_no_scikit_learn(calibrated):
    code = (
        "import sys\n"
        "from vwt_model.predictor import Predictor\n"
        f"p = Predictor({str(calibrated.model)!r})\n"
        "assert p.calibration is not None\n"
        "scores = p.predict(p.parse(b'1.5,30,0,casino,true,0', 'text/csv', 10))\n"
        "assert 0 < scores[0] < 1, scores\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy', 'matplotlib'))\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(CONTEXT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_without_an_anchor_the_raw_anomaly_score_is_served(tmp_path):
    rows = [{k: v for k, v in r.items() if k != ANCHOR} for r in make_rows(300, "unsupervised", seed=2)]
    root = MlRoot(tmp_path / "ml")
    write_csv(root.channel("train") / "data.csv", rows)
    root.schema(SCHEMA)
    root.hyperparameters(algorithm="isolation_forest", task="unsupervised", no_trees=10)
    assert root.train() == 0, root.failure.read_text() if root.failure.exists() else ""
    meta = json.loads((root.model / "model.json").read_text())
    assert meta["calibration"] is None
    X = _matrix(root.model, list(csv.DictReader((root.channel("train") / "data.csv").open())))
    assert np.array(Predictor(root.model).predict(X)) == pytest.approx(np.round(_raw(root.model, X), 6), abs=2e-6)


def test_training_rows_with_one_anchor_value_cannot_be_calibrated():
    from vwt_model.train import TrainingError, fit_calibration

    raw = np.linspace(0.3, 0.8, 6)
    with pytest.raises(TrainingError, match="6 rows with the anchor 'x', none positive: the served score cannot"):
        fit_calibration(raw, np.array([0.0] * 6), 0, "x")
    with pytest.raises(TrainingError, match="2 rows with the anchor 'x', all positive"):
        fit_calibration(raw, np.array([1.0, np.nan, 1.0, np.nan, np.nan, np.nan]), 0, "x")
    got = fit_calibration(raw, np.array([0.0, 0.0, 1.0, 0.0, 1.0, 1.0]), 0, "x")
    assert got["a"] > 0 and (got["rows"], got["positives"]) == (6, 3)
