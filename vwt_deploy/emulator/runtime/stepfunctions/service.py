"""The `sagemaker` service of moto's Step Functions interpreter: `arn:aws:states:::sagemaker:<action>[.sync]`,
answered by a `SageMakerApi` (the emulator's own SageMaker, or a test's scripted one).

A malformed request fails the task as SageMaker's refusal does on AWS: `SageMaker.AmazonSageMakerException`,
the service's message in the cause. The emulator's SageMaker API checks every request against botocore's model
(`sagemaker/validation.py`), so its ValidationException reaches the cause as any API error does. What a boto3
client refuses before sending (its own parameter validation: missing members, types, lengths below `min`) is
answered here with the message SageMaker would have given (`contracts.Contracts`), so the request is checked once
either way.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

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

from vwt_deploy.emulator.contracts import ContractError, Contracts
from vwt_deploy.emulator.runtime.stepfunctions import (
    FINAL_STATUSES,
    SYNC_JOBS,
    SageMakerApi,
    SyncJob,
    boto_method,
    poll_seconds,
)

log = logging.getLogger("vwt_deploy.emulator.runtime.stepfunctions")

SERVICE_ERROR = "SageMaker.AmazonSageMakerException"
TASK_FAILED = StatesErrorNameType.StatesTaskFailed.to_name()


def routing(original: Callable[[str], Any], api: SageMakerApi) -> Callable[[str], Any]:
    """The interpreter's factory of Task services with `sagemaker` answered by `api`, the others by `original`."""
    contracts = Contracts()  # one per route: the model is loaded once, on the first refusal

    def state_task_service_for(service_name: str):
        return SageMakerService(api, contracts) if service_name == "sagemaker" else original(service_name)

    return state_task_service_for


def check_resource(action: str, condition: str | None) -> None:
    """Refuse what Step Functions refuses: an unknown action, `.sync` of an action that starts no job, a
    callback pattern (`.waitForTaskToken`) or `.sync:2`."""
    boto_method(action)  # raises for an unknown action
    if condition == ResourceCondition.Sync and action not in SYNC_JOBS:
        raise ValueError(
            f"arn:aws:states:::sagemaker:{action}.sync is not supported: .sync is for {', '.join(sorted(SYNC_JOBS))}"
        )
    if condition not in (None, ResourceCondition.Sync):
        raise ValueError(
            f"arn:aws:states:::sagemaker:{action}.{condition} is not supported: SageMaker "
            "integrations are request-response or .sync"
        )


def error_cause(ex: Exception) -> str | None:
    """The cause Step Functions gives a SageMaker API error (None: not one)."""
    if isinstance(ex, ContractError):  # what SageMaker would have answered a request a client did not send
        return (
            f"{ex.message} (Service: AmazonSageMaker; Status Code: 400; Error Code: {ex.code}; "
            f"Request ID: {uuid.uuid4()}; Proxy: null)"
        )
    if isinstance(ex, ClientError):
        meta = ex.response.get("ResponseMetadata", {})
        error = ex.response.get("Error", {})
        return (
            f"{error.get('Message', '')} (Service: AmazonSageMaker; Status Code: {meta.get('HTTPStatusCode')}; "
            f"Error Code: {error.get('Code', '')}; Request ID: {meta.get('RequestId')}; Proxy: null)"
        )
    if isinstance(ex, ParamValidationError):
        return f"{ex} (Service: AmazonSageMaker; Error Code: ValidationException)"
    return None


def _role(state_credentials) -> str | None:
    """The role the task calls SageMaker with (the execution's, or the state's Credentials.RoleArn)."""
    return getattr(state_credentials, "role_arn", None)


class SyncResolver:
    """What a `.sync` task does after its Create*: look at the job until it ends, or stop it."""

    def __init__(self, service: SageMakerService, env, region: str, job: SyncJob, name: str, role: str | None):
        self.service, self.env, self.region, self.job, self.name = service, env, region, job, name
        self.role = role  # the execution's role: Step Functions watches and stops the job with it

    def __call__(self) -> dict | None:
        """The job's final description once Completed; None while it runs. Raises the task's failure."""
        described = self.service.api.describe(self.region, self.job, self.name, self.role)
        status = described.get(self.job.status_key)
        if status not in FINAL_STATUSES:
            return None
        if status == "Completed":
            return described
        failure = self.service.failure(self.env, TASK_FAILED, to_json_str(described), states_error=True)
        raise FailureEventException(failure)

    def stop(self) -> None:
        """The task ended without the job (timeout, or the execution stopped): stop it, as AWS does."""
        try:
            self.service.api.stop(self.region, self.job, self.name, self.role)
            log.info("stopped %s %s: its Step Functions task ended", self.job.name_key, self.name)
        except Exception as exc:  # noqa: BLE001 - best effort, as in AWS; the job may have ended meanwhile
            log.warning("could not stop %s %s: %s", self.job.name_key, self.name, exc)


class SageMakerService(StateTaskServiceCallback):
    """`arn:aws:states:::sagemaker:<action>[.sync]` against `api`."""

    def __init__(self, api: SageMakerApi, contracts: Contracts):
        # WaitForTaskToken is listed only because moto's callback machinery expects an endpoint;
        # a definition that asks for it is refused below, as Step Functions refuses it for SageMaker
        super().__init__(supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})
        self.api, self.contracts = api, contracts

    def _validate_service_integration_is_supported(self):
        check_resource(self.resource.api_action, self.resource.condition)

    def failure(self, env, error: str, cause: str, states_error: bool = False) -> FailureEvent:
        """The task's TaskFailed event."""
        name = StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed) if states_error else CustomErrorName(error)
        details = TaskFailedEventDetails(
            error=error, cause=cause, resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type()
        )
        return FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=details),
        )

    def _from_error(self, env, ex: Exception) -> FailureEvent:
        cause = error_cause(ex)
        if cause is None:
            return super()._from_error(env=env, ex=ex)
        return self.failure(env, SERVICE_ERROR, cause)

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        action = self.resource.api_action
        try:
            answer = self.api.call(
                resource_runtime_part.region, action, normalised_parameters, _role(state_credentials)
            )
        except ParamValidationError:
            # botocore's client refused the request before SageMaker saw it: the task fails with what SageMaker
            # answers it (ContractError), or with botocore's refusal if the model lets it through (unknown members)
            self.contracts.check("sagemaker", action[:1].upper() + action[1:], normalised_parameters)
            raise
        env.stack.append(answer)

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        env.stack.pop()  # the Create* response; the task's result is the final Describe*
        job = SYNC_JOBS[self.resource.api_action]
        name = normalised_parameters[job.name_key]
        return SyncResolver(self, env, resource_runtime_part.region, job, name, _role(state_credentials))

    def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
        every = poll_seconds()
        while env.is_running():
            result = sync_resolver()
            if result is not None:
                return result
            env.program_state_event.wait(every)  # set (and so woken early) when the task times out or is stopped
        sync_resolver.stop()
        return None
