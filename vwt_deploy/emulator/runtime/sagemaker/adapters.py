"""The moto adapters: moto's SageMaker backend and responses, and sagemaker-runtime's InvokeEndpoint, patched so
that the records run.

Each patch checks what SageMaker checks and moto does not, lets moto keep its record, and hands the record to
the `SageMakerRuntime` of the runtime it was installed with (a closure: no module state). Installing again
replaces the patches (`patching.py`): the latest runtime installed is the one moto's records run in.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from vwt_deploy.emulator.runtime import patching
from vwt_deploy.emulator.runtime.sagemaker import labeling
from vwt_deploy.emulator.runtime.sagemaker.endpoints import InvokeError, ModelError
from vwt_deploy.emulator.runtime.sagemaker.transform import check_filters, check_limits
from vwt_deploy.emulator.runtime.sagemaker.validation import (
    check_metric_definitions,
    check_tuning_job,
    errors,
    refusing,
)

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime
    from vwt_deploy.emulator.runtime.sagemaker.service import SageMakerRuntime


def _targets() -> dict[type, tuple[str, ...]]:
    """What the adapters patch: owner -> method names."""
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    return {
        SageMakerModelBackend: (
            "create_training_job",
            "stop_training_job",
            "create_hyper_parameter_tuning_job",
            "stop_hyper_parameter_tuning_job",
            "list_training_jobs_for_hyper_parameter_tuning_job",
            "create_transform_job",
            "stop_transform_job",
            "create_processing_job",
            "stop_processing_job",
            "create_endpoint",
            "delete_endpoint",
            "update_endpoint",
        ),
        SageMakerResponse: (
            "call_action",
            "stop_training_job",
            "stop_transform_job",
            "stop_hyper_parameter_tuning_job",
            "list_training_jobs_for_hyper_parameter_tuning_job",
            "update_endpoint",
            *labeling.RESPONSES,
        ),
        SageMakerRuntimeResponse: ("invoke_endpoint",),
    }


def install(runtime: Runtime) -> None:
    """Patch moto so its SageMaker records run in `runtime` (again: the patches are replaced, never stacked)."""
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    sm = runtime.sagemaker
    for owner, patches in (
        (SageMakerModelBackend, _backend_patches(sm)),
        (SageMakerResponse, {**_response_patches(), **labeling.responses(sm), "call_action": refusing(sm.contracts)}),
        (SageMakerRuntimeResponse, {"invoke_endpoint": lambda original: _invoke_endpoint(sm)}),
    ):
        for name, make in patches.items():
            patching.patch(owner, name, make)


def uninstall() -> None:
    """Put moto's own SageMaker back (a test that installed into an in-process moto)."""
    for owner, names in _targets().items():
        for name in names:
            patching.restore(owner, name)


def _backend_patches(sm: SageMakerRuntime) -> dict[str, Callable]:
    return {
        "create_training_job": lambda original: _create_training_job(sm, original),
        "stop_training_job": lambda original: _stop_training_job(sm),
        "create_hyper_parameter_tuning_job": lambda original: _create_tuning_job(sm, original),
        "stop_hyper_parameter_tuning_job": lambda original: _stop_tuning_job(sm),
        "list_training_jobs_for_hyper_parameter_tuning_job": lambda original: _list_training_jobs_for_tuning(sm),
        "create_transform_job": lambda original: _create_transform_job(sm, original),
        "stop_transform_job": lambda original: _stop_transform_job(sm),
        "create_processing_job": lambda original: _create_processing_job(sm, original),
        "stop_processing_job": lambda original: _stop_processing_job(sm),
        "create_endpoint": lambda original: _create_endpoint(sm, original),
        "delete_endpoint": lambda original: _delete_endpoint(sm, original),
        "update_endpoint": lambda original: _update_endpoint(sm),
    }


# =========================================================================== training jobs


