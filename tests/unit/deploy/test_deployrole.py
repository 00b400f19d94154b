"""The deploy role's policy from the deployer's recorded calls: names widened only as far as they vary."""

from __future__ import annotations

import json
import urllib.parse

import boto3
import pytest

from vwt_deploy.config import load
from vwt_deploy.deploy.deployrole import (
    NO_RESOURCE_SID,
    bootstrap_deploy_role,
    derive_policy,
    policy_documents,
    render_policy,
    resource_pattern,
    subject,
)
from vwt_deploy.errors import ConfigError

ACCOUNT, REGION, PREFIX = "123456789012", "eu-west-1", "vwt-local"


@pytest.mark.parametrize(
    ("recorded", "pattern"),
    [
        ("arn:aws:s3:::vwt-local-data-gambling-behaviour", "arn:aws:s3:::${name_prefix}-*"),
        ("arn:aws:s3:::vwt-local-model-x/baseline/model.tar.gz", "arn:aws:s3:::${name_prefix}-*"),
        ("arn:aws:iam::123456789012:role/vwt-local-sagemaker", "arn:aws:iam::${account_id}:role/${name_prefix}-*"),
        (
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/vwt-local-predict:*",
            "arn:aws:logs:${region}:${account_id}:log-group:/aws/lambda/${name_prefix}-*",
        ),
        (
            "arn:aws:ssm:eu-west-1:123456789012:parameter/vwt-local/current-model/gb",
            "arn:aws:ssm:${region}:${account_id}:parameter/${name_prefix}/*",
        ),
        (
            "arn:aws:kms:eu-west-1:123456789012:alias/vwt-local",
            "arn:aws:kms:${region}:${account_id}:alias/${name_prefix}",
        ),
        (
            "arn:aws:kms:eu-west-1:123456789012:key/3f1c2b1e-8d4a-4b7e-9a1f-0c2d3e4f5a6b",
            "arn:aws:kms:${region}:${account_id}:key/*",
        ),
        (
            "arn:aws:apigateway:eu-west-1::/restapis/ab12cd34ef/resources/x1",
            "arn:aws:apigateway:${region}::/restapis/*",
        ),
        ("arn:aws:apigateway:eu-west-1::/restapis/ab12cd34ef", "arn:aws:apigateway:${region}::/restapis/*"),
        ("arn:aws:apigateway:eu-west-1::/apikeys/k9", "arn:aws:apigateway:${region}::/apikeys/*"),
        (
            "arn:aws:apigateway:eu-west-1::/domainnames/predictions.example.com/basepathmappings/(none)",
            "arn:aws:apigateway:${region}::/domainnames/*",
        ),
        ("arn:aws:route53:::hostedzone/ZQ3MW8XBWVLPE", "arn:aws:route53:::hostedzone/*"),
        ("arn:aws:route53:::change/C2682N5HXP0BZ4", "arn:aws:route53:::change/*"),
        (
            "arn:aws:logs:eu-west-1:123456789012:log-group:API-Gateway-Execution-Logs_ab12cd34ef/live:*",
            "arn:aws:logs:${region}:${account_id}:log-group:API-Gateway-Execution-Logs_*",
        ),
        (
            "arn:aws:application-autoscaling:eu-west-1:123456789012:scalable-target/056f3a",
            "arn:aws:application-autoscaling:${region}:${account_id}:scalable-target/*",
        ),
        ("*", "*"),
        # another environment's names are not this one's: they keep their literal names
        ("arn:aws:s3:::vwt-localstack-data", "arn:aws:s3:::vwt-localstack-data"),
    ],
)
def test_each_recorded_resource_becomes_a_template_as_narrow_as_its_names_allow(recorded: str, pattern: str) -> None:
    assert resource_pattern(recorded, PREFIX, ACCOUNT, REGION) == pattern


def test_the_policy_groups_actions_by_resource_and_lists_the_unscoped_actions() -> None:
    used = [
        {"action": "s3:CreateBucket", "resource": "arn:aws:s3:::vwt-local-results", "allowed": 3},
        {"action": "s3:PutObject", "resource": "arn:aws:s3:::vwt-local-results/x", "allowed": 1},
        {"action": "iam:PassRole", "resource": "arn:aws:iam::123456789012:role/vwt-local-sagemaker", "allowed": 2},
        {"action": "iam:GetRole", "resource": "arn:aws:iam::123456789012:role/vwt-local-sagemaker", "allowed": 2},
        {"action": "sts:GetCallerIdentity", "resource": "*", "allowed": 5},
        {"action": "s3:DeleteBucket", "resource": "arn:aws:s3:::vwt-local-x", "allowed": 0, "denied": 1},
    ]
    policy = derive_policy(used, PREFIX, ACCOUNT, REGION)
    assert policy["Version"] == "2012-10-17"
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        (["iam:GetRole", "iam:PassRole"], ["arn:aws:iam::${account_id}:role/${name_prefix}-*"]),
        (["s3:CreateBucket", "s3:PutObject"], ["arn:aws:s3:::${name_prefix}-*"]),
        (["sts:GetCallerIdentity"], "*"),
    ]
    assert policy["Statement"][-1]["Sid"] == NO_RESOURCE_SID
    assert len({s["Sid"] for s in policy["Statement"]}) == 3  # a denied call is not a need


