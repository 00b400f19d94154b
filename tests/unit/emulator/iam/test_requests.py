"""Reading requests for IAM enforcement: real requests made by botocore (serialised, signed, caught before they
are sent), read back into service, operation, IAM actions and resources; denials parsed by botocore's parsers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.parsers import create_parser

from tests.unit.emulator.iam.helpers import ACCOUNT
from vwt_deploy.emulator.iam.requests import Interpreted, RequestReader, UnknownOperation

REGION = "eu-west-1"
ENDPOINT = "http://127.0.0.1:5000"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pipeline"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:predict"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/training"

Wire = tuple[str, str, str, dict[str, str], bytes]  # method, path (as sent), query, headers, body


class _Caught(Exception):
    def __init__(self, wire: Wire) -> None:
        super().__init__("request caught before sending")
        self.wire = wire


def _catch(request: Any, **_: Any) -> None:
    body = request.body.read() if hasattr(request.body, "read") else request.body
    body = body.encode() if isinstance(body, str) else body or b""
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    url = urlsplit(request.url)
    raise _Caught((request.method, url.path, url.query, headers, body))


@pytest.fixture(scope="module")
def reader() -> RequestReader:
    return RequestReader()


@pytest.fixture(scope="module")
def client() -> Callable[[str], Any]:
    """A boto3 client of the emulator's endpoint with fake credentials, whose requests never leave."""
    clients: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in clients:
            made = boto3.client(
                service,
                endpoint_url=ENDPOINT,
                region_name=REGION,
                aws_access_key_id="AKIDEXAMPLE",
                aws_secret_access_key="secret",
            )
            made.meta.events.register("before-send.*", _catch)
            clients[service] = made
        return clients[service]

    return make


@pytest.fixture(scope="module")
def wire(client) -> Callable[..., Wire]:
    def send(service: str, operation: str, **params: Any) -> Wire:
        with pytest.raises(_Caught) as caught:
            getattr(client(service), operation)(**params)
        return caught.value.wire

    return send


@pytest.fixture(scope="module")
def read(reader, wire) -> Callable[..., Interpreted]:
    """The request botocore makes for `service.operation(**params)`, as the reader reads it."""

    def interpret(service: str, operation: str, **params: Any) -> Interpreted:
        method, path, query, headers, body = wire(service, operation, **params)
        signing = reader.signing(headers, query)
        assert signing is not None
        return reader.interpret(
            method, path, query, headers, body, account=ACCOUNT, region=REGION, signing_name=signing.signing_name
        )

    return interpret


def asks(interpreted: Interpreted) -> list[tuple[str, str]]:
    return [(ask.action, ask.resource) for ask in interpreted.asks]


S3 = "arn:aws:s3:::"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/"
ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:pipeline:run-1"
TARGET = f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/endpoint/ep/variant/AllTraffic"
TRAINING = {
    "TrainingJobName": "tj",
    "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
    "RoleArn": ROLE,
    "OutputDataConfig": {"S3OutputPath": "s3://m/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
}
TUNING = {"Strategy": "Random", "ResourceLimits": {"MaxParallelTrainingJobs": 1}}
SCALING = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/ep/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}
EVENT = {"Source": "vwt", "DetailType": "d", "Detail": "{}"}


def case(call: str, params: dict[str, Any], operation: str, *expected: tuple[str, str]) -> Any:
    service, method = call.split(".")
    return pytest.param(service, method, params, operation, list(expected), id=f"{call}:{operation}")


