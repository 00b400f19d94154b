"""Step Functions' optimized SageMaker integration for moto's interpreter (which has none).

`arn:aws:states:::sagemaker:<action>` calls the emulator's own SageMaker API (so it reaches the local
training, tuning and serving runtime) and gives its response, PascalCase, timestamps as epoch
milliseconds. `.sync` on a job-creating action then polls Describe<Job> every VWT_SFN_POLL_SECONDS
(default 1): Completed -> the Describe result; Failed or Stopped -> the task fails with
`States.TaskFailed` and the Describe result (as JSON) as cause, as Step Functions reports it. A task
that times out, or an execution that is stopped or times out, stops the job. A SageMaker API error
fails the task with `SageMaker.AmazonSageMakerException` and the service's message in the cause.

`aws-sdk:sagemaker:*`, `aws-sdk:ssm:*`, `sns:publish` and Wait states are moto's own and need nothing here.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
from collections.abc import Callable
from typing import Any, NamedTuple

log = logging.getLogger("vwt_deploy.emulator.runtime.stepfunctions")

POLL_ENV = "VWT_SFN_POLL_SECONDS"


class SyncJob(NamedTuple):
    """How `.sync` follows one kind of job."""

    describe: str  # boto3 method
    name_key: str  # the job name's parameter in Create*, Describe* and Stop*
    status_key: str
    stop: str


SYNC_JOBS = {
    "createTrainingJob": SyncJob("describe_training_job", "TrainingJobName", "TrainingJobStatus", "stop_training_job"),
    "createHyperParameterTuningJob": SyncJob(
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "stop_hyper_parameter_tuning_job",
    ),
    "createTransformJob": SyncJob(
        "describe_transform_job", "TransformJobName", "TransformJobStatus", "stop_transform_job"
    ),
    "createProcessingJob": SyncJob(
        "describe_processing_job", "ProcessingJobName", "ProcessingJobStatus", "stop_processing_job"
    ),
    "createLabelingJob": SyncJob("describe_labeling_job", "LabelingJobName", "LabelingJobStatus", "stop_labeling_job"),
}
#: statuses that end a job; only Completed succeeds
FINAL_STATUSES = {"Completed", "Failed", "Stopped", "DeleteFailed"}


def poll_seconds() -> float:
    """Seconds between two Describe calls of a `.sync` task (VWT_SFN_POLL_SECONDS, default 1)."""
    raw = os.environ.get(POLL_ENV, "1")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{POLL_ENV}={raw!r} is not a number of seconds") from None
    return max(value, 0.05)


def json_safe(value: Any) -> Any:
    """A boto3 response as Step Functions passes it on: timestamps as epoch milliseconds, no metadata."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp() * 1000)
    return value


@functools.cache
def boto_method(action: str) -> str:
    """createTrainingJob -> create_training_job (botocore's own naming); ValueError if SageMaker has no such action."""
    import botocore.session
    from botocore import xform_name

    operation = action[:1].upper() + action[1:]
    if operation not in botocore.session.get_session().get_service_model("sagemaker").operation_names:
        raise ValueError(f"arn:aws:states:::sagemaker:{action} is not a SageMaker API action")
    return xform_name(operation)


