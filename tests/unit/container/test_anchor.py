"""An unsupervised model's gate metric: the AUC of its served anomaly score against an anchor column (a known
outcome such as self-exclusion) on the hold-out rows that have it, for the new model and the champion alike."""

from __future__ import annotations

import csv
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tests.helpers.container import FEATURES, SCHEMA, MlRoot, make_rows, write_csv
from vwt_model import spec
from vwt_model.baseline import build_artifact
from vwt_model.evaluate import anchor_problem, champion_name
from vwt_model.predictor import Predictor

ANCHOR = "self_excluded"


def _rows(n: int = 500, seed: int = 3, unknown_every: int = 7) -> list[dict]:
    """Behaviour rows whose self_excluded column is the anchor, absent (empty) on every `unknown_every`-th row."""
    rows = make_rows(n, "classification", seed=seed)
    for i, row in enumerate(rows):
        row[ANCHOR] = "" if unknown_every and i % unknown_every == 0 else ("true" if row[ANCHOR] else "false")
    return rows


def _root(base: Path, rows: list[dict], schema: dict | None = SCHEMA, **hp) -> MlRoot:
    root = MlRoot(base)
    write_csv(root.channel("train") / "data.csv", rows)
    if schema is not None:
        root.schema(schema)
    root.hyperparameters(**{"algorithm": "isolation_forest", "task": "unsupervised", "anchor": ANCHOR, **hp})
    return root


def _trained(root: MlRoot) -> MlRoot:
    assert root.train() == 0, root.failure.read_text() if root.failure.exists() else ""
    return root


def _holdout(root: MlRoot) -> tuple[list[dict], np.ndarray]:
    """The hold-out rows, recomputed with the job's seeded split (stratified by the anchor: 1, 0, -1 absent),
    and their anchor (1.0, 0.0, NaN)."""
    rows = list(csv.DictReader((root.channel("train") / "data.csv").open()))
    anchor = np.array([{"true": 1.0, "false": 0.0}.get(r[ANCHOR], np.nan) for r in rows])
    strata = np.nan_to_num(anchor, nan=-1).astype(int)
    _, val = train_test_split(np.arange(len(rows)), test_size=0.2, random_state=0, stratify=strata)
    return [rows[i] for i in val], anchor[val]


def _served(model_dir: Path, rows: list[dict]) -> np.ndarray:
    """The scores the model serves for `rows` (the same path as an endpoint's JSON request)."""
    predictor = Predictor(model_dir)
    records = [{k: r[k] for k in FEATURES} for r in rows]
    for r in records:
        r["night_player"] = r["night_player"] == "true"
    return np.array(predictor.predict(predictor.parse(json.dumps(records).encode(), "application/json", 10000)))


def _pack(model_dir: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return folder / "model.tar.gz"


def _logged(out: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"^(\S+:\S+)=(\S+)$", out, re.M)}


def test_anchor_auc_is_the_served_scores_auc_on_the_anchored_holdout_rows(tmp_path, capsys):
    root = _trained(_root(tmp_path / "ml", _rows(), no_trees=20))

    out = capsys.readouterr().out
    metrics = json.loads((root.model / "metrics.json").read_text())
    rows, anchor = _holdout(root)
    present = ~np.isnan(anchor)
    assert 0 < present.sum() < len(rows)  # some hold-out rows have no anchor, and they are left out
    scores = _served(root.model, rows)
    want = roc_auc_score(anchor[present], scores[present])
    assert metrics["validation:anchor_auc"] == pytest.approx(want, abs=1e-6)
    assert metrics["validation:anchor_auc"] > 0.6  # the score ranks self-excluded players higher
    # logged on its own line, matched by the training job's metric definition; anomaly_rate as information
    assert float(re.search(spec.metric_regex("validation:anchor_auc"), out).group(1)) == pytest.approx(want, rel=1e-5)
    assert 0 < _logged(out)["validation:anomaly_rate"] < 0.5
    assert json.loads((root.model / "model.json").read_text())["hyperparameters"]["anchor"] == ANCHOR


@pytest.mark.parametrize("schema", [SCHEMA, None], ids=["schema given", "schema inferred"])
def test_the_anchor_is_never_a_feature(tmp_path, capsys, schema):
    rows = _rows()
    if schema is None:  # inferred: every column but the anchor is a numeric feature
        rows = [{k: v for k, v in r.items() if k not in ("product", "night_player")} for r in rows]
    root = _trained(_root(tmp_path / "ml", rows, schema, no_trees=10))

    meta = json.loads((root.model / "model.json").read_text())
    names = [f["name"] for f in meta["schema"]["features"]]
    assert ANCHOR not in names and ANCHOR not in " ".join(meta["encoded_features"])
    assert names == (FEATURES if schema else [k for k in rows[0] if k != ANCHOR])