def _create_training_job(sm: SageMakerRuntime, original: Callable) -> Callable:
    from moto.sagemaker.models import FakeTrainingJob

    def create_training_job(self, **kwargs):
        name = kwargs["training_job_name"]
        if name in self.training_jobs:
            arn = FakeTrainingJob.arn_formatter(name, self.account_id, self.region_name)
            raise errors().ResourceInUseException(
                f"Training job names must be unique within an AWS account and region, and a training job with "
                f"this name already exists ({arn})"
            )
        algorithm = kwargs.get("algorithm_specification") or {}
        definitions = copy.deepcopy(algorithm.get("MetricDefinitions") or [])
        check_metric_definitions(definitions)
        job = original(self, **kwargs)
        job.algorithm_specification["MetricDefinitions"] = definitions  # moto puts a "test:dcg" one there
        if not definitions:
            del job.algorithm_specification["MetricDefinitions"]
        job.model_artifacts = {
            "S3ModelArtifacts": kwargs["output_data_config"]["S3OutputPath"].rstrip("/")
            + f"/{name}/output/model.tar.gz"
        }
        sm.start_training(self, job)
        return job

    return create_training_job


def _stop_training_job(sm: SageMakerRuntime) -> Callable:
    def stop_training_job(self, training_job_name: str) -> None:
        self.describe_training_job(training_job_name)  # raises moto's "Could not find" for an unknown job
        job = self.training_jobs[training_job_name]
        if job.training_job_status != "InProgress":
            raise errors().ValidationError(
                f"The request was rejected because the training job is in status {job.training_job_status}."
            )
        sm.stop_training(job)

    return stop_training_job


# =========================================================================== tuning jobs


def _create_tuning_job(sm: SageMakerRuntime, original: Callable) -> Callable:
    def create_hyper_parameter_tuning_job(self, **kwargs):
        check_tuning_job(kwargs)
        arn = original(self, **kwargs)
        sm.start_tuning(self, self.hyper_parameter_tuning_jobs[kwargs["hyper_parameter_tuning_job_name"]])
        return arn

    return create_hyper_parameter_tuning_job


def _stop_tuning_job(sm: SageMakerRuntime) -> Callable:
    def stop_hyper_parameter_tuning_job(self, name: str) -> None:
        self.describe_hyper_parameter_tuning_job(name)  # raises moto's ResourceNotFound
        tuning = self.hyper_parameter_tuning_jobs[name]
        if tuning.hyper_parameter_tuning_job_status != "InProgress":
            raise errors().ValidationError(
                f"The hyperparameter tuning job {name} is "
                f"{tuning.hyper_parameter_tuning_job_status}: only InProgress jobs stop"
            )
        sm.stop_tuning(tuning)

    return stop_hyper_parameter_tuning_job


_SORT_KEYS: dict[str, Callable[[dict], object]] = {
    "Name": lambda s: s["TrainingJobName"],
    "Status": lambda s: s["TrainingJobStatus"],
    "FinalObjectiveMetricValue": lambda s: s.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get(
        "Value", -math.inf
    ),
}


def _list_training_jobs_for_tuning(sm: SageMakerRuntime) -> Callable:
    def list_training_jobs_for_tuning(
        self, name: str, status_equals=None, sort_by=None, sort_order=None, next_token=None, max_results=None
    ) -> tuple[list[dict], str | None]:
        self.describe_hyper_parameter_tuning_job(name)
        summaries = sm.tuning_summaries(self.hyper_parameter_tuning_jobs[name])
        items = [s for s in summaries if not status_equals or s["TrainingJobStatus"] == status_equals]
        items.sort(key=_SORT_KEYS.get(sort_by or "", lambda s: s["CreationTime"]), reverse=sort_order == "Descending")
        start = int(next_token or 0)
        end = start + int(max_results or 100)
        return items[start:end], (str(end) if end < len(items) else None)

    return list_training_jobs_for_tuning


# =========================================================================== transform jobs


def _create_transform_job(sm: SageMakerRuntime, original: Callable) -> Callable:
    from moto.sagemaker.models import FakeTransformJob

    def create_transform_job(self, **kwargs):
        name = kwargs["transform_job_name"]
        if name in self.transform_jobs:
            arn = FakeTransformJob.arn_formatter(name, self.account_id, self.region_name)
            raise errors().ResourceInUseException(
                f"Transform job names must be unique within an AWS account and region, and a transform job with "
                f"this name already exists ({arn})"
            )
        self.describe_model(kwargs["model_name"])  # moto's "Could not find model" for an unknown one, as SageMaker
        check_limits(kwargs)
        check_filters(kwargs)
        job = original(self, **kwargs)
        sm.start_transform(self, job)
        return job

    return create_transform_job


