"""`train` over a temporary VWT_ML_ROOT: every algorithm and task, the data formats, every bad-data case."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers.container import FEATURES, LABELS, MlRoot, make_rows, write_csv
from vwt_model import spec
from vwt_model.predictor import Predictor

COMBOS = [(algorithm, task) for algorithm, (tasks, _) in spec.ALGORITHMS.items() for task in tasks]


def test_every_algorithm_and_task_is_covered():
    assert {a for a, _ in COMBOS} == set(spec.ALGORITHMS)
    assert {t for _, t in COMBOS} == set(spec.TASKS)


@pytest.mark.parametrize("algorithm,task", COMBOS)
def test_trains_every_algorithm_and_serves_the_result(ml_root: MlRoot, capsys, algorithm, task):
    label = LABELS[task]
    # unsupervised: the classification rows' self_excluded is its anchor (the gate's validation:anchor_auc)
    write_csv(ml_root.channel("train") / "part-0.csv", make_rows(400, "classification" if not label else task))
    ml_root.schema()
    hp = {"algorithm": algorithm, "task": task}
    if label:
        hp["label"] = label
    else:
        hp["anchor"] = "self_excluded"
    hp.update({k: v for k, v in {"no_trees": 10, "max_depth": 5}.items() if k in spec.params_for(algorithm)})
    ml_root.hyperparameters(**hp)

    assert ml_root.train() == 0, ml_root.failure.read_text() if ml_root.failure.exists() else ""

    assert ml_root.model_files() == ["drift-baseline.json", "metrics.json", "model.json", "model.onnx"]
    assert not ml_root.failure.exists()
    metrics = json.loads((ml_root.model / "metrics.json").read_text())
    out = capsys.readouterr().out
    for name in spec.METRICS[task]:
        match = re.search(spec.metric_regex(name), out)
        assert match, f"no {name} line in {out!r}"
        assert float(match.group(1)) == pytest.approx(metrics[name], rel=1e-5)
    if task == "classification":
        assert metrics["validation:auc"] > 0.75  # the label has signal; a broken encoding would lose it
    elif task == "regression":
        assert metrics["validation:r2"] > 0.5
    else:
        assert 0 <= metrics["validation:anomaly_rate"] < 0.5
        assert metrics["validation:anchor_auc"] > 0.6  # the anomaly score ranks the anchor's positives higher

    meta = json.loads((ml_root.model / "model.json").read_text())
    assert meta["format"] == "onnx" and meta["task"] == task and meta["algorithm"] == algorithm
    assert [f["name"] for f in meta["schema"]["features"]] == FEATURES
    predictor = Predictor(ml_root.model)
    rows = make_rows(20, task, seed=7)
    X = predictor.parse(json.dumps([{k: r[k] for k in FEATURES} for r in rows]).encode(), "application/json", 100)
    scores = predictor.predict(X)
    assert len(scores) == 20 and all(np.isfinite(scores))
    if task != "regression":
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_risk_scores_rank_risky_players_higher(trained_classifier: MlRoot):
    predictor = Predictor(trained_classifier.model)
    calm = {
        "deposits_per_week": 0.5,
        "session_minutes": 10,
        "cancelled_withdrawals": 0,
        "product": "lottery",
        "night_player": False,
    }
    risky = {
        "deposits_per_week": 20,
        "session_minutes": 280,
        "cancelled_withdrawals": 5,
        "product": "casino",
        "night_player": True,
    }
    low, high = predictor.predict(predictor.parse(json.dumps([calm, risky]).encode(), "application/json", 10))
    assert high > low


def test_without_schema_every_column_but_the_label_is_numeric(ml_root: MlRoot):
    rng = np.random.default_rng(1)
    rows = [{"x1": float(a), "x2": float(b), "y": int(a + b > 0)} for a, b in rng.normal(size=(200, 2))]
    write_csv(ml_root.channel("train") / "d.csv", rows)
    ml_root.hyperparameters(algorithm="logistic_regression", label="y")  # task defaults to classification
    assert ml_root.train() == 0
    meta = json.loads((ml_root.model / "model.json").read_text())
    assert meta["schema"] == {"features": [{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}]}


def test_uses_the_validation_channel_and_parquet(ml_root: MlRoot):
    pq.write_table(pa.Table.from_pylist(make_rows(300, "regression")), ml_root.channel("train") / "train.parquet")
    write_csv(ml_root.channel("validation") / "val.csv", make_rows(77, "regression", seed=3))
    ml_root.schema()
    ml_root.hyperparameters(algorithm="random_forest", task="regression", label="stake", no_trees=5)
    assert ml_root.train() == 0
    meta = json.loads((ml_root.model / "model.json").read_text())
    assert meta["rows"] == {"train": 300, "validation": 77}


def test_many_files_in_a_channel_and_sagemaker_reserved_hyperparameters(ml_root: MlRoot):
    rows = make_rows(300, "classification")
    write_csv(ml_root.channel("train") / "a" / "part-0.csv", rows[:150])
    write_csv(ml_root.channel("train") / "a" / "part-1.csv", rows[150:])
    ml_root.schema()
    ml_root.hyperparameters(
        algorithm="random_forest",
        task="classification",
        label="self_excluded",
        no_trees=4,
        _tuning_objective_metric="validation:auc",
    )
    assert ml_root.train() == 0
    assert json.loads((ml_root.model / "model.json").read_text())["rows"]["train"] == 240  # 80 % of 300


def test_the_same_data_and_seed_give_the_same_model(tmp_path):
    digests = []
    for name in ("a", "b"):
        root = MlRoot(tmp_path / name)
        write_csv(root.channel("train") / "d.csv", make_rows(200, "classification"))
        root.schema()
        root.hyperparameters(algorithm="random_forest", task="classification", label="self_excluded", no_trees=5)
        assert root.train() == 0
        digests.append((root.model / "model.onnx").read_bytes())
    assert digests[0] == digests[1]


def _rows_with(**changes):
    rows = make_rows(60, "classification")
    for index, change in changes.items():
        rows[int(index.removeprefix("row"))].update(change)
    return rows


BAD_DATA = {
    "empty file": (lambda ch: (ch / "d.csv").write_text(""), "is empty"),
    "header only": (
        lambda ch: (ch / "d.csv").write_text(",".join([*FEATURES, "self_excluded"]) + "\n"),
        "no data rows",
    ),
    "missing label column": (
        lambda ch: write_csv(ch / "d.csv", make_rows(60, "classification"), FEATURES),
        "label column 'self_excluded' is missing",
    ),
    "non-numeric feature": (
        lambda ch: write_csv(ch / "d.csv", _rows_with(row7={"session_minutes": "lots"})),
        "'session_minutes' is not numeric",
    ),
    "all one class": (
        lambda ch: write_csv(ch / "d.csv", [{**r, "self_excluded": 0} for r in make_rows(60, "classification")]),
        "same label",
    ),
    "NaN label": (lambda ch: write_csv(ch / "d.csv", _rows_with(row3={"self_excluded": "NaN"})), "missing (NaN)"),
    "empty label": (lambda ch: write_csv(ch / "d.csv", _rows_with(row5={"self_excluded": ""})), "missing (NaN)"),
    "category not allowed": (
        lambda ch: write_csv(ch / "d.csv", _rows_with(row2={"product": "bingo"})),
        "'product' must be one of casino, sports, poker, lottery; row 3 has 'bingo'",
    ),
    "missing feature column": (
        lambda ch: write_csv(
            ch / "d.csv", make_rows(60, "classification"), [f for f in FEATURES if f != "product"] + ["self_excluded"]
        ),
        "feature column 'product' is missing",
    ),
    "missing required value": (
        lambda ch: write_csv(ch / "d.csv", _rows_with(row4={"deposits_per_week": ""})),
        "'deposits_per_week' has 1 missing values",
    ),
    "below min": (lambda ch: write_csv(ch / "d.csv", _rows_with(row1={"deposits_per_week": -1})), "below its min"),
    "three classes": (lambda ch: write_csv(ch / "d.csv", _rows_with(row1={"self_excluded": 2})), "binary"),
    "not a data file": (lambda ch: (ch / "d.csv").write_bytes(b"\x00\x01garbage\xff\xfe\n\x00"), "d.csv"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_writes_the_reason_and_leaves_no_model(ml_root: MlRoot, case):
    make, expected = BAD_DATA[case]
    make(ml_root.channel("train"))
    ml_root.schema()
    ml_root.hyperparameters(algorithm="random_forest", task="classification", label="self_excluded", no_trees=3)
    assert ml_root.train() == 1
    reason = ml_root.failure.read_text()
    assert expected in reason
    assert "internal error" not in reason
    assert ml_root.model_files() == []


BAD_HYPERPARAMETERS = {
    "zero trees": ({"no_trees": "0"}, "no_trees must be >= 1"),
    "trees not a number": ({"no_trees": "many"}, "no_trees must be a whole number"),
    "unknown hyperparameter": ({"max_leaves": "4"}, "unknown hyperparameter 'max_leaves'"),
    "no label": ({"label": None}, "'label' (the label column) is required"),
    "wrong task": ({"task": "unsupervised"}, "random_forest does not do unsupervised"),
}


@pytest.mark.parametrize("case", sorted(BAD_HYPERPARAMETERS))
def test_bad_hyperparameters_fail_with_the_reason(ml_root: MlRoot, case):
    change, expected = BAD_HYPERPARAMETERS[case]
    write_csv(ml_root.channel("train") / "d.csv", make_rows(60, "classification"))
    hp = {"algorithm": "random_forest", "task": "classification", "label": "self_excluded", **change}
    ml_root.hyperparameters(**{k: v for k, v in hp.items() if v is not None})
    assert ml_root.train() == 1
    assert expected in ml_root.failure.read_text()
    assert ml_root.model_files() == []


def test_invalid_schema_is_a_failure(ml_root: MlRoot):
    write_csv(ml_root.channel("train") / "d.csv", make_rows(60, "classification"))
    ml_root.schema({"features": [{"name": "product", "type": "category"}]})
    ml_root.hyperparameters(algorithm="random_forest", task="classification", label="self_excluded")
    assert ml_root.train() == 1
    assert "category feature needs its allowed values" in ml_root.failure.read_text()


def test_the_entry_point_exits_non_zero_on_failure_and_zero_on_success(ml_root: MlRoot):
    env = {**os.environ, "VWT_ML_ROOT": str(ml_root.root)}
    ml_root.hyperparameters(algorithm="random_forest", task="classification", label="self_excluded")
    done = subprocess.run([sys.executable, "-m", "vwt_model", "train"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "no data files" in ml_root.failure.read_text() or "does not exist" in ml_root.failure.read_text()
    write_csv(ml_root.channel("train") / "d.csv", make_rows(100, "classification"))
    ml_root.schema()
    ml_root.failure.unlink()
    ml_root.hyperparameters(algorithm="random_forest", task="classification", label="self_excluded", no_trees=3)
    done = subprocess.run([sys.executable, "-m", "vwt_model", "train"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert re.search(spec.metric_regex("validation:auc"), done.stdout)
    assert ml_root.model_files() == ["drift-baseline.json", "metrics.json", "model.json", "model.onnx"]
