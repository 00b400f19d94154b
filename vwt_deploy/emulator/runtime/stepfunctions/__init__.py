"""Step Functions' optimized SageMaker integration for moto's interpreter (which has none).

`arn:aws:states:::sagemaker:<action>` calls a SageMaker API (`SageMakerApi`) and gives its response,
PascalCase, timestamps as epoch milliseconds. `.sync` on a job-creating action then polls Describe<Job>
every VWT_SFN_POLL_SECONDS (default 1): Completed -> the Describe result; Failed or Stopped -> the task
fails with `States.TaskFailed` and the Describe result (as JSON) as cause, as Step Functions reports it. A
task that times out, or an execution that is stopped or times out, stops the job. A SageMaker API error
fails the task with `SageMaker.AmazonSageMakerException` and the service's message in the cause.

`service.py` is that service of moto's interpreter, written once: in the emulator the emulator's own
SageMaker API answers it (`ClientApi`, so it reaches the local training, tuning and serving runtime); the
pipeline tests give it a scripted one.

`aws-sdk:sagemaker:*`, `aws-sdk:ssm:*`, `sns:publish` and Wait states are moto's own and need nothing here.
`install(runtime)` routes moto's `sagemaker` Task resources to the service, answered by the runtime's
`ClientApi` (installing again replaces the route: the latest runtime answers).
"""

from __future__ import annotations

import datetime
import functools
import os
import threading
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from vwt_deploy.emulator.runtime import patching

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime

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


class SageMakerApi(Protocol):
    """What answers a state machine's SageMaker calls: actions are named as in the resource ARN
    (`createTrainingJob`), parameters and answers are PascalCase, as Step Functions passes them on. Errors are
    botocore's (`ClientError`, `ParamValidationError`); the service reports them as Step Functions does."""

    def call(self, region: str, action: str, params: dict, role: str | None = None) -> dict:
        """A request-response call (also the Create* of a `.sync` task), as a session of `role` (the state
        machine's; None: as the account)."""

    def describe(self, region: str, job: SyncJob, name: str, role: str | None = None) -> dict:
        """A `.sync` task's look at its job (Describe*)."""

    def stop(self, region: str, job: SyncJob, name: str, role: str | None = None) -> None:
        """A `.sync` task ended without its job (timeout, the execution stopped): stop it (Stop*)."""


class ClientApi:
    """The emulator's own SageMaker API, through boto3 clients acting as the state machine's role (so the local
    runtime answers, and IAM decides the calls as it decides any other principal's)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()  # boto3 makes clients one at a time; once made, a client is thread-safe

    def _client(self, region: str, role: str | None):
        with self._lock:
            if (region, role) not in self._clients:
                credentials = _session(self.runtime, role) if role else None
                self._clients[(region, role)] = self.runtime.client("sagemaker", region, credentials)
            return self._clients[(region, role)]

    def call(self, region: str, action: str, params: dict, role: str | None = None) -> dict:
        return json_safe(getattr(self._client(region, role), boto_method(action))(**params))

    def describe(self, region: str, job: SyncJob, name: str, role: str | None = None) -> dict:
        return json_safe(getattr(self._client(region, role), job.describe)(**{job.name_key: name}))

    def stop(self, region: str, job: SyncJob, name: str, role: str | None = None) -> None:
        getattr(self._client(region, role), job.stop)(**{job.name_key: name})


def _session(runtime: Runtime, role: str):
    """Step Functions' session of a state machine's role (its trust policy must name states.amazonaws.com, which
    sends the account as aws:SourceAccount); UntrustedRole otherwise."""
    return runtime.sessions.assume(
        role, "StepFunctions", "states.amazonaws.com", {"aws:SourceAccount": role.split(":")[4]}
    )


def install(runtime: Runtime) -> None:
    """Route `sagemaker` Task resources of moto's interpreter to the service, answered by the runtime's SageMaker
    (moto lists them unsupported)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    from vwt_deploy.emulator.runtime.stepfunctions.service import routing

    api = ClientApi(runtime)
    patching.patch(state_task_factory, "state_task_service_for", lambda original: routing(original, api))
    for module in _interpreter_modules():
        patching.patch(module, "boto_client_for", lambda original: _role_clients(runtime, original))


_CLIENT_MODULES = (  # the modules of moto's interpreter that import `boto_client_for` by name (moto 5.2)
    "state_task.lambda_eval_utils",
    "state_task.service.state_task_service_aws_sdk",
    "state_task.service.state_task_service_sns",
    "state_task.service.state_task_service_sqs",
    "state_task.service.state_task_service_sfn",
    "state_task.service.state_task_service_events",
    "state_task.service.state_task_service_unsupported",
    "state_task.service.state_task_service_dynamodb",
    "state_task.service.state_task_service_ecs",
    "state_task.service.state_task_service_glue",
    "state_task.service.state_task_service_batch",
    "state_map.item_reader.eval.resource_eval_s3",
    "state_map.result_writer.resource_eval.resource_eval_s3",
)


def _interpreter_modules() -> list:
    """The modules of moto's interpreter that make service clients."""
    import importlib

    base = "moto.stepfunctions.parser.asl.component.state.exec."
    return [importlib.import_module(base + name) for name in _CLIENT_MODULES]


def _role_clients(runtime: Runtime, original):
    """moto's `boto_client_for`, with the credentials of a session of the execution's role (Step Functions calls
    services with the state machine's role: "IAM policies for Step Functions integrations"), which must trust
    states.amazonaws.com. moto's own client settings are kept (no parameter validation, no retries)."""

    def boto_client_for(region: str, service: str, state_credentials=None):
        from moto.core.models import botocore_stubber

        role = getattr(state_credentials, "role_arn", None)
        if botocore_stubber.enabled or not role:
            return original(region=region, service=service, state_credentials=state_credentials)
        import boto3
        from botocore.config import Config
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

        from vwt_deploy.emulator.runtime.credentials import UntrustedRole

        try:
            credentials = _session(runtime, role)
        except UntrustedRole as exc:
            raise RuntimeError(
                "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to "
                f"assume the provided role. ({exc})"
            ) from None
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=runtime.url,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
            **credentials.client_args(),
        )

    return boto_client_for


def uninstall() -> None:
    """Put moto's own routing of Task resources back."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    patching.restore(state_task_factory, "state_task_service_for")
    for module in _interpreter_modules():
        patching.restore(module, "boto_client_for")
