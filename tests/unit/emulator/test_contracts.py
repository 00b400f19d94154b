"""Requests checked against botocore's service models, refused in AWS's words (`vwt_deploy.emulator.contracts`).

The valid request is the one the project's Train state sends (rendered from the templates, its JSONPaths and
Terraform variables filled in as at run time); the others break it one member at a time.
"""

from __future__ import annotations

import base64
import copy
import re

import pytest

from vwt_deploy.build.statemachines import render_definition
from vwt_deploy.config import load
from vwt_deploy.emulator.contracts import SERIALIZATION, VALIDATION, ContractError, Contracts

ACCOUNT, REGION = "333333333333", "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TERRAFORM_VARS = {  # what Terraform's templatefile puts in for ${...}
    "image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt-model:1.4.0",
    "sagemaker_role_arn": f"arn:aws:iam::{ACCOUNT}:role/vwt-prod-sagemaker",
    "kms_key_arn": KEY,
}
EXECUTION_INPUT = {  # what the pipeline's earlier states leave for Train
    "job_name": "gb-marketing-20261128-2301",
    "data": {"s3_uri": "s3://vwt-prod-data-333333333333-eu-west-1/gb-marketing/2026-11-28/"},
    "size": {"instance_type": "ml.m5.xlarge", "instance_count": 1, "volume_gb": 30},
    "champion": {
        "record": {"model_data_url": "s3://vwt-prod-model-gb-marketing-333333333333-eu-west-1/baseline/model.tar.gz"}
    },
}


def _resolve(value, data: dict):
    """Parameters as Step Functions sends them: `"Key.$": "$.a.b"` read from `data`, `${var}` filled in."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.endswith(".$"):
                found = data
                for part in item[2:].split("."):
                    found = found[part]
                out[key[:-2]] = found
            else:
                out[key] = _resolve(item, data)
        return out
    if isinstance(value, list):
        return [_resolve(v, data) for v in value]
    if isinstance(value, str):
        return re.sub(r"\$\{(\w+)\}", lambda m: TERRAFORM_VARS[m.group(1)], value)
    return value


@pytest.fixture(scope="module")
def contracts() -> Contracts:
    return Contracts()


@pytest.fixture(scope="module")
def train_request(project) -> dict:
    """CreateTrainingJob as the prod pipeline's Train state sends it."""
    env = load("prod", project.root)
    definition = render_definition(env, env.catalogue.model("gb-marketing"), project.templates_dir)
    return _resolve(definition["States"]["Train"]["Parameters"], EXECUTION_INPUT)


@pytest.fixture
def request_(train_request) -> dict:
    return copy.deepcopy(train_request)


def errors(contracts: Contracts, params: dict, operation: str = "CreateTrainingJob") -> list[str]:
    return contracts.errors("sagemaker", operation, params)


def test_the_pipelines_training_job_passes(contracts, train_request):
    assert errors(contracts, train_request) == []
    contracts.check("sagemaker", "CreateTrainingJob", train_request)  # raises nothing


def test_a_missing_required_member_is_null(contracts, request_):
    del request_["RoleArn"]
    request_["ResourceConfig"]["InstanceType"] = None  # JSON null: as good as absent (and optional)
    assert errors(contracts, request_) == [
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
    ]


def test_an_enum_outside_its_set(contracts, request_):
    request_["ResourceConfig"]["InstanceType"] = "ml.m5.huge"
    (error,) = errors(contracts, request_)
    prefix = (
        "Value 'ml.m5.huge' at 'resourceConfig.instanceType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [ml.m4.xlarge, "
    )
    assert error.startswith(prefix) and ", ml.m5.large, " in error and error.endswith("]")


def test_a_name_too_long_fails_its_length_and_its_pattern(contracts, request_):
    request_["TrainingJobName"] = "x" * 64
    failed = "Value '" + "x" * 64 + "' at 'trainingJobName' failed to satisfy constraint: Member must"
    assert errors(contracts, request_) == [
        f"{failed} have length less than or equal to 63",
        f"{failed} satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}",
    ]


