"""Check a rendered state machine, and derive the least-privilege IAM policy its role needs.

`validate_definition(definition)` returns every defect found (empty when valid):
moto's Amazon States Language parser (grammar), then the project's own graph
check, which the parser does not do (a dangling `Next` or a missing `StartAt`
target passes it): targets exist, every state is reachable, every path can end,
every `Resource` is a known integration, only the contract's template variables.

`derive_policy(definition)` builds the policy from what the definition calls:
one statement per integration, the EventBridge managed rules the `.sync`
integrations need, `iam:PassRole` for the SageMaker role only.
`check_policy(definition, policy)` names what the policy misses and what it
allows beyond that.

A building block below the configuration: the build layer renders and checks with it, and the emulator
answers Step Functions' ValidateStateMachineDefinition with it, so it reads no configuration itself.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from vwt_deploy.contract import TEMPLATE_VARS, VARIANT_NAME

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_DIRECTIVE = re.compile(r"%\{")

_SM = "arn:aws:sagemaker:${region}:${account_id}"
_EVENTS_RULE = "arn:aws:events:${region}:${account_id}:rule/StepFunctionsGetEventsForSageMaker%sJobsRule"
_EVENTS_ACTIONS = ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
_SNS_PUBLISH = "arn:aws:states:::sns:publish"
_DESCRIBE_ENDPOINT = "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint"
_UPDATE_ENDPOINT = "arn:aws:states:::sagemaker:updateEndpoint"
_DESCRIBE_ENDPOINT_CONFIG = "arn:aws:states:::aws-sdk:sagemaker:describeEndpointConfig"
_CREATE_MODEL_PACKAGE = "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
_DESCRIBE_MODEL_PACKAGE = "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage"
_SCALABLE_TARGETS = "arn:aws:application-autoscaling:${region}:${account_id}:scalable-target/*"
_SAGEMAKER_VARIANTS = {
    "StringEquals": {
        "application-autoscaling:service-namespace": "sagemaker",
        "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
    }
}


# Application Auto Scaling checks that its caller may use the target and the alarms of its target tracking
# policies ("Permissions validation for API calls on target resources"; its SageMaker policy lists these), so the
# pipeline that re-registers an endpoint's scaling holds them, on this model's endpoint, its configurations and
# the target tracking alarms Application Auto Scaling names after the endpoint's variant.
def _auto_scaling_checks(endpoints: set[str], serving_configs: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "AutoScalingChecksTheEndpoint",
            "Effect": "Allow",
            "Action": [
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
            ],
            "Resource": sorted({*(f"{_SM}:endpoint/{e}" for e in endpoints), *serving_configs}),
        },
        {
            "Sid": "AutoScalingManagesItsAlarms",
            "Effect": "Allow",
            "Action": ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
            "Resource": sorted(
                f"arn:aws:cloudwatch:${{region}}:${{account_id}}:alarm:TargetTracking-endpoint/{e}/variant/{VARIANT_NAME}-*"
                for e in endpoints
            ),
        },
    ]


# The topics are encrypted with the environment's key: SNS encrypts a published message with a data key it asks
# KMS for with the publisher's credentials, so the publisher needs GenerateDataKey and Decrypt on the key (SNS
# Developer Guide, "Key management": "The publisher must have the kms:GenerateDataKey and kms:Decrypt
# permissions for the AWS KMS key"); SNS makes those calls, so kms:ViaService names it.
_ENCRYPTED_TOPICS = {
    "Sid": "KmsForEncryptedTopics",
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
    "Resource": ["${kms_key_arn}"],
    "Condition": {"StringEquals": {"kms:ViaService": "sns.${region}.amazonaws.com"}},
}

# The runs table is encrypted with the environment's key: DynamoDB decrypts the table's key with KMS on behalf of
# the principal that reads or writes an item ("How Amazon DynamoDB uses AWS KMS": "DynamoDB sends a Decrypt
# request ... The user is the principal in your AWS account who is accessing the table"), so that principal needs
# kms:Decrypt, through DynamoDB only.
_ENCRYPTED_TABLE = {
    "Sid": "KmsForTheEncryptedTable",
    "Effect": "Allow",
    "Action": ["kms:Decrypt"],
    "Resource": ["${kms_key_arn}"],
    "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.${region}.amazonaws.com"}},
}

# Every integration a definition may call: the IAM actions it needs and the kind of resource they act on.
# `.sync` integrations also need the EventBridge managed rule Step Functions uses to follow the job.
INTEGRATIONS: Mapping[str, dict[str, Any]] = {
    "arn:aws:states:::lambda:invoke": {"actions": ["lambda:InvokeFunction"], "resource": "function"},
    "arn:aws:states:::sagemaker:createTrainingJob.sync": {
        "actions": [
            "sagemaker:AddTags",
            "sagemaker:CreateTrainingJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:ListTags",
            "sagemaker:StopTrainingJob",
        ],
        "resource": "training-job",
        "name_key": "TrainingJobName",
        "rule": "Training",
        "passes_role": True,
    },
    "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync": {
        "actions": [
            "sagemaker:AddTags",
            "sagemaker:CreateHyperParameterTuningJob",
            "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:ListTags",
            "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
            "sagemaker:StopHyperParameterTuningJob",
        ],
        "resource": "hyper-parameter-tuning-job",
        "name_key": "HyperParameterTuningJobName",
        "rule": "Tuning",
        "passes_role": True,
    },
    "arn:aws:states:::sagemaker:createLabelingJob.sync": {
        "actions": [
            "sagemaker:AddTags",
            "sagemaker:CreateLabelingJob",
            "sagemaker:DescribeLabelingJob",
            "sagemaker:ListTags",
            "sagemaker:StopLabelingJob",
        ],
        "resource": "labeling-job",
        "name_key": "LabelingJobName",
        "rule": "Labeling",
        "passes_role": True,
    },
    # Step Functions Developer Guide, "IAM policies for SageMaker", CreateTransformJob (.sync): Create, Describe
    # and Stop on transform-job/<name>*, ListTags, and the TransformJobs rule (its PassRole statement is the
    # one the other .sync jobs need anyway). CreateTransformJob itself passes no role: the model's is used.
    "arn:aws:states:::sagemaker:createTransformJob.sync": {
        "actions": [
            "sagemaker:AddTags",
            "sagemaker:CreateTransformJob",
            "sagemaker:DescribeTransformJob",
            "sagemaker:ListTags",
            "sagemaker:StopTransformJob",
        ],
        "resource": "transform-job",
        "name_key": "TransformJobName",
        "rule": "Transform",
        "passes_role": True,
    },
    # Step Functions Developer Guide, "IAM policies for SageMaker", CreateProcessingJob (.sync): Create, Describe
    # and Stop on processing-job/<name>*, ListTags, iam:PassRole of the job's role, the ProcessingJobs rule.
    "arn:aws:states:::sagemaker:createProcessingJob.sync": {
        "actions": [
            "sagemaker:AddTags",
            "sagemaker:CreateProcessingJob",
            "sagemaker:DescribeProcessingJob",
            "sagemaker:ListTags",
            "sagemaker:StopProcessingJob",
        ],
        "resource": "processing-job",
        "name_key": "ProcessingJobName",
        "rule": "Processing",
        "passes_role": True,
    },
    "arn:aws:states:::sagemaker:createModel": {
        "actions": ["sagemaker:AddTags", "sagemaker:CreateModel"],
        "resource": "model",
        "name_key": "ModelName",
        "passes_role": True,
    },
    "arn:aws:states:::sagemaker:createEndpointConfig": {
        "actions": ["sagemaker:AddTags", "sagemaker:CreateEndpointConfig"],
        "resource": "endpoint-config",
        "name_key": "EndpointConfigName",
    },
    "arn:aws:states:::sagemaker:updateEndpoint": {
        "actions": ["sagemaker:UpdateEndpoint"],
        "resource": "endpoint",
        "name_key": "EndpointName",
    },
    "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint": {
        "actions": ["sagemaker:DescribeEndpoint"],
        "resource": "endpoint",
        "name_key": "EndpointName",
    },
    "arn:aws:states:::aws-sdk:sagemaker:describeEndpointConfig": {
        "actions": ["sagemaker:DescribeEndpointConfig"],
        "resource": "endpoint-config",
        "name_key": "EndpointConfigName",
    },
    # Application Auto Scaling names a scalable target by an id it assigns, so the ARN cannot be built; the
    # Service Authorization Reference's condition keys hold the statements to SageMaker variants.
    "arn:aws:states:::aws-sdk:applicationautoscaling:deregisterScalableTarget": {
        "actions": ["application-autoscaling:DeregisterScalableTarget"],
        "resource": "scalable-target",
    },
    "arn:aws:states:::aws-sdk:applicationautoscaling:registerScalableTarget": {
        "actions": ["application-autoscaling:RegisterScalableTarget"],
        "resource": "scalable-target",
    },
    "arn:aws:states:::aws-sdk:applicationautoscaling:putScalingPolicy": {
        "actions": ["application-autoscaling:PutScalingPolicy"],
        "resource": "scalable-target",
    },
    "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob": {
        "actions": ["sagemaker:DescribeTrainingJob"],
        "resource": "training-job",
        "name_key": "TrainingJobName",
    },
    # the model registry: a version's ARN is model-package/<group>/<version>, made when it is registered
    _CREATE_MODEL_PACKAGE: {
        "actions": ["sagemaker:CreateModelPackage"],
        "resource": "model-package",
        "name_key": "ModelPackageGroupName",
    },
    _DESCRIBE_MODEL_PACKAGE: {
        "actions": ["sagemaker:DescribeModelPackage"],
        "resource": "model-package",
        "name_key": "ModelPackageName",
    },
    # the runs table, which names the run of each model that may change its endpoint (templates/steps/claim.j2);
    # the Service Authorization Reference decides GetItem and UpdateItem on table/<name>
    "arn:aws:states:::dynamodb:getItem": {
        "actions": ["dynamodb:GetItem"],
        "resource": "table",
        "name_key": "TableName",
    },
    "arn:aws:states:::dynamodb:updateItem": {
        "actions": ["dynamodb:UpdateItem"],
        "resource": "table",
        "name_key": "TableName",
    },
    # whether the run that claimed the model still runs: DescribeExecution is decided on execution/<machine>:<name>
    "arn:aws:states:::aws-sdk:sfn:describeExecution": {
        "actions": ["states:DescribeExecution"],
        "resource": "execution",
        "name_key": "ExecutionArn",
    },
    "arn:aws:states:::aws-sdk:ssm:getParameter": {"actions": ["ssm:GetParameter"], "resource": "parameter"},
    "arn:aws:states:::aws-sdk:ssm:putParameter": {"actions": ["ssm:PutParameter"], "resource": "parameter"},
    _SNS_PUBLISH: {"actions": ["sns:Publish"], "resource": "topic"},
}

# SageMaker parameters that name the KMS key: the caller needs a grant on it through SageMaker
_KMS_KEYS = ("KmsKeyId", "VolumeKmsKeyId")


# --------------------------------------------------------------------------- walking a definition


def _states(definition: Mapping[str, Any]) -> Iterator[tuple[str, dict]]:
    """Every state, with the states of Parallel branches and Map iterators."""
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, dict):
            continue
        yield name, state
        for _, graph in nested(state):
            yield from _states(graph)


def nested(state: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, graph) of the state graphs inside a state: a Parallel's `Branches[i]`, a Map's `Iterator` or
    `ItemProcessor`."""
    graphs: list[tuple[str, Mapping[str, Any]]] = [
        (f"Branches[{i}]", branch) for i, branch in enumerate(state.get("Branches") or [])
    ]
    return graphs + [(key, state[key]) for key in ("Iterator", "ItemProcessor") if isinstance(state.get(key), dict)]


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


