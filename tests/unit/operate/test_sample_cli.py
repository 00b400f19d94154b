"""`vwt-deploy data sample` and `predict --sample` through the CLI, against moto's S3 (mock_aws)."""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest
from click.testing import CliRunner

from tests.helpers import REPO
from vwt_deploy.cli import main
from vwt_deploy.config import load
from vwt_deploy.deploy import pipeline as deploy
from vwt_deploy.operate.predict import sample_records

REGION = "eu-west-1"
ENV = load("local", REPO)
BUCKETS = [ENV.data_bucket_name(k) for k in ENV.catalogue.data_buckets]


class MotoTarget:
    """The deployment's target, on moto: `available` says whether the (local) emulator runs."""

    def __init__(self, available: bool = True):
        self.running = available
        self.calls: list[str] = []

    def available(self) -> bool:
        self.calls.append("available")
        return self.running

    def ensure_ready(self) -> None:
        self.calls.append("ensure_ready")

    def client(self, service: str):
        self.calls.append(f"client:{service}")
        return boto3.client(service, region_name=REGION)

    def terraform_env(self) -> dict:
        return {}

    def api_url(self, outputs: dict) -> str:
        return outputs["api_url"]

    def state_lost(self) -> bool:
        return False


@pytest.fixture
def s3(moto):
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def target(monkeypatch):
    target = MotoTarget()
    monkeypatch.setattr(deploy.Deployment, "target", property(lambda self: target))
    return target


def deploy_buckets(s3, names=BUCKETS) -> str:
    """The data buckets as the storage module makes them: default encryption with the environment's KMS key."""
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    for name in names:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
    return key


def objects(s3) -> list[str]:
    out = []
    for name in s3.list_buckets()["Buckets"]:
        out += [f"{name['Name']}/{o['Key']}" for o in s3.list_objects_v2(Bucket=name["Name"]).get("Contents", [])]
    return sorted(out)


def run(*args: str):
    return CliRunner().invoke(main, ["--project-dir", str(REPO), *args])


