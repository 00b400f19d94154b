"""The docs' pictures: every Mermaid diagram in README.md and docs/ parses with Mermaid's own parser (the one
GitHub's renderer runs), the four the docs promise are there, and the architecture picture names every AWS service
the Terraform declares."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO, TERRAFORM
from tests.helpers.mermaid import blocks, parse

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# the name a reader looks for in the architecture picture, per Terraform resource type prefix
SERVICES = {
    "aws_api_gateway_": "API Gateway",
    "aws_appautoscaling_": "Application Auto Scaling",
    "aws_cloudwatch_event_": "EventBridge",
    "aws_cloudwatch_": "CloudWatch",
    "aws_dynamodb_": "DynamoDB",
    "aws_ecr_": "ECR",
    "aws_iam_": "IAM",
    "aws_kms_": "KMS",
    "aws_lambda_": "Lambda",
    "aws_route53_": "Route 53",
    "aws_s3_": "S3",
    "aws_sagemaker_": "SageMaker",
    "aws_sfn_": "Step Functions",
    "aws_sns_": "SNS",
    "aws_sqs_": "SQS",
    "aws_ssm_": "SSM",
    "aws_wafv2_": "WAF",
}


def _diagrams() -> dict[str, str]:
    out = {}
    for path in DOCS:
        for i, text in enumerate(blocks(path.read_text())):
            out[f"{path.relative_to(REPO)}#{i + 1}"] = text
    return out


def test_every_diagram_in_the_docs_parses():
    diagrams = _diagrams()
    assert len(diagrams) >= 4, sorted(diagrams)
    assert {name: error for name, error in parse(diagrams).items() if error} == {}


def test_a_broken_diagram_is_reported():
    errors = parse({"broken": "flowchart LR\n  a[Start --> b{"})
    assert errors["broken"] and "Parse error" in errors["broken"]


@pytest.mark.parametrize(
    ("where", "kind", "names"),
    [
        ("README.md", "flowchart", ["API Gateway", "Step Functions", "SageMaker"]),
        ("docs/contracts.md", "sequenceDiagram", ["API Gateway", "authorizer", "Lambda", "endpoint", "SNS", "SQS"]),
        ("docs/architecture.md", "flowchart", ["schedule", "Size", "Label", "Tuning", "Gate", "Register", "Deploy"]),
        ("docs/local-environment.md", "flowchart", ["Emulator", "Runtime processes", "free port"]),
    ],
    ids=["architecture", "prediction", "retraining", "local"],
)
def test_the_promised_pictures_are_where_a_reader_looks(where, kind, names):
    found = [text for text in blocks((REPO / where).read_text()) if text.lstrip().startswith(kind)]
    assert found, f"{where} has no {kind}"
    assert any(all(name in text for name in names) for text in found), (where, names)


def test_the_architecture_picture_names_every_aws_service_the_terraform_declares():
    declared = set(re.findall(r'^resource "(aws_\w+)"', _terraform_text(), re.MULTILINE))
    assert len(declared) > 40
    unknown = {kind for kind in declared if not any(kind.startswith(prefix) for prefix in SERVICES)}
    assert unknown == set(), f"add these resource kinds' service to SERVICES and to the architecture picture: {unknown}"
    (picture,) = blocks((REPO / "README.md").read_text())[:1]
    services = {name for prefix, name in SERVICES.items() if any(kind.startswith(prefix) for kind in declared)}
    assert {name for name in services if name not in picture} == set()


def _terraform_text() -> str:
    return "\n".join(path.read_text() for path in TERRAFORM.rglob("*.tf") if ".terraform" not in path.parts)