def _stop_transform_job(sm: SageMakerRuntime) -> Callable:
    def stop_transform_job(self, transform_job_name: str) -> None:
        self.describe_transform_job(transform_job_name)  # raises moto's "Could not find" for an unknown job
        job = self.transform_jobs[transform_job_name]
        if job.transform_job_status != "InProgress":
            raise errors().ValidationError(
                f"The request was rejected because the transform job is in status {job.transform_job_status}."
            )
        sm.stop_transform(job)

    return stop_transform_job


# =========================================================================== endpoints


def _create_endpoint(sm: SageMakerRuntime, original: Callable) -> Callable:
    from moto.sagemaker.models import FakeEndpoint

    def create_endpoint(self, endpoint_name: str, endpoint_config_name: str, tags=None):
        if endpoint_name in self.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise errors().ValidationError(f'Cannot create already existing endpoint "{arn}".')
        endpoint = original(self, endpoint_name=endpoint_name, endpoint_config_name=endpoint_config_name, tags=tags)
        sm.create_endpoint(self, endpoint, endpoint_config_name)
        return endpoint

    return create_endpoint


def _delete_endpoint(sm: SageMakerRuntime, original: Callable) -> Callable:
    def delete_endpoint(self, endpoint_name: str) -> None:
        endpoint = self.endpoints.get(endpoint_name)
        original(self, endpoint_name)  # raises moto's "Could not find endpoint" for an unknown one
        sm.delete_endpoint(endpoint)
        _deregister_scaling(self.account_id, self.region_name, endpoint_name)

    return delete_endpoint


def _deregister_scaling(account: str, region: str, endpoint_name: str) -> None:
    """ "If you delete an endpoint, Application Auto Scaling checks to see whether any of the models on that
    endpoint are targets for auto scaling. If any are ..., Application Auto Scaling deregisters those models as
    scalable targets without notifying you" (SageMaker Developer Guide, "Delete an endpoint configured for
    auto scaling"); deregistering deletes their policies. An endpoint created again with the same name is not
    scaled until its target and policy are registered again."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    scaling = applicationautoscaling_backends[account][region]
    prefix = f"endpoint/{endpoint_name}/variant/"
    for dimension, targets in list(scaling.targets.items()):
        for resource_id in [r for r in targets if r.startswith(prefix)]:
            scaling.deregister_scalable_target("sagemaker", resource_id, dimension)


def _check_updatable(backend, endpoint_name: str, endpoint_config_name: str):
    """The endpoint UpdateEndpoint may switch to `endpoint_config_name`, else SageMaker's ValidationError."""
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig

    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise errors().ValidationError(f"Could not find endpoint '{arn}'.")
    if endpoint_config_name not in backend.endpoint_configs:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, backend.account_id, backend.region_name)
        raise errors().ValidationError(f"Could not find endpoint configuration '{arn}'.")
    if endpoint.endpoint_status == "Failed":
        raise errors().ValidationError(
            f'Cannot update failed endpoint "{endpoint.arn}": delete it and create '
            f"it again. It failed because: {endpoint.failure_reason}"
        )
    if endpoint.endpoint_status != "InService":
        raise errors().ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
    return endpoint


def _update_endpoint(sm: SageMakerRuntime) -> Callable:
    from moto.core.utils import utcnow

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str) -> str:
        endpoint = _check_updatable(self, endpoint_name, endpoint_config_name)
        endpoint.endpoint_status, endpoint.last_modified_time = "Updating", utcnow()
        sm.update_endpoint(endpoint, endpoint_config_name)
        return endpoint.arn

    return update_endpoint


# =========================================================================== responses moto has not


# =========================================================================== processing jobs


