"""The synthetic data set: made from the catalogue, typed and bounded as it says, seeded, with labels worth learning."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import yaml

from tests.helpers import REPO
from vwt_deploy.config import load
from vwt_deploy.contract import USER_ID_FIELD as USER_ID
from vwt_deploy.operate.sample import SCHEMA_FILE, generate, models_on

ROWS = 2000


@pytest.fixture(scope="module")
def env():
    return load("local", REPO)


@pytest.fixture(scope="module")
def data(env):
    return {key: generate(env, key, ROWS, seed=7) for key in env.catalogue.data_buckets}


def _rows(csv_bytes: bytes) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(csv_bytes.decode()))
    return list(reader.fieldnames or []), list(reader)


def _label_column(model) -> str:
    return model.labeling.source_column if model.labeling.mode == "self_exclusion" else model.label


@pytest.mark.parametrize("name", ["bid-problem-gambling", "gb-problem-gambling", "gb-marketing"])
def test_every_feature_of_the_model_is_a_column_within_its_bounds(env, data, name):
    model = env.catalogue.model(name)
    header, rows = _rows(data[model.data_bucket].to_csv())
    assert header[0] == USER_ID and len(rows) == ROWS
    assert _label_column(model) in header
    for feature in model.features:
        assert feature.name in header
        cells = [row[feature.name] for row in rows]
        if feature.type == "category":
            assert set(cells) <= set(feature.allowed)
        elif feature.type == "bool":
            assert set(cells) <= {"true", "false"}
        else:
            values = np.array([float(c) for c in cells])
            assert values.min() >= feature.min and values.max() <= feature.max, feature.name
            if feature.type == "int":
                assert all(c.lstrip("-").isdigit() for c in cells), feature.name
            assert len(np.unique(values)) > 1, f"{feature.name} never varies"


@pytest.mark.parametrize("name", ["bid-problem-gambling", "gb-problem-gambling", "gb-marketing"])
def test_the_training_container_reads_the_file_with_the_model_schema(env, data, name, tmp_path):
    from vwt_model.data import find_schema, load_table
    from vwt_model.schema import schema_from

    model = env.catalogue.model(name)
    dataset = data[model.data_bucket]
    (tmp_path / "synthetic.csv").write_bytes(dataset.to_csv())
    (tmp_path / SCHEMA_FILE).write_bytes(dataset.schema_json())
    schema, _, X, y = load_table(tmp_path, schema_from(model.features), model.label, "train")
    assert X.shape == (ROWS, schema.width) and len(y) == ROWS
    assert find_schema([tmp_path]) == schema_from(model.features)  # schema.json: what the pipeline's channel gets


def test_the_same_seed_writes_the_same_bytes_and_another_seed_others(env):
    for key in env.catalogue.data_buckets:
        first = generate(env, key, 500, seed=3)
        assert first.to_csv() == generate(env, key, 500, seed=3).to_csv()
        assert first.to_csv() != generate(env, key, 500, seed=4).to_csv()


def test_label_rates_are_plausible(data):
    bid = data["before-initial-deposit"].column("self_excluded")
    gb = data["gambling-behaviour"]
    assert 0.02 <= bid.mean() <= 0.10
    assert 0.03 <= gb.column("self_excluded").mean() <= 0.15
    stake = gb.column("future_stake_per_day")
    assert (stake >= 0).all() and (stake[gb.column("self_excluded")] == 0).all()
    assert np.median(stake[~gb.column("self_excluded")]) > 1
    assert gb.label_summary()["self_excluded rate"] == round(float(gb.column("self_excluded").mean()), 4)


@pytest.mark.parametrize("bucket, floor", [("before-initial-deposit", 0.65), ("gambling-behaviour", 0.78)])
def test_a_random_forest_learns_the_self_exclusion_flag(env, bucket, floor):
    """A quick forest on a hold-out clearly beats chance (0.5) and stays below the stated model's own AUC."""
    import pyarrow as pa
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    from vwt_model.data import encode
    from vwt_model.schema import schema_from

    dataset = generate(env, bucket, 5000, seed=11)
    model = models_on(env, bucket)[0]
    table = pa.table({c.name: c.values for c in dataset.columns if c.name in {f.name for f in model.features}})
    X = encode(table, schema_from(model.features), "synthetic")
    y = dataset.column("self_excluded")
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=20, random_state=0, n_jobs=1)
    forest.fit(X[:4000], y[:4000])
    auc = roc_auc_score(y[4000:], forest.predict_proba(X[4000:])[:, 1])
    best = roc_auc_score(y[4000:], dataset.self_exclusion_probability[4000:])
    assert floor < auc <= best + 0.03