class Transition(NamedTuple):
    """A transition out of a state: where it is written, its target, its kind (next, default, choice, catch) and,
    for a choice or a catch, the Choice rule or the catcher it belongs to."""

    where: str
    target: str
    kind: str
    rule: Mapping[str, Any] | None = None


def transitions(state: Mapping[str, Any]) -> list[Transition]:
    """Every transition out of a state (End is none: it leaves the graph)."""
    out = []
    if "Next" in state:
        out.append(Transition("Next", state["Next"], "next"))
    if "Default" in state:
        out.append(Transition("Default", state["Default"], "default"))
    for i, choice in enumerate(state.get("Choices") or []):
        if isinstance(choice, dict) and "Next" in choice:
            out.append(Transition(f"Choices[{i}].Next", choice["Next"], "choice", choice))
    for i, catch in enumerate(state.get("Catch") or []):
        if isinstance(catch, dict) and "Next" in catch:
            out.append(Transition(f"Catch[{i}].Next", catch["Next"], "catch", catch))
    return out


# --------------------------------------------------------------------------- validation


def parse_errors(definition_text: str) -> list[str]:
    """moto's ASL parser (the grammar Step Functions uses) over the definition text."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException
    from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser

    quiet = logging.getLogger("moto.stepfunctions")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it warns that it cannot run SageMaker integrations: irrelevant to parsing
    try:
        StaticAnalyser().analyse(definition_text)
    except ASLParserException as exc:
        return [f"ASL parser: {e}" for e in exc.errors] or ["ASL parser: the definition does not parse"]
    except Exception as exc:  # the preprocessor rejects some definitions with other errors
        return [f"ASL parser: {type(exc).__name__}: {exc}"]
    finally:
        quiet.setLevel(level)
    return []


_DIRECT_RESOURCE = re.compile(
    r"^arn:aws[a-z-]*:(lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?"
    r"|states:[a-z0-9-]+:\d{12}:activity:[A-Za-z0-9_-]+)$"
)


def _known_resource(resource: Any) -> bool:
    """A service integration the project knows, or (as AWS accepts) a Lambda function or activity ARN."""
    return resource in INTEGRATIONS or (isinstance(resource, str) and bool(_DIRECT_RESOURCE.match(resource)))


def graph_errors(definition: Mapping[str, Any], where: str = "") -> list[str]:
    """The project's own check of one state graph (and of its Parallel/Map branches)."""
    errors: list[str] = []
    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        return [f"{where}States is missing or empty"]
    start = definition.get("StartAt")
    if start not in states:
        errors.append(f"{where}StartAt {start!r} names no state")
    edges: dict[str, set[str]] = {}
    terminal: set[str] = set()
    for name, state in states.items():
        if not isinstance(state, dict):
            errors.append(f"{where}state {name!r} is not an object")
            continue
        edges[name] = set()
        for move in transitions(state):
            if move.target not in states:
                errors.append(f"{where}state {name!r}: {move.where} {move.target!r} names no state")
            else:
                edges[name].add(move.target)
        if state.get("Type") in ("Succeed", "Fail") or state.get("End") is True:
            terminal.add(name)
        errors += _state_errors(name, state, where)
    if isinstance(start, str) and start in states:
        seen = _reachable({start}, edges)
        errors += [
            f"{where}state {name!r} is unreachable from StartAt {start!r}" for name in states if name not in seen
        ]
    # every state must be able to reach an end: walk backwards from the terminal states
    reverse: dict[str, set[str]] = {}
    for src, targets in edges.items():
        for t in targets:
            reverse.setdefault(t, set()).add(src)
    can_end = _reachable(terminal, reverse)
    errors += [
        f"{where}state {name!r} never reaches Succeed, Fail or End (a loop with no way out)"
        for name in states
        if name not in can_end and edges.get(name)
    ]
    return errors


