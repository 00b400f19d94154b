"""Run a rendered state machine in moto's Step Functions interpreter, with SageMaker and Lambda replaced.

moto interprets ASL (`stepfunctions.execute_state_machine`) but has no SageMaker
`.sync` integration and runs Lambda functions only in Docker. Here:
- the optimised `sagemaker:*` integration (request-response and `.sync`) is the emulator's own
  (`vwt_deploy.emulator.runtime.stepfunctions.service`), answered by a scripted `FakeSageMaker` instead of
  the emulator's SageMaker; `aws-sdk:sagemaker:*` calls go to the same fake. Every call is checked against
  botocore's model of the SageMaker API (so a misspelt or mistyped parameter fails the test);
- `lambda:invoke` runs the real handler (`pipeline.size`, `pipeline.label`) in-process, against moto's S3;
- SSM and SNS are moto's own.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import botocore.session
from botocore.validate import validate_parameters
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)

from vwt_deploy.emulator.runtime.stepfunctions import SyncJob
from vwt_deploy.emulator.runtime.stepfunctions.service import routing
from vwt_model.evaluate import champion_name

_SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
_ARN = "arn:aws:sagemaker:eu-west-1:123456789012"


class FakeSageMaker:
    """SageMaker as the pipeline sees it (a `SageMakerApi`): jobs end at once, as the test scripts them.

    `calls` are the state machine's calls, in order; a `.sync` task's looks at its job are not among them."""

    def __init__(
        self,
        metric_name: str,
        metric: float | None = 0.8,
        champion: float | None = None,
        training_fails: bool = False,
        endpoint_statuses: tuple[str, ...] = ("Updating", "InService"),
        serving_instance_type: str = "ml.m5.large",
    ):
        self.metric_name, self.metric, self.training_fails = metric_name, metric, training_fails
        self.champion = champion  # the champion's value on the same hold-out, as the job logs it (None: not scored)
        self.hyperparameters: dict[str, dict] = {}  # job name -> the hyperparameters it was started with
        self.packages: dict[str, dict] = {}  # model package ARN -> its description (the registry)
        self.endpoint_statuses = list(endpoint_statuses)
        self.calls: list[tuple[str, dict]] = []
        self.jobs: dict[str, dict] = {}  # job name -> its (final) description
        self.endpoint_config = "initial-config"
        self.serving_instance_type = serving_instance_type  # the instance type of what the endpoint serves
        self.pending_config: str | None = None
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ SageMakerApi
    def call(self, region: str, action: str, params: dict, role: str | None = None) -> dict:
        operation = _SAGEMAKER.operation_model(action[0].upper() + action[1:])
        validate_parameters(params, operation.input_shape)  # raises on a bad request
        with self.lock:
            self.calls.append((action, params))
        answers: dict[str, Callable[[dict], dict]] = {
            "createTrainingJob": self._create_training_job,
            "createHyperParameterTuningJob": self._create_tuning_job,
            "createLabelingJob": self._create_labeling_job,
            "describeTrainingJob": lambda p: self._training(p["TrainingJobName"]),
            "createModel": lambda p: {"ModelArn": f"{_ARN}:model/{p['ModelName']}"},
            "createEndpointConfig": lambda p: {"EndpointConfigArn": "arn"},
            "updateEndpoint": self._update_endpoint,
            "describeEndpoint": self._describe_endpoint,
            "createModelPackage": self._create_model_package,
            "describeModelPackage": lambda p: self.packages[p["ModelPackageName"]],
            "describeEndpointConfig": lambda p: {
                "EndpointConfigName": p["EndpointConfigName"],
                "ProductionVariants": [{"VariantName": "AllTraffic", "InstanceType": self.serving_instance_type}],
            },
        }
        if action not in answers:
            raise AssertionError(f"unexpected SageMaker call {action}")
        return answers[action](params)

    def describe(self, region: str, job: SyncJob, name: str, role: str | None = None) -> dict:
        return self.jobs[name]

    def stop(self, region: str, job: SyncJob, name: str, role: str | None = None) -> None:
        """Never needed: the scripted jobs end at once."""

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]

    # ------------------------------------------------------------------ the script
    def _training(self, name: str) -> dict:
        described = {
            "TrainingJobName": name,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://models/training/{name}/output/model.tar.gz"},
            "HyperParameters": self.hyperparameters.get(name) or self._tuned(name),
        }
        if self.metric is not None:
            described["FinalMetricDataList"] = [
                {"MetricName": "train:loss", "Value": 0.1},
                {"MetricName": self.metric_name, "Value": self.metric},
            ]
            # as the image logs them: always, a tie and champion:scored 0 when the champion was not scored
            described["FinalMetricDataList"] += [
                {
                    "MetricName": champion_name(self.metric_name),
                    "Value": self.metric if self.champion is None else self.champion,
                },
                {"MetricName": "champion:scored", "Value": 0.0 if self.champion is None else 1.0},
            ]
        return described

    def _tuned(self, name: str) -> dict:
        """A tuning job's training job: its static hyperparameters and each range's lowest value."""
        for tuning, hp in self.hyperparameters.items():
            if name.startswith(tuning + "-"):
                return hp
        return {}

    def _create_model_package(self, params: dict) -> dict:
        group = params["ModelPackageGroupName"]
        version = 1 + sum(1 for p in self.packages.values() if p["ModelPackageGroupName"] == group)
        arn = f"{_ARN}:model-package/{group}/{version}"
        self.packages[arn] = {
            "ModelPackageArn": arn,
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelApprovalStatus": params["ModelApprovalStatus"],
            "InferenceSpecification": params["InferenceSpecification"],
            "CustomerMetadataProperties": params["CustomerMetadataProperties"],
        }
        return {"ModelPackageArn": arn}

    def _create_training_job(self, params: dict) -> dict:
        name = params["TrainingJobName"]
        self.hyperparameters[name] = params["HyperParameters"]
        self.jobs[name] = (
            {
                "TrainingJobName": name,
                "TrainingJobStatus": "Failed",
                "FailureReason": "AlgorithmError: the training data has no label column",
            }
            if self.training_fails
            else self._training(name)
        )
        return {"TrainingJobArn": f"{_ARN}:training-job/{name}"}

    def _create_tuning_job(self, params: dict) -> dict:
        name = params["HyperParameterTuningJobName"]
        definition = params["TrainingJobDefinition"]
        ranges = params["HyperParameterTuningJobConfig"]
        self.hyperparameters[name] = {
            **definition["StaticHyperParameters"],
            **{
                r["Name"]: r.get("MinValue") or r["Values"][0]
                for kind in ranges["ParameterRanges"].values()
                for r in kind
            },
        }
        self.jobs[name] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobStatus": "Completed",
            "BestTrainingJob": {"TrainingJobName": f"{name}-003-0a1b2c3d"},
        }
        return {"HyperParameterTuningJobArn": f"{_ARN}:hyper-parameter-tuning-job/{name}"}

    def _create_labeling_job(self, params: dict) -> dict:
        self.jobs[params["LabelingJobName"]] = self._label(params)
        return {"LabelingJobArn": f"{_ARN}:labeling-job/{params['LabelingJobName']}"}

    def _update_endpoint(self, params: dict) -> dict:
        self.pending_config = params["EndpointConfigName"]
        return {"EndpointArn": "arn"}

    def _describe_endpoint(self, params: dict) -> dict:
        if self.pending_config is None:  # before the update: what it serves now
            return {
                "EndpointName": params["EndpointName"],
                "EndpointStatus": "InService",
                "EndpointConfigName": self.endpoint_config,
            }
        status = self.endpoint_statuses.pop(0) if len(self.endpoint_statuses) > 1 else self.endpoint_statuses[0]
        if status == "InService":
            self.endpoint_config = self.pending_config
        return {
            "EndpointName": params["EndpointName"],
            "EndpointStatus": status,
            "EndpointConfigName": self.endpoint_config,
        }

    def _label(self, params: dict) -> dict:
        """Label every object of the input manifest (alternately 1 and 0) and write the output manifest."""
        import boto3

        s3 = boto3.client("s3", region_name="eu-west-1")
        bucket, _, key = params["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"][5:].partition("/")
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        attribute = params["LabelAttributeName"]
        out = []
        for n, line in enumerate(lines):
            item = json.loads(line)
            label = str(n % 2)
            item[attribute] = int(label)
            item[f"{attribute}-metadata"] = {
                "class-name": label,
                "human-annotated": "yes",
                "type": "groundtruth/text-classification",
            }
            out.append(json.dumps(item))
        out_bucket, _, out_prefix = params["OutputConfig"]["S3OutputPath"][5:].partition("/")
        out_key = f"{out_prefix}{params['LabelingJobName']}/manifests/output/output.manifest"
        s3.put_object(Bucket=out_bucket, Key=out_key, Body="\n".join(out).encode())
        return {
            "LabelingJobName": params["LabelingJobName"],
            "LabelingJobStatus": "Completed",
            "LabelCounters": {"TotalLabeled": len(out), "HumanLabeled": len(out), "MachineLabeled": 0},
            "LabelingJobOutput": {"OutputDatasetS3Uri": f"s3://{out_bucket}/{out_key}"},
        }


class LambdaService(StateTaskServiceLambda):
    """lambda:invoke -> the handler named by the function ARN's name, run in this process."""

    def __init__(self, handlers: dict[str, Callable]):
        super().__init__()
        self.handlers = handlers

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        name = normalised_parameters["FunctionName"].rsplit(":", 1)[-1]
        payload = json.loads(normalised_parameters["Payload"])
        try:
            result = self.handlers[name](payload, None)
        except Exception as exc:  # as Lambda reports an unhandled exception
            raise lambda_eval_utils.LambdaFunctionErrorException(
                "Unhandled", json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
            ) from None
        env.stack.append({"Payload": json.loads(json.dumps(result)), "StatusCode": 200, "ExecutedVersion": "$LATEST"})


