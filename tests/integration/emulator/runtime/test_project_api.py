"""The project's own prediction Lambda (the real package) behind an API shaped like terraform/modules/prediction_api."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers import REPO
from vwt_deploy.build import openapi
from vwt_deploy.build.catalogue import catalogue_bytes, catalogue_document
from vwt_deploy.build.package import build_zip
from vwt_deploy.config import load
from vwt_deploy.emulator.runtime.apigateway import local_invoke_url


@pytest.fixture(scope="module")
def project_api(emulator_client, role):
    repo = REPO
    env = load("local", repo)
    lam, gw, sns = emulator_client("lambda"), emulator_client("apigateway"), emulator_client("sns")
    topic = sns.create_topic(Name="vwt-local-interventions")["TopicArn"]
    doc = catalogue_document(env)
    key = gw.create_api_key(name="vwt-local-northbet", enabled=True)  # the operator's key, as Terraform makes it
    fn = lam.create_function(
        FunctionName="vwt-local-predict",
        Runtime="python3.12",
        Role=role,
        Handler="predict.handler.handler",
        Code={"ZipFile": build_zip(repo / "lambdas", catalogue_bytes(env))},
        Timeout=28,
        MemorySize=256,
        Environment={
            "Variables": {
                "VWT_ENVIRONMENT": "local",
                "VWT_INTERVENTION_TOPIC_ARN": topic,
                "VWT_OPERATOR_TOPIC_ARN": topic,
                "VWT_OPERATOR_KEYS": json.dumps({key["id"]: "northbet"}),
                "VWT_ENDPOINT_TIMEOUT_SECONDS": "1",
                "VWT_ENDPOINTS": json.dumps({m["name"]: m["endpoint_name"] for m in doc["models"]}),
            }
        },
    )["FunctionArn"]
    api_id = gw.create_rest_api(name="vwt-local-predictions")["id"]
    parent = gw.get_resources(restApiId=api_id)["items"][0]["id"]
    for part in ("v1", "models", "{model}", "predictions"):
        parent = gw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
    validator = gw.create_request_validator(
        restApiId=api_id, name="body-and-parameters", validateRequestBody=True, validateRequestParameters=True
    )["id"]
    gw.create_model(
        restApiId=api_id,
        name="PredictionRequest",
        contentType="application/json",
        schema=openapi.api_gateway_request_schema(env),
    )
    gw.put_method(
        restApiId=api_id,
        resourceId=parent,
        httpMethod="POST",
        authorizationType="NONE",
        apiKeyRequired=True,
        requestValidatorId=validator,
        requestModels={"application/json": "PredictionRequest"},
        requestParameters={"method.request.path.model": True},
    )
    gw.put_integration(
        restApiId=api_id,
        resourceId=parent,
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        timeoutInMillis=29000,
        uri=f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{fn}/invocations",
    )
    gw.create_deployment(restApiId=api_id, stageName="local")
    plan = gw.create_usage_plan(
        name="vwt-local-northbet",
        apiStages=[{"apiId": api_id, "stage": "local"}],
        throttle={"rateLimit": 50.0, "burstLimit": 100},
    )
    gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    model = doc["models"][0]
    return {
        "url": local_invoke_url(gw.meta.endpoint_url, api_id, "local") + openapi.path_of(model["name"]),
        "key": key["value"],
        "record": openapi.example_record(model, full=False),
    }


def _post(api, body):
    return requests.post(api["url"], json=body, headers={"x-api-key": api["key"]}, timeout=60)


def test_a_valid_request_runs_the_real_handler_to_the_endpoint(project_api):
    answer = _post(project_api, {"records": [project_api["record"]], "request_id": "local-1"})
    # no model is served here: the handler reached the endpoint call and answers its own well-formed 502/503
    # (endpoint absent or unusable answer, depending on the SageMaker runtime), with a Retry-After
    assert answer.status_code in (502, 503), answer.text
    body = answer.json()
    assert body["request_id"] == "local-1"
    assert body["error"] in ("bad_model_answer", "endpoint_absent", "endpoint_unreachable", "endpoint_error")
    assert answer.headers["Retry-After"] == str(body["retry_after"])


def test_the_handler_validates_features_the_gateway_schema_lets_through(project_api):
    answer = _post(project_api, {"records": [{**project_api["record"], "no_such_feature": 1}]})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_the_gateway_refuses_what_the_model_schema_refuses(project_api):
    answer = _post(project_api, {"records": []})
    assert answer.status_code == 400 and answer.json() == {"message": "Invalid request body"}
