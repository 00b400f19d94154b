"""Render each model's retraining state machine (ASL) and its IAM policy from templates/.

One state machine per model (templates/README.md says why). The output is
deterministic: the same configuration gives byte-identical files (sorted keys,
no timestamps), so Terraform sees no change when nothing changed. Anything
Terraform creates appears as one of the contract's template variables
(`${image_uri}`, ...), which Terraform fills with `templatefile`; everything
else is rendered from the typed configuration.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vwt_deploy.config import Environment, Model
from vwt_deploy.contract import TEMPLATE_VARS, VARIANT_NAME
from vwt_deploy.errors import ConfigError, VwtError
from vwt_deploy.project import Project

# Retry policies per integration: throttling and capacity limits back off and try again.
# SageMaker's optimized integrations report a throttled call as SageMaker.AmazonSageMakerException (the Step
# Functions Developer Guide's SageMaker example retries it; AWS's Data Science SDK does so for "Rate exceeded");
# the aws-sdk integrations name the service's own code. Throttling clears in seconds; capacity takes minutes.
# The first retrier whose ErrorEquals matches is used, so throttling comes first.
_SAGEMAKER_THROTTLED = {
    "ErrorEquals": ["SageMaker.AmazonSageMakerException", "ThrottlingException", "SageMaker.ThrottlingException"],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
_SAGEMAKER_CAPACITY = {
    "ErrorEquals": ["SageMaker.ResourceLimitExceededException"],
    "IntervalSeconds": 60,
    "MaxAttempts": 5,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 900,
    "JitterStrategy": "FULL",
}
RETRIES: Mapping[str, list[dict]] = {
    "sagemaker": [_SAGEMAKER_THROTTLED, _SAGEMAKER_CAPACITY],
    # Application Auto Scaling (aws-sdk integration, errors "ApplicationAutoScaling.<Exception>"): a concurrent
    # change, throttling, and the validation its checks of the endpoint make while it settles are retried
    "autoscaling": [
        {
            "ErrorEquals": [
                "ApplicationAutoScaling.ConcurrentUpdateException",
                "ApplicationAutoScaling.ValidationException",
                "ApplicationAutoScaling.InternalServiceException",
                "ThrottlingException",
            ],
            "IntervalSeconds": 5,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": 120,
            "JitterStrategy": "FULL",
        },
    ],
    "lambda": [
        {
            "ErrorEquals": [
                "Lambda.ServiceException",
                "Lambda.AWSLambdaException",
                "Lambda.SdkClientException",
                "Lambda.TooManyRequestsException",
                "ThrottlingException",
            ],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        },
    ],
    "ssm": [
        {
            "ErrorEquals": ["ThrottlingException", "Ssm.ThrottlingException", "Ssm.TooManyUpdatesException"],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        },
    ],
    # the runs table (DynamoDB integration, errors "DynamoDB.<Exception>"): throttling and server errors
    "dynamodb": [
        {
            "ErrorEquals": [
                "DynamoDB.ProvisionedThroughputExceededException",
                "DynamoDB.RequestLimitExceeded",
                "DynamoDB.ThrottlingException",
                "DynamoDB.InternalServerErrorException",
                "ThrottlingException",
            ],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        },
    ],
    # DescribeExecution of the run that claimed the model (aws-sdk integration, errors "Sfn.<Exception>")
    "sfn": [
        {
            "ErrorEquals": ["ThrottlingException", "Sfn.ThrottlingException", "SFN.ThrottlingException"],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        },
    ],
    "sns": [
        {
            "ErrorEquals": [
                "ThrottlingException",
                "Sns.ThrottledException",
                "SNS.ThrottledException",
                "Sns.InternalErrorException",
            ],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        },
    ],
}

# Ground Truth's built-in text classification (single label): AWS-owned Lambda accounts per region
# (SageMaker API reference, HumanTaskConfig.PreHumanTaskLambdaArn).
_GROUND_TRUTH_ACCOUNTS = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
_LABELING_ALGORITHM_ACCOUNT = "027400017018"
#: the label attribute of Ground Truth output (letters, digits and '-': a column name may hold '_')
LABEL_ATTRIBUTE = "vwt-label"


def job_prefix(env: Environment, model: str) -> str:
    """The name prefix of every job, model and endpoint configuration a model's pipeline creates.

    At most 23 characters, so `<prefix>-<8 hex>` fits the 32 characters of a tuning job name;
    the hash keeps prefixes of different models (and environments) from being prefixes of each other.
    """
    full = f"{env.name_prefix}-{model}"
    digest = hashlib.sha256(full.encode()).hexdigest()[:4]
    return f"{full[:18].rstrip('-')}-{digest}"


def parameter_name(model: str) -> str:
    return "${current_model_parameter_prefix}/" + model


def _tags(env: Environment, model: Model) -> list[dict[str, str]]:
    tags = {**env.all_tags(), "model": model.name}
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _parameter_ranges(model: Model) -> dict[str, list[dict[str, Any]]]:
    ranges: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    assert model.tuning is not None
    for name, rng in sorted(model.tuning.ranges.items()):
        if rng.type == "categorical":
            ranges["CategoricalParameterRanges"].append({"Name": name, "Values": list(rng.values)})
        elif rng.type == "integer":
            low, high = rng.bounds
            ranges["IntegerParameterRanges"].append(
                {"Name": name, "MinValue": str(int(low)), "MaxValue": str(int(high)), "ScalingType": rng.scaling}
            )
        else:
            low, high = rng.bounds
            ranges["ContinuousParameterRanges"].append(
                {"Name": name, "MinValue": repr(float(low)), "MaxValue": repr(float(high)), "ScalingType": rng.scaling}
            )
    return {k: v for k, v in ranges.items() if v}


def _ground_truth(env: Environment, model: Model) -> dict[str, Any]:
    account = _GROUND_TRUTH_ACCOUNTS.get(env.region)
    if account is None:
        raise ConfigError(
            f"model {model.name}: labeling mode ground_truth is not available in {env.region} (Ground Truth's built-in "
            "labeling functions are published for: " + ", ".join(sorted(_GROUND_TRUTH_ACCOUNTS)) + ")",
            "choose one of those regions or another labeling mode",
        )
    lab = model.labeling
    return {
        "mode": lab.mode,
        "workteam_arn": lab.workteam_arn,
        "automated_min_objects": lab.automated_min_objects,
        "attribute": LABEL_ATTRIBUTE,
        # the label is a binary risk flag for the classification models this mode serves
        "categories": ["0", "1"],
        "title": f"Label {model.name} records",
        "description": f"Decide the value of {model.label} for each record of {model.name}'s training data",
        "workers_per_object": 1,
        "availability_seconds": 5 * 24 * 3600,
        "pre_lambda": f"arn:aws:lambda:{env.region}:{account}:function:PRE-TextMultiClass",
        "acs_lambda": f"arn:aws:lambda:{env.region}:{account}:function:ACS-TextMultiClass",
        "algorithm_arn": (
            f"arn:aws:sagemaker:{env.region}:{_LABELING_ALGORITHM_ACCOUNT}:"
            "labeling-job-algorithm-specification/text-classification"
        ),
    }


def context(env: Environment, model: Model) -> dict[str, Any]:
    """Everything the templates need, from the typed configuration only."""
    from vwt_model.evaluate import SCORED, champion_name
    from vwt_model.spec import METRICS, RISK_GROUPS, metric_regex

    prefix = model.data_prefix
    data_bucket = env.data_bucket_name(model.data_bucket)
    hp = model.training_hyperparameters()
    if model.task != "regression":  # the evaluation report's confusion matrices and distributions per risk group
        hp[RISK_GROUPS] = json.dumps(
            [{"name": g.name, "min_score": g.min_score} for g in env.catalogue.intervention.risk_groups],
            separators=(",", ":"),
        )
    labeling: dict[str, Any] = {"mode": model.labeling.mode, "source_column": model.labeling.source_column}
    if model.labeling.mode == "ground_truth":
        labeling = _ground_truth(env, model)
    labeling["labels_prefix"] = model.labeling.labels_prefix  # the operators' label files, in the data bucket
    # local endpoints switch in seconds (a local serve process), so poll often; AWS ones in minutes
    poll_wait = 2 if env.is_local else 60
    max_polls = 600 if env.is_local else 90  # local: 20 minutes; AWS: 90 minutes
    after_size = {"none": "ChooseMode", "self_exclusion": "LabelSelfExclusion", "ground_truth": "PrepareLabeling"}
    return {
        "model": model.name,
        "environment": env.name,
        "modes": ["train", "tune"] if model.tuning else ["train"],
        "job_prefix": job_prefix(env, model.name),
        "label": model.label,
        "data": {"bucket": data_bucket, "prefix": prefix, "s3_uri": f"s3://{data_bucket}/{prefix}"},
        "model_bucket": env.model_bucket_name(model.name),
        "sizing": [s.model_dump(mode="json") for s in env.training.sizing],
        "after_size": after_size[model.labeling.mode],
        "labeling": labeling,
        "training": {
            "hyperparameters": hp,
            # the new model's metrics, and the champion's on the same hold-out (vwt_model.evaluate)
            "metric_definitions": [
                {"Name": n, "Regex": metric_regex(n)}
                for name in METRICS[model.task]
                for n in (name, champion_name(name))
            ]
            + [{"Name": SCORED, "Regex": metric_regex(SCORED)}],
            "max_runtime_seconds": env.training.max_runtime_seconds,
        },
        "tuning": _tuning(model, hp, METRICS[model.task]),
        "vpc": _vpc(env),
        "tags": _tags(env, model),
        "gate": {
            "metric": model.gate_metric,
            "champion_metric": champion_name(model.gate_metric),
            "higher_is_better": model.higher_is_better,
            "floor": model.min_metric,
        },
        "registry": {
            "group": env.model_package_group(model.name),
            "approval": env.approval_mode,
            "passed_status": "Approved" if env.approval_mode == "auto" else "PendingManualApproval",
            "hyperparameters": sorted(k for k in hp if k != RISK_GROUPS),  # JSON: not a metadata value's characters
        },
        "endpoint": {
            "name": env.endpoint_name(model.name),
            "variant": VARIANT_NAME,
            "instance_type": env.endpoints.instance_type,
            "initial_instance_count": env.endpoints.initial_instance_count,
            "capture": data_capture(env, env.model_bucket_name(model.name)),
            "scaling": auto_scaling(env, model.name),
        },
        "scoring": {
            "data_bucket": data_bucket,
            "prefix": model.scoring_prefix,
            "operators": [o.id for o in env.catalogue.operators],
            "sizing": env.scoring.model_dump(
                mode="json", include={"instance_type", "records_per_instance", "max_instances"}
            ),
            "max_payload_mb": env.scoring.max_payload_mb,
            "results_bucket": env.results_bucket_name,
        },
        "drift": {
            "capture_prefix": f"data-capture/{env.endpoint_name(model.name)}/",
            "since_hours": model.drift.since_hours,
            "psi_threshold": model.drift.psi_threshold,
            "retrain": model.drift.retrain,
            "instance_type": model.drift.instance_type,
            "state_machine": "arn:aws:states:${region}:${account_id}:stateMachine:"
            + f"{env.name_prefix}-{model.name}-retraining",
        },
        "runs": {
            "table": env.runs_table_name,
            "executions": "arn:aws:states:${region}:${account_id}:execution:"
            + f"{env.name_prefix}-{model.name}-retraining:",
        },
        "poll": {"wait_seconds": poll_wait, "max_polls": max_polls},
        "parameter_name": parameter_name(model.name),
        "timeouts": _timeouts(env, model, poll_wait, max_polls),
        "retries": RETRIES,
        "vars": {name: "${" + name + "}" for name in TEMPLATE_VARS},
    }


def _tuning(model: Model, hp: Mapping[str, str], higher_is_better: Mapping[str, bool]) -> dict[str, Any] | None:
    """The tuning job's settings, or None for a model that is not tuned; `higher_is_better` is per metric."""
    t = model.tuning
    if t is None:
        return None
    objective_type = t.objective_type or ("Maximize" if higher_is_better[t.objective_metric] else "Minimize")
    return {
        "strategy": t.strategy,
        "objective_metric": t.objective_metric,
        "objective_type": objective_type,
        "max_jobs": t.max_jobs,
        "max_parallel_jobs": t.max_parallel_jobs,
        "parameter_ranges": _parameter_ranges(model),
        "static_hyperparameters": {k: v for k, v in hp.items() if k not in t.ranges},
    }