def _state_errors(name: str, state: Mapping[str, Any], where: str) -> list[str]:
    """One state's own defects (how it ends, its resource) and those of the graphs nested in it."""
    errors: list[str] = []
    kind = state.get("Type")
    ends = kind in ("Succeed", "Fail") or state.get("End") is True
    if not ends and kind == "Choice" and "Default" not in state:
        errors.append(f"{where}Choice state {name!r} has no Default (an unmatched input would fail the execution)")
    elif not ends and kind != "Choice" and "Next" not in state:
        errors.append(f"{where}state {name!r} has neither Next nor End")
    if kind == "Task" and not _known_resource(state.get("Resource")):
        errors.append(f"{where}state {name!r}: Resource {state.get('Resource')!r} is not a known service integration")
    for key, graph in nested(state):
        errors += graph_errors(graph, f"{where}{name}.{key}: ")
    return errors


def _reachable(sources: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    """Every node reachable from `sources` (themselves included) along `edges`."""
    seen, todo = set(sources), list(sources)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def task_errors(definition: Mapping[str, Any]) -> list[str]:
    """The project's rules for Task states: Retry, TimeoutSeconds, a Catch of every error."""
    errors = []
    for name, state in _states(definition):
        if state.get("Type") != "Task":
            continue
        if not state.get("Retry"):
            errors.append(f"Task state {name!r} has no Retry")
        if not state.get("TimeoutSeconds") and not state.get("TimeoutSecondsPath"):
            errors.append(f"Task state {name!r} has no TimeoutSeconds")
        caught = [e for c in state.get("Catch") or [] for e in c.get("ErrorEquals", [])]
        if "States.ALL" not in caught:
            errors.append(f"Task state {name!r} has no Catch of States.ALL")
    return errors


def placeholder_errors(text: str) -> list[str]:
    """Only the contract's template variables may appear; Terraform would fail on any other."""
    errors = [
        f"unknown template variable ${{{name}}} (the contract's are: {', '.join(TEMPLATE_VARS)})"
        for name in sorted(set(PLACEHOLDER.findall(text)))
        if name not in TEMPLATE_VARS
    ]
    if _DIRECTIVE.search(text):
        errors.append("a Terraform template directive '%{' (templatefile would interpret it)")
    return errors


def validate_definition(definition: Mapping[str, Any] | str) -> list[str]:
    """Every defect of a state machine definition (a document or its JSON text), each named."""
    if isinstance(definition, str):
        text = definition
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as exc:
            return [f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    else:
        text = json.dumps(definition, sort_keys=True)
    if not isinstance(definition, dict):
        return ["the definition must be a JSON object"]
    errors = parse_errors(text)
    errors += graph_errors(definition)
    errors += task_errors(definition)
    errors += placeholder_errors(text)
    return errors


# --------------------------------------------------------------------------- the IAM policy


def _job_prefix(definition: Mapping[str, Any]) -> str | None:
    """The job prefix the Start state puts into States.Format(...) for `$.job_name`."""
    for _, state in _states(definition):
        expr = (state.get("Parameters") or {}).get("job_name.$") if state.get("Type") == "Pass" else None
        if isinstance(expr, str):
            match = re.match(r"States\.Format\('\{\}-\{\}', '([a-z0-9-]+)'", expr)
            if match:
                return match.group(1)
    return None


def _parameter_arn(name: str) -> str:
    return "arn:aws:ssm:${region}:${account_id}:parameter" + (
        name if name.startswith("/") or name.startswith("${") else "/" + name
    )


#: run-time name expressions that name this run's jobs: `<job prefix>-<id>`, or a job the run's tuning job started
_RUN_NAMES = ("$.job_name", "$.tuning.best_training_job")


def _sid(resource_arn: str) -> str:
    tail = resource_arn.split(":::", 1)[-1]
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", tail) if part)


def _integration_statements(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    prefix = _job_prefix(definition)
    per_integration: dict[str, set[str]] = {}
    rules: set[str] = set()
    passes_role = uses_kms = False
    endpoints: set[str] = set()
    for _, state in _states(definition):
        if state.get("Type") != "Task":
            continue
        resource = state.get("Resource")
        if not isinstance(resource, str):
            continue
        params = state.get("Parameters") or {}
        spec = INTEGRATIONS.get(resource)
        if spec is None:
            if resource.startswith("${"):  # a Lambda ARN as the Resource
                per_integration.setdefault("lambda:" + resource, set()).update([resource, resource + ":*"])
            continue
        per_integration.setdefault(resource, set()).update(_task_resources(spec, params, prefix))
        if resource == _DESCRIBE_ENDPOINT and isinstance(params.get("EndpointName"), str):
            endpoints.add(params["EndpointName"])
        if spec["resource"] in ("function", "topic", "parameter"):
            continue
        if spec.get("rule"):
            rules.add(spec["rule"])
        passes_role = passes_role or bool(spec.get("passes_role"))
        uses_kms = uses_kms or any(k in _KMS_KEYS for k, _ in _walk(params))
    serving = _serving_configs(prefix, endpoints)
    _registry_resources(per_integration)
    if _DESCRIBE_ENDPOINT_CONFIG in per_integration:
        per_integration[_DESCRIBE_ENDPOINT_CONFIG] = serving
    if _UPDATE_ENDPOINT in per_integration:
        # UpdateEndpoint needs both of its resource types, the endpoint and the configuration it switches to
        # (Service Authorization Reference, Amazon SageMaker AI, UpdateEndpoint: endpoint* and endpoint-config*);
        # found by the emulator's enforcement, which refused the deploy step without it
        per_integration[_UPDATE_ENDPOINT] = per_integration[_UPDATE_ENDPOINT] | serving
    return _statements(per_integration, rules, passes_role, uses_kms, serving, endpoints)


def _registry_resources(per_integration: dict[str, set[str]]) -> None:
    """The model registry's ARNs: CreateModelPackage is decided on model-package/<group> (the version's ARN less
    the number it gets), so it gets the group's part and its versions; the version a deploy-mode run describes
    comes in the execution's input, a version of the group this machine registers in."""
    groups = per_integration.get(_CREATE_MODEL_PACKAGE)
    if not groups:
        return
    if _DESCRIBE_MODEL_PACKAGE in per_integration:
        per_integration[_DESCRIBE_MODEL_PACKAGE] = {a + "/*" for a in groups}
    per_integration[_CREATE_MODEL_PACKAGE] = groups | {a + "/*" for a in groups}


def _serving_configs(prefix: str | None, endpoints: set[str]) -> set[str]:
    """The configurations an endpoint may serve: one of this model's runs, or the baseline Terraform created (its
    name as terraform/modules/sagemaker makes it: "<endpoint>-baseline", at most 63 characters)."""
    baselines = {f"{_SM}:endpoint-config/{(e + '-baseline')[:63].rstrip('-')}" for e in endpoints}
    return {f"{_SM}:endpoint-config/{prefix or ''}-*", *baselines}


def _execution_arns(params: Mapping[str, Any]) -> str:
    """The executions a DescribeExecution state may describe: its ARN, or the literal part of the States.Format
    that builds it (`States.Format('arn:...:execution:<machine>:{}', ...)`: that machine's executions)."""
    if isinstance(params.get("ExecutionArn"), str):
        return params["ExecutionArn"]
    match = re.match(
        r"States\.Format\('(arn:aws:states:[^']+:execution:[A-Za-z0-9_-]+:)\{\}'", params.get("ExecutionArn.$", "")
    )
    return match.group(1) + "*" if match else "*"


def _task_resources(spec: Mapping[str, Any], params: Mapping[str, Any], prefix: str | None) -> set[str]:
    """The ARNs one Task state of a known integration acts on: named in its parameters, or this run's jobs."""
    kind = spec["resource"]
    if kind == "function":
        fn = params.get("FunctionName", "*")
        return {fn, f"{fn}:*"}
    if kind == "topic":
        return {params.get("TopicArn", "*")}
    if kind == "parameter":
        return {_parameter_arn(params.get("Name", "*"))}
    if kind == "scalable-target":
        return {_SCALABLE_TARGETS}
    if kind == "table":
        return {f"arn:aws:dynamodb:${{region}}:${{account_id}}:table/{params.get('TableName', '*')}"}
    if kind == "execution":
        return {_execution_arns(params)}
    key = spec["name_key"]
    if isinstance(params.get(key), str):
        name = params[key]
    elif params.get(f"{key}.$") in _RUN_NAMES and prefix:
        name = f"{prefix}-*"
    else:
        name = "*"
    if kind == "hyper-parameter-tuning-job":
        # the tuning job starts training jobs named after itself; following them needs DescribeTrainingJob
        return {f"{_SM}:{kind}/{name}", f"{_SM}:training-job/{name}"}
    return {f"{_SM}:{kind}/{name}"}


def _statements(
    per_integration: Mapping[str, set[str]],
    rules: set[str],
    passes_role: bool,
    uses_kms: bool,
    serving_configs: set[str],
    endpoints: set[str],
) -> list[dict[str, Any]]:
    """The policy's statements: one per integration, one per .sync rule, PassRole and KMS when needed."""
    statements: list[dict[str, Any]] = []
    for resource, arns in sorted(per_integration.items()):
        spec = INTEGRATIONS.get(resource)
        actions = spec["actions"] if spec else ["lambda:InvokeFunction"]
        if spec and spec["resource"] == "hyper-parameter-tuning-job":
            actions = sorted({*actions, "sagemaker:DescribeTrainingJob"})
        statement: dict[str, Any] = {
            "Sid": _sid(resource),
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": sorted(arns),
        }
        if spec and spec["resource"] == "scalable-target":
            statement["Condition"] = dict(_SAGEMAKER_VARIANTS)
        statements.append(statement)
    for rule in sorted(rules):
        statements.append(
            {
                "Sid": f"SyncRuleFor{rule}Jobs",
                "Effect": "Allow",
                "Action": list(_EVENTS_ACTIONS),
                "Resource": [_EVENTS_RULE % rule],
            }
        )
    if passes_role:
        statements.append(
            {
                "Sid": "PassSageMakerRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": ["${sagemaker_role_arn}"],
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            }
        )
    if uses_kms:
        statements.append(
            {
                "Sid": "KmsGrantThroughSageMaker",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:DescribeKey"],
                "Resource": ["${kms_key_arn}"],
                "Condition": {"StringEquals": {"kms:ViaService": "sagemaker.${region}.amazonaws.com"}},
            }
        )
    if _SNS_PUBLISH in per_integration:
        statements.append(_ENCRYPTED_TOPICS)
    if any((INTEGRATIONS.get(r) or {}).get("resource") == "table" for r in per_integration):
        statements.append(_ENCRYPTED_TABLE)
    if any((INTEGRATIONS.get(r) or {}).get("resource") == "scalable-target" for r in per_integration):
        statements += _auto_scaling_checks(endpoints, serving_configs)
    return statements


def derive_policy(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The state machine role's policy: one statement per integration the definition calls, on the narrowest
    resources the API allows, plus the `.sync` rules, iam:PassRole of the SageMaker role, and its KMS grant."""
    return {"Version": "2012-10-17", "Statement": _integration_statements(definition)}


def required_permissions(definition: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    """(action, resource, condition as JSON, "null" when none) of every call the definition makes; one action on
    one resource may be needed under several conditions (kms:Decrypt through SNS and through DynamoDB)."""
    return {
        (action, resource, _condition_key(statement.get("Condition")))
        for statement in _integration_statements(definition)
        for action in statement["Action"]
        for resource in statement["Resource"]
    }


def _condition_key(condition: Mapping[str, Any] | None) -> str:
    return json.dumps(condition or None, sort_keys=True)


def _allowed(policy: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for st in policy.get("Statement") or []:
        if st.get("Effect") != "Allow":
            continue
        actions = st.get("Action", [])
        resources = st.get("Resource", [])
        for a in [actions] if isinstance(actions, str) else actions:
            for r in [resources] if isinstance(resources, str) else resources:
                out.append((a, r, _condition_key(st.get("Condition"))))
    return out


def check_policy(definition: Mapping[str, Any], policy: Mapping[str, Any]) -> list[str]:
    """What the definition calls that the policy does not allow, and what the policy allows that is not called."""
    need = required_permissions(definition)
    allowed = _allowed(policy)
    problems = []
    for action, resource, condition in sorted(need):
        if not any(
            fnmatch.fnmatchcase(action.lower(), a.lower()) and fnmatch.fnmatchcase(resource, r) and c == condition
            for a, r, c in allowed
        ):
            problems.append(f"the definition needs {action} on {resource}, which the policy does not allow")
    for action, resource, condition in allowed:
        if (action, resource, condition) not in need:
            problems.append(
                f"the policy allows {action} on {resource}"
                + (
                    " with a different condition"
                    if any((a, r) == (action, resource) for a, r, _ in need)
                    else ", which the definition never calls"
                )
            )
    return problems


def check_files(definition_path: Path, policy_path: Path) -> list[str]:
    """Check a rendered pair of files as written."""
    text = definition_path.read_text()
    problems = validate_definition(text)
    if not problems:
        problems = check_policy(json.loads(text), json.loads(policy_path.read_text()))
    return problems
