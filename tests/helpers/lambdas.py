"""Helpers of the prediction Lambda's tests: the handler from the source tree, a test catalogue, AWS fakes."""

from __future__ import annotations

import io
import json

from . import lambda_packages_importable

lambda_packages_importable()  # as the Lambda runtime sees the package: lambdas/ is the root

from predict.catalogue import Catalogue  # noqa: E402,F401 (re-exported to conftest)
from predict.handler import PredictionService  # noqa: E402,F401

REGION = "eu-west-1"

# A catalogue with every feature type, bound and default: stable whatever environments/models.yaml holds.
TEST_CATALOGUE = {
    "format": 1,
    "environment": "test",
    "region": REGION,
    "max_records": 5,
    "cors_allow_origins": ["https://app.example.com"],
    "user_id_field": "user_id",
    "intervention": {
        "levels": ["none", "reminder", "deposit_limit", "cooling_off"],
        "risk_groups": [
            {"name": "low", "min_score": 0.0, "level": "none"},
            {"name": "medium", "min_score": 0.3, "level": "reminder"},
            {"name": "high", "min_score": 0.6, "level": "deposit_limit"},
            {"name": "severe", "min_score": 0.85, "level": "cooling_off"},
        ],
    },
    "models": [
        {
            "name": "risk",
            "description": "a risk model",
            "task": "classification",
            "label": "self_excluded",
            "consumer": "intervention",
            "endpoint_name": "test-risk",
            "features": [
                {"name": "age", "type": "int", "min": 18, "max": 120, "required": True},
                {"name": "country", "type": "category", "allowed": ["nl", "de", "gb"], "required": True},
                {"name": "deposit", "type": "float", "min": 0, "max": 1000, "required": False, "default": 0.0},
                {"name": "verified", "type": "bool", "required": True},
                {"name": "affiliate", "type": "bool", "required": False, "default": False},
            ],
        },
        {
            "name": "spend",
            "description": "a regression model",
            "task": "regression",
            "label": "future_stake",
            "consumer": "operator",
            "endpoint_name": "test-spend",
            "features": [
                {"name": "stake", "type": "float", "min": 0, "required": True},
                {"name": "days", "type": "int", "min": 0, "required": True},
            ],
        },
    ],
}

ENVIRON = {
    "ENVIRONMENT": "test",
    "INTERVENTION_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:test-intervention",
    "OPERATOR_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:test-operator",
    # API Gateway's key ids -> operators, as Terraform sets it
    "OPERATOR_KEYS": json.dumps({"key-id-north": "northbet", "key-id-lucky": "lucky-lane"}),
}
OPERATOR_KEY_IDS = {"northbet": "key-id-north", "lucky-lane": "key-id-lucky"}


def good_risk(**over):
    record = {"user_id": "p1", "age": 30, "country": "nl", "deposit": 10.5, "verified": True, "affiliate": False}
    record.update(over)
    return record


def good_spend(**over):
    record = {"user_id": "p1", "stake": 12.5, "days": 3}
    record.update(over)
    return record


def event(model="risk", body=None, method="POST", raw=None, headers=None, request_id="api-req-1", operator="northbet"):
    """A REST API proxy event; `operator` picks the API key API Gateway checked (None: no key)."""
    identity = {"apiKeyId": OPERATOR_KEY_IDS.get(operator, operator)} if operator else {}
    return {
        "resource": "/v1/models/{model}/predictions",
        "path": f"/v1/models/{model}/predictions",
        "httpMethod": method,
        "headers": headers or {"Content-Type": "application/json"},
        "pathParameters": {"model": model},
        "requestContext": {"requestId": request_id, "identity": identity},
        "body": raw if raw is not None else (None if body is None else json.dumps(body)),
        "isBase64Encoded": False,
    }


def answer(resp):
    return resp["statusCode"], json.loads(resp["body"])


class FakeEndpoint:
    """A SageMaker runtime client: answers each call with `scores` (or a function of the sent records)."""

    def __init__(self, scores=None, version="v7", body=None):
        self.calls = []
        self.scores = scores
        self.version = version
        self.body = body

    def invoke_endpoint(self, **kwargs):
        records = json.loads(kwargs["Body"])
        self.calls.append({**kwargs, "records": records})
        if self.body is not None:
            data = self.body
        else:
            scores = self.scores(records) if callable(self.scores) else (self.scores or [0.5] * len(records))
            data = json.dumps({"predictions": scores, "model_version": self.version}).encode()
        return {"Body": io.BytesIO(data), "ContentType": "application/json"}


class FakeSns:
    def __init__(self, fail_ids=()):
        self.batches = []
        self.fail_ids = set(fail_ids)

    def publish_batch(self, TopicArn, PublishBatchRequestEntries):
        self.batches.append((TopicArn, PublishBatchRequestEntries))
        failed = [
            {"Id": e["Id"], "Code": "InternalError", "Message": "boom", "SenderFault": False}
            for e in PublishBatchRequestEntries
            if e["Id"] in self.fail_ids
        ]
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": "m"} for e in PublishBatchRequestEntries if e["Id"] not in self.fail_ids
            ],
            "Failed": failed,
        }

    def messages(self):
        return [(topic, json.loads(e["Message"])) for topic, batch in self.batches for e in batch]