def test_a_fourth_model_adds_its_features_and_leaves_the_others_as_they_were(project_dir):
    path = project_dir / "environments" / "models.yaml"
    doc = yaml.safe_load(path.read_text())
    fourth = dict(doc["models"][1], name="gb-bonus-abuse", label="bonus_abuser", labeling={"mode": "none"})
    fourth["features"] = list(fourth["features"]) + [
        {"name": "bonus_share", "type": "float", "min": 0, "max": 1},
        {"name": "vip_tier", "type": "category", "allowed": ["none", "silver", "gold"]},
        {"name": "kyc_level", "type": "int", "min": 1, "max": 3},
        {"name": "uses_vpn", "type": "bool"},
    ]
    doc["models"].append(fourth)
    path.write_text(yaml.safe_dump(doc))
    env = load("local", project_dir)
    before = generate(load("local", REPO), "gambling-behaviour", 1000, seed=5)
    after = generate(env, "gambling-behaviour", 1000, seed=5)
    names = [c.name for c in after.columns]
    assert {"bonus_share", "vip_tier", "kyc_level", "uses_vpn", "bonus_abuser"} <= set(names)
    share, tier, kyc = after.column("bonus_share"), after.column("vip_tier"), after.column("kyc_level")
    assert share.min() >= 0 and share.max() <= 1 and set(tier) == {"none", "silver", "gold"}
    assert set(kyc) == {1, 2, 3} and set(after.column("uses_vpn")) == {True, False}
    assert 0.01 < after.column("bonus_abuser").mean() < 0.3  # a classification label without recipe: the risk model
    for column in before.columns:  # every column the catalogue had is drawn as before
        assert np.array_equal(after.column(column.name), column.values), column.name


def test_recipes_are_clipped_to_narrower_catalogue_bounds(project_dir):
    path = project_dir / "environments" / "models.yaml"
    text = path.read_text().replace(
        "{name: age, type: int, min: 18, max: 120}", "{name: age, type: int, min: 21, max: 40}"
    )
    path.write_text(text)
    ages = generate(load("local", project_dir), "before-initial-deposit", 2000, seed=1).column("age")
    assert ages.min() == 21 and ages.max() == 40


def test_the_operator_labels_a_seeded_share_of_players_with_their_self_exclusion_draw(data):
    gb = data["gambling-behaviour"]
    header, rows = _rows(gb.operator_labels(seed=7))
    assert header == [USER_ID, "label"]
    assert 0.55 * ROWS < len(rows) < 0.65 * ROWS
    truth = dict(zip(gb.column(USER_ID).tolist(), gb.column("self_excluded").tolist(), strict=True))
    assert all(row["label"] == str(int(truth[row[USER_ID]])) for row in rows)
    assert len({row[USER_ID] for row in rows}) == len(rows)  # one label per player
    order = [row[USER_ID] for row in rows]
    assert order != sorted(order, key=list(truth).index)  # shuffled: only the user_id joins them
    assert gb.operator_labels(seed=7) == gb.operator_labels(seed=7) != gb.operator_labels(seed=8)


def test_write_samples_puts_the_operator_labels_under_each_labelling_models_prefix(env, moto):
    import boto3

    from vwt_deploy.operate.sample import LABELS_FILE, write_samples

    s3 = boto3.client("s3", region_name=env.region)
    for key in env.catalogue.data_buckets:
        s3.create_bucket(Bucket=env.data_bucket_name(key), CreateBucketConfiguration={"LocationConstraint": env.region})
    written = write_samples(env, s3, rows=300, seed=3)
    assert written  # the data files, as before
    for key in env.catalogue.data_buckets:
        prefixes = {m.labeling.labels_prefix for m in models_on(env, key) if m.labeling.mode != "none"}
        assert prefixes
        for prefix in prefixes:
            body = s3.get_object(Bucket=env.data_bucket_name(key), Key=prefix + LABELS_FILE)["Body"].read()
            assert body == generate(env, key, 300, seed=3).operator_labels(3)


def test_a_shifted_population_moves_the_features_drawn_from_risk(env):
    plain = generate(env, "gambling-behaviour", 4000, seed=5)
    shifted = generate(env, "gambling-behaviour", 4000, seed=5, shift=True)
    for name in ("deposits_per_week", "night_play_share", "loss_chasing_ratio"):
        assert shifted.column(name).mean() > plain.column(name).mean(), name
    assert shifted.label_summary()["self_excluded rate"] > plain.label_summary()["self_excluded rate"]
    assert generate(env, "gambling-behaviour", 4000, seed=5).to_csv() == plain.to_csv()  # unshifted: unchanged