def service_class(runtime) -> type:
    """The interpreter's `sagemaker` service, bound to the runtime's SageMaker client."""
    from botocore.exceptions import ClientError, ParamValidationError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    class SageMakerService(StateTaskServiceCallback):
        """`arn:aws:states:::sagemaker:<action>[.sync]` against the emulator's SageMaker."""

        def __init__(self):
            # WaitForTaskToken is listed only because moto's callback machinery expects an endpoint;
            # a definition that asks for it is refused below, as Step Functions refuses it for SageMaker
            super().__init__(
                supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
            )

        def _validate_service_integration_is_supported(self):
            action, condition = self.resource.api_action, self.resource.condition
            boto_method(action)  # raises for an unknown action
            if condition == ResourceCondition.Sync and action not in SYNC_JOBS:
                raise ValueError(
                    f"arn:aws:states:::sagemaker:{action}.sync is not supported: .sync is for "
                    f"{', '.join(sorted(SYNC_JOBS))}"
                )
            if condition not in (None, ResourceCondition.Sync):
                raise ValueError(
                    f"arn:aws:states:::sagemaker:{action}.{condition} is not supported: SageMaker "
                    "integrations are request-response or .sync"
                )

        def _client(self, region: str):
            return runtime.client("sagemaker", region)

        def _failure(self, env, error: str, cause: str, states_error: bool = False) -> FailureEvent:
            name = StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed) if states_error else CustomErrorName(error)
            return FailureEvent(
                env=env,
                error_name=name,
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )

        def _from_error(self, env, ex: Exception) -> FailureEvent:
            error = "SageMaker.AmazonSageMakerException"
            if isinstance(ex, ClientError):
                meta = ex.response.get("ResponseMetadata", {})
                code = ex.response.get("Error", {}).get("Code", "")
                cause = (
                    f"{ex.response.get('Error', {}).get('Message', '')} (Service: AmazonSageMaker; Status Code: "
                    f"{meta.get('HTTPStatusCode')}; Error Code: {code}; Request ID: {meta.get('RequestId')}; "
                    "Proxy: null)"
                )
                return self._failure(env, error, cause)
            if isinstance(ex, ParamValidationError):
                return self._failure(env, error, f"{ex} (Service: AmazonSageMaker; Error Code: ValidationException)")
            return super()._from_error(env=env, ex=ex)

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            method = getattr(self._client(resource_runtime_part.region), boto_method(self.resource.api_action))
            env.stack.append(json_safe(method(**normalised_parameters)))

        def _build_sync_resolver(
            self, env, resource_runtime_part, normalised_parameters, state_credentials
        ) -> Callable[[], Any]:
            env.stack.pop()  # the Create* response; the task's result is the final Describe*
            job = SYNC_JOBS[self.resource.api_action]
            name = normalised_parameters[job.name_key]
            client = self._client(resource_runtime_part.region)

            def resolve() -> dict | None:
                described = json_safe(getattr(client, job.describe)(**{job.name_key: name}))
                status = described.get(job.status_key)
                if status not in FINAL_STATUSES:
                    return None
                if status == "Completed":
                    return described
                raise FailureEventException(
                    self._failure(
                        env, StatesErrorNameType.StatesTaskFailed.to_name(), to_json_str(described), states_error=True
                    )
                )

            def stop() -> None:
                """The task ended without the job (timeout, or the execution stopped): stop it, as AWS does."""
                try:
                    getattr(client, job.stop)(**{job.name_key: name})
                    log.info("stopped %s %s: its Step Functions task ended", job.name_key, name)
                except Exception as exc:  # noqa: BLE001 - best effort, as in AWS; the job may have ended meanwhile
                    log.warning("could not stop %s %s: %s", job.name_key, name, exc)

            resolve.stop = stop
            return resolve

        def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
            every = poll_seconds()
            while env.is_running():
                result = sync_resolver()
                if result is not None:
                    return result
                env.program_state_event.wait(every)  # set (and so woken early) when the task times out or is stopped
            sync_resolver.stop()
            return None

    return SageMakerService


def install(runtime) -> None:
    """Route `sagemaker` Task resources of moto's interpreter to `SageMakerService` (moto lists them unsupported)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    if getattr(state_task_factory.state_task_service_for, "vwt_runtime", False):
        return
    original = state_task_factory.state_task_service_for
    sagemaker = service_class(runtime)

    def state_task_service_for(service_name: str):
        return sagemaker() if service_name == "sagemaker" else original(service_name)

    state_task_service_for.vwt_runtime = True
    state_task_factory.state_task_service_for = state_task_service_for
