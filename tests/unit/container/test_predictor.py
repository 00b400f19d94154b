"""The request parsing paths agree: row by row (small bodies, JSON), pyarrow (batches), parallel chunks (large CSV)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.container import FEATURES, MlRoot, make_rows, write_csv
from vwt_model.predictor import BadInput, Predictor


def csv_body(rows: list[dict]) -> bytes:
    return "\n".join(",".join(str(r[f]) for f in FEATURES) for r in rows).encode() + b"\n"


@pytest.fixture(scope="module")
def predictor(trained_classifier: MlRoot) -> Predictor:
    p = Predictor(trained_classifier.model)
    p.workers = 2  # the parallel path, whatever this machine's core count
    return p


@pytest.fixture(scope="module")
def numeric_predictor(tmp_path_factory) -> Predictor:
    root = MlRoot(tmp_path_factory.mktemp("num") / "ml")
    rng = np.random.default_rng(5)
    write_csv(
        root.channel("train") / "d.csv",
        [{"a": float(a), "b": float(b), "c": float(c), "y": int(a - b > 0)} for a, b, c in rng.normal(size=(200, 3))],
    )
    root.hyperparameters(algorithm="random_forest", task="classification", label="y", no_trees=5)
    assert root.train() == 0
    p = Predictor(root.model)
    p.workers = 2
    return p


def test_all_paths_give_the_same_predictions(predictor):
    rows = make_rows(2500, "classification", seed=11)
    records = [{f: r[f] for f in FEATURES} for r in rows]
    body = csv_body(rows)
    assert len(body) > 64 * 1024
    parallel = predictor.handle(body, "text/csv", 10000)
    sequential_arrow = predictor.predict(predictor.parse(body, "text/csv", 10000))
    by_json = predictor.handle(json.dumps(records).encode(), "application/json", 10000)
    row_by_row = [predictor.handle(csv_body([r]), "text/csv", 10) for r in rows[:40]]
    assert parallel == sequential_arrow == by_json
    assert [r[0] for r in row_by_row] == parallel[:40]


def test_an_error_deep_in_a_batch_is_named_by_row(predictor):
    rows = make_rows(2500, "classification", seed=12)
    rows[2399]["product"] = "bingo"
    with pytest.raises(BadInput, match="row 2400: product must be one of"):
        predictor.handle(csv_body(rows), "text/csv", 10000)
    rows[2399]["product"] = "casino"
    rows[1500]["session_minutes"] = "lots"
    with pytest.raises(BadInput, match="row 1501: session_minutes must be a number, got 'lots'"):
        predictor.handle(csv_body(rows), "text/csv", 10000)


def test_too_many_rows_in_a_batch(predictor):
    body = csv_body(make_rows(300, "classification"))
    with pytest.raises(BadInput) as caught:
        predictor.handle(body, "text/csv", 299)
    assert caught.value.status == 413


def test_numeric_models_take_the_fast_paths(numeric_predictor):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 3))
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in X).encode()
    parallel = numeric_predictor.handle(body, "text/csv", 10000)
    records = json.dumps([{"a": a, "b": b, "c": c} for a, b, c in X.tolist()]).encode()
    assert parallel == numeric_predictor.handle(records, "application/json", 10000)
    lists = json.dumps(X.tolist()).encode()
    assert parallel == numeric_predictor.handle(lists, "application/json", 10000)
    bad = body.replace(b"\n", b"\nnan,1,2\n", 1)
    with pytest.raises(BadInput, match="row 2: a must be a finite number"):
        numeric_predictor.handle(bad, "text/csv", 10000)