def _timeouts(env: Environment, model: Model, poll_wait: int, max_polls: int) -> dict[str, int]:
    """Seconds each kind of task may take, and the whole execution (every step at its longest, plus an hour)."""
    runtime = env.training.max_runtime_seconds
    tuning = model.tuning
    timeouts = {
        "api": 60,
        "lambda": 900,
        "training": runtime + 3600,
        "tuning": runtime * math.ceil(tuning.max_jobs / tuning.max_parallel_jobs) + 3600 if tuning else 0,
        "labeling": 10 * 24 * 3600 if model.labeling.mode == "ground_truth" else 0,
        "scoring": runtime + 3600,  # a transform job: as long as training may take, and its start-up
        "drift": 3600 + 600,  # the processing job's MaxRuntimeInSeconds, and its start-up
    }
    timeouts["execution"] = (
        2 * timeouts["lambda"]
        + timeouts["labeling"]
        + max(timeouts["training"], timeouts["tuning"])
        + max_polls * (poll_wait + timeouts["api"])
        + 3600
    )
    return timeouts


def _vpc(env: Environment) -> dict[str, list[str]] | None:
    """The training jobs' VpcConfig, or None when they run outside a VPC."""
    vpc = env.training.vpc
    if vpc is None:
        return None
    return {"SecurityGroupIds": list(vpc.security_group_ids), "Subnets": list(vpc.subnet_ids)}


