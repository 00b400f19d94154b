"""Each named fix of the emulator, through the AWS API the provider uses. Each test fails without its fix."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from vwt_deploy.deploy.bootstrap import tls_only_policy

PASS = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
ROLE = "arn:aws:iam::123456789012:role/sfn"


def deny_insecure_transport(bucket: str) -> dict:
    """The TLS-only statement every bucket of the project carries (the state bucket's, from bootstrap)."""
    return json.loads(tls_only_policy(bucket))["Statement"][0]


def test_validate_state_machine_definition_accepts_a_valid_one(emulator_client) -> None:
    res = emulator_client("stepfunctions").validate_state_machine_definition(definition=PASS)
    assert res["result"] == "OK" and res["diagnostics"] == []


def test_validate_state_machine_definition_refuses_grammar_errors(emulator_client) -> None:
    bad = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": True}}})
    res = emulator_client("stepfunctions").validate_state_machine_definition(definition=bad)
    assert res["result"] == "FAIL"
    assert res["diagnostics"][0]["severity"] == "ERROR" and res["diagnostics"][0]["message"]


def test_list_state_machine_versions(emulator_client) -> None:
    sfn = emulator_client("stepfunctions")
    arn = sfn.create_state_machine(name="versions", definition=PASS, roleArn=ROLE, publish=True)["stateMachineArn"]
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:1"]
    plain = sfn.create_state_machine(name="unversioned", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    assert sfn.list_state_machine_versions(stateMachineArn=plain)["stateMachineVersions"] == []


def _wait(sfn, arn: str) -> dict:
    for _ in range(100):
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


def test_executions_run_and_a_second_start_works(emulator_client) -> None:
    sfn = emulator_client("stepfunctions")
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}})
    arn = sfn.create_state_machine(name="twice", definition=definition, roleArn=ROLE)["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert _wait(sfn, first)["status"] == "SUCCEEDED"
    done = _wait(sfn, second)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"ok": 1}
    # reading the machine (the provider does on every plan) still works with executions present
    assert sfn.describe_state_machine(stateMachineArn=arn)["name"] == "twice"


def test_aws_sdk_application_auto_scaling_tasks_run(emulator_client) -> None:
    """Step Functions names the service `applicationautoscaling` in aws-sdk ARNs; boto3 has no such client."""
    sfn = emulator_client("stepfunctions")
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/sdk-scaling/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    definition = json.dumps(
        {
            "StartAt": "Register",
            "States": {
                "Register": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:applicationautoscaling:registerScalableTarget",
                    "Parameters": {**target, "MinCapacity": 1, "MaxCapacity": 3},
                    "End": True,
                }
            },
        }
    )
    arn = sfn.create_state_machine(name="sdk-scaling", definition=definition, roleArn=ROLE)["stateMachineArn"]
    done = _wait(sfn, sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    targets = emulator_client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"
    ]
    assert [(t["ResourceId"], t["MaxCapacity"]) for t in targets if t["ResourceId"] == target["ResourceId"]] == [
        (target["ResourceId"], 3)
    ]


def test_aws_sdk_tasks_take_and_answer_pascal_case_names(emulator_client) -> None:
    """Step Functions' own API is camelCase (`executionArn`, `status`); its AWS SDK integration takes and answers
    PascalCase (`ExecutionArn`, `Status`), as the Developer Guide says of every service."""
    sfn = emulator_client("stepfunctions")
    arn = sfn.create_state_machine(name="described", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    described = _wait(sfn, sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"])
    definition = json.dumps(
        {
            "StartAt": "Describe",
            "States": {
                "Describe": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                    "Parameters": {"ExecutionArn.$": "$.arn"},
                    "ResultSelector": {"status.$": "$.Status", "machine.$": "$.StateMachineArn"},
                    "End": True,
                }
            },
        }
    )
    describer = sfn.create_state_machine(name="describer", definition=definition, roleArn=ROLE)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=describer, input=json.dumps({"arn": described["executionArn"]}))
    done = _wait(sfn, run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"status": "SUCCEEDED", "machine": arn}


