"""IAM enforcement through the emulator's API, as a principal meets it: a role session's requests are decided by
the role's policies and the resource's policy, and a denial is the service's own error with AWS's message.

An emulator of its own, enforced (the shared one runs the runtime's mechanics with IAM off), and a soft one.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.emulator import RunningEmulator, start_emulator, zip_of
from vwt_deploy.emulator.server import ACCESS_PATH

ACCOUNT = "123456789012"
REGION = "eu-west-1"
BUCKET = "enforced-data"
TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _trust(account: str = ACCOUNT) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@pytest.fixture(scope="module")
def enforced(tmp_path_factory) -> Iterator[RunningEmulator]:
    running = start_emulator(tmp_path_factory.mktemp("enforced") / "emulator", iam="enforce")
    yield running
    running.stop()


def _role(admin, name: str, statements: list[dict], trust: str | None = None) -> str:
    iam = admin("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust or _trust())["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="inline",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return arn


def _as(running: RunningEmulator, role_arn: str, session: str = "test", config=None):
    """A client factory acting as a session of `role_arn` (STS AssumeRole of the emulator, as a service would),
    with botocore `config` if given."""
    creds = running.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    return running.session(creds, REGION, config)


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def data(enforced: RunningEmulator) -> str:
    s3 = enforced.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="in/a.csv", Body=b"a,b\n1,2\n")
    s3.put_object(Bucket=BUCKET, Key="secret/b.csv", Body=b"x\n")
    return BUCKET


def test_a_role_reads_what_its_policy_allows_and_is_refused_the_rest_with_aws_message(enforced, data):
    role = _role(
        enforced.client,
        "reader",
        [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{data}/in/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{data}"},
        ],
    )
    s3 = _as(enforced, role, "reading")("s3")
    assert s3.get_object(Bucket=data, Key="in/a.csv")["Body"].read() == b"a,b\n1,2\n"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=data, Prefix="in/")["Contents"]] == ["in/a.csv"]
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=data, Key="secret/b.csv")
    assert _error(denied) == (
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/reading is not authorized to perform: s3:GetObject on "
        f"resource: arn:aws:s3:::{data}/secret/b.csv because no identity-based policy allows the s3:GetObject action",
    )
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=data, Key="in/new.csv", Body=b"1")
    assert "s3:PutObject" in _error(denied)[1]
    assert "in/new.csv" not in [o["Key"] for o in enforced.client("s3").list_objects_v2(Bucket=data)["Contents"]]


def test_an_explicit_deny_in_the_bucket_policy_wins_over_the_identity_allow(enforced):
    s3 = enforced.client("s3")
    s3.create_bucket(Bucket="enforced-denying", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="enforced-denying", Key="k", Body=b"1")
    role = _role(enforced.client, "denied-by-bucket", [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}])
    s3.put_bucket_policy(
        Bucket="enforced-denying",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::enforced-denying/*",
                        "Condition": {"ArnLike": {"aws:PrincipalArn": role}},
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as denied:
        _as(enforced, role)("s3").get_object(Bucket="enforced-denying", Key="k")
    assert _error(denied)[1].endswith("with an explicit deny in a resource-based policy")


def test_an_sse_kms_object_needs_decrypt_on_its_key_and_a_policy_change_takes_effect(enforced):
    admin = enforced.client
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    s3 = admin("s3")
    s3.create_bucket(Bucket="enforced-kms", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="enforced-kms", Key="k", Body=b"1", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    role = _role(admin, "kms-reader", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])
    reader = _as(enforced, role)("s3")
    with pytest.raises(ClientError) as denied:
        reader.get_object(Bucket="enforced-kms", Key="k")
    code, message = _error(denied)
    assert code == "AccessDenied"
    assert f"kms:Decrypt on resource: {key}" in message
    admin("iam").put_role_policy(
        RoleName="kms-reader",
        PolicyName="key",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}]}
        ),
    )
    assert reader.get_object(Bucket="enforced-kms", Key="k")["Body"].read() == b"1"


def test_publishing_to_an_encrypted_topic_needs_the_key(enforced):
    admin = enforced.client
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    topic = admin("sns").create_topic(Name="enforced-alerts", Attributes={"KmsMasterKeyId": key})["TopicArn"]
    role = _role(admin, "publisher", [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}])
    with pytest.raises(ClientError) as denied:
        _as(enforced, role)("sns").publish(TopicArn=topic, Message="hello")
    assert "kms:GenerateDataKey" in _error(denied)[1]
    admin("iam").put_role_policy(
        RoleName="publisher",
        PolicyName="key",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": key}],
            }
        ),
    )
    assert _as(enforced, role)("sns").publish(TopicArn=topic, Message="hello")["MessageId"]


def test_a_lambda_function_calls_aws_as_its_role_and_its_log_holds_the_denial(enforced, data):
    admin = enforced.client
    role = _role(
        admin,
        "function-role",
        [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{data}/in/*"}],
        trust=json.dumps(TRUST_LAMBDA),
    )
    code = zip_of(
        {
            "handler.py": """
            import boto3

            def handler(event, context):
                body = boto3.client("s3").get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
                return {"bytes": len(body)}
            """
        }
    )
    lam = admin("lambda")
    lam.create_function(
        FunctionName="enforced-reader",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code},
    )
    ok = lam.invoke(FunctionName="enforced-reader", Payload=json.dumps({"bucket": data, "key": "in/a.csv"}))
    assert "FunctionError" not in ok and json.loads(ok["Payload"].read()) == {"bytes": 8}
    failed = lam.invoke(
        FunctionName="enforced-reader", Payload=json.dumps({"bucket": data, "key": "secret/b.csv"}), LogType="Tail"
    )
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/function-role/enforced-reader is not authorized to perform: "
        f"s3:GetObject on resource: arn:aws:s3:::{data}/secret/b.csv" in error["errorMessage"]
    )


def test_a_function_whose_role_lambda_may_not_assume_does_not_run(enforced):
    admin = enforced.client
    role = _role(admin, "not-for-lambda", [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}])  # trusts root
    admin("lambda").create_function(
        FunctionName="enforced-untrusted",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_of({"handler.py": "def handler(event, context):\n    return 1\n"})},
    )
    with pytest.raises(ClientError) as refused:
        admin("lambda").invoke(FunctionName="enforced-untrusted", Payload=b"{}")
    assert "cannot be assumed by Lambda" in _error(refused)[1]


def test_the_access_record_names_what_each_role_used_and_was_refused(enforced, data):
    role = _role(
        enforced.client, "recorded", [{"Effect": "Allow", "Sid": "ReadIn", "Action": "s3:GetObject", "Resource": "*"}]
    )
    s3 = _as(enforced, role)("s3")
    s3.get_object(Bucket=data, Key="in/a.csv")
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=data, Key="in/a.csv")
    with urllib.request.urlopen(enforced.url + ACCESS_PATH) as resp:
        recorded = json.loads(resp.read())[role]
    pairs = {(e["action"], e["resource"]): e for e in recorded}
    read = pairs[("s3:GetObject", f"arn:aws:s3:::{data}/in/a.csv")]
    assert read["allowed"] == 1 and read["denied"] == 0 and read["granted_by"] == ["recorded/inline ReadIn"]
    assert pairs[("s3:DeleteObject", f"arn:aws:s3:::{data}/in/a.csv")]["denied"] == 1
    report = {r.role: r for r in enforced.manager.access()}[role]
    assert report.unused == []
    assert [d["action"] for d in report.denied] == ["s3:DeleteObject"]


def test_the_deployers_calls_are_recorded_with_what_aws_would_ask_of_a_role(enforced):
    """vwt-deploy and Terraform sign with the deployer's key: nothing decides their requests (an administrator's),
    but each one's IAM actions and resources are recorded, the KMS calls S3 makes on their behalf and iam:PassRole
    included: the record the deploy role's policy is derived from. Other administrator keys are not recorded."""
    from vwt_deploy.emulator.manager import DEPLOYER, DEPLOYER_ACCESS_KEY

    def deployer(service: str):
        return boto3.client(
            service,
            endpoint_url=enforced.url,
            region_name=REGION,
            aws_access_key_id=DEPLOYER_ACCESS_KEY,
            aws_secret_access_key="test",
        )

    kms = deployer("kms")
    key = kms.create_key(Description="deployer's")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/deployer", TargetKeyId=key)
    kms.delete_alias(AliasName="alias/deployer")  # acts on the key too, which the request does not name
    s3 = deployer("s3")
    s3.create_bucket(Bucket="deployer-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(
        Bucket="deployer-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
        },
    )
    s3.put_object(Bucket="deployer-bucket", Key="baseline/model.tar.gz", Body=b"x")
    role = _role(
        enforced.client, "passed-by-deployer", [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]
    )
    deployer("lambda").create_function(
        FunctionName="deployed",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": "def handler(e, c):\n    return 1\n"})},
    )
    deployer("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/deployed/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )
    enforced.client("s3").list_buckets()  # another administrator: not the deployer
    with urllib.request.urlopen(enforced.url + ACCESS_PATH) as resp:
        entries = json.loads(resp.read())[DEPLOYER]
    recorded = {(e["action"], e["resource"]) for e in entries}
    (linked,) = [e for e in entries if e["action"] == "iam:CreateServiceLinkedRole"]  # the account's first use
    assert linked["resource"].endswith(
        ":role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )
    assert linked["conditions"] == {"iam:AWSServiceName": ["sagemaker.application-autoscaling.amazonaws.com"]}
    assert ("s3:CreateBucket", "arn:aws:s3:::deployer-bucket") in recorded
    assert ("s3:PutEncryptionConfiguration", "arn:aws:s3:::deployer-bucket") in recorded
    assert ("s3:PutObject", "arn:aws:s3:::deployer-bucket/baseline/model.tar.gz") in recorded
    assert ("kms:GenerateDataKey", key) in recorded  # S3 asks KMS for a data key with the caller's credentials
    assert ("kms:CreateKey", "*") in recorded  # no resource-level form
    alias = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/deployer"
    assert {("kms:CreateAlias", alias), ("kms:CreateAlias", key), ("kms:DeleteAlias", alias)} <= recorded
    assert ("kms:DeleteAlias", key) in recorded
    assert ("iam:PassRole", role) in recorded and (
        "lambda:CreateFunction",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:deployed",
    ) in recorded
    assert ("s3:ListAllMyBuckets", "*") not in recorded


def test_passing_a_role_to_sagemaker_needs_iam_pass_role_for_that_service(enforced):
    admin = enforced.client
    execution = _role(admin, "passed-execution", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])
    caller = _role(admin, "model-maker", [{"Effect": "Allow", "Action": "sagemaker:CreateModel", "Resource": "*"}])
    container = {"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/m:1", "ModelDataUrl": "s3://b/model.tar.gz"}
    sagemaker = _as(enforced, caller, "maker")("sagemaker")
    with pytest.raises(ClientError) as denied:
        sagemaker.create_model(ModelName="passed", ExecutionRoleArn=execution, PrimaryContainer=container)
    assert f"is not authorized to perform: iam:PassRole on resource: {execution}" in _error(denied)[1]
    statement = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": execution,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    admin("iam").put_role_policy(
        RoleName="model-maker",
        PolicyName="pass",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    sagemaker.create_model(ModelName="passed", ExecutionRoleArn=execution, PrimaryContainer=container)
    assert admin("sagemaker").describe_model(ModelName="passed")["ExecutionRoleArn"] == execution
    tags = [{"Key": "environment", "Value": "local"}]
    with pytest.raises(ClientError) as denied:  # tagging on create asks sagemaker:AddTags too
        sagemaker.create_model(ModelName="tagged", ExecutionRoleArn=execution, PrimaryContainer=container, Tags=tags)
    assert "is not authorized to perform: sagemaker:AddTags on resource: arn:aws:sagemaker:" in _error(denied)[1]


def test_sns_delivers_to_a_queue_only_when_the_queue_policy_and_its_key_allow_it(enforced):
    admin = enforced.client
    sqs, sns = admin("sqs"), admin("sns")
    topic = sns.create_topic(Name="enforced-feed")["TopicArn"]
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]  # the default key policy: the account only
    url = sqs.create_queue(QueueName="enforced-feed", Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})

    def delivered(text: str) -> bool:
        sns.publish(TopicArn=topic, Message=text)
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
        return [m["Body"] for m in got] == [text]

    assert not delivered("no queue policy")  # AWS drops it: nothing lets SNS send to the queue
    allow_topic = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
    }
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [allow_topic]})}
    )
    assert not delivered("no key policy for SNS")  # the queue is encrypted and SNS may not use its key
    key_policy = json.loads(admin("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    key_policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
        }
    )
    admin("kms").put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(key_policy))
    assert delivered("both allow it")