def test_a_call_recorded_with_a_condition_is_granted_under_it() -> None:
    """Application Auto Scaling's service-linked role, created on an account's first registration: granted only
    for that service (iam:AWSServiceName), as the SageMaker Developer Guide's auto scaling policy does."""
    role = "arn:aws:iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/X"
    used = [
        {
            "action": "iam:CreateServiceLinkedRole",
            "resource": role,
            "allowed": 1,
            "conditions": {"iam:AWSServiceName": ["sagemaker.application-autoscaling.amazonaws.com"]},
        }
    ]
    (statement,) = derive_policy(used, PREFIX, ACCOUNT, REGION)["Statement"]
    assert statement["Action"] == ["iam:CreateServiceLinkedRole"]
    assert statement["Resource"] == [role.replace("123456789012", "${account_id}")]
    assert statement["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": ["sagemaker.application-autoscaling.amazonaws.com"]}
    }


def test_a_policy_is_rendered_for_an_environment() -> None:
    policy = '{"Resource": "arn:aws:iam::${account_id}:role/${name_prefix}-*", "R": "arn:aws:kms:${region}:x"}'
    assert render_policy(policy, "vwt-dev", "111111111111", "eu-central-1") == (
        '{"Resource": "arn:aws:iam::111111111111:role/vwt-dev-*", "R": "arn:aws:kms:eu-central-1:x"}'
    )


# ---------------------------------------------------------------- the role (bootstrap, moto's IAM)

BUCKETS = "arn:aws:s3:::${name_prefix}-*"
TEMPLATE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "S3", "Effect": "Allow", "Action": ["s3:CreateBucket"], "Resource": [BUCKETS]},
            {"Sid": "Unscoped", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
        ],
    }
)  # fmt: skip


def _dev(project_dir, repository: str | None = "vwt/framework"):
    import yaml

    path = project_dir / "environments" / "dev.yaml"
    data = yaml.safe_load(path.read_text())
    data["delivery"] = {"github_repository": repository} if repository else {}
    path.write_text(yaml.safe_dump(data))
    return load("dev", project_dir)


def test_bootstrap_creates_the_provider_and_a_role_only_this_repositorys_environment_may_assume(moto, project_dir):
    env = _dev(project_dir)
    iam = boto3.client("iam")
    role = bootstrap_deploy_role(env, iam, TEMPLATE, ACCOUNT)
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/vwt-dev-deploy"
    assert role.subject == "repo:vwt/framework:environment:dev"
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in providers] == [
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    ]
    trust = iam.get_role(RoleName="vwt-dev-deploy")["Role"]["AssumeRolePolicyDocument"]
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Federated": role.provider_arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:vwt/framework:environment:dev",
    }
    attached = iam.list_attached_role_policies(RoleName="vwt-dev-deploy")["AttachedPolicies"]
    assert [a["PolicyName"] for a in attached] == ["vwt-dev-deploy-1"]
    version = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=attached[0]["PolicyArn"], VersionId=version)["PolicyVersion"][
        "Document"
    ]
    document = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
    assert document["Statement"][0]["Resource"] == ["arn:aws:s3:::vwt-dev-*"]  # this environment's names only
    # again: the same provider and role, the policy as a new version
    again = bootstrap_deploy_role(env, iam, TEMPLATE, ACCOUNT)
    assert again == role and len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1
    assert len(iam.list_policy_versions(PolicyArn=attached[0]["PolicyArn"])["Versions"]) == 2


def test_a_policy_over_iams_size_quota_is_split_into_managed_policies(project_dir):
    env = _dev(project_dir)
    big = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{n}", "Effect": "Allow", "Action": [f"s3:Action{n}{'x' * 60}" for _ in range(1)],
             "Resource": [f"arn:aws:s3:::${{name_prefix}}-{n}-{'y' * 100}"]}
            for n in range(60)
        ],
    }  # fmt: skip
    documents = policy_documents(json.dumps(big), env, ACCOUNT)
    assert len(documents) > 1
    assert all(len(json.dumps(d, separators=(",", ":"))) <= 6144 for d in documents)
    assert [s["Sid"] for d in documents for s in d["Statement"]] == [f"S{n}" for n in range(60)]


def test_no_repository_no_deploy_role(project_dir):
    with pytest.raises(ConfigError) as err:
        subject(_dev(project_dir, repository=None))
    assert "delivery.github_repository" in (err.value.hint or "")
