"""`SageMakerRuntime`: what one runtime runs for SageMaker, the registries of its jobs and endpoints, and the
contracts its API requests are checked against.

As moto keeps its records in a backend, the runtime keeps what runs behind them here: one object per
`Runtime`, reached by the moto patches through the runtime they were installed with (`adapters.py`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from vwt_deploy.emulator.contracts import Contracts
from vwt_deploy.emulator.runtime.sagemaker.endpoints import EndpointState
from vwt_deploy.emulator.runtime.sagemaker.labeling import LabelingRun
from vwt_deploy.emulator.runtime.sagemaker.processing import ProcessingRun
from vwt_deploy.emulator.runtime.sagemaker.training import TrainingRun
from vwt_deploy.emulator.runtime.sagemaker.transform import TransformRun
from vwt_deploy.emulator.runtime.sagemaker.tuning import TuningRun

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime


class SageMakerRuntime:
    """Training, tuning, transform and processing runs, labelling jobs and endpoint processes of one runtime, by ARN."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.training: dict[str, TrainingRun] = {}  # training job ARN ->
        self.tuning: dict[str, TuningRun] = {}  # tuning job ARN ->
        self.transform: dict[str, TransformRun] = {}  # transform job ARN ->
        self.processing: dict[str, ProcessingRun] = {}  # processing job ARN ->
        self.endpoints: dict[str, EndpointState] = {}  # endpoint ARN ->
        self.labeling: dict[str, LabelingRun] = {}  # labelling job ARN -> (moto keeps no record of these)
        #: a stop request and a job's end both change its status: one at a time, so a job that just ended stays ended
        self.status_lock = threading.Lock()
        #: botocore's model of the SageMaker API, which every request is checked against first (`validation.py`)
        self.contracts = Contracts()

    # ------------------------------------------------------------------ jobs
    def start_training(self, backend, job) -> TrainingRun:
        """Run moto's new training job record `job`."""
        run = self.training[job.arn] = TrainingRun(self, backend, job)
        run.start()
        return run

    def stop_training(self, job) -> None:
        self.training[job.arn].request_stop()

    def start_tuning(self, backend, tuning) -> TuningRun:
        """Run moto's new tuning job record `tuning`."""
        run = self.tuning[tuning.arn] = TuningRun(self, backend, tuning)
        run.start()
        return run

    def stop_tuning(self, tuning) -> None:
        self.tuning[tuning.arn].request_stop()

    def start_transform(self, backend, job) -> TransformRun:
        """Run moto's new transform job record `job`."""
        run = self.transform[job.arn] = TransformRun(self, backend, job)
        run.start()
        return run

    def stop_transform(self, job) -> None:
        self.transform[job.arn].request_stop()

    def start_processing(self, backend, job) -> ProcessingRun:
        """Run moto's new processing job record `job`."""
        run = self.processing[job.arn] = ProcessingRun(self, backend, job)
        run.start()
        return run

    def stop_processing(self, job) -> None:
        self.processing[job.arn].request_stop()

    def tuning_summaries(self, tuning) -> list[dict]:
        """HyperParameterTrainingJobSummary of every training job of `tuning` launched so far."""
        run = self.tuning.get(tuning.arn)
        return run.summaries() if run else []

    # ------------------------------------------------------------------ endpoints
    def create_endpoint(self, backend, endpoint, config_name: str) -> None:
        """Serve moto's new endpoint record (answers once it is InService or Failed)."""
        endpoint.endpoint_status = "Creating"
        state = self.endpoints[endpoint.arn] = EndpointState(self.runtime, backend, endpoint.endpoint_name)
        state.create(endpoint, config_name)

    def delete_endpoint(self, endpoint) -> None:
        state = self.endpoints.pop(endpoint.arn, None)
        if state is not None:
            state.close()

    def update_endpoint(self, endpoint, config_name: str) -> None:
        """Switch `endpoint` to `config_name` in the background (it is Updating meanwhile)."""
        state = self.endpoints[endpoint.arn]
        threading.Thread(
            target=state.update, args=(config_name,), daemon=True, name=f"update {endpoint.endpoint_name}"
        ).start()

    def endpoint(self, record) -> EndpointState | None:
        """What serves moto's endpoint record (None for an unknown endpoint)."""
        return self.endpoints.get(record.arn) if record is not None else None

    # ------------------------------------------------------------------ the emulator stops
    def stop(self) -> None:
        """Its processes are being stopped, so no job or endpoint may count that as a failure."""
        for run in list(self.training.values()):
            run.stop_requested.set()
        for transform in list(self.transform.values()):
            transform.stop_requested.set()
        for processing in list(self.processing.values()):
            processing.stop_requested.set()
        for job in list(self.labeling.values()):
            job.stop_requested.set()
        for state in list(self.endpoints.values()):
            state.retire_current()
