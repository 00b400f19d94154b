"""The Lambda package: same inputs -> same bytes; what is in it; and it runs on its own (stdlib only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO
from vwt_deploy.build import catalogue, package
from vwt_deploy.config import load
from vwt_deploy.errors import VwtError
from vwt_deploy.project import Project


@pytest.fixture
def scratch_project(tmp_path: Path) -> Project:
    """A project whose lambdas/ is a copy of the repository's, so the test may litter it."""
    (tmp_path / "environments").symlink_to(REPO / "environments")
    (tmp_path / "terraform").mkdir()
    shutil.copytree(
        REPO / "lambdas", tmp_path / "lambdas", ignore=shutil.ignore_patterns("__pycache__", "catalogue.json")
    )
    return Project(tmp_path)


@pytest.fixture(scope="module")
def env():
    return load("dev", REPO)


def test_same_inputs_same_bytes(scratch_project, env):
    first = package.build_package(scratch_project, env).read_bytes()
    # what must not matter: file times, byte-code caches, tests, editor droppings, a stale catalogue.json
    for path in (scratch_project.root / "lambdas").rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (scratch_project.root / "lambdas" / "predict" / "__pycache__").mkdir(exist_ok=True)
    (scratch_project.root / "lambdas" / "predict" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    (scratch_project.root / "lambdas" / "predict" / "tests").mkdir()
    (scratch_project.root / "lambdas" / "predict" / "tests" / "test_x.py").write_text("x = 1\n")
    (scratch_project.root / "lambdas" / "predict" / "test_y.py").write_text("y = 1\n")
    (scratch_project.root / "lambdas" / "predict" / "handler.py~").write_text("old\n")
    (scratch_project.root / "lambdas" / "catalogue.json").write_text("{}")
    package.package_path(scratch_project, env.name).unlink()
    second = package.build_package(scratch_project, env).read_bytes()
    assert first == second


def test_a_code_or_catalogue_change_changes_the_bytes(scratch_project, env):
    before = package.build_zip(scratch_project.lambdas_dir, catalogue.catalogue_bytes(env))
    other = load("dev", REPO, {"api": {"max_records": 10}})
    assert package.build_zip(scratch_project.lambdas_dir, catalogue.catalogue_bytes(other)) != before
    (scratch_project.root / "lambdas" / "predict" / "extra.py").write_text("# new\n")
    assert package.build_zip(scratch_project.lambdas_dir, catalogue.catalogue_bytes(env)) != before


def test_entries_are_sorted_fixed_and_complete(scratch_project, env):
    path = package.build_package(scratch_project, env)
    assert path == scratch_project.root / ".vwt" / "envs" / "dev" / "build" / "lambda.zip"
    assert package.artifacts(scratch_project, env) == {"lambda_package_path": str(path)}
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert {"catalogue.json", "predict/__init__.py", "predict/handler.py"} <= set(names)
        assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".md")) or "/tests/" in n]
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) & 0o777 == 0o644
        doc = json.loads(zf.read("catalogue.json"))
    assert doc == catalogue.catalogue_document(env)
    assert doc["environment"] == "dev"
    assert {m["name"]: m["endpoint_name"] for m in doc["models"]} == {
        m.name: env.endpoint_name(m.name) for m in env.catalogue.models
    }
    consumers = {m["name"]: m["consumer"] for m in doc["models"]}
    assert consumers == {
        m.name: ("operator" if m.task == "regression" else "intervention") for m in env.catalogue.models
    }


def test_a_feature_named_user_id_is_refused(env):
    model = env.catalogue.models[0]
    feature = model.features[0].model_copy(update={"name": "user_id"})
    bad_model = model.model_copy(update={"features": (feature, *model.features[1:])})
    bad = env.model_copy(update={"catalogue": env.catalogue.model_copy(update={"models": (bad_model,)})})
    with pytest.raises(VwtError, match="user_id"):
        catalogue.catalogue_document(bad)


def test_no_lambdas_folder_is_a_clear_error(tmp_path, env):
    with pytest.raises(VwtError, match="no Lambda sources"):
        package.build_zip(tmp_path / "nowhere", b"{}")


RUN_FROM_PACKAGE = r"""
import io, json, sys
sys.path.insert(0, sys.argv[1])
from predict.catalogue import load
from predict.handler import PredictionService
class SM:
    def invoke_endpoint(self, **kw):
        n = len(json.loads(kw["Body"]))
        return {"Body": io.BytesIO(json.dumps([0.95] * n).encode())}
class SNS:
    def publish_batch(self, **kw):
        return {"Successful": [], "Failed": []}
record = json.loads(sys.argv[2])
svc = PredictionService(load(), {"INTERVENTION_TOPIC_ARN": "arn:i", "OPERATOR_TOPIC_ARN": "arn:o",
                               "OPERATOR_KEYS": '{"k": "northbet"}'}, SM(), SNS(), log=lambda _: None)
model = sys.argv[3]
resp = svc.handle({"httpMethod": "POST", "pathParameters": {"model": model}, "body": json.dumps({"records": [record]}),
                   "requestContext": {"identity": {"apiKeyId": "k"}}})
banned = [m for m in ("vwt_deploy", "pydantic", "yaml", "numpy", "pandas") if m in sys.modules]
print(json.dumps({"status": resp["statusCode"], "body": json.loads(resp["body"]), "banned": banned}))
"""


def test_the_package_runs_on_its_own_with_the_bundled_catalogue(scratch_project, env, tmp_path):
    from vwt_deploy.build import openapi

    path = package.build_package(scratch_project, env)
    root = tmp_path / "task"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(root)
    doc = catalogue.catalogue_document(env)
    model = doc["models"][0]
    record = openapi.example_record(model, full=False)
    # -I -S: isolated, no site-packages at all: only the standard library and the package
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUN_FROM_PACKAGE, str(root), json.dumps(record), model["name"]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == 200 and result["banned"] == []
    assert result["body"]["predictions"][0]["intervention_level"] == doc["intervention"]["risk_groups"][-1]["level"]