def test_the_api_gateway_account_role_can_be_reset(emulator_client) -> None:
    """aws_api_gateway_account's reset_on_delete sends /cloudwatchRoleArn without a value: `down` must get
    through it (moto answered 500, and the destroy retried until it timed out)."""
    gw = emulator_client("apigateway")
    role = "arn:aws:iam::123456789012:role/apigateway-logs"
    gw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert gw.get_account()["cloudwatchRoleArn"] == role
    gw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn"}])
    assert not gw.get_account().get("cloudwatchRoleArn")


def test_application_autoscaling_tags(emulator_client) -> None:
    aas = emulator_client("application-autoscaling")
    arn = aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/e/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )["ScalableTargetARN"]
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {}
    aas.tag_resource(ResourceARN=arn, Tags={"environment": "local", "owner": "ml"})
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"environment": "local", "owner": "ml"}
    aas.untag_resource(ResourceARN=arn, TagKeys=["owner"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"environment": "local"}


def test_sagemaker_model_reads_back_what_was_sent(emulator_client) -> None:
    sm = emulator_client("sagemaker")
    container = {"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/i:1", "ModelDataUrl": "s3://b/m.tar.gz"}
    sm.create_model(
        ModelName="isolated", ExecutionRoleArn=ROLE, PrimaryContainer=container, EnableNetworkIsolation=True
    )
    desc = sm.describe_model(ModelName="isolated")
    assert desc["EnableNetworkIsolation"] is True
    assert "VpcConfig" not in desc  # none was sent
    vpc = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    sm.create_model(ModelName="in-vpc", ExecutionRoleArn=ROLE, PrimaryContainer=container, VpcConfig=vpc)
    desc = sm.describe_model(ModelName="in-vpc")
    assert desc["VpcConfig"] == vpc and desc["EnableNetworkIsolation"] is False


def test_tls_only_bucket_policy_lets_loopback_requests_through(emulator_client) -> None:
    s3 = emulator_client("s3")
    s3.create_bucket(Bucket="tls-only", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_policy(
        Bucket="tls-only",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    deny_insecure_transport("tls-only"),
                    {
                        "Sid": "DenyOutdatedTls",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
                        "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
                    },
                ],
            }
        ),
    )
    s3.put_object(Bucket="tls-only", Key="k", Body=b"v")
    assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"