def test_a_schema_listing_the_anchor_as_a_feature_fails(tmp_path, capsys):
    schema = {"features": [*SCHEMA["features"], {"name": ANCHOR, "type": "bool", "required": False, "default": False}]}
    root = _root(tmp_path / "ml", _rows(), schema)
    assert root.train() == 1
    assert f"lists the anchor column '{ANCHOR}' as a feature" in root.failure.read_text()
    assert root.model_files() == []


def test_the_champion_is_scored_on_the_same_anchored_rows(tmp_path, capsys):
    champion = _trained(_root(tmp_path / "champion", _rows(seed=11), no_trees=5, random_state=4))
    root = _root(tmp_path / "challenger", _rows(), no_trees=40)
    (root.channel("champion") / "model.tar.gz").write_bytes(_pack(champion.model, tmp_path / "packed").read_bytes())
    capsys.readouterr()

    _trained(root)

    logged = _logged(capsys.readouterr().out)
    names = spec.METRICS["unsupervised"]
    assert set(logged) == {*names, *(champion_name(m) for m in names), "champion:scored"}
    assert logged["champion:scored"] == 1
    rows, anchor = _holdout(root)
    present = ~np.isnan(anchor)
    want = roc_auc_score(anchor[present], _served(champion.model, rows)[present])
    metrics = json.loads((root.model / "metrics.json").read_text())
    assert metrics["champion:anchor_auc"] == pytest.approx(want, abs=1e-6)
    assert metrics["champion:anchor_auc"] != pytest.approx(metrics["validation:anchor_auc"])  # two models
    scored = json.loads((root.model / "model.json").read_text())["champion"]["scored"]
    assert f"same {len(rows)} hold-out rows ({int(present.sum())} with the anchor)" in scored


def test_the_baseline_champion_ranks_no_one_and_flags_no_one(tmp_path, capsys):
    baseline = build_artifact(SCHEMA["features"], "unsupervised", tmp_path / "baseline")
    root = _root(tmp_path / "ml", _rows(), no_trees=10)
    (root.channel("champion") / "model.tar.gz").write_bytes(baseline.read_bytes())
    _trained(root)
    metrics = json.loads((root.model / "metrics.json").read_text())
    assert metrics["champion:anchor_auc"] == 0.5 and metrics["champion:anomaly_rate"] == 0
    assert metrics["champion:scored"] == 1


def test_a_validation_channel_with_one_anchor_value_fails_the_job_and_says_why(tmp_path, capsys):
    root = _root(tmp_path / "ml", _rows(), no_trees=10)
    val = _rows(100, seed=9, unknown_every=0)
    for row in val:
        row[ANCHOR] = "false"
    val[5][ANCHOR] = ""  # absent
    write_csv(root.channel("validation") / "val.csv", val)
    assert root.train() == 1
    reason = root.failure.read_text()
    assert f"validation: anchor '{ANCHOR}' has only the value False" in reason
    assert "validation:anchor_auc (the gate's metric) needs both of its values" in reason
    assert root.model_files() == []


@pytest.mark.parametrize(
    "anchor,problem",
    [
        ([1.0, np.nan, 0.0], None),
        ([1.0, np.nan, 1.0], "the hold-out has 2 rows with the anchor 'x', all positive"),
        ([0.0, 0.0, np.nan], "the hold-out has 2 rows with the anchor 'x', none positive"),
        ([np.nan, np.nan], "the hold-out has 0 rows with the anchor 'x', none positive"),
    ],
)
def test_a_split_holdout_needs_both_anchor_values(anchor, problem):
    got = anchor_problem(np.array(anchor), "x")
    assert got == problem if problem is None else got.startswith(problem + ": validation:anchor_auc")


@pytest.mark.parametrize(
    "change,message",
    [
        ("drop", "anchor column 'self_excluded' is missing"),
        ("one value", "anchor 'self_excluded' has only the value False"),
        ("three values", "anchor 'self_excluded' has 3 values"),
    ],
)
def test_an_unusable_anchor_column_fails_with_its_name(tmp_path, capsys, change, message):
    rows = _rows()
    for i, row in enumerate(rows):
        if change == "drop":
            del row[ANCHOR]
        elif change == "one value":
            row[ANCHOR] = "false"
        else:
            row[ANCHOR] = ("yes", "no", "maybe")[i % 3]
    root = _root(tmp_path / "ml", rows)
    assert root.train() == 1
    assert message in root.failure.read_text()


def test_anchor_is_refused_for_a_supervised_model(tmp_path, capsys):
    root = _root(tmp_path / "ml", _rows(), algorithm="random_forest", task="classification", label=ANCHOR)
    assert root.train() == 1
    assert "hyperparameter 'anchor' is for unsupervised models" in root.failure.read_text()
