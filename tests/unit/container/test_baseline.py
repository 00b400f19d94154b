"""The baseline artifact: deterministic, built from the catalogue's features, served as model version "baseline"."""

from __future__ import annotations

import hashlib
import json
import tarfile

import pytest

from tests.helpers import REPO
from vwt_model.baseline import build_artifact
from vwt_model.predictor import Predictor


@pytest.fixture(scope="module")
def catalogue_model():
    from vwt_deploy.config import load

    return load("local", REPO).catalogue.model("bid-problem-gambling")


def test_the_same_inputs_give_the_same_bytes(tmp_path, catalogue_model):
    a = build_artifact(catalogue_model.features, catalogue_model.task, tmp_path / "a" / "model.tar.gz")
    b = build_artifact(catalogue_model.features, catalogue_model.task, tmp_path / "b" / "model.tar.gz")
    assert a.read_bytes() == b.read_bytes()
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    other = build_artifact(catalogue_model.features, "regression", tmp_path / "c.tar.gz")
    assert other.read_bytes() != a.read_bytes()


def test_holds_one_baseline_model_json(tmp_path, catalogue_model):
    path = build_artifact(catalogue_model.features, catalogue_model.task, tmp_path)  # a folder: model.tar.gz in it
    assert path == tmp_path / "model.tar.gz"
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["model.json"]
        assert members[0].mtime == 0 and members[0].uid == 0 and members[0].mode == 0o644
        doc = json.load(tar.extractfile("model.json"))
    assert doc["format"] == "baseline" and doc["version"] == "baseline"
    assert doc["task"] == "classification" and doc["prior"] == 0.0
    assert [f["name"] for f in doc["schema"]["features"]] == [f.name for f in catalogue_model.features]
    country = next(f for f in doc["schema"]["features"] if f["name"] == "country")
    assert country["allowed"] == ["nl", "de", "gb", "se", "other"]


def test_bad_inputs_are_refused(tmp_path, catalogue_model):
    with pytest.raises(ValueError, match="task must be one of"):
        build_artifact(catalogue_model.features, "clustering", tmp_path / "x.tar.gz")
    with pytest.raises(ValueError, match="risk score in"):
        build_artifact(catalogue_model.features, "classification", tmp_path / "x.tar.gz", prior=2)
    with pytest.raises(ValueError, match="at least one feature"):
        build_artifact([], "classification", tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()


def test_the_server_serves_the_baseline(tmp_path, catalogue_model, serve_model):
    model_dir = tmp_path / "model"
    build_artifact(catalogue_model.features, catalogue_model.task, model_dir / "model.tar.gz", prior=0.05)
    served = serve_model(model_dir)  # a folder holding only model.tar.gz is unpacked, as SageMaker does
    assert served.request("GET", "/ping") == (200, {"status": "ok", "model_version": "baseline"})
    record = {
        "age": 30,
        "country": "nl",
        "device": "ios",
        "registration_hour": 22,
        "marketing_opt_in": True,
        "id_verified": False,
    }
    status, body = served.request("POST", "/invocations", json.dumps([record, record]), "application/json")
    assert status == 200 and body == {"predictions": [0.05, 0.05], "model_version": "baseline"}
    status, body = served.request("POST", "/invocations", "30,nl,ios,22,0,true,false,false", "text/csv")
    assert status == 200 and body["predictions"] == [0.05]
    status, body = served.request("POST", "/invocations", json.dumps({**record, "country": "fr"}), "application/json")
    assert status == 400 and "country must be one of nl, de, gb, se, other" in body["error"]


def test_the_baseline_module_is_pure_stdlib():
    import ast

    source = REPO / "containers" / "sklearn" / "vwt_model"
    allowed_local = {"schema", "spec"}
    for name in ("baseline.py", "schema.py", "spec.py"):
        tree = ast.parse((source / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    assert (node.module or "").split(".")[0] in allowed_local, f"{name}: {node.module}"
                    continue
                mods = [(node.module or "").split(".")[0]]
            else:
                continue
            import sys

            for mod in mods:
                assert mod in sys.stdlib_module_names or mod == "__future__", f"{name} imports {mod}"


def test_predictor_reads_an_unpacked_baseline(tmp_path, catalogue_model):
    build_artifact(catalogue_model.features, "regression", tmp_path / "m.tar.gz", prior=12.5)
    with tarfile.open(tmp_path / "m.tar.gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    predictor = Predictor(tmp_path / "unpacked")
    X = predictor.parse(b"30,nl,ios,22,,true,false,", "text/csv", 10)  # optional fields take their defaults
    assert predictor.predict(X) == [12.5] and predictor.version == "baseline"


def test_write_schema_from_the_catalogue_round_trips(tmp_path, catalogue_model):
    from vwt_model.schema import load_schema, schema_from, write_schema

    path = write_schema(catalogue_model.features, tmp_path)
    assert path == tmp_path / "schema.json"
    assert load_schema(path) == schema_from(catalogue_model.features)
    limit = next(f for f in load_schema(path).features if f.name == "declared_deposit_limit")
    assert limit.required is False and limit.default == 0 and limit.max == 100000