def test_data_sample_writes_every_data_bucket_encrypted_with_its_key(s3, target):
    kms_key = deploy_buckets(s3)
    res = run("data", "sample", "--rows", "300", "--seed", "2", "--json")
    assert res.exit_code == 0, res.output
    written = json.loads(res.output)
    data_files = [w for w in written if w["schema_key"]]
    scoring = [w for w in written if not w["schema_key"]]
    assert sorted(w["bucket"] for w in data_files) == sorted(BUCKETS)
    # the data and its schema, an operator's label file for the labelling models (each bucket has one), and per
    # model of the bucket and per operator, the players batch scoring scores
    env = load("local", REPO)
    files = ["training/schema.json", "training/synthetic.csv", "labels/synthetic-review.csv"]
    expected = [f"{b}/{f}" for b in BUCKETS for f in files]
    for m in env.catalogue.models:
        for o in env.catalogue.operators:
            expected.append(f"{env.data_bucket_name(m.data_bucket)}/scoring/{m.name}/{o.id}/players.csv")
    assert objects(s3) == sorted(expected)
    for b in BUCKETS:
        head = s3.head_object(Bucket=b, Key="labels/synthetic-review.csv")
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
    for w in data_files:
        head = s3.head_object(Bucket=w["bucket"], Key=w["key"])
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
        body = s3.get_object(Bucket=w["bucket"], Key=w["key"])["Body"].read()
        assert len(body) == w["bytes"] and len(list(csv.DictReader(io.StringIO(body.decode())))) == 300 == w["rows"]
        assert 0 <= w["labels"]["self_excluded rate"] < 0.3
        schema = json.loads(s3.get_object(Bucket=w["bucket"], Key=w["schema_key"])["Body"].read())
        header = body.decode().split("\n")[0].split(",")
        assert [f["name"] for f in schema["features"]] == header[1 : len(schema["features"]) + 1]
    # every player of a bucket is scored by each of its models, once, by one operator; no header
    for m in env.catalogue.models:
        mine = [w for w in scoring if f"/scoring/{m.name}/" in f"/{w['key']}"]
        assert sum(w["rows"] for w in mine) == 300 and len(mine) == len(env.catalogue.operators)
        for w in mine:
            lines = s3.get_object(Bucket=w["bucket"], Key=w["key"])["Body"].read().decode().splitlines()
            assert len(lines) == w["rows"] and not lines[0].startswith("user_id")
            assert all(len(line.split(",")) == 1 + len(m.features) for line in lines)
    res = run("data", "sample", "--rows", "300", "--bucket", "gambling-behaviour")
    assert res.exit_code == 0, res.output
    assert res.output.count("wrote s3://") == 1 + 3 * 2  # the data file, and its 3 models' players per operator
    assert "vwt-local-data-gambling-behaviour/training/synthetic.csv: 300 rows" in res.output
    assert "scoring/gb-marketing/northbet/players.csv: 150 players to score" in res.output
    assert "self_excluded rate" in res.output and "future_stake_per_day mean" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rows", "0"], "--rows must be between 1 and 1,000,000, got 0"),
        (["--rows", "-5"], "--rows must be between 1 and 1,000,000"),
        (["--rows", "1000001"], "--rows must be between 1 and 1,000,000"),
        (["--seed", "-1"], "--seed must be a whole number"),
        (["--bucket", "payments"], "unknown data bucket 'payments' in local"),
        (["--env", "prod"], "refusing to write synthetic data to prod: its data buckets hold real players' data"),
    ],
)
def test_bad_arguments_are_one_message_and_write_nothing(s3, target, args, message):
    deploy_buckets(s3)
    res = run("data", "sample", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output and res.output.count("Error:") == 1 and "Traceback" not in res.output
    assert objects(s3) == []
    assert target.calls == []  # refused before anything touched the account


def test_not_deployed_or_a_missing_bucket_writes_nothing(s3, target):
    res = run("data", "sample")
    assert res.exit_code == 2 and "local is not deployed" in res.output and "vwt-deploy up --env local" in res.output
    deploy_buckets(s3, BUCKETS[:1])
    res = run("data", "sample")
    assert res.exit_code == 2 and f"the data bucket(s) {BUCKETS[1]} of local do not exist" in res.output
    assert objects(s3) == []
    target.running = False
    res = run("data", "sample")
    assert res.exit_code == 2 and "the local emulator is not running" in res.output


# --------------------------------------------------------------------------- predict --sample


@pytest.fixture
def sampled(s3, target):
    deploy_buckets(s3)
    assert run("data", "sample", "--rows", "200").exit_code == 0
    return s3


def _types(model_name: str) -> dict[str, str]:
    return {f.name: f.type for f in ENV.catalogue.model(model_name).features}


@pytest.mark.parametrize("model_name", ["bid-problem-gambling", "gb-marketing"])
def test_sample_records_hold_the_model_features_only_typed(sampled, model_name):
    model = ENV.catalogue.model(model_name)
    records = sample_records(
        sampled, ENV.data_bucket_name(model.data_bucket), model.data_prefix, _types(model_name), 7, seed=1
    )
    assert len(records) == 7 and len({r["user_id"] for r in records}) == 7
    kinds = {"int": int, "float": float, "bool": bool, "category": str}
    for record in records:
        assert set(record) == set(_types(model_name)) | {"user_id"}  # no labels, no other model's columns
        for name, kind in _types(model_name).items():
            assert type(record[name]) is kinds[kind] or (kind == "float" and type(record[name]) is int), name
    assert records == sample_records(
        sampled, ENV.data_bucket_name(model.data_bucket), model.data_prefix, _types(model_name), 7, seed=1
    )
    assert records != sample_records(
        sampled, ENV.data_bucket_name(model.data_bucket), model.data_prefix, _types(model_name), 7, seed=2
    )


def test_predict_sample_sends_the_drawn_records(sampled, monkeypatch):
    from vwt_deploy.operate import predict as predict_mod

    sent = []

    def fake_predict(self, model, records, chunk_size=1000, request_id=None):
        sent.append((model, records))
        return {
            "model": model,
            "model_version": "v1",
            "request_ids": ["r"],
            "predictions": [{"user_id": r["user_id"], "prediction": 0.5} for r in records],
        }

    monkeypatch.setattr(
        deploy.Deployment, "outputs", lambda self: {"api_url": "http://api", "api_key_ids": {"northbet": "k"}}
    )
    monkeypatch.setattr(predict_mod, "api_key_value", lambda *a, **k: "secret")
    monkeypatch.setattr(predict_mod.PredictionClient, "predict", fake_predict)
    res = run("predict", "--model", "gb-problem-gambling", "--sample", "5", "--json")
    assert res.exit_code == 0, res.output
    ((model, records),) = sent
    assert model == "gb-problem-gambling" and len(records) == 5
    assert all(set(r) == set(_types(model)) | {"user_id"} for r in records)
    assert len(json.loads(res.output)["predictions"]) == 5
    res = run("predict", "--model", "gb-problem-gambling", "--sample", "500")
    assert res.exit_code == 0 and "the data set holds 200 records: predicting them all" in res.output
    assert len(sent[-1][1]) == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sample", "3", "--input", __file__], "give either --input FILE (your records) or --sample N"),
        ([], "give either --input FILE (your records) or --sample N"),
        (["--seed", "3", "--input", __file__], "--seed goes with --sample"),
        (["--sample", "0"], "--sample must be between 1 and 10,000, got 0"),
        (["--sample", "3", "--env", "prod"], "refusing --sample on prod"),
    ],
)
def test_predict_sample_bad_arguments(s3, target, args, message):
    res = run("predict", "--model", "gb-marketing", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output and res.output.count("Error:") == 1


def test_predict_sample_without_data_says_to_run_data_sample(s3, target):
    res = run("predict", "--model", "gb-marketing", "--sample", "3")
    assert res.exit_code == 2 and "local is not deployed" in res.output
    deploy_buckets(s3)
    res = run("predict", "--model", "gb-marketing", "--sample", "3")
    assert res.exit_code == 2, res.output
    assert "no data under s3://vwt-local-data-gambling-behaviour/training/" in res.output
    assert "vwt-deploy data sample --env local" in res.output


def test_the_help_states_the_defaults_the_generator_uses():
    from vwt_deploy.operate.sample import DEFAULT_ROWS, MAX_ROWS

    res = run("data", "sample", "--help")
    assert res.exit_code == 0 and f"default: {DEFAULT_ROWS}" in res.output and f"{MAX_ROWS:,}" in res.output
