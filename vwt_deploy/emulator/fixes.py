"""Small, named fixes to moto that the AWS provider needs (measured with Terraform 1.11 / provider 5.100).

Each fix is one function that patches one moto class in place (no fork of
moto); `apply_all()` applies every one, once. Each has a test in
tests/integration/emulator/test_fixes.py that fails without it.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable

_applied: set[str] = set()


def _once(fn: Callable[[], None]) -> Callable[[], None]:
    def wrapper() -> None:
        if fn.__name__ not in _applied:
            fn()
            _applied.add(fn.__name__)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


# --------------------------------------------------------------------------- Step Functions


def definition_diagnostics(definition: str) -> list[dict]:
    """What AWS's ValidateStateMachineDefinition reports: the grammar (moto's ASL parser), then the graph
    (every target exists, every state reachable and able to end): the project's check in vwt_deploy.asl."""
    from vwt_deploy import asl

    problems = asl.parse_errors(definition)
    if not problems:
        problems = asl.graph_errors(json.loads(definition))
    return [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": m} for m in problems]


@_once
def stepfunctions_validate_definition() -> None:
    """ValidateStateMachineDefinition is not routed by moto; the provider calls it at plan time and retries forever."""
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self) -> str:
        diagnostics = definition_diagnostics(self._get_param("definition") or "")
        return json.dumps({"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False})

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition


@_once
def stepfunctions_list_versions() -> None:
    """ListStateMachineVersions is not routed by moto (the provider reads it for every state machine)."""
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self) -> str:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = [
            {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
            for _, v in sorted(machine.versions.items(), reverse=True)
        ]
        return json.dumps({"stateMachineVersions": versions}, default=str)

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions


@_once
def stepfunctions_execution_name() -> None:
    """StartExecution without a name (as EventBridge targets and most callers send it) named every execution
    "None", so the second one failed with ExecutionAlreadyExists. AWS generates a unique name."""
    import uuid

    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def start_execution(self):
        execution = self.stepfunction_backend.start_execution(
            self._get_param("stateMachineArn"),
            self._get_param("name") or str(uuid.uuid4()),
            self._get_param("input", if_none="{}"),
        )
        return ActionResult({"executionArn": execution.execution_arn, "startDate": execution.start_date})

    StepFunctionResponse.start_execution = start_execution


@_once
def stepfunctions_sdk_service_names() -> None:
    """Step Functions' AWS SDK integrations name Application Auto Scaling `applicationautoscaling`
    (`arn:aws:states:::aws-sdk:applicationautoscaling:<action>`, "Supported AWS SDK service integrations"),
    which is no boto3 service name: moto's interpreter asked boto3 for a client of that name and failed."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES = {
        **StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
        "applicationautoscaling": "application-autoscaling",
    }


@_once
def stepfunctions_sdk_pascal_case() -> None:
    """Step Functions' AWS SDK integrations take parameters "in PascalCase, even if the native service API is in
    camelCase" ("Learning to use AWS service SDK integrations": `startSyncExecution` with `StateMachineArn`), and
    answer with the response's fields named the same way (`Status` of `sfn:describeExecution`). moto's interpreter
    sent the parameters to boto3 unchanged, so a camelCase service (Step Functions itself) failed with
    States.Runtime; its answers kept boto3's names. Each name is matched to the operation's member of that name
    less its first letter's case, through botocore's service model."""
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    session = botocore.session.get_session()

    def operation(task):
        service = session.get_service_model(task._get_boto_service_name())
        action = task.resource.api_action
        return service.operation_model(action[:1].upper() + action[1:])

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        _sdk_names(parameters, operation(self).input_shape, to_sfn=False)

    def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
        _sdk_names(response, operation(self).output_shape, to_sfn=True)

    StateTaskServiceAwsSdk._normalise_parameters = _normalise_parameters
    StateTaskServiceAwsSdk._normalise_response = _normalise_response


def _sdk_names(value, shape, to_sfn: bool):
    """Rename, in place and at every depth, the members of `value` between botocore's names and Step Functions'
    (the same less the first letter's case): to Step Functions' for an answer, to botocore's for a request."""
    from botocore.model import ListShape, MapShape, StructureShape

    if isinstance(shape, StructureShape) and isinstance(value, dict):
        botocore_name = {name[:1].upper() + name[1:]: name for name in shape.members}
        for key in list(value):
            name = key if to_sfn else botocore_name.get(key[:1].upper() + key[1:])
            if name in shape.members:
                value[key[:1].upper() + key[1:] if to_sfn else name] = _sdk_names(
                    value.pop(key), shape.members[name], to_sfn
                )
    elif isinstance(shape, ListShape) and isinstance(value, list):
        value[:] = [_sdk_names(v, shape.member, to_sfn) for v in value]
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key in list(value):
            value[key] = _sdk_names(value[key], shape.value, to_sfn)
    return value


@_once
def stepfunctions_context_start_time() -> None:
    """The context object's `$$.Execution.StartTime` is an ISO 8601 string on AWS ("Context object":
    "2019-03-26T20:14:13.192Z"); moto's interpreter put the execution's datetime there, so any intrinsic that reads
    it (States.StringSplit, States.Format) failed with States.Runtime."""
    import datetime as dt

    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_environment

    def _get_evaluation_environment(self):
        env = original(self)
        start = env.states.context_object.context_object_data["Execution"].get("StartTime")
        if isinstance(start, dt.datetime):
            utc = start.astimezone(dt.timezone.utc) if start.tzinfo else start
            stamp = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
            env.states.context_object.context_object_data["Execution"]["StartTime"] = stamp
        return env

    ExecutionWorker._get_evaluation_environment = _get_evaluation_environment


# --------------------------------------------------------------------------- S3


def _never_matches_over_tls(statement: dict) -> bool:
    """True for a statement that only matches insecure transport: `aws:SecureTransport` false, or
    `s3:TlsVersion` below a version (the emulator's loopback stands in for TLS 1.3)."""
    condition = statement.get("Condition") or {}
    if not condition:
        return False
    for operator, pairs in condition.items():
        for key, value in pairs.items():
            values = value if isinstance(value, list) else [value]
            if operator == "Bool" and key == "aws:SecureTransport" and all(str(v).lower() == "false" for v in values):
                continue
            if operator == "NumericLessThan" and key == "s3:TlsVersion" and all(float(v) <= 1.3 for v in values):
                continue
            return False
    return True


def _statements(bucket) -> tuple[dict, list]:
    """A bucket's policy document and its statements as a list (a single statement may stand alone)."""
    doc = json.loads(bucket.policy.decode())
    statements = doc.get("Statement", [])
    return doc, [statements] if isinstance(statements, dict) else statements


def _with_statements(bucket, doc: dict, kept: list, call: Callable):
    """call() while the bucket's policy holds only `kept` (moto's checks read bucket.policy); then restore it."""
    saved = bucket.policy
    try:
        bucket.policy = json.dumps({**doc, "Statement": kept}).encode()
        return call()
    finally:
        bucket.policy = saved


@_once
def s3_secure_transport_condition() -> None:
    """moto evaluates bucket policies without their conditions, so the TLS-only statements every bucket carries
    (Deny s3:* when aws:SecureTransport is false, or s3:TlsVersion < 1.2) denied every request. The emulator is
    reached on loopback only, which stands in for TLS here: such statements never match, as on AWS over HTTPS."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    original = FakeBucket.get_permission

    def get_permission(self, action: str, resource: str):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        try:
            doc, statements = _statements(self)
        except ValueError:
            return original(self, action, resource)
        kept = [s for s in statements if not _never_matches_over_tls(s)]
        if len(kept) == len(statements):
            return original(self, action, resource)
        if not kept:
            return PermissionResult.NEUTRAL
        return _with_statements(self, doc, kept, lambda: original(self, action, resource))

    FakeBucket.get_permission = get_permission


@_once
def s3_logging_target_policy() -> None:
    """PutBucketLogging crashed (500, AttributeError) when the target bucket's policy had a statement whose
    Principal is the string "*" (as every TLS-only Deny has), and the provider retried it for many minutes.
    Read only the statements whose Principal is a mapping, as the check means to."""
    from moto.s3.models import FakeBucket

    original = FakeBucket._log_permissions_enabled_policy

    def _log_permissions_enabled_policy(target_bucket, target_prefix):
        if not target_bucket.policy:
            return False
        doc, statements = _statements(target_bucket)
        kept = [s for s in statements if isinstance(s.get("Principal"), dict)]
        return _with_statements(target_bucket, doc, kept, lambda: original(target_bucket, target_prefix))

    FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)


# --------------------------------------------------------------------------- SQS


@_once
def sqs_redrive_allow_policy() -> None:
    """A queue's RedriveAllowPolicy was stored but never read back (GetQueueAttributes called it unknown), so
    aws_sqs_queue_redrive_allow_policy waited for it forever."""
    from moto.sqs.models import Queue

    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]
    Queue.redrive_allow_policy = None  # the default of queues that never set one


@_once
def sqs_queue_attributes() -> None:
    """Read-back differences that made every plan update the queues (or a destroy wait forever):
    SetQueueAttributes without a Policy erased the queue's policy, RedrivePolicy came back as spaced JSON where
    AWS (and the provider) use the compact form, and an empty RedriveAllowPolicy did not remove it."""
    from moto.sqs.models import Queue

    original_set = Queue._set_attributes
    original_attributes = Queue.attributes.fget

    def _set_attributes(self, attributes, now=None):
        policy = getattr(self, "policy", None)
        result = original_set(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = policy
        if attributes.get("RedriveAllowPolicy") == "":  # an empty value removes it, as on AWS
            self.redrive_allow_policy = None
        return result

    def attributes(self):
        result = original_attributes(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    Queue._set_attributes = _set_attributes
    Queue.attributes = property(attributes)


_sending = threading.local()


@_once
def sqs_send_constant_time() -> None:
    """SendMessage read the queue's attributes for one flag, and moto builds them by walking every message (the
    approximate counts): a send cost O(messages in the queue). Locally nothing consumes the intervention queue,
    so predictions slowed down as it filled (8 clients: 20 requests/s). Within a send, the attributes are only
    that flag."""
    from moto.sqs.models import Queue, SQSBackend

    full = Queue.attributes.fget
    original_send = SQSBackend.send_message

    def attributes(self):
        if getattr(_sending, "on", False):
            flag = getattr(self, "content_based_deduplication", False)
            return {"ContentBasedDeduplication": str(flag).lower()}
        return full(self)

    def send_message(self, *args, **kwargs):
        _sending.on = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            _sending.on = False

    Queue.attributes = property(attributes)
    SQSBackend.send_message = send_message


# --------------------------------------------------------------------------- API Gateway

_OMITTED_WHEN_EMPTY = (
    "authorizationScopes",
    "requestParameters",
    "requestModels",
    "cacheKeyParameters",
    "requestTemplates",
)


@_once
def apigateway_empty_collections() -> None:
    """A method or integration was read back with empty lists and maps ([] / {}) where AWS leaves the keys out,
    so every refresh 'changed' them and a deployment triggered by their contents was replaced on every plan."""
    from moto.apigateway.models import Integration, Method

    for cls in (Method, Integration):
        original = cls.to_json

        def to_json(self, _original=original):
            doc = _original(self)
            for key in _OMITTED_WHEN_EMPTY:
                if key in doc and doc[key] in ([], {}):
                    doc[key] = None
            return doc

        cls.to_json = to_json


@_once
def apigateway_domain_certificate() -> None:
    """CreateDomainName took any certificate ARN. API Gateway refuses one that is not an ISSUED certificate of ACM in
    the API's Region (for a regional domain) with BadRequestException "Invalid certificate ARN: <arn>. Certificate
    must be in 'ISSUED' state." (API Gateway Developer Guide, "Setting up a regional custom domain name": the
    certificate in the same Region as the API; "Get certificates ready in AWS Certificate Manager")."""
    from moto.acm.models import acm_backends
    from moto.apigateway.exceptions import BadRequestException
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.create_domain_name

    def issued(arn: str, region: str, account: str) -> bool:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "acm" or parts[3] != region or parts[4] != account:
            return False
        try:
            return acm_backends[account][region].get_certificate(arn).status == "ISSUED"
        except Exception:  # noqa: BLE001 - moto's CertificateNotFound: not issued here
            return False

    signature = inspect.signature(original)

    def create_domain_name(self, *args, **kwargs):
        given = signature.bind(self, *args, **kwargs).arguments  # moto's responses pass them by position
        arn = given.get("regional_certificate_arn") or given.get("certificate_arn")
        # an edge-optimized domain's certificate lives in us-east-1 (CloudFront's); a regional one in the API's Region
        region = self.region_name if given.get("regional_certificate_arn") else "us-east-1"
        if arn and not issued(arn, region, self.account_id):
            raise BadRequestException(f"Invalid certificate ARN: {arn}. Certificate must be in 'ISSUED' state.")
        return original(self, *args, **kwargs)

    APIGatewayBackend.create_domain_name = create_domain_name


@_once
def apigateway_authorizer_validation_expression() -> None:
    """CreateAuthorizer passed identityValidationExpression on under a misspelt name (`identiy_...`) that the
    Authorizer never read, so it was dropped: a TOKEN authorizer then took any header, and the provider saw a change
    on every plan. The Authorizer keeps it."""
    from moto.apigateway.models import Authorizer

    original = Authorizer.__init__

    def __init__(self, *args, **kwargs):
        if "identiy_validation_expression" in kwargs and "identity_validation_expression" not in kwargs:
            kwargs["identity_validation_expression"] = kwargs.pop("identiy_validation_expression")
        original(self, *args, **kwargs)

    Authorizer.__init__ = __init__


def _tagged(backend, arn: str):
    """The API Gateway resource a tagging ARN names: `arn:aws:apigateway:<region>::/restapis/<id>`, its stages
    `.../stages/<name>`, `/apikeys/<id>`, `/usageplans/<id>`, `/domainnames/<name>` (API Gateway API Reference,
    TagResource: "The ARN of a resource that can be tagged"). BadRequestException for any other."""
    from moto.apigateway.exceptions import BadRequestException

    parts = arn.split("::", 1)[-1].strip("/").split("/")
    if parts[0] == "restapis" and len(parts) == 2:
        return backend.get_rest_api(parts[1])
    if parts[0] == "restapis" and len(parts) == 4 and parts[2] == "stages":
        return backend.get_stage(parts[1], parts[3])
    getter = {"apikeys": backend.get_api_key, "usageplans": backend.get_usage_plan,
              "domainnames": backend.get_domain_name}.get(parts[0])  # fmt: skip
    if getter is None or len(parts) != 2:
        raise BadRequestException(f"Invalid resource ARN: {arn}")
    return getter(parts[1])


@_once
def apigateway_tag_any_resource() -> None:
    """TagResource, UntagResource and GetTags read every ARN as a stage's, so tagging a REST API, an API key or a
    usage plan after it was created (the provider does when a release changes `tags`) failed. They act on the
    resource the ARN names."""
    from urllib.parse import unquote

    from moto.apigateway import urls
    from moto.apigateway.responses import APIGatewayResponse

    # the ARN arrives decoded (werkzeug decodes the %2F botocore sends), so its path's slashes must route too
    tagged = "{0}/tags/arn:(?P<partition>[^/]+):apigateway:(?P<region_name>[^/]+)::/(?P<tagged>.+)$"
    urls.url_paths.setdefault(tagged, APIGatewayResponse.dispatch)

    def resource(self):
        return _tagged(self.backend, unquote(self.path.split("/tags/", 1)[1]))

    def get_tags(self) -> str:
        return json.dumps({"tags": resource(self).tags or {}})

    def tag_resource(self):
        target, tags = resource(self), self._get_param("tags") or {}
        target.tags = {**(target.tags or {}), **tags}
        return 204, {"status": 204}, ""

    def untag_resource(self):
        target, keys = resource(self), set(self.querystring.get("tagKeys") or [])
        target.tags = {k: v for k, v in (target.tags or {}).items() if k not in keys}
        return 204, {"status": 204}, ""

    APIGatewayResponse.get_tags = get_tags
    APIGatewayResponse.tag_resource = tag_resource
    APIGatewayResponse.untag_resource = untag_resource


@_once
def apigateway_update_model() -> None:
    """UpdateModel is not implemented by moto, so a release that changes a request model (the API's schema of
    prediction requests, `api.max_records`) failed. Its patch paths are the model's `/schema` and `/description`
    (API Gateway API Reference, UpdateModel; "PATCH operations": a model's schema and description are replaced)."""
    from urllib.parse import unquote

    from moto.apigateway.exceptions import BadRequestException
    from moto.apigateway.responses import APIGatewayResponse

    def update_model(self) -> str:
        parts = self.path.split("/")
        model = self.backend.get_model(parts[2], unquote(parts[4]))
        for operation in self._get_param("patchOperations") or []:
            path = operation.get("path")
            if operation.get("op") != "replace" or path not in ("/schema", "/description"):
                raise BadRequestException(f"Invalid patch path '{path}' specified for op '{operation.get('op')}'")
            setattr(model, path[1:], operation.get("value"))
        return json.dumps(model.to_json())

    APIGatewayResponse.update_model = update_model


# --------------------------------------------------------------------------- Application Auto Scaling


@_once
def apigateway_account_reset() -> None:
    """Resetting the account's CloudWatch role (the provider's reset_on_delete sends a replace of
    /cloudwatchRoleArn with no value) made moto answer 500 (KeyError), and the destroy retried for ever. An
    operation without a value clears the setting, as API Gateway's reset does."""
    from moto.apigateway.models import Account

    original = Account.apply_patch_operations

    def apply_patch_operations(self, patch_operations):
        rest = []
        for op in patch_operations:
            if "/cloudwatchRoleArn" in op.get("path", "") and "value" not in op:
                self.cloudwatch_role_arn = None
            else:
                rest.append(op)
        return original(self, rest)

    Account.apply_patch_operations = apply_patch_operations


def _scaling_tags(backend) -> dict:
    """Tags of scalable targets by ARN, kept on the (per account and region) backend."""
    if not hasattr(backend, "vwt_tags"):
        backend.vwt_tags = {}
    return backend.vwt_tags


@_once
def applicationautoscaling_tags() -> None:
    """ListTagsForResource / TagResource / UntagResource are not implemented; the provider calls them for every
    scalable target."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    def _tags(self) -> dict:
        return _scaling_tags(self.applicationautoscaling_backend)

    def list_tags_for_resource(self) -> str:
        return json.dumps({"Tags": dict(_tags(self).get(self._get_param("ResourceARN"), {}))})

    def tag_resource(self) -> str:
        _tags(self).setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self) -> str:
        tags = _tags(self).get(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource


# --------------------------------------------------------------------------- SageMaker


@_once
def sagemaker_model_readback() -> None:
    """A model was read back with an empty VpcConfig and EnableNetworkIsolation = false whatever was sent, so every
    plan replaced it. Keep what was sent; leave out a VpcConfig that was not."""
    from moto.sagemaker.models import Model
    from moto.sagemaker.responses import SageMakerResponse

    original_create = SageMakerResponse.create_model
    original_response = Model.response_object.fget

    def create_model(self):
        result = original_create(self)
        model = self.sagemaker_backend.describe_model(self._get_param("ModelName"))
        model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
        return result

    def response_object(self) -> dict:
        response = original_response(self)
        if not response.get("VpcConfig"):
            response.pop("VpcConfig", None)
        response["EnableNetworkIsolation"] = bool(self.enable_network_isolation)
        return response

    SageMakerResponse.create_model = create_model
    Model.response_object = property(response_object)


@_once
def sagemaker_endpoint_config_readback() -> None:
    """An endpoint configuration sent without data capture was read back with an empty DataCaptureConfig,
    which the provider reads as a capture block: every plan replaced the configuration (and its endpoint)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    def describe_endpoint_config(self):
        # a copy: moto's own CreateEndpoint reads the backend's document and needs every key
        response = dict(self.sagemaker_backend.describe_endpoint_config(self._get_param("EndpointConfigName")))
        for key in ("DataCaptureConfig", "AsyncInferenceConfig"):
            if not response.get(key):
                response.pop(key, None)
        return ActionResult(response)

    SageMakerResponse.describe_endpoint_config = describe_endpoint_config


@_once
def applicationautoscaling_register_tags() -> None:
    """RegisterScalableTarget ignored the Tags it was sent (the provider tags the target there), so they were
    never read back and every plan re-applied them."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    applicationautoscaling_tags()
    original = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self):
        result = original(self)
        tags = self._get_param("Tags")
        if tags:
            arn = json.loads(result)["ScalableTargetARN"]
            _scaling_tags(self.applicationautoscaling_backend).setdefault(arn, {}).update(tags)
        return result

    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target


@_once
def applicationautoscaling_deregister_deletes_policies() -> None:
    """ "Deregistering a scalable target deletes the scaling policies and the scheduled actions that are associated
    with it" (Application Auto Scaling API reference, DeregisterScalableTarget); moto kept them, so a pipeline
    that suspends auto scaling around an update and forgets to restore the policy still looked scaled."""
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

    original = ApplicationAutoscalingBackend.deregister_scalable_target

    def deregister_scalable_target(self, namespace: str, r_id: str, dimension: str) -> None:
        original(self, namespace, r_id, dimension)

        def of_target(x) -> bool:
            return (x.service_namespace, x.resource_id, x.scalable_dimension) == (namespace, r_id, dimension)

        self.policies = {key: policy for key, policy in self.policies.items() if not of_target(policy)}
        self.scheduled_actions = [a for a in self.scheduled_actions if not of_target(a)]

    ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target


@_once
def s3_delete_marker_dispose() -> None:
    """Emptying a bucket whose versioning is suspended (Terraform suspends it before it deletes the bucket)
    disposes every version of a key, and a delete marker had no `dispose`: DeleteObjects answered 500 and
    `down` retried for ever once any object had been deleted. A marker holds no data to release."""
    from moto.s3.models import FakeDeleteMarker

    FakeDeleteMarker.dispose = lambda self, garbage=False: None


@_once
def sagemaker_model_registry() -> None:
    """The model registry's gaps: DeleteModelPackageGroup and DeleteModelPackage were not routed (the provider
    deletes a group on destroy, then reads it until it is gone), and UpdateModelPackage replaced the version's
    customer metadata and approval description with nothing when a call did not send them. AWS updates only what
    a call sends (API reference, UpdateModelPackage: CustomerMetadataProperties are added or updated,
    CustomerMetadataPropertiesToRemove removed). A group that still holds versions is not deleted: `down` deletes
    the versions first, and the emulator refuses, as a conflict, a group deleted with its versions."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ConflictException, ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def delete_model_package_group(self):
        backend: SageMakerModelBackend = self.sagemaker_backend
        name = self._get_param("ModelPackageGroupName").split("/")[-1]
        group = backend.describe_model_package_group(name)  # ValidationException "... does not exist."
        held = [p.arn for p in backend.model_packages.values() if p.model_package_group_name == name]
        if held:
            raise ConflictException(
                f"Model package group {group.arn} holds {len(held)} model package version(s); delete them first"
            )
        del backend.model_package_groups[name]
        return ActionResult({})

    def delete_model_package(self):
        backend: SageMakerModelBackend = self.sagemaker_backend
        name = self._get_param("ModelPackageName")
        package = backend.describe_model_package(name)  # ValidationException "... not found"
        backend.model_packages.pop(package.arn, None)
        for key in [k for k, v in backend.model_package_name_mapping.items() if v == package.arn]:
            del backend.model_package_name_mapping[key]
        return ActionResult({})

    def update_model_package(self):
        backend: SageMakerModelBackend = self.sagemaker_backend
        arn = self._get_param("ModelPackageArn")
        try:
            package = backend.describe_model_package(arn)
        except ValidationError:
            raise ValidationError(f"Model package {arn} not found") from None
        status = self._get_param("ModelApprovalStatus")
        if status is not None:
            package.set_model_approval_status(status)
        description = self._get_param("ApprovalDescription")
        if description is not None:
            package.approval_description = description
        metadata = dict(package.customer_metadata_properties or {})
        metadata.update(self._get_param("CustomerMetadataProperties") or {})
        for key in self._get_param("CustomerMetadataPropertiesToRemove") or []:
            metadata.pop(key, None)
        package.customer_metadata_properties = metadata or None
        package.add_additional_inference_specifications(self._get_param("AdditionalInferenceSpecificationsToAdd"))
        package.modifications_done()
        return ActionResult({"ModelPackageArn": package.arn})

    SageMakerResponse.delete_model_package_group = delete_model_package_group
    SageMakerResponse.delete_model_package = delete_model_package
    SageMakerResponse.update_model_package = update_model_package


@_once
def sagemaker_model_package_client_token() -> None:
    """CreateModelPackage ignored its ClientToken: a retried call registered another version. AWS's token
    "guarantees that the call to this API is idempotent" (API reference, CreateModelPackage): a call with a token
    already used returns the version that token registered, and registers nothing."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    create_model_package_once = SageMakerResponse.create_model_package

    def create_model_package(self):
        backend: SageMakerModelBackend = self.sagemaker_backend
        token, group = self._get_param("ClientToken"), self._get_param("ModelPackageGroupName")
        if token:
            for package in backend.model_packages.values():
                if package.client_token == token and package.model_package_group_name == group:
                    return ActionResult({"ModelPackageArn": package.arn})
        return create_model_package_once(self)

    SageMakerResponse.create_model_package = create_model_package


FIXES = (
    s3_delete_marker_dispose,
    sagemaker_endpoint_config_readback,
    applicationautoscaling_register_tags,
    applicationautoscaling_deregister_deletes_policies,
    s3_logging_target_policy,
    apigateway_empty_collections,
    apigateway_account_reset,
    sqs_queue_attributes,
    sqs_send_constant_time,  # after sqs_queue_attributes: it wraps that attributes property
    sqs_redrive_allow_policy,
    s3_secure_transport_condition,
    stepfunctions_validate_definition,
    stepfunctions_list_versions,
    stepfunctions_execution_name,
    stepfunctions_sdk_service_names,
    stepfunctions_sdk_pascal_case,
    stepfunctions_context_start_time,
    applicationautoscaling_tags,
    apigateway_tag_any_resource,
    apigateway_update_model,
    apigateway_domain_certificate,
    apigateway_authorizer_validation_expression,
    sagemaker_model_readback,
    sagemaker_model_registry,
    sagemaker_model_package_client_token,
)


def apply_all() -> None:
    for fix in FIXES:
        fix()
