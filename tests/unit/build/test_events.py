"""The consumers' contract: the events the Lambda publishes are valid against the JSON Schemas written beside
the OpenAPI document, for every model and operator of the catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from predict import events as lambda_events
from predict.catalogue import load as load_catalogue
from predict.handler import PredictionService

from tests.helpers import REPO
from tests.helpers.lambdas import FakeEndpoint, FakeSns, answer, event
from vwt_deploy.build import events, openapi
from vwt_deploy.build.catalogue import catalogue_bytes
from vwt_deploy.config import load
from vwt_deploy.project import Project


@pytest.fixture(scope="module", params=["local", "prod"])
def env(request):
    return load(request.param, REPO)


def test_the_lambda_and_the_schemas_agree_on_the_version_and_the_types():
    assert lambda_events.SCHEMA_VERSION == events.SCHEMA_VERSION
    assert set(lambda_events.EVENT_TYPES) == set(events.schemas(load("local", REPO)))


def test_every_published_event_is_valid_for_its_schema(env, tmp_path):
    path = tmp_path / "catalogue.json"
    path.write_bytes(catalogue_bytes(env))
    operators = [o.id for o in env.catalogue.operators]
    sns = FakeSns()
    svc = PredictionService(
        load_catalogue({"VWT_CATALOGUE_PATH": str(path)}),
        {
            "INTERVENTION_TOPIC_ARN": "arn:i",
            "OPERATOR_TOPIC_ARN": "arn:o",
            "OPERATOR_KEYS": json.dumps({f"key-{o}": o for o in operators}),
        },
        sagemaker=FakeEndpoint(scores=lambda rs: [round(i / len(rs), 3) for i in range(len(rs))]),
        sns=sns,
        log=lambda _: None,
    )
    doc = openapi.catalogue_document(env)
    for model in doc["models"]:
        for operator in operators:
            records = [openapi.example_record(model, full=True) | {"user_id": f"p{i}"} for i in range(5)]
            status, body = answer(
                svc.handle(event(model=model["name"], body={"records": records}, operator=f"key-{operator}"))
            )
            assert status == 200, body
    validators = {
        t: jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker())
        for t, s in events.schemas(env).items()
    }
    seen = set()
    for _topic, batch in sns.batches:
        for entry in batch:
            message = json.loads(entry["Message"])
            validators[message["event_type"]].validate(message)
            attrs = {k: v["StringValue"] for k, v in entry["MessageAttributes"].items()}
            assert attrs["operator_id"] == message["operator_id"] and attrs["event_type"] == message["event_type"]
            assert attrs["schema_version"] == message["schema_version"]
            seen.add((message["event_type"], message["operator_id"]))
    assert seen == {(t, o) for t in ("intervention", "prediction") for o in operators}


def test_a_schema_refuses_an_event_of_another_operator_or_version(env):
    schema = events.schemas(env)["intervention"]
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"event_type": "intervention", "operator_id": "nobody"})
    props = schema["properties"]
    assert props["operator_id"]["enum"] == [o.id for o in env.catalogue.operators]
    assert props["risk_group"]["enum"] == [g.name for g in env.catalogue.intervention.risk_groups]
    assert not jsonschema.Draft202012Validator(props["schema_version"]).is_valid("2.0")


def test_written_beside_the_openapi_document(tmp_path: Path):
    (tmp_path / "environments").symlink_to(REPO / "environments")
    (tmp_path / "terraform").mkdir()
    project = Project(tmp_path)
    written = events.write(project, load("dev", REPO))
    render = tmp_path / ".vwt" / "envs" / "dev" / "render"
    assert sorted(p.relative_to(render).as_posix() for p in written) == [
        "events/intervention.schema.json",
        "events/prediction.schema.json",
    ]
    for p in written:
        jsonschema.Draft202012Validator.check_schema(json.loads(p.read_text()))