def test_a_log_group_can_use_only_a_key_whose_policy_lets_cloudwatch_logs_use_it(enforced):
    admin = enforced.client
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]  # the default key policy: the account only
    logs = admin("logs")
    with pytest.raises(ClientError) as refused:
        logs.create_log_group(logGroupName="/enforced/encrypted", kmsKeyId=key)
    assert _error(refused) == (
        "AccessDeniedException",
        "The specified KMS key does not exist or is not allowed to be used with Arn "
        f"'arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/enforced/encrypted'",
    )
    policy = json.loads(admin("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:*"}},
        }
    )
    admin("kms").put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    logs.create_log_group(logGroupName="/enforced/encrypted", kmsKeyId=key)
    assert logs.describe_log_groups(logGroupNamePrefix="/enforced/encrypted")["logGroups"][0]["kmsKeyId"] == key


def test_a_malformed_request_of_a_role_is_refused_with_aws_validation_text(enforced):
    """What Step Functions' aws-sdk integrations send is not validated by moto's interpreter: the emulator holds
    a role's JSON-protocol requests to the service's model, as AWS does."""
    from botocore.config import Config

    role = _role(
        enforced.client, "parameter-writer", [{"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": "*"}]
    )
    ssm = _as(enforced, role, "writer", Config(parameter_validation=False))("ssm")
    with pytest.raises(ClientError) as refused:
        ssm.put_parameter(Name="/enforced/x", Value="1", Type="Secret")
    code, message = _error(refused)
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value 'Secret' at 'type' failed to satisfy constraint: Member must satisfy "
        "enum value set: [String, StringList, SecureString]"
    )


