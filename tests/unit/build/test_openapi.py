"""The OpenAPI document: valid OpenAPI 3, its request schemas are valid API Gateway (draft 4) models, and the
handler accepts every example in it; and the Lambda reads the built catalogue, never the tool."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate
from predict.catalogue import CatalogueError
from predict.catalogue import load as load_catalogue
from predict.handler import PredictionService

from tests.helpers import REPO
from tests.helpers.lambdas import ENVIRON, FakeEndpoint, FakeSns, answer, event
from vwt_deploy.build import openapi
from vwt_deploy.build.catalogue import catalogue_bytes
from vwt_deploy.config import ENVIRONMENTS, load
from vwt_deploy.project import Project


@pytest.fixture(scope="module", params=["local", "prod"])
def env(request):
    return load(request.param, REPO)


def _examples(doc):
    for path, item in doc["paths"].items():
        content = item["post"]["requestBody"]["content"]["application/json"]
        for name, example in content["examples"].items():
            yield path, name, example["value"]


def test_the_document_is_valid_openapi(env):
    doc = openapi.document(env)
    validate(doc)
    assert doc["components"]["securitySchemes"]["api_key"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert set(doc["paths"]) == {f"/v1/models/{m.name}/predictions" for m in env.catalogue.models}


def test_request_schemas_are_draft4_models_that_accept_the_examples(env):
    doc = openapi.document(env)
    models = openapi.api_gateway_models(env)
    for path, _name, value in _examples(doc):
        model = path.split("/")[3]
        schema = json.loads(models[model])
        jsonschema.Draft4Validator.check_schema(schema)
        jsonschema.Draft4Validator(schema).validate(value)


def test_the_schema_refuses_what_the_handler_refuses(env):
    model = env.catalogue.models[0]
    schema = openapi.request_schema(env, model.name)
    validator = jsonschema.Draft4Validator(schema)
    good = openapi.example_record(openapi.catalogue_document(env)["models"][0], full=True)
    assert validator.is_valid({"records": [good]})
    assert not validator.is_valid({"records": []})
    assert not validator.is_valid({"records": [{**good, "unknown": 1}]})
    assert not validator.is_valid({"records": [{k: v for k, v in good.items() if k != "user_id"}]})
    assert not validator.is_valid({"records": [good] * (env.api.max_records + 1)})


def built_catalogue(env, folder):
    """The catalogue the package bundles, written where VWT_CATALOGUE_PATH can name it."""
    path = folder / "catalogue.json"
    path.write_bytes(catalogue_bytes(env))
    return path


def test_the_handler_accepts_every_example(env, tmp_path):
    doc = openapi.document(env)
    catalogue = load_catalogue({"VWT_CATALOGUE_PATH": str(built_catalogue(env, tmp_path))})
    sns = FakeSns()
    svc = PredictionService(
        catalogue,
        {"INTERVENTION_TOPIC_ARN": "arn:i", "OPERATOR_TOPIC_ARN": "arn:o", "OPERATOR_KEYS": ENVIRON["OPERATOR_KEYS"]},
        sagemaker=FakeEndpoint(),
        sns=sns,
        log=lambda _: None,
    )
    seen = 0
    for path, name, value in _examples(doc):
        status, body = answer(svc.handle(event(model=path.split("/")[3], body=value)))
        assert status == 200, (path, name, body)
        assert len(body["predictions"]) == len(value["records"])
        seen += 1
    assert seen == 2 * len(env.catalogue.models)


def test_written_next_to_the_rendered_artifacts(tmp_path: Path):
    (tmp_path / "environments").symlink_to(REPO / "environments")
    (tmp_path / "terraform").mkdir()
    project = Project(tmp_path)
    env = load("dev", REPO)
    path = openapi.write(project, env, server_url="https://abc.execute-api.eu-west-1.amazonaws.com/v1/")
    assert path == tmp_path / ".vwt" / "envs" / "dev" / "render" / "openapi.json"
    doc = json.loads(path.read_text())
    validate(doc)
    assert doc["servers"] == [{"url": "https://abc.execute-api.eu-west-1.amazonaws.com/v1"}]


def test_the_lambda_reads_the_built_catalogue_and_never_imports_the_tool(tmp_path, monkeypatch):
    for name in ("CATALOGUE_PATH", "ENVIRONMENT", "VWT_CATALOGUE_PATH", "VWT_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CatalogueError, match="cannot read the catalogue .*set VWT_CATALOGUE_PATH"):
        load_catalogue({})  # the source tree bundles no catalogue.json, and the Lambda does not build one
    local = load("local", REPO)
    catalogue = load_catalogue({"VWT_CATALOGUE_PATH": str(built_catalogue(local, tmp_path))})
    assert catalogue.environment == "local"
    assert list(catalogue.models) == [m.name for m in local.catalogue.models]
    for m in local.catalogue.models:
        assert catalogue.models[m.name].names == tuple(f.name for f in m.features)
        assert catalogue.models[m.name].endpoint_name == local.endpoint_name(m.name)
    assert catalogue.max_records == local.api.max_records
    assert "local" in ENVIRONMENTS
    source = (REPO / "lambdas" / "predict" / "catalogue.py").read_text()
    assert "vwt_deploy" not in source


def test_the_module_handler_with_only_the_built_catalogue(monkeypatch, tmp_path):
    import predict.handler as module

    for name in (
        "CATALOGUE_PATH",
        "ENVIRONMENT",
        "ENDPOINTS",
        "ENDPOINT_NAMES",
        "INTERVENTION_TOPIC_ARN",
        "OPERATOR_TOPIC_ARN",
        "MAX_RECORDS",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("VWT_" + name, raising=False)
    monkeypatch.setenv("VWT_CATALOGUE_PATH", str(built_catalogue(load("local", REPO), tmp_path)))
    monkeypatch.setenv("VWT_OPERATOR_KEYS", ENVIRON["OPERATOR_KEYS"])  # Terraform always sets it
    monkeypatch.setattr(module, "_service", None)
    model = load("local", REPO).catalogue.models[0].name
    status, body = answer(module.handler(event(model=model, body={"records": [{"user_id": "p"}]}), None))
    assert status == 400 and body["problem_count"] >= 1
    status, body = answer(module.handler(event(model="nope", body={"records": []}), None))
    assert status == 404
    assert module.service().settings.endpoints[model] == load("local", REPO).endpoint_name(model)


def test_the_shared_gateway_schema_accepts_every_example_and_refuses_the_shape_errors(env):
    schema = json.loads(openapi.api_gateway_request_schema(env))
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    for _, _, value in _examples(openapi.document(env)):
        assert validator.is_valid(value)
    assert not validator.is_valid({"records": []})
    assert not validator.is_valid({"records": [{"age": 30}]})  # no user_id
    assert not validator.is_valid({"records": [{"user_id": "p"}], "extra": 1})
    assert not validator.is_valid({"records": [{"user_id": "p"}] * (env.api.max_records + 1)})


def test_a_custom_domain_is_the_first_server():
    domain = {"name": "predictions.example.com", "certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/x"}
    doc = openapi.document(
        load("dev", REPO, {"api": {"domain": domain}}), "https://abc.execute-api.eu-west-1.amazonaws.com/v1"
    )
    validate(doc)
    assert [s["url"] for s in doc["servers"]] == [
        "https://predictions.example.com",
        "https://abc.execute-api.eu-west-1.amazonaws.com/v1",
    ]


def test_device_routes_are_documented_with_the_bearer_scheme(project_dir):
    import yaml

    path = project_dir / "environments" / "models.yaml"
    data = yaml.safe_load(path.read_text())
    data["operators"][0]["identity"] = {"issuer": "https://i.example/", "jwks_url": "https://i.example/jwks",
                                        "audience": "vwt"}  # fmt: skip
    path.write_text(yaml.safe_dump(data))
    doc = openapi.document(load("dev", project_dir, {"api": {"device_tokens": {"enabled": True}}}))
    validate(doc)
    assert doc["components"]["securitySchemes"]["device_token"]["scheme"] == "bearer"
    device = doc["paths"][openapi.device_path_of("gb-problem-gambling")]["post"]
    assert device["security"] == [{"device_token": []}]
    assert {"401", "403", "503"} <= set(device["responses"])
    assert doc["paths"][openapi.path_of("gb-problem-gambling")]["post"].get("security") is None  # the key's
    assert openapi.device_path_of("x") not in openapi.document(load("dev", REPO))["paths"]