@contextmanager
def replaced_integrations(sagemaker: FakeSageMaker, lambdas: dict[str, Callable]) -> Iterator[None]:
    from vwt_deploy.emulator import fixes

    fixes.stepfunctions_sdk_service_names()  # aws-sdk:applicationautoscaling reaches moto, as in the emulator
    fixes.stepfunctions_execution_name()  # an execution started without a name gets one ($$.Execution.Name)
    fixes.stepfunctions_sdk_pascal_case()  # aws-sdk:sfn takes ExecutionArn and answers Status, as on AWS
    original = state_task_factory.state_task_service_for
    with_sagemaker = routing(original, sagemaker)  # the emulator's integration, answered by the fake

    class AwsSdk(type(original("aws-sdk"))):
        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            if self.resource.api_name == "sagemaker":
                answer = sagemaker.call(resource_runtime_part.region, self.resource.api_action, normalised_parameters)
                env.stack.append(answer)
                return None
            return super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)

    def service_for(service_name: str):
        if service_name == "lambda":
            return LambdaService(lambdas)
        if service_name == "aws-sdk":
            return AwsSdk()
        return with_sagemaker(service_name)

    state_task_factory.state_task_service_for = service_for
    try:
        yield
    finally:
        state_task_factory.state_task_service_for = original


def create_runs_table(dynamodb, name: str) -> None:
    """The runs table as Terraform creates it (terraform/modules/retraining): which run last claimed each model;
    nothing when it exists already."""
    if name in dynamodb.list_tables()["TableNames"]:
        return
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "model", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "model", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def fill(text: str, values: dict[str, str]) -> str:
    """What Terraform's templatefile does to the rendered file (every ${var} must be given)."""

    def sub(match: re.Match) -> str:
        return values[match.group(1)]

    return re.sub(r"\$\{([a-z_]+)\}", sub, text)