def test_soft_mode_lets_a_violation_through_and_records_it(tmp_path):
    soft = start_emulator(tmp_path / "emulator", iam="soft")
    try:
        s3 = soft.client("s3")
        s3.create_bucket(Bucket="soft-data", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="soft-data", Key="k", Body=b"1")
        role = _role(soft.client, "nothing-allowed", [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}])
        assert _as(soft, role)("s3").get_object(Bucket="soft-data", Key="k")["Body"].read() == b"1"
        lines = (tmp_path / "emulator" / "iam" / "denials.jsonl").read_text().splitlines()
        violation = json.loads(lines[-1])
        assert violation["mode"] == "soft" and violation["action"] == "s3:GetObject"
        assert "is not authorized to perform: s3:GetObject" in violation["message"]
    finally:
        soft.stop()


def test_an_unknown_mode_stops_the_emulator_from_starting_with_the_choices(tmp_path):
    from vwt_deploy.errors import VwtError

    with pytest.raises(VwtError) as refused:
        start_emulator(tmp_path / "emulator", iam="strict")
    assert "VWT_LOCAL_IAM='strict' is not a mode; use one of enforce, soft, off" in str(refused.value)


def test_protecting_a_stage_with_a_web_acl_needs_the_stage_too(enforced):
    """wafv2:AssociateWebACL is authorised on the web ACL and on the stage it protects, and apigateway:SetWebACL on
    the stage as well (Service Authorization Reference): a grant on the web ACL alone is refused."""
    admin = enforced.client
    api = admin("apigateway")
    rest = api.create_rest_api(name="waf-enforced")["id"]
    root = api.get_resources(restApiId=rest)["items"][0]["id"]
    api.put_method(restApiId=rest, resourceId=root, httpMethod="GET", authorizationType="NONE")
    api.put_integration(restApiId=rest, resourceId=root, httpMethod="GET", type="MOCK")
    deployment = api.create_deployment(restApiId=rest)["id"]
    api.create_stage(restApiId=rest, stageName="live", deploymentId=deployment)
    stage = f"arn:aws:apigateway:{REGION}::/restapis/{rest}/stages/live"
    acl = admin("wafv2").create_web_acl(
        Name="waf-enforced", Scope="REGIONAL", DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "w"},
    )["Summary"]["ARN"]  # fmt: skip
    only_acl = _role(admin, "waf-acl-only", [{"Effect": "Allow", "Action": "wafv2:AssociateWebACL", "Resource": acl}])
    with pytest.raises(ClientError) as refused:
        _as(enforced, only_acl)("wafv2").associate_web_acl(WebACLArn=acl, ResourceArn=stage)
    assert "AccessDenied" in _error(refused)[0] and "wafv2:AssociateWebACL" in _error(refused)[1]
    both = _role(admin, "waf-acl-and-stage", [
        {"Effect": "Allow", "Action": "wafv2:AssociateWebACL", "Resource": [acl, stage]},
        {"Effect": "Allow", "Action": "apigateway:SetWebACL", "Resource": stage},
    ])  # fmt: skip
    _as(enforced, both)("wafv2").associate_web_acl(WebACLArn=acl, ResourceArn=stage)
    assert admin("wafv2").get_web_acl_for_resource(ResourceArn=stage)["WebACL"]["ARN"] == acl
    # reading which web ACL protects the stage acts on that web ACL too
    reader = _role(
        admin, "waf-reader", [{"Effect": "Allow", "Action": "wafv2:GetWebACLForResource", "Resource": stage}]
    )
    with pytest.raises(ClientError) as unread:
        _as(enforced, reader)("wafv2").get_web_acl_for_resource(ResourceArn=stage)
    assert acl in _error(unread)[1]
