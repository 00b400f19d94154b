"""The evaluation report the training job writes beside the model (output/data/report): its files exist, its
numbers match a recomputation from the saved model on the recomputed hold-out, bad risk groups fail the job
with one message, a report that cannot be written fails the job without a model, and serving never imports
matplotlib."""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from tests.helpers import REPO
from tests.helpers.container import CONTEXT, FEATURES, LABELS, MlRoot, make_rows, write_csv
from vwt_model import spec
from vwt_model.predictor import Predictor

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODEL_FILES = ["drift-baseline.json", "metrics.json", "model.json", "model.onnx"]


def _train(root: MlRoot, algorithm: str, task: str, n: int = 400, **extra) -> MlRoot:
    write_csv(root.channel("train") / "data.csv", make_rows(n, task, seed=3))
    root.schema()
    hp = {"algorithm": algorithm, "task": task, **extra}
    if "no_trees" in spec.params_for(algorithm):
        hp["no_trees"] = 10
    if LABELS[task]:
        hp["label"] = LABELS[task]
    root.hyperparameters(**hp)
    assert root.train() == 0, root.failure.read_text() if root.failure.exists() else ""
    return root


def _report(root: MlRoot) -> tuple[Path, dict]:
    folder = root.root / "output" / "data" / "report"
    return folder, json.loads((folder / "report.json").read_text())


def _holdout(root: MlRoot, task: str) -> tuple[list[dict], np.ndarray | None]:
    """The hold-out rows, re-split as the job splits them (seeded; stratified by a classification label)."""
    rows = list(csv.DictReader((root.channel("train") / "data.csv").open()))
    label = LABELS[task]
    y = None
    if label:
        y = np.array([float(r[label]) for r in rows])
    stratify = y.astype(int) if task == "classification" else None
    _, val = train_test_split(np.arange(len(rows)), test_size=0.2, random_state=0, stratify=stratify)
    return [rows[i] for i in val], (y[val] if y is not None else None)


def _raw_scores(root: MlRoot, rows: list[dict]) -> np.ndarray:
    """The saved model's unrounded scores on rows: the ONNX output the training job's metrics come from, run on as
    many threads as the job ran it (train.onnx_scores), so float32 sums are added in the same order."""
    predictor = Predictor(root.model, threads=len(os.sched_getaffinity(0)))
    records = [{k: r[k] for k in FEATURES} for r in rows]
    X = predictor.parse(json.dumps(records).encode(), "application/json", 10_000)
    out = predictor.session.run([predictor.output], {predictor.input_name: X})[0]
    return np.asarray(out[:, 1] if predictor.task == "classification" else out.ravel(), dtype=np.float64)


def _check_files(folder: Path, doc: dict, expected: set[str]) -> None:
    assert set(doc["figures"]) == expected
    assert {p.name for p in folder.iterdir()} == expected | {"report.json", "report.html"}
    page = (folder / "report.html").read_text()
    for name in expected:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert f"data:image/png;base64,{base64.b64encode(data).decode()}" in page, f"{name} is not embedded"
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(expected) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in page and "<script" not in page  # one page, nothing fetched


def _check_importance(root: MlRoot, section: dict, method: str) -> None:
    encoded = json.loads((root.model / "model.json").read_text())["encoded_features"]
    names = [f["name"] for f in section["features"]]
    assert sorted(names) == sorted(encoded) and "product=casino" in names  # the schema's encoded columns
    values = [f["importance"] for f in section["features"]]
    assert values == sorted(values, reverse=True)
    assert section["method"] == method
    if method == "impurity":
        assert sum(values) == pytest.approx(1.0)  # mean decrease in impurity is normalised
    else:
        assert section["rows"] == json.loads((root.model / "model.json").read_text())["rows"]["validation"]