def test_an_empty_string_is_below_its_length(contracts, request_):
    request_["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] = ""
    assert errors(contracts, request_)[0] == (
        "Value '' at 'algorithmSpecification.metricDefinitions.1.member.name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_a_number_below_its_range(contracts, request_):
    request_["StoppingCondition"]["MaxRuntimeInSeconds"] = 0
    assert errors(contracts, request_) == [
        "Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    ]


def test_paths_inside_a_list_of_structures(contracts, request_):
    second = request_["InputDataConfig"][1]
    second["ChannelName"] = "bad name!"
    del second["DataSource"]
    assert errors(contracts, request_) == [
        "Value 'bad name!' at 'inputDataConfig.2.member.channelName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [A-Za-z0-9\\.\\-_]+",
        "Value null at 'inputDataConfig.2.member.dataSource' failed to satisfy constraint: Member must not be null",
    ]


def test_a_list_of_scalars_fails_once_with_its_members_constraints(contracts, request_):
    request_["VpcConfig"] = {"SecurityGroupIds": ["sg-0a1b2c3d"], "Subnets": ["subnet-0a1b2c3d", "subnet_0a1b!"]}
    assert errors(contracts, request_) == [
        "Value '[subnet-0a1b2c3d, subnet_0a1b!]' at 'vpcConfig.subnets' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must have length less than or equal to 32, Member must have length greater "
        "than or equal to 0, Member must satisfy regular expression pattern: [-0-9a-zA-Z]+]"
    ]


def test_a_map_value_as_sagemaker_words_it(contracts, request_):
    """aws-samples/amazon-sagemaker-pytorch-detectron2#10: the same constraint list, for the same member."""
    request_["HyperParameters"]["classes"] = "c" * 2501
    assert errors(contracts, request_) == [
        "Value at 'hyperParameters' failed to satisfy constraint: Map value must satisfy constraint: [Member must "
        "have length less than or equal to 2500, Member must have length greater than or equal to 0, Member must "
        "satisfy regular expression pattern: .*]"
    ]


def test_several_errors_in_the_models_order_and_awss_count(contracts, request_):
    del request_["TrainingJobName"]
    request_["ResourceConfig"]["InstanceType"] = "ml.m5.huge"
    request_["StoppingCondition"]["MaxRuntimeInSeconds"] = 0
    found = errors(contracts, request_)
    assert [e.split(" failed")[0] for e in found] == [
        "Value null at 'trainingJobName'",
        "Value 'ml.m5.huge' at 'resourceConfig.instanceType'",
        "Value '0' at 'stoppingCondition.maxRuntimeInSeconds'",
    ]
    assert contracts.message(found) == "3 validation errors detected: " + "; ".join(found)
    assert contracts.message(found[:1]) == "1 validation error detected: " + found[0]
    with pytest.raises(ContractError) as refused:
        contracts.check("sagemaker", "CreateTrainingJob", request_)
    assert (refused.value.code, refused.value.message) == (VALIDATION, contracts.message(found))


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        (("ResourceConfig", "InstanceCount"), "1", "STRING_VALUE cannot be converted to Integer"),
        (("InputDataConfig",), {"ChannelName": "train"}, "Start of structure or map found where not expected"),
        (("TrainingJobName",), ["job"], "Start of list found where not expected"),
        (("EnableNetworkIsolation",), "true", "STRING_VALUE cannot be converted to Boolean"),
        (("RoleArn",), 5, "NUMBER_VALUE cannot be converted to String"),
    ],
)
def test_a_wrong_json_type_is_a_serialization_exception(contracts, request_, member, value, message):
    """AWS stops at a value it cannot read, before any constraint: one SerializationException, not a list."""
    *parents, name = member
    target = request_
    for parent in parents:
        target = target[parent]
    target[name] = value
    request_["StoppingCondition"]["MaxRuntimeInSeconds"] = 0  # a constraint failure it never gets to
    with pytest.raises(ContractError) as refused:
        errors(contracts, request_)
    assert (refused.value.code, refused.value.message) == (SERIALIZATION, message)


def test_unknown_members_are_not_refused(contracts, request_):
    request_["NoSuchMember"] = {"anything": 1}
    assert errors(contracts, request_) == []


def test_timestamps_are_read_as_epoch_seconds_or_iso_8601(contracts):
    for when in (1764370800, 1764370800.5, "2026-11-28T23:00:00Z"):
        assert errors(contracts, {"CreationTimeAfter": when}, "ListTrainingJobs") == []
    with pytest.raises(ContractError, match="BOOLEAN_VALUE cannot be converted to Date"):
        errors(contracts, {"CreationTimeAfter": True}, "ListTrainingJobs")


def test_a_blob_is_measured_decoded_and_a_sensitive_value_is_not_shown(contracts):
    """KMS's Plaintext: base64 in JSON, at most 4096 bytes, sensitive (aws/aws-sdk-js#4203: "Value at 'body'")."""
    fits = {"KeyId": KEY, "Plaintext": base64.b64encode(b"x" * 4096).decode()}
    assert contracts.errors("kms", "Encrypt", fits) == []
    too_long = {**fits, "Plaintext": base64.b64encode(b"x" * 4097).decode()}
    assert contracts.errors("kms", "Encrypt", too_long) == [
        "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
    ]