def _jinja(templates_dir: Path):
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def dumps(document: Any) -> str:
    """The one serialisation of rendered files: sorted keys, 2-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def auto_scaling(env: Environment, model: str) -> dict[str, dict[str, Any]]:
    """The endpoint's scalable target and target tracking policy, as terraform/modules/sagemaker registers them
    (aws_appautoscaling_target, aws_appautoscaling_policy): the pipeline deregisters the target before an update
    that changes the instance type, and registers both again after it."""
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{env.endpoint_name(model)}/variant/{VARIANT_NAME}",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    return {
        "target": target,
        "register": {**target, "MinCapacity": env.endpoints.min_capacity, "MaxCapacity": env.endpoints.max_capacity},
        "policy": {
            **target,
            "PolicyName": f"{env.endpoint_name(model)}-invocations",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": env.endpoints.target_invocations_per_instance,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            },
        },
    }


def data_capture(env: Environment, model_bucket: str) -> dict[str, Any] | None:
    """The endpoint configuration's DataCaptureConfig (SageMaker API reference, DataCaptureConfig): a share of the
    requests and answers, as JSON (the prediction Lambda sends and accepts application/json, so nothing is
    base64-encoded), under data-capture/ of the model bucket, encrypted with the environment's key."""
    if not env.endpoints.capture_percentage:
        return None
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": env.endpoints.capture_percentage,
        "DestinationS3Uri": f"s3://{model_bucket}/data-capture",
        "KmsKeyId": "${kms_key_arn}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }


def render_definition(env: Environment, model: Model, templates_dir: Path) -> dict[str, Any]:
    """The model's state machine as a JSON document (placeholders left for Terraform)."""
    template = _jinja(templates_dir).get_template("state_machine.asl.json.j2")
    text = template.render(**context(env, model))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:  # a template bug, not a user error: show where
        lines = text.splitlines()
        around = "\n".join(
            f"{i + 1:4}: {lines[i]}" for i in range(max(0, exc.lineno - 3), min(len(lines), exc.lineno + 2))
        )
        raise VwtError(
            f"templates/ rendered invalid JSON for model {model.name}: {exc.msg} at line {exc.lineno}\n{around}",
            "fix the template named above",
        ) from None


def _selected(env: Environment, model: str | None) -> list[Model]:
    if model is None:
        return list(env.catalogue.models)
    return [env.catalogue.model(model)]


def render_documents(
    project: Project, env: Environment, model: str | None = None, validated: Path | None = None
) -> dict[str, tuple[str, str]]:
    """{model: (definition text, policy text)}, validated; raises VwtError naming every defect.

    A definition byte-identical to `<validated>/<model>.asl.json` (which `render` writes only after it
    passed) is not parsed again: the parser costs about a second per model on every `up`."""
    from vwt_deploy.asl import derive_policy, validate_definition

    out: dict[str, tuple[str, str]] = {}
    for m in _selected(env, model):
        definition = render_definition(env, m, project.templates_dir)
        previous = validated / f"{m.name}.asl.json" if validated else None
        unchanged = previous is not None and previous.exists() and previous.read_text() == dumps(definition)
        problems = [] if unchanged else validate_definition(definition)
        if problems:
            raise VwtError(
                f"the rendered state machine of {m.name} is not valid:\n  " + "\n  ".join(problems),
                "fix templates/ (the defects are named above)",
            )
        policy = derive_policy(definition)
        out[m.name] = (dumps(definition), dumps(policy))
    return out