def _create_processing_job(sm: SageMakerRuntime, original: Callable) -> Callable:
    from moto.sagemaker.models import FakeProcessingJob

    def create_processing_job(self, **kwargs):
        name = kwargs["processing_job_name"]
        if name in self.processing_jobs:
            arn = FakeProcessingJob.arn_formatter(name, self.account_id, self.region_name)
            raise errors().ResourceInUseException(
                f"Processing job names must be unique within an AWS account and region, and a processing job with "
                f"this name already exists ({arn})"
            )
        job = original(self, **kwargs)
        sm.start_processing(self, job)
        return job

    return create_processing_job


def _stop_processing_job(sm: SageMakerRuntime) -> Callable:
    def stop_processing_job(self, processing_job_name: str) -> None:
        self.describe_processing_job(processing_job_name)  # moto's "Could not find" for an unknown job
        job = self.processing_jobs[processing_job_name]
        if job.processing_job_status != "InProgress":
            raise errors().ValidationError(
                f"The request was rejected because the processing job is in status {job.processing_job_status}."
            )
        sm.stop_processing(job)

    return stop_processing_job


def _response_patches() -> dict[str, Callable]:
    from moto.core.responses import ActionResult, EmptyResult

    def stop_training_job(self):
        self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
        return EmptyResult()

    def stop_hyper_parameter_tuning_job(self):
        self.sagemaker_backend.stop_hyper_parameter_tuning_job(self._get_param("HyperParameterTuningJobName"))
        return EmptyResult()

    def stop_transform_job(self):
        self.sagemaker_backend.stop_transform_job(self._get_param("TransformJobName"))
        return EmptyResult()

    def list_training_jobs_for_hyper_parameter_tuning_job(self):
        items, token = self.sagemaker_backend.list_training_jobs_for_hyper_parameter_tuning_job(
            self._get_param("HyperParameterTuningJobName"),
            self._get_param("StatusEquals"),
            self._get_param("SortBy"),
            self._get_param("SortOrder"),
            self._get_param("NextToken"),
            self._get_param("MaxResults"),
        )
        return ActionResult({"TrainingJobSummaries": items, "NextToken": token})

    def update_endpoint(self):
        # RetainAllVariantProperties, DeploymentConfig and RetainDeploymentConfig are accepted: the local
        # switch is always all at once, once the new process is healthy
        arn = self.sagemaker_backend.update_endpoint(
            self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        )
        return ActionResult({"EndpointArn": arn})

    responses = (
        stop_training_job,
        stop_hyper_parameter_tuning_job,
        stop_transform_job,
        list_training_jobs_for_hyper_parameter_tuning_job,
        update_endpoint,
    )
    return {fn.__name__: _replacing(fn) for fn in responses}


def _replacing(fn: Callable) -> Callable[[Callable | None], Callable]:
    """A patch that does not call what it replaces."""
    return lambda original: fn


# =========================================================================== sagemaker-runtime


def _invoke_endpoint(sm: SageMakerRuntime) -> Callable:
    from moto.core.exceptions import ServiceException
    from moto.sagemaker.models import sagemaker_backends

    class RuntimeValidationError(ServiceException):
        code = "ValidationError"

    class ServiceUnavailable(ServiceException):
        code = "ServiceUnavailable"

    class RuntimeModelError(ServiceException):
        code = "ModelError"

        def __init__(self, message: str, status: int, original: str):
            super().__init__(message)
            self.OriginalStatusCode, self.OriginalMessage = status, original

    answers = {"ValidationError": RuntimeValidationError, "ServiceUnavailable": ServiceUnavailable}

    def invoke_endpoint(self):
        name = self._get_param("EndpointName") or self.path.split("/")[2]
        backend = sagemaker_backends[self.current_account][self.region]
        state = sm.endpoint(backend.endpoints.get(name))
        if state is None:
            raise RuntimeValidationError(f"Endpoint {name} of account {self.current_account} not found.")
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() in ("content-type", "accept") or k.lower().startswith("x-amzn-sagemaker-")
        }
        try:
            out, body = state.invoke(self.raw_body or b"", headers, self.current_account)
        except InvokeError as exc:
            raise answers[exc.code](str(exc)) from None
        except ModelError as exc:
            raise RuntimeModelError(str(exc), exc.status, exc.original) from None
        return 200, out, body

    return invoke_endpoint