CALLS = [
    # S3, path-style (S3 User Guide, "Required permissions for Amazon S3 API operations")
    case("s3.get_object", {"Bucket": "d", "Key": "in/a b.csv"}, "GetObject", ("s3:GetObject", f"{S3}d/in/a b.csv")),
    case(
        "s3.get_object", {"Bucket": "d", "Key": "k", "VersionId": "1"}, "GetObject", ("s3:GetObjectVersion", f"{S3}d/k")
    ),
    case("s3.head_object", {"Bucket": "d", "Key": "k"}, "HeadObject", ("s3:GetObject", f"{S3}d/k")),
    case("s3.put_object", {"Bucket": "d", "Key": "dir/", "Body": b"x"}, "PutObject", ("s3:PutObject", f"{S3}d/dir/")),
    case("s3.list_objects_v2", {"Bucket": "d", "Prefix": "in/"}, "ListObjectsV2", ("s3:ListBucket", f"{S3}d")),
    case("s3.list_objects", {"Bucket": "d"}, "ListObjects", ("s3:ListBucket", f"{S3}d")),
    case("s3.head_bucket", {"Bucket": "d"}, "HeadBucket", ("s3:ListBucket", f"{S3}d")),
    case(
        "s3.create_multipart_upload", {"Bucket": "m", "Key": "k"}, "CreateMultipartUpload", ("s3:PutObject", f"{S3}m/k")
    ),
    case(
        "s3.upload_part",
        {"Bucket": "m", "Key": "k", "PartNumber": 1, "UploadId": "u", "Body": b"x"},
        "UploadPart",
        ("s3:PutObject", f"{S3}m/k"),
    ),
    case(
        "s3.complete_multipart_upload",
        {"Bucket": "m", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": [{"ETag": "e", "PartNumber": 1}]}},
        "CompleteMultipartUpload",
        ("s3:PutObject", f"{S3}m/k"),
    ),
    case(
        "s3.abort_multipart_upload",
        {"Bucket": "m", "Key": "k", "UploadId": "u"},
        "AbortMultipartUpload",
        ("s3:AbortMultipartUpload", f"{S3}m/k"),
    ),
    case(
        "s3.list_parts",
        {"Bucket": "m", "Key": "k", "UploadId": "u"},
        "ListParts",
        ("s3:ListMultipartUploadParts", f"{S3}m/k"),
    ),
    case(
        "s3.copy_object",
        {"Bucket": "m", "Key": "labelled.csv", "CopySource": {"Bucket": "d", "Key": "in/a b.csv"}},
        "CopyObject",
        ("s3:PutObject", f"{S3}m/labelled.csv"),
        ("s3:GetObject", f"{S3}d/in/a b.csv"),
    ),
    case(
        "s3.copy_object",
        {"Bucket": "m", "Key": "k", "CopySource": {"Bucket": "d", "Key": "k", "VersionId": "1"}},
        "CopyObject",
        ("s3:PutObject", f"{S3}m/k"),
        ("s3:GetObjectVersion", f"{S3}d/k"),
    ),
    case("s3.delete_object", {"Bucket": "m", "Key": "k"}, "DeleteObject", ("s3:DeleteObject", f"{S3}m/k")),
    case(
        "s3.delete_objects",
        {"Bucket": "m", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "1"}]}},
        "DeleteObjects",
        ("s3:DeleteObject", f"{S3}m/a"),
        ("s3:DeleteObjectVersion", f"{S3}m/b"),
    ),
    case("s3.get_bucket_location", {"Bucket": "m"}, "GetBucketLocation", ("s3:GetBucketLocation", f"{S3}m")),
    case(
        "s3.get_bucket_encryption", {"Bucket": "m"}, "GetBucketEncryption", ("s3:GetEncryptionConfiguration", f"{S3}m")
    ),
    case("s3.list_buckets", {}, "ListBuckets", ("s3:ListAllMyBuckets", "*")),
    # SageMaker: the runtime (rest-json) and the control plane (json) share the signing name "sagemaker"
    case(
        "sagemaker-runtime.invoke_endpoint",
        {"EndpointName": "ep", "Body": b"1,2"},
        "InvokeEndpoint",
        ("sagemaker:InvokeEndpoint", f"{SM}:endpoint/ep"),
    ),
    case(
        "sagemaker.create_training_job",
        TRAINING,
        "CreateTrainingJob",
        ("sagemaker:CreateTrainingJob", f"{SM}:training-job/tj"),
    ),
    case(
        "sagemaker.describe_training_job",
        {"TrainingJobName": "tj"},
        "DescribeTrainingJob",
        ("sagemaker:DescribeTrainingJob", f"{SM}:training-job/tj"),
    ),
    case(
        "sagemaker.create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobName": "hp", "HyperParameterTuningJobConfig": TUNING},
        "CreateHyperParameterTuningJob",
        ("sagemaker:CreateHyperParameterTuningJob", f"{SM}:hyper-parameter-tuning-job/hp"),
    ),
    case(
        "sagemaker.create_model",
        {"ModelName": "mo", "ExecutionRoleArn": ROLE},
        "CreateModel",
        ("sagemaker:CreateModel", f"{SM}:model/mo"),
    ),
    case(
        "sagemaker.create_endpoint_config",
        {"EndpointConfigName": "cfg", "ProductionVariants": [{"VariantName": "v", "ModelName": "mo"}]},
        "CreateEndpointConfig",
        ("sagemaker:CreateEndpointConfig", f"{SM}:endpoint-config/cfg"),
    ),
    case(
        "sagemaker.update_endpoint",
        {"EndpointName": "ep", "EndpointConfigName": "cfg"},
        "UpdateEndpoint",
        ("sagemaker:UpdateEndpoint", f"{SM}:endpoint/ep"),
        ("sagemaker:UpdateEndpoint", f"{SM}:endpoint-config/cfg"),
    ),
    case(
        "sagemaker.describe_endpoint",
        {"EndpointName": "ep"},
        "DescribeEndpoint",
        ("sagemaker:DescribeEndpoint", f"{SM}:endpoint/ep"),
    ),
    case(
        "sagemaker.add_tags",
        {"ResourceArn": f"{SM}:training-job/tj", "Tags": [{"Key": "k", "Value": "v"}]},
        "AddTags",
        ("sagemaker:AddTags", f"{SM}:training-job/tj"),
    ),
    # Lambda: Invoke is lambda:InvokeFunction; a qualified invocation acts on the version or alias ARN
    case("lambda.invoke", {"FunctionName": "predict"}, "Invoke", ("lambda:InvokeFunction", FUNCTION)),
    case("lambda.invoke", {"FunctionName": FUNCTION}, "Invoke", ("lambda:InvokeFunction", FUNCTION)),
    case(
        "lambda.invoke", {"FunctionName": f"{ACCOUNT}:function:predict"}, "Invoke", ("lambda:InvokeFunction", FUNCTION)
    ),
    case(
        "lambda.invoke", {"FunctionName": f"{FUNCTION}:live"}, "Invoke", ("lambda:InvokeFunction", f"{FUNCTION}:live")
    ),
    case(
        "lambda.invoke",
        {"FunctionName": "predict", "Qualifier": "3"},
        "Invoke",
        ("lambda:InvokeFunction", f"{FUNCTION}:3"),
    ),
    case(
        "lambda.get_function_configuration",
        {"FunctionName": "predict"},
        "GetFunctionConfiguration",
        ("lambda:GetFunctionConfiguration", FUNCTION),
    ),
    # Step Functions signs as "states"
    case(
        "stepfunctions.start_execution",
        {"stateMachineArn": MACHINE},
        "StartExecution",
        ("states:StartExecution", MACHINE),
    ),
    case(
        "stepfunctions.describe_execution",
        {"executionArn": EXECUTION},
        "DescribeExecution",
        ("states:DescribeExecution", EXECUTION),
    ),
    # SSM: the parameter ARN has one slash whether the name starts with one or not
    case("ssm.get_parameter", {"Name": "/vwt/model"}, "GetParameter", ("ssm:GetParameter", f"{PARAMETER}vwt/model")),
    case("ssm.get_parameter", {"Name": "model"}, "GetParameter", ("ssm:GetParameter", f"{PARAMETER}model")),
    case(
        "ssm.put_parameter",
        {"Name": "/vwt/model", "Value": "v", "Type": "String", "Overwrite": True},
        "PutParameter",
        ("ssm:PutParameter", f"{PARAMETER}vwt/model"),
    ),
    case("sns.publish", {"TopicArn": TOPIC, "Message": "m"}, "Publish", ("sns:Publish", TOPIC)),
    case(
        "sqs.send_message",
        {"QueueUrl": f"{ENDPOINT}/{ACCOUNT}/jobs", "MessageBody": "m"},
        "SendMessage",
        ("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"),
    ),
    # KMS: a key id, a key ARN, an alias (the caller resolves it), and Decrypt without a KeyId
    case("kms.decrypt", {"CiphertextBlob": b"x", "KeyId": KEY_ID}, "Decrypt", ("kms:Decrypt", f"{KEY}{KEY_ID}")),
    case("kms.decrypt", {"CiphertextBlob": b"x"}, "Decrypt", ("kms:Decrypt", "*")),
    case(
        "kms.generate_data_key",
        {"KeyId": f"{KEY}{KEY_ID}", "KeySpec": "AES_256"},
        "GenerateDataKey",
        ("kms:GenerateDataKey", f"{KEY}{KEY_ID}"),
    ),
    case(
        "kms.generate_data_key",
        {"KeyId": "alias/vwt", "KeySpec": "AES_256"},
        "GenerateDataKey",
        ("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/vwt"),
    ),
    case(
        "kms.re_encrypt",
        {"CiphertextBlob": b"x", "SourceKeyId": "a", "DestinationKeyId": "b"},
        "ReEncrypt",
        ("kms:ReEncryptFrom", f"{KEY}a"),
        ("kms:ReEncryptTo", f"{KEY}b"),
    ),
    case(
        "logs.put_log_events",
        {
            "logGroupName": "/aws/sagemaker/TrainingJobs",
            "logStreamName": "tj/algo-1",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
        "PutLogEvents",
        ("logs:PutLogEvents", f"{LOGS}/aws/sagemaker/TrainingJobs:log-stream:tj/algo-1"),
    ),
    case(
        "logs.create_log_stream",
        {"logGroupName": "/aws/lambda/predict", "logStreamName": "s"},
        "CreateLogStream",
        ("logs:CreateLogStream", f"{LOGS}/aws/lambda/predict:log-stream:s"),
    ),
    case(
        "application-autoscaling.register_scalable_target",
        {**SCALING, "MinCapacity": 1, "MaxCapacity": 2},
        "RegisterScalableTarget",
        ("application-autoscaling:RegisterScalableTarget", TARGET),
    ),
    case(
        "application-autoscaling.describe_scalable_targets",
        {"ServiceNamespace": "sagemaker"},
        "DescribeScalableTargets",
        ("application-autoscaling:DescribeScalableTargets", "*"),
    ),
    # CloudWatch signs as "monitoring"; its IAM prefix is "cloudwatch"
    case(
        "cloudwatch.describe_alarms",
        {"AlarmNames": ["a", "b"]},
        "DescribeAlarms",
        ("cloudwatch:DescribeAlarms", f"{ALARM}a"),
        ("cloudwatch:DescribeAlarms", f"{ALARM}b"),
    ),
    case(
        "cloudwatch.put_metric_data",
        {"Namespace": "aws/sagemaker/TrainingJobs", "MetricData": [{"MetricName": "m", "Value": 1.0}]},
        "PutMetricData",
        ("cloudwatch:PutMetricData", "*"),
    ),
    case(
        "ecr.batch_get_image",
        {"repositoryName": "vwt", "imageIds": [{"imageTag": "t"}]},
        "BatchGetImage",
        ("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/vwt"),
    ),
    case("ecr.get_authorization_token", {}, "GetAuthorizationToken", ("ecr:GetAuthorizationToken", "*")),
    case("sts.assume_role", {"RoleArn": ROLE, "RoleSessionName": "session"}, "AssumeRole", ("sts:AssumeRole", ROLE)),
    case("sts.get_caller_identity", {}, "GetCallerIdentity"),  # "No permissions are required"
    case(
        "events.put_events",
        {"Entries": [EVENT, {**EVENT, "EventBusName": "ops"}]},
        "PutEvents",
        ("events:PutEvents", f"{BUS}default"),
        ("events:PutEvents", f"{BUS}ops"),
    ),
    case(
        "events.put_rule",
        {"Name": "r", "ScheduleExpression": "rate(1 day)"},
        "PutRule",
        ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r"),
    ),
    case("iam.get_role", {"RoleName": "training"}, "GetRole", ("iam:GetRole", ROLE)),
    # a versioned model package, named by its ARN: model-package/<group>/<version> is the resource, as is
    case(
        "sagemaker.describe_model_package",
        {"ModelPackageName": f"{SM}:model-package/churn/3"},
        "DescribeModelPackage",
        ("sagemaker:DescribeModelPackage", f"{SM}:model-package/churn/3"),
    ),
    case(
        "sagemaker.update_model_package",
        {"ModelPackageArn": f"{SM}:model-package/churn/3", "ModelApprovalStatus": "Approved"},
        "UpdateModelPackage",
        ("sagemaker:UpdateModelPackage", f"{SM}:model-package/churn/3"),
    ),
    # what a deployment (Terraform) calls: API Gateway's management API by HTTP method on the path (API Gateway
    # Developer Guide, "Control access for managing an API"), and names given under other parameters
    case(
        "apigateway.create_rest_api", {"name": "api"}, "CreateRestApi",
        ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis"),
    ),
    case(
        "apigateway.get_method", {"restApiId": "a1", "resourceId": "r2", "httpMethod": "POST"}, "GetMethod",
        ("apigateway:GET", f"arn:aws:apigateway:{REGION}::/restapis/a1/resources/r2/methods/POST"),
    ),
    case(
        "sns.create_topic", {"Name": "admin"}, "CreateTopic",
        ("sns:CreateTopic", f"arn:aws:sns:{REGION}:{ACCOUNT}:admin"),
    ),
    case(
        "stepfunctions.create_state_machine", {"name": "m", "definition": "{}", "roleArn": ROLE},
        "CreateStateMachine",
        ("states:CreateStateMachine", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"),
    ),
    case(
        "kms.create_alias", {"AliasName": "alias/env", "TargetKeyId": "k-1"}, "CreateAlias",
        ("kms:CreateAlias", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/env"),
        ("kms:CreateAlias", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1"),
    ),
    case(
        "cloudwatch.delete_alarms", {"AlarmNames": ["a", "b"]}, "DeleteAlarms",
        ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a"),
        ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:b"),
    ),
    case(
        "ssm.list_tags_for_resource", {"ResourceType": "Parameter", "ResourceId": "/env/model"}, "ListTagsForResource",
        ("ssm:ListTagsForResource", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/env/model"),
    ),
    case(
        "ecr.describe_repositories", {"repositoryNames": ["img"]}, "DescribeRepositories",
        ("ecr:DescribeRepositories", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/img"),
    ),
    case(
        "route53.change_resource_record_sets",
        {"HostedZoneId": "/hostedzone/ZQ3MW8XBWVLPE", "ChangeBatch": {"Changes": [{"Action": "UPSERT",
         "ResourceRecordSet": {"Name": "a.example.com", "Type": "A", "TTL": 60,
                               "ResourceRecords": [{"Value": "192.0.2.1"}]}}]}},
        "ChangeResourceRecordSets",
        ("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/ZQ3MW8XBWVLPE"),
    ),
    case(
        "wafv2.create_web_acl",
        {"Name": "env-api", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
         "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}},
        "CreateWebACL",
        ("wafv2:CreateWebACL", f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/env-api/*"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("service", "operation", "params", "expected_operation", "expected"), CALLS)
def test_botocore_requests_are_read_back(read, service, operation, params, expected_operation, expected):
    interpreted = read(service, operation, **params)
    assert (interpreted.service, interpreted.operation) == (service, expected_operation)
    assert asks(interpreted) == expected


def test_protocols_and_params_are_read(read):
    listed = read("s3", "list_objects_v2", Bucket="data", Prefix="in/")
    assert listed.protocol == "rest-xml"
    assert listed.params["Bucket"] == "data" and listed.params["Prefix"] == "in/"
    invoked = read("lambda", "invoke", FunctionName="predict", Payload=b"{}")
    assert (invoked.protocol, invoked.params["FunctionName"]) == ("rest-json", "predict")
    published = read("sns", "publish", TopicArn=TOPIC, Message="m")
    assert (published.protocol, published.params["TopicArn"]) == ("query", TOPIC)
    started = read("stepfunctions", "start_execution", stateMachineArn=MACHINE, input="{}")
    assert (started.protocol, started.params["input"]) == ("json", "{}")
    queued = read("sqs", "send_message", QueueUrl=f"{ENDPOINT}/{ACCOUNT}/jobs", MessageBody="m")
    assert queued.protocol == "json"  # SQS speaks JSON in current botocore


def test_condition_keys_the_request_states(read):
    listed = read("s3", "list_objects_v2", Bucket="data", Prefix="in/", Delimiter="/")
    assert listed.asks[0].context["s3:prefix"] == "in/"
    assert listed.asks[0].context["s3:delimiter"] == "/"
    put = read("s3", "put_object", Bucket="m", Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    assert put.asks[0].context["s3:x-amz-server-side-encryption"] == "aws:kms"
    metrics = read("cloudwatch", "put_metric_data", Namespace="aws/sagemaker/x", MetricData=[{"MetricName": "m"}])
    assert metrics.asks[0].context == {"cloudwatch:namespace": "aws/sagemaker/x"}
    scaling = read("application-autoscaling", "register_scalable_target", **SCALING, MinCapacity=1, MaxCapacity=2)
    assert scaling.asks[0].context == {  # what the framework's pipeline policy conditions on (vwt_deploy/asl.py)
        "application-autoscaling:service-namespace": "sagemaker",
        "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
    }


@pytest.mark.parametrize(("signature", "region"), [("s3v4", REGION), (None, "")])
def test_presigned_urls_are_read_from_the_query(reader, signature, region):
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(signature_version=signature),
    )  # without a signature version botocore presigns S3 URLs with SigV2, which names no region
    url = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "m", "Key": "model.tar.gz"}))
    signing = reader.signing({}, url.query)
    assert signing is not None
    assert (signing.access_key_id, signing.region, signing.signing_name) == ("AKIDEXAMPLE", region, "s3")
    interpreted = reader.interpret(
        "GET", url.path, url.query, {}, b"", account=ACCOUNT, region=REGION, signing_name=signing.signing_name
    )
    assert asks(interpreted) == [("s3:GetObject", "arn:aws:s3:::m/model.tar.gz")]


def test_header_signing_and_unsigned_requests(reader, wire):
    _, _, query, headers, _ = wire("sagemaker-runtime", "invoke_endpoint", EndpointName="ep", Body=b"1")
    signing = reader.signing(headers, query)
    assert signing is not None
    assert (signing.access_key_id, signing.region, signing.signing_name) == ("AKIDEXAMPLE", REGION, "sagemaker")
    assert reader.signing({}, "") is None
    assert reader.signing({}, "prefix=in/") is None
    legacy = reader.signing({"Authorization": "AWS AKIDEXAMPLE:c2lnbmF0dXJl"}, "")  # S3's SigV2 header
    assert legacy is not None and (legacy.access_key_id, legacy.signing_name) == ("AKIDEXAMPLE", "s3")


def test_unknown_operations_say_what_did_not_match(reader):
    with pytest.raises(UnknownOperation, match=r"'lambda'.*GET /no/such/path\?x=1"):
        reader.interpret("GET", "/no/such/path", "x=1", {}, b"", account=ACCOUNT, region=REGION, signing_name="lambda")
    with pytest.raises(UnknownOperation, match="X-Amz-Target SageMaker.NoSuchOperation"):
        reader.interpret(
            "POST",
            "/",
            "",
            {"X-Amz-Target": "SageMaker.NoSuchOperation"},
            b"{}",
            account=ACCOUNT,
            region=REGION,
            signing_name="sagemaker",
        )
    with pytest.raises(UnknownOperation, match="no such service"):
        reader.interpret("GET", "/", "", {}, b"", account=ACCOUNT, region=REGION, signing_name="nosuchservice")


DENIALS = [
    ("sagemaker", "DescribeTrainingJob", 400, "AccessDeniedException"),
    ("stepfunctions", "StartExecution", 400, "AccessDeniedException"),
    ("kms", "Decrypt", 400, "AccessDeniedException"),
    ("sqs", "SendMessage", 400, "AccessDenied"),  # a former query service: the query code, from x-amzn-query-error
    ("lambda", "Invoke", 403, "AccessDeniedException"),
    ("sagemaker-runtime", "InvokeEndpoint", 403, "AccessDeniedException"),
    ("s3", "GetObject", 403, "AccessDenied"),
    ("sts", "AssumeRole", 403, "AccessDenied"),
    ("sns", "Publish", 403, "AuthorizationError"),
]


@pytest.mark.parametrize(("service", "operation", "status", "code"), DENIALS)
def test_denials_parse_as_the_service_errors(reader, service, operation, status, code):
    message = f"User: arn:aws:sts::{ACCOUNT}:assumed-role/r/s is not authorized to perform: x on resource: <a & b>"
    got_status, headers, body = reader.denial(service, message)
    model = ServiceModel(Loader().load_service_model(service, "service-2"), service)
    response = {"status_code": got_status, "headers": {k.lower(): v for k, v in headers}, "body": body}
    parsed = create_parser(model.resolved_protocol).parse(response, model.operation_model(operation).output_shape)
    assert got_status == status
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"]) == (code, message)


def test_denial_of_an_interpreted_request_uses_its_protocol(read, reader):
    interpreted = read("sns", "publish", TopicArn=TOPIC, Message="m")
    status, headers, body = reader.denial(interpreted, "no")
    assert status == 403 and b"<Code>AuthorizationError</Code>" in body


def test_denial_by_signing_name_for_requests_that_could_not_be_read(reader):
    status, headers, body = reader.denial("states", "cannot tell")  # Step Functions' signing name
    assert (status, dict(headers)["x-amzn-ErrorType"]) == (400, "AccessDeniedException")
    status, headers, body = reader.denial("nosuchservice", "cannot tell")
    assert (status, dict(headers)["x-amzn-ErrorType"], body) == (
        403,
        "AccessDeniedException",
        b'{"Message": "cannot tell"}',
    )


def test_a_query_protocol_list_names_each_item(reader):
    """Terraform's CloudWatch client sends DeleteAlarms in the query protocol, its names flat
    (`AlarmNames.member.N`): each named alarm is asked for, as with a JSON list."""
    body = b"Action=DeleteAlarms&Version=2010-08-01&AlarmNames.member.1=a&AlarmNames.member.2=b"
    interpreted = reader.interpret(
        "POST", "/", "", {"Content-Type": "application/x-www-form-urlencoded"}, body,
        account=ACCOUNT, region=REGION, signing_name="monitoring",
    )  # fmt: skip
    assert asks(interpreted) == [
        ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a"),
        ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:b"),
    ]