def validate_rendered(project: Project, env: Environment) -> list[str]:
    """For `vwt-deploy validate`: render every model's pipeline in memory and return every problem found
    (the state machine's defects and policy mismatches), as readable lines; nothing is written."""
    from vwt_deploy.asl import check_policy, derive_policy, validate_definition

    problems: list[str] = []
    for model in env.catalogue.models:
        try:
            definition = render_definition(env, model, project.templates_dir)
        except VwtError as exc:
            problems.append(f"state machine of {model.name}: {exc.message}")
            continue
        found = validate_definition(definition)
        if not found:
            found = check_policy(definition, derive_policy(definition))
        problems += [f"state machine of {model.name}: {p}" for p in found]
    return problems


def render_dir(project: Project, env: Environment) -> Path:
    return project.state_dir / "envs" / env.name / "render"


def render(
    project: Project,
    env: Environment,
    model: str | None = None,
    out_dir: str | Path | None = None,
    diagram: bool = False,
) -> list[Path]:
    """Render, validate and write `<model>.asl.json` and `<model>.policy.json` (and with `diagram`, `<model>.mmd`:
    the definition drawn as a Mermaid flowchart); return the paths written.

    Everything is rendered and checked before anything is written, and each file is replaced
    atomically (and only when its bytes change), so a failure leaves no half-written output.
    """
    from vwt_deploy.build.diagrams import flowchart
    from vwt_deploy.files import write_if_changed

    target = Path(out_dir) if out_dir is not None else render_dir(project, env)
    documents = render_documents(project, env, model, validated=target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VwtError(f"cannot create {target}: {exc.strerror}", "choose another --out folder") from None
    paths: list[Path] = []
    for name, (definition, policy) in sorted(documents.items()):
        files = [(".asl.json", definition), (".policy.json", policy)]
        if diagram:
            files.append((".mmd", flowchart(json.loads(definition), title=f"{name} ({env.name})")))
        paths += [write_if_changed(target / f"{name}{suffix}", text) for suffix, text in files]
    return paths


def artifacts(project: Project, env: Environment) -> dict[str, Any]:
    """Extra tfvars for `Deployment.artifacts()`: every model's rendered definition and policy. Their drawings are
    written beside them, so what `up` deploys is always drawn too."""
    keys = {"asl.json": "definition_path", "policy.json": "policy_path"}
    machines: dict[str, dict[str, str]] = {}
    for path in render(project, env, diagram=True):
        name, _, kind = path.name.partition(".")
        if kind in keys:
            machines.setdefault(name, {})[keys[kind]] = str(path.resolve())
    return {"state_machines": machines}