def test_other_deny_statements_still_deny(emulator_client) -> None:
    s3 = emulator_client("s3")
    s3.create_bucket(Bucket="deny-all", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="deny-all", Key="k", Body=b"v")
    s3.put_bucket_policy(
        Bucket="deny-all",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::deny-all/*",
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="deny-all", Key="k")
    assert exc.value.response["Error"]["Code"] in ("AccessDenied", "403")


def test_aws_managed_policies_can_be_attached(emulator_client) -> None:
    iam = emulator_client("iam")
    iam.create_role(
        RoleName="uses-managed",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    iam.attach_role_policy(RoleName="uses-managed", PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName="uses-managed")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]


@pytest.mark.parametrize(
    "definition, defect",
    [
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}, "'Nowhere' names no state"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}, "B": {"Type": "Pass", "End": True}}},
            "'B' is unreachable",
        ),
        ({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}}, "StartAt 'Missing' names no state"),
    ],
)
def test_validate_state_machine_definition_runs_the_graph_check(emulator_client, definition, defect) -> None:
    """moto's parser accepts these; AWS (and the emulator) refuse them."""
    res = emulator_client("stepfunctions").validate_state_machine_definition(definition=json.dumps(definition))
    assert res["result"] == "FAIL"
    assert any(defect in d["message"] for d in res["diagnostics"]), res["diagnostics"]


def test_validate_accepts_a_direct_lambda_resource(emulator_client) -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:f", "End": True}},
    }
    res = emulator_client("stepfunctions").validate_state_machine_definition(definition=json.dumps(definition))
    assert res["result"] == "OK", res["diagnostics"]


def test_sqs_redrive_allow_policy_reads_back(emulator_client) -> None:
    sqs = emulator_client("sqs")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    assert "RedriveAllowPolicy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    policy = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:eu-west-1:123456789012:src"]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": policy})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedriveAllowPolicy"])["Attributes"]
    assert json.loads(got["RedriveAllowPolicy"]) == json.loads(policy)


def test_sqs_attributes_read_back_as_aws_sends_them(emulator_client) -> None:
    sqs = emulator_client("sqs")
    dlq = sqs.create_queue(QueueName="fixes-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="fixes-main")["QueueUrl"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": "*",
                }
            ],
        }
    )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    redrive = f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":5}}'
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive})  # without the policy
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(got["Policy"]) == json.loads(policy)  # kept
    assert got["RedrivePolicy"] == redrive  # compact, as sent


def test_apigateway_tags_a_rest_api_an_api_key_and_a_usage_plan_after_they_are_made(emulator_client) -> None:
    """A release that changes `tags` tags them in place (moto read every ARN as a stage's)."""
    api = emulator_client("apigateway")
    rest = api.create_rest_api(name="fixes-tags", tags={"environment": "local"})["id"]
    key = api.create_api_key(name="fixes-tags-key", tags={"environment": "local"})["id"]
    plan = api.create_usage_plan(name="fixes-tags-plan")["id"]
    region = api.meta.region_name
    for arn in (f"arn:aws:apigateway:{region}::/restapis/{rest}", f"arn:aws:apigateway:{region}::/apikeys/{key}",
                f"arn:aws:apigateway:{region}::/usageplans/{plan}"):  # fmt: skip
        api.tag_resource(resourceArn=arn, tags={"owner": "risk-team"})
        assert api.get_tags(resourceArn=arn)["tags"]["owner"] == "risk-team", arn
        api.untag_resource(resourceArn=arn, tagKeys=["owner"])
        assert "owner" not in api.get_tags(resourceArn=arn)["tags"], arn
    assert api.get_rest_api(restApiId=rest)["tags"] == {"environment": "local"}  # read back as the provider reads it
    with pytest.raises(ClientError) as other:
        api.tag_resource(resourceArn=f"arn:aws:apigateway:{region}::/restapis/{rest}/resources/x", tags={"a": "b"})
    assert other.value.response["Error"]["Code"] == "BadRequestException"


def test_apigateway_updates_a_models_schema_and_description(emulator_client) -> None:
    """UpdateModel, as the provider sends it when a release changes a request model (replace /schema, /description)."""
    api = emulator_client("apigateway")
    rest = api.create_rest_api(name="fixes-model")["id"]
    api.create_model(restApiId=rest, name="Request", contentType="application/json", schema='{"type": "object"}')
    schema = '{"type": "object", "properties": {"records": {"maxItems": 500}}}'
    answer = api.update_model(
        restApiId=rest,
        modelName="Request",
        patchOperations=[{"op": "replace", "path": "/schema", "value": schema},
                         {"op": "replace", "path": "/description", "value": "at most 500 records"}],
    )  # fmt: skip
    assert (answer["schema"], answer["description"]) == (schema, "at most 500 records")
    assert api.get_model(restApiId=rest, modelName="Request")["schema"] == schema
    with pytest.raises(ClientError) as bad:
        api.update_model(restApiId=rest, modelName="Request", patchOperations=[{"op": "replace", "path": "/name"}])
    assert bad.value.response["Error"]["Code"] == "BadRequestException"


def test_apigateway_takes_only_an_issued_certificate_of_its_region_for_a_regional_domain(emulator_client) -> None:
    from tests.helpers.certificates import imported_certificate

    api = emulator_client("apigateway")
    region = api.meta.region_name
    issued = imported_certificate(emulator_client("acm"), "fixes.example.com")
    made = api.create_domain_name(
        domainName="fixes.example.com", regionalCertificateArn=issued, endpointConfiguration={"types": ["REGIONAL"]}
    )
    assert made["regionalCertificateArn"] == issued
    unknown = f"arn:aws:acm:{region}:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    elsewhere = issued.replace(f":{region}:", ":us-west-2:")
    for arn in (unknown, elsewhere):
        with pytest.raises(ClientError) as refused:
            api.create_domain_name(
                domainName="fixes-bad.example.com", regionalCertificateArn=arn,
                endpointConfiguration={"types": ["REGIONAL"]},
            )  # fmt: skip
        error = refused.value.response["Error"]
        assert error["Code"] == "BadRequestException"
        assert error["Message"] == f"Invalid certificate ARN: {arn}. Certificate must be in 'ISSUED' state."


def test_apigateway_leaves_out_empty_collections(emulator_client) -> None:
    api = emulator_client("apigateway")
    rest = api.create_rest_api(name="fixes")["id"]
    root = api.get_resources(restApiId=rest)["items"][0]["id"]
    api.put_method(
        restApiId=rest,
        resourceId=root,
        httpMethod="POST",
        authorizationType="NONE",
        requestParameters={},
        requestModels={},
        apiKeyRequired=True,
    )
    api.put_integration(
        restApiId=rest,
        resourceId=root,
        httpMethod="POST",
        type="MOCK",
        requestParameters={},
        requestTemplates={},
        cacheKeyParameters=[],
    )
    method = api.get_method(restApiId=rest, resourceId=root, httpMethod="POST")
    integration = api.get_integration(restApiId=rest, resourceId=root, httpMethod="POST")
    for key in ("authorizationScopes", "requestParameters", "requestModels"):
        assert key not in method, key
    for key in ("requestParameters", "requestTemplates", "cacheKeyParameters"):
        assert key not in integration, key
    assert method["apiKeyRequired"] is True and integration["type"] == "MOCK"


def test_access_logging_to_a_tls_only_log_bucket(emulator_client) -> None:
    s3 = emulator_client("s3")
    for name in ("logged", "log-target"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_policy(
        Bucket="log-target",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    deny_insecure_transport("log-target"),
                    {
                        "Sid": "S3ServerAccessLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::log-target/*",
                    },
                ],
            }
        ),
    )
    s3.put_bucket_logging(
        Bucket="logged",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "log-target", "TargetPrefix": "logged/"}},
    )
    assert s3.get_bucket_logging(Bucket="logged")["LoggingEnabled"]["TargetBucket"] == "log-target"


def test_endpoint_configuration_without_data_capture_reads_back_without_it(emulator_client) -> None:
    sm = emulator_client("sagemaker")
    sm.create_model(ModelName="for-config", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i:1"})
    sm.create_endpoint_config(
        EndpointConfigName="no-capture",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "for-config",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    desc = sm.describe_endpoint_config(EndpointConfigName="no-capture")
    assert "DataCaptureConfig" not in desc and desc["ProductionVariants"][0]["VariantName"] == "AllTraffic"


def test_scalable_target_tags_sent_at_registration_read_back(emulator_client) -> None:
    aas = emulator_client("application-autoscaling")
    arn = aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/tagged/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
        Tags={"environment": "local"},
    )["ScalableTargetARN"]
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"environment": "local"}


def test_an_endpoint_is_created_from_a_configuration_without_data_capture(emulator_client) -> None:
    sm = emulator_client("sagemaker")
    sm.create_model(ModelName="for-endpoint", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i:1"})
    sm.create_endpoint_config(
        EndpointConfigName="plain",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "for-endpoint",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="plain-endpoint", EndpointConfigName="plain")
    assert sm.describe_endpoint(EndpointName="plain-endpoint")["EndpointConfigName"] == "plain"


def test_sqs_redrive_allow_policy_is_removed_by_an_empty_value(emulator_client) -> None:
    sqs = emulator_client("sqs")
    url = sqs.create_queue(
        QueueName="allow-removed", Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})}
    )["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": ""})
    assert "RedriveAllowPolicy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_a_versioned_bucket_with_delete_markers_can_be_emptied(emulator_client) -> None:
    """What the provider does to empty a bucket (force_destroy): DeleteObjects on every version and marker.
    moto answered 500 ('FakeDeleteMarker' has no 'dispose') and `down` retried for ever."""
    s3 = emulator_client("s3")
    s3.create_bucket(Bucket="markers", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket="markers", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="markers", Key="data.csv", Body=b"a\n1\n")
    s3.delete_object(Bucket="markers", Key="data.csv")  # leaves a delete marker on top of the version
    listed = s3.list_object_versions(Bucket="markers")
    everything = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])
    ]
    assert len(everything) == 2
    # Terraform destroys the versioning resource (versioning suspended) before it empties and deletes the bucket
    s3.put_bucket_versioning(Bucket="markers", VersioningConfiguration={"Status": "Suspended"})
    answer = s3.delete_objects(Bucket="markers", Delete={"Objects": everything})
    assert answer.get("Errors", []) == []
    assert "Versions" not in s3.list_object_versions(Bucket="markers")
    s3.delete_bucket(Bucket="markers")


def test_sending_a_message_does_not_walk_the_queue() -> None:
    """In process: a send no longer counts the queue's messages, and the counts and deduplication still hold."""
    import boto3
    from moto import mock_aws
    from moto.sqs.models import Queue

    from vwt_deploy.emulator import fixes

    fixes.sqs_queue_attributes()
    fixes.sqs_send_constant_time()
    walks = []
    counted = Queue.approximate_number_of_messages.fget
    Queue.approximate_number_of_messages = property(lambda self: walks.append(1) or counted(self))
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="eu-west-1")
            url = sqs.create_queue(QueueName="events")["QueueUrl"]
            for n in range(5):
                sqs.send_message(QueueUrl=url, MessageBody=f"event {n}")
            assert walks == []
            count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            assert count["Attributes"]["ApproximateNumberOfMessages"] == "5"
            fifo = sqs.create_queue(
                QueueName="events.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
            )["QueueUrl"]
            for _ in range(2):
                sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
            got = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
            assert len(got) == 1  # deduplicated by content, as the flag says
    finally:
        Queue.approximate_number_of_messages = property(counted)


def test_model_registry_updates_only_what_is_sent_and_deletes(emulator_client) -> None:
    sm = emulator_client("sagemaker")
    group = "fixes-registry"
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="versions")
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"gate_decision": "deploy"},
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="by me")
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"deployed_by": "run-1"})
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved" and described["ApprovalDescription"] == "by me"
    assert described["CustomerMetadataProperties"] == {"gate_decision": "deploy", "deployed_by": "run-1"}
    with pytest.raises(ClientError) as held:
        sm.delete_model_package_group(ModelPackageGroupName=group)
    assert held.value.response["Error"]["Code"] == "ConflictException"
    sm.delete_model_package(ModelPackageName=arn)
    sm.delete_model_package_group(ModelPackageGroupName=group)
    with pytest.raises(ClientError, match="does not exist"):
        sm.describe_model_package_group(ModelPackageGroupName=group)


def test_the_context_objects_start_time_is_an_iso_8601_string(emulator_client) -> None:
    sfn = emulator_client("stepfunctions")
    definition = {
        "StartAt": "When",
        "States": {
            "When": {
                "Type": "Pass",
                "Parameters": {
                    "start.$": "$$.Execution.StartTime",
                    "date.$": "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)",
                },
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(name="when", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.monotonic() + 30
    while (result := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", output["start"]), output
    assert output["date"] == output["start"][:10]


def test_apigateway_keeps_an_authorizers_token_validation_expression(emulator_client) -> None:
    api = emulator_client("apigateway")
    rest = api.create_rest_api(name="fixes-authorizer")["id"]
    function = "arn:aws:lambda:eu-west-1:123456789012:function:a"
    uri = f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{function}/invocations"
    made = api.create_authorizer(
        restApiId=rest, name="tokens", type="TOKEN", authorizerUri=uri,
        identitySource="method.request.header.Authorization", identityValidationExpression=r"^Bearer .+$",
    )  # fmt: skip
    read = api.get_authorizer(restApiId=rest, authorizerId=made["id"])
    assert made["identityValidationExpression"] == read["identityValidationExpression"] == r"^Bearer .+$"
