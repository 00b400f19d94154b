"""Run a rendered state machine in moto's Step Functions interpreter, with SageMaker and Lambda replaced.

moto interprets ASL (`stepfunctions.execute_state_machine`) but has no SageMaker
`.sync` integration and runs Lambda functions only in Docker. Here:
- every SageMaker call (optimised `sagemaker:*` and `aws-sdk:sagemaker:*`) is checked against
  botocore's model of the SageMaker API (so a misspelt or mistyped parameter fails the test)
  and answered by a scripted `FakeSageMaker`;
- `lambda:invoke` runs the real handler (`pipeline.size`, `pipeline.label`) in-process, against moto's S3;
- SSM and SNS are moto's own.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session
from botocore.validate import validate_parameters
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

_SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")


class FakeSageMaker:
    """SageMaker as the pipeline sees it: jobs finish at once, as the test scripts them."""

    def __init__(
        self,
        metric_name: str,
        metric: float | None = 0.8,
        training_fails: bool = False,
        endpoint_statuses: tuple[str, ...] = ("Updating", "InService"),
    ):
        self.metric_name, self.metric, self.training_fails = metric_name, metric, training_fails
        self.endpoint_statuses = list(endpoint_statuses)
        self.calls: list[tuple[str, dict]] = []
        self.endpoint_config = "initial-config"
        self.lock = threading.Lock()

    def _training(self, name: str) -> dict:
        described = {
            "TrainingJobName": name,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://models/training/{name}/output/model.tar.gz"},
        }
        if self.metric is not None:
            described["FinalMetricDataList"] = [
                {"MetricName": "train:loss", "Value": 0.1},
                {"MetricName": self.metric_name, "Value": self.metric},
            ]
        return described

    def call(self, action: str, params: dict, sync: bool) -> dict:
        with self.lock:
            self.calls.append((action, params))
        if action == "createTrainingJob":
            if self.training_fails:
                raise FakeFailure(
                    "States.TaskFailed",
                    json.dumps(
                        {
                            "TrainingJobName": params["TrainingJobName"],
                            "TrainingJobStatus": "Failed",
                            "FailureReason": "AlgorithmError: the training data has no label column",
                        }
                    ),
                )
            return self._training(params["TrainingJobName"]) if sync else {"TrainingJobArn": "arn"}
        if action == "createHyperParameterTuningJob":
            name = params["HyperParameterTuningJobName"]
            return {
                "HyperParameterTuningJobName": name,
                "HyperParameterTuningJobStatus": "Completed",
                "BestTrainingJob": {"TrainingJobName": f"{name}-003-0a1b2c3d"},
            }
        if action == "createLabelingJob":
            return self._label(params)
        if action == "describeTrainingJob":
            return self._training(params["TrainingJobName"])
        if action == "createModel":
            return {"ModelArn": f"arn:aws:sagemaker:eu-west-1:123456789012:model/{params['ModelName']}"}
        if action == "createEndpointConfig":
            return {"EndpointConfigArn": "arn"}
        if action == "updateEndpoint":
            self.pending_config = params["EndpointConfigName"]
            return {"EndpointArn": "arn"}
        if action == "describeEndpoint":
            status = self.endpoint_statuses.pop(0) if len(self.endpoint_statuses) > 1 else self.endpoint_statuses[0]
            if status == "InService":
                self.endpoint_config = self.pending_config
            return {
                "EndpointName": params["EndpointName"],
                "EndpointStatus": status,
                "EndpointConfigName": self.endpoint_config,
            }
        raise AssertionError(f"unexpected SageMaker call {action}")

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

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]


class FakeFailure(Exception):
    def __init__(self, error: str, cause: str):
        super().__init__(error)
        self.error, self.cause = error, cause


FAKE: dict[str, Any] = {}


class SageMakerService(StateTaskService):
    def _validate_service_integration_is_supported(self):
        pass

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        action = self.resource.api_action
        operation = _SAGEMAKER.operation_model(action[0].upper() + action[1:])
        validate_parameters(normalised_parameters, operation.input_shape)  # raises on a bad request
        try:
            result = FAKE["sagemaker"].call(action, normalised_parameters, sync=self.resource.condition is not None)
        except FakeFailure as failure:
            if failure.error.startswith("States."):
                error_name = StatesErrorName(typ=StatesErrorNameType.from_name(failure.error))
            else:
                error_name = CustomErrorName(failure.error)
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=error_name,
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error=failure.error, cause=failure.cause, resource=action, resourceType="sagemaker"
                        )
                    ),
                )
            ) from None
        env.stack.append(result)


class LambdaService(StateTaskServiceLambda):
    """lambda:invoke -> the handler named by the function ARN's name, run in this process."""

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        name = normalised_parameters["FunctionName"].rsplit(":", 1)[-1]
        handler = FAKE["lambdas"][name]
        payload = json.loads(normalised_parameters["Payload"])
        try:
            result = handler(payload, None)
        except Exception as exc:  # as Lambda reports an unhandled exception
            raise lambda_eval_utils.LambdaFunctionErrorException(
                "Unhandled", json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
            )
        env.stack.append({"Payload": json.loads(json.dumps(result)), "StatusCode": 200, "ExecutedVersion": "$LATEST"})


@contextmanager
def replaced_integrations(sagemaker: FakeSageMaker, lambdas: dict[str, Callable]) -> Iterator[None]:
    original = state_task_factory.state_task_service_for

    def service_for(service_name: str):
        if service_name == "sagemaker":
            return SageMakerService()
        if service_name == "lambda":
            return LambdaService()
        return original(service_name)

    class AwsSdk(type(original("aws-sdk"))):
        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            if self.resource.api_name == "sagemaker":
                return SageMakerService._eval_service_task(
                    self, env, resource_runtime_part, normalised_parameters, state_credentials
                )
            return super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)

    def service_for_sdk(service_name: str):
        return AwsSdk() if service_name == "aws-sdk" else service_for(service_name)

    FAKE.update(sagemaker=sagemaker, lambdas=lambdas)
    state_task_factory.state_task_service_for = service_for_sdk
    try:
        yield
    finally:
        state_task_factory.state_task_service_for = original
        FAKE.clear()


def fill(text: str, values: dict[str, str]) -> str:
    """What Terraform's templatefile does to the rendered file (every ${var} must be given)."""

    def sub(match: re.Match) -> str:
        return values[match.group(1)]

    return re.sub(r"\$\{([a-z_]+)\}", sub, text)