@pytest.mark.parametrize(
    "algorithm,groups,method",
    [
        ("random_forest", None, "impurity"),
        (
            "logistic_regression",
            [
                {"name": "calm", "min_score": 0},
                {"name": "watch", "min_score": 0.5, "level": "reminder"},
                {"name": "act", "min_score": 0.9},
            ],
            "permutation",
        ),
    ],
)
def test_the_classification_report_matches_a_recomputation(tmp_path, algorithm, groups, method):
    extra = {"risk_groups": json.dumps(groups)} if groups else {}
    root = _train(MlRoot(tmp_path / "ml"), algorithm, "classification", **extra)
    folder, doc = _report(root)
    section = doc["classification"]

    assert root.model_files() == MODEL_FILES  # the report is not in model.tar.gz: the endpoints never load it
    _check_files(
        folder,
        doc,
        {
            "roc.png",
            "precision_recall.png",
            "calibration.png",
            "confusion_matrices.png",
            "score_distribution.png",
            "feature_importance.png",
        },
    )
    meta = json.loads((root.model / "model.json").read_text())
    assert doc["model_version"] == meta["version"] and doc["algorithm"] == algorithm

    rows, y = _holdout(root, "classification")
    s = _raw_scores(root, rows)
    assert doc["rows"] == len(rows) == meta["rows"]["validation"]
    assert section["positives"] == int(y.sum()) and section["negatives"] == int((y == 0).sum())
    assert section["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert section["auc"] == pytest.approx(meta["metrics"]["validation:auc"], abs=1e-12)  # the metric's own scores
    assert section["average_precision"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert section["brier"] == pytest.approx(float(np.mean((s - y) ** 2)), abs=1e-12)

    # curves: bounded, from (0, 0) to (1, 1), every point on the full curve
    roc = section["roc_curve"]
    assert 2 <= len(roc["fpr"]) <= 200 and (roc["fpr"][0], roc["tpr"][0]) == (0, 0) and roc["fpr"][-1] == 1
    for fpr, tpr, threshold in zip(roc["fpr"], roc["tpr"], roc["threshold"], strict=True):
        if threshold is not None:  # the first point's threshold is infinite
            flagged = s >= threshold
            assert fpr == pytest.approx(flagged[y == 0].mean()) and tpr == pytest.approx(flagged[y == 1].mean())
            assert min(abs(s - threshold)) < 1e-6  # a threshold is a score
    assert len(section["pr_curve"]["precision"]) <= 200 and section["pr_curve"]["recall"][0] == 1.0

    # calibration: ten equal-width bins, each recounted
    bins = section["calibration"]
    assert [b["lower"] for b in bins] == pytest.approx([i / 10 for i in range(10)])
    for b in bins:
        inside = [i for i, v in enumerate(s) if b["lower"] <= v < b["upper"] or (b["upper"] == 1.0 and v == 1.0)]
        assert b["count"] == len(inside) and b["positives"] == int(sum(y[i] for i in inside))
        if inside:
            assert b["mean_predicted"] == pytest.approx(sum(s[i] for i in inside) / len(inside), abs=1e-12)
            assert b["fraction_positive"] == pytest.approx(sum(y[i] for i in inside) / len(inside))
        else:
            assert b["mean_predicted"] is None and b["fraction_positive"] is None
    assert sum(b["count"] for b in bins) == len(s)

    # risk groups: the hyperparameter's (or the catalogue's), each group's rows and its confusion matrix recounted
    wanted = groups or [{"name": n, "min_score": m} for n, m in spec.DEFAULT_RISK_GROUPS]
    assert [(g["name"], g["min_score"]) for g in section["risk_groups"]] == [
        (g["name"], g["min_score"]) for g in wanted
    ]
    for i, group in enumerate(section["risk_groups"]):
        low = group["min_score"]
        high = wanted[i + 1]["min_score"] if i + 1 < len(wanted) else math.inf
        members = [k for k, v in enumerate(s) if low <= v < high]
        assert group["count"] == len(members) and group["positives"] == int(sum(y[k] for k in members))
        c = group["confusion"]
        assert c["threshold"] == low
        assert c["tp"] == sum(1 for v, t in zip(s, y, strict=True) if v >= low and t == 1)
        assert c["fp"] == sum(1 for v, t in zip(s, y, strict=True) if v >= low and t == 0)
        assert c["fn"] == sum(1 for v, t in zip(s, y, strict=True) if v < low and t == 1)
        assert c["tn"] == sum(1 for v, t in zip(s, y, strict=True) if v < low and t == 0)
    assert sum(g["count"] for g in section["risk_groups"]) == len(s)
    first = section["risk_groups"][0]["confusion"]
    assert first["tn"] == first["fn"] == 0  # min_score 0 flags everyone
    _check_importance(root, doc["feature_importance"], method)


def test_the_regression_report_matches_a_recomputation(tmp_path):
    root = _train(MlRoot(tmp_path / "ml"), "gradient_boosting", "regression")
    folder, doc = _report(root)
    section = doc["regression"]
    assert root.model_files() == MODEL_FILES
    _check_files(folder, doc, {"predicted_vs_actual.png", "residuals.png", "feature_importance.png"})

    rows, y = _holdout(root, "regression")
    predicted = _raw_scores(root, rows)
    residuals = y - predicted
    metrics = json.loads((root.model / "metrics.json").read_text())
    assert section["rmse"] == pytest.approx(math.sqrt(float(np.mean(residuals**2))), abs=1e-9)
    assert section["rmse"] == pytest.approx(metrics["validation:rmse"], rel=1e-12)  # the metric's own predictions
    assert section["mae"] == pytest.approx(float(np.mean(np.abs(residuals))), abs=1e-9)
    r2 = 1 - float(np.sum(residuals**2)) / float(np.sum((y - y.mean()) ** 2))
    assert section["r2"] == pytest.approx(r2, abs=1e-12)
    summary = section["residuals"]
    assert summary["mean"] == pytest.approx(float(residuals.mean()), abs=1e-9)
    assert summary["median"] == pytest.approx(float(np.median(residuals)), abs=1e-9)
    assert (summary["min"], summary["max"]) == pytest.approx((residuals.min(), residuals.max()), abs=1e-9)
    assert sum(section["residual_histogram"]["counts"]) == len(y)
    _check_importance(root, doc["feature_importance"], "impurity")


def test_the_unsupervised_report_has_the_served_score_distribution(tmp_path):
    root = _train(MlRoot(tmp_path / "ml"), "isolation_forest", "unsupervised")
    folder, doc = _report(root)
    section = doc["unsupervised"]
    _check_files(folder, doc, {"score_distribution.png", "feature_importance.png"})
    rows, _ = _holdout(root, "unsupervised")
    predictor = Predictor(root.model)
    served = np.array(
        predictor.predict(
            predictor.parse(
                json.dumps([{k: r[k] for k in FEATURES} for r in rows]).encode(), "application/json", 10_000
            )
        )
    )
    assert section["scores"]["median"] == pytest.approx(float(np.median(served)), abs=1e-5)
    assert (section["scores"]["min"], section["scores"]["max"]) == pytest.approx((served.min(), served.max()), abs=1e-5)
    assert sum(g["count"] for g in section["risk_groups"]) == len(rows) == doc["rows"]
    _check_importance(root, doc["feature_importance"], "permutation")


@pytest.mark.parametrize(
    "value,says",
    [
        ("high", "not JSON"),
        ('{"name": "low", "min_score": 0}', "JSON list"),
        ('[{"name": "low", "min_score": 0.1}]', "must start at min_score 0"),
        ('[{"name": "low", "min_score": 0}, {"name": "high", "min_score": 1.5}]', "from 0 to 1"),
        (
            '[{"name": "low", "min_score": 0}, {"name": "high", "min_score": 0.6}, {"name": "mid", "min_score": 0.3}]',
            "must increase",
        ),
        ('[{"min_score": 0}]', "no name"),
    ],
)
def test_bad_risk_groups_fail_the_job_with_one_message(ml_root: MlRoot, value, says):
    write_csv(ml_root.channel("train") / "data.csv", make_rows(100, "classification"))
    ml_root.hyperparameters(algorithm="random_forest", label="self_excluded", no_trees=3, risk_groups=value)

    assert ml_root.train() == 1

    reason = ml_root.failure.read_text().strip()
    assert len(reason.splitlines()) == 1 and reason.startswith("bad hyperparameters: risk_groups")
    assert says in reason
    assert ml_root.model_files() == [] and not (ml_root.root / "output" / "data").exists()


def test_a_report_that_cannot_be_written_fails_the_job_and_leaves_no_model(ml_root: MlRoot, capsys):
    write_csv(ml_root.channel("train") / "data.csv", make_rows(100, "classification"))
    ml_root.schema()
    ml_root.hyperparameters(algorithm="random_forest", label="self_excluded", no_trees=3)
    (ml_root.root / "output").mkdir()
    (ml_root.root / "output" / "data").write_text("a file where the report's folder goes")

    assert ml_root.train() == 1

    reason = ml_root.failure.read_text().strip()
    assert reason.startswith("internal error: ReportError: the evaluation report could not be written")
    assert ml_root.model_files() == []
    assert "Traceback" in capsys.readouterr().err  # the cause stays in the job's log


def test_the_default_risk_groups_are_the_catalogues(tmp_path):
    catalogue = yaml.safe_load((REPO / "environments" / "models.yaml").read_text())
    groups = catalogue["intervention"]["risk_groups"]
    assert tuple((g["name"], g["min_score"]) for g in groups) == spec.DEFAULT_RISK_GROUPS
    # the catalogue's own list (with its levels) is a valid hyperparameter as it stands
    assert spec.parse_risk_groups(json.dumps(groups)) == spec.parse_risk_groups(None)


def test_serving_never_imports_matplotlib():
    code = (
        "import sys, vwt_model.serve, vwt_model.predictor, vwt_model.__main__\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'sklearn'))\n"
        "assert not loaded, loaded\n"
        "import vwt_model.report\n"  # the report module itself imports matplotlib only when it draws
        "assert 'matplotlib' not in sys.modules\n"
        "vwt_model.report._figure()\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(CONTEXT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_one_class_holdout_still_gets_a_report_without_curves():
    from vwt_model import report

    y, s = np.zeros(30, dtype=np.int64), np.linspace(0.0, 1.0, 30)
    section = report.classification(y, s, spec.parse_risk_groups(None))
    assert section["auc"] is None and section["roc_curve"] is None and "one class" in section["note"]
    assert [g["count"] for g in section["risk_groups"]] == [9, 9, 7, 5]  # 0..0.3, 0.3..0.6, 0.6..0.85, 0.85..1
    assert all(g["confusion"]["tp"] == 0 for g in section["risk_groups"])
    figures = report.classification_figures(section, y, s)
    assert set(figures) == {"calibration.png", "confusion_matrices.png", "score_distribution.png"}
    json.dumps(section, allow_nan=False)  # valid JSON: no NaN where a rate is undefined
