"""Tuning jobs: up to MaxNumberOfTrainingJobs training jobs, MaxParallelTrainingJobs at a time, the best by the
objective metric.

Stand-in for SageMaker's Bayesian (and every other) strategy: a random search seeded from the tuning job's
name, the hyperparameters of every training job drawn up front; `Auto` scaling is taken as linear. The
training jobs are made through moto's CreateTrainingJob, so they run as any other.
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from vwt_deploy.emulator.runtime.sagemaker.common import FAILURE_REASON_MAX, log, utcnow

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime.sagemaker.service import SageMakerRuntime
    from vwt_deploy.emulator.runtime.sagemaker.training import TrainingRun


def draw_hyperparameters(ranges: dict, rng: random.Random) -> dict[str, str]:
    """One random-search sample of SageMaker parameter ranges, as the strings a training job receives."""
    out: dict[str, str] = {}
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        integer = kind.startswith("Integer")
        for r in ranges.get(kind) or []:
            lo, hi = (
                (int(r["MinValue"]), int(r["MaxValue"])) if integer else (float(r["MinValue"]), float(r["MaxValue"]))
            )
            scaling = r.get("ScalingType", "Auto")
            if scaling == "Logarithmic":
                value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            elif scaling == "ReverseLogarithmic":
                value = 1 - math.exp(rng.uniform(math.log(1 - hi), math.log(1 - lo)))
            else:  # Linear, and Auto (SageMaker chooses; the stand-in takes linear)
                value = rng.randint(lo, hi) if integer else rng.uniform(lo, hi)
            out[r["Name"]] = str(min(max(round(value), lo), hi)) if integer else repr(min(max(value, lo), hi))
    for r in ranges.get("CategoricalParameterRanges") or []:
        out[r["Name"]] = str(rng.choice(r["Values"]))
    return out


class TuningRun:
    """A tuning job: up to MaxNumberOfTrainingJobs training jobs, MaxParallelTrainingJobs at a time."""

    def __init__(self, owner: SageMakerRuntime, backend, tuning):
        self.owner, self.status_lock = owner, owner.status_lock
        self.backend, self.tuning = backend, tuning
        self.name = tuning.hyper_parameter_tuning_job_name
        config = tuning.hyper_parameter_tuning_job_config
        self.definitions = (
            [tuning.training_job_definition]
            if tuning.training_job_definition
            else list(tuning.training_job_definitions or [])
        )
        limits = config.get("ResourceLimits") or {}
        self.max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or 1)
        self.parallel = max(1, min(int(limits.get("MaxParallelTrainingJobs") or 1), self.max_jobs))
        self.objectives = [
            d.get("TuningObjective") or config.get("HyperParameterTuningJobObjective") for d in self.definitions
        ]
        rng = random.Random(int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "big"))
        self.plans = [
            self._plan(i, rng) for i in range(self.max_jobs)
        ]  # drawn up front: the order of finishing never matters
        self.jobs: list[tuple[Any, TrainingRun, dict, int]] = []  # (record, run, tuned hyperparameters, definition)
        self.lock = threading.Lock()
        self.stop_requested = threading.Event()
        self.started = time.monotonic()

    def _plan(self, i: int, rng: random.Random) -> tuple[int, int, dict]:
        d = i % len(self.definitions)
        definition = self.definitions[d]
        ranges = (
            definition.get("HyperParameterRanges")
            or self.tuning.hyper_parameter_tuning_job_config.get("ParameterRanges")
            or {}
        )
        return i, d, draw_hyperparameters(ranges, rng)

    def start(self) -> None:
        t = self.tuning
        t.hyper_parameter_tuning_job_status, t.failure_reason = "InProgress", None
        t.hyper_parameter_tuning_end_time = t.best_training_job = t.OverallBestTrainingJob = None
        t.tuning_job_completion_details = t.consumed_resources = None
        self._refresh()
        threading.Thread(target=self._run, name=f"tuning {self.name}", daemon=True).start()

    def request_stop(self) -> None:
        with self.status_lock:
            if self.tuning.hyper_parameter_tuning_job_status == "InProgress":
                self.tuning.hyper_parameter_tuning_job_status = "Stopping"
            self.stop_requested.set()
        with self.lock:
            runs = [run for _, run, _, _ in self.jobs]
        for run in runs:
            if not run.done.is_set():
                run.request_stop()

    def _run(self) -> None:
        plans = iter(self.plans)
        take = threading.Lock()

        def worker() -> None:
            while not self.stop_requested.is_set() and not self.owner.runtime.stopping:
                with take:
                    plan = next(plans, None)
                if plan is None:
                    return
                run = self._launch(*plan)
                if run is not None:
                    run.done.wait()
                self._refresh()

        workers = [
            threading.Thread(target=worker, daemon=True, name=f"tuning {self.name} worker {i}")
            for i in range(self.parallel)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self._finish()

    def _launch(self, i: int, d: int, tuned: dict) -> TrainingRun | None:
        definition = self.definitions[d]
        objective = self.objectives[d] or {}
        name = f"{self.name}-{i + 1:03d}-{uuid.uuid4().hex[:8]}"
        hyperparameters = {
            **(definition.get("StaticHyperParameters") or {}),
            **tuned,
            "_tuning_objective_metric": objective.get("MetricName", ""),
        }
        try:
            job = self.backend.create_training_job(
                training_job_name=name,
                hyper_parameters=hyperparameters,
                algorithm_specification=copy.deepcopy(definition.get("AlgorithmSpecification") or {}),
                role_arn=definition.get("RoleArn"),
                input_data_config=copy.deepcopy(definition.get("InputDataConfig")),
                output_data_config=copy.deepcopy(definition.get("OutputDataConfig")),
                resource_config=copy.deepcopy(definition.get("ResourceConfig")),
                vpc_config=definition.get("VpcConfig"),
                stopping_condition=copy.deepcopy(definition.get("StoppingCondition")),
                tags=None,
                enable_network_isolation=definition.get("EnableNetworkIsolation", False),
                enable_inter_container_traffic_encryption=definition.get(
                    "EnableInterContainerTrafficEncryption", False
                ),
                enable_managed_spot_training=definition.get("EnableManagedSpotTraining", False),
                checkpoint_config=definition.get("CheckpointConfig"),
                debug_hook_config=None,
                debug_rule_configurations=None,
                tensor_board_output_config=None,
                experiment_config=None,
            )
        except Exception as exc:  # noqa: BLE001 - a definition SageMaker would refuse: the tuning job fails
            log.warning("tuning job %s could not create training job %s: %s", self.name, name, exc)
            with self.lock:
                self.tuning.failure_reason = f"could not create training job {name}: {exc}"[:FAILURE_REASON_MAX]
            return None
        job.tuning_job_arn = self.tuning.arn
        run = self.owner.training[job.arn]
        with self.lock:
            self.jobs.append((job, run, tuned, d))
        if self.stop_requested.is_set():  # StopHyperParameterTuningJob came while this one was being created
            run.request_stop()
        return run

    # ------------------------------------------------------------------ the record
    def _objective_value(self, job, d: int) -> float | None:
        wanted = (self.objectives[d] or {}).get("MetricName")
        for m in job.final_metric_data_list or []:
            if m["MetricName"] == wanted:
                return m["Value"]
        return None

    def summaries(self) -> list[dict]:
        """HyperParameterTrainingJobSummary of every training job launched so far."""
        with self.lock:
            jobs = list(self.jobs)
        out = []
        for job, _run, tuned, d in jobs:
            status = job.training_job_status
            value = self._objective_value(job, d) if status == "Completed" else None
            objective = self.objectives[d] or {}
            summary = {
                "TrainingJobDefinitionName": self.definitions[d].get("DefinitionName"),
                "TrainingJobName": job.training_job_name,
                "TrainingJobArn": job.arn,
                "TuningJobName": self.name,
                "CreationTime": job.creation_time,
                "TrainingStartTime": job.training_start_time,
                "TrainingEndTime": job.training_end_time,
                "TrainingJobStatus": status,
                "TunedHyperParameters": tuned,
                "FailureReason": job.failure_reason,
                "FinalHyperParameterTuningJobObjectiveMetric": None
                if value is None
                else {"Type": objective.get("Type"), "MetricName": objective.get("MetricName"), "Value": value},
                "ObjectiveStatus": (
                    "Succeeded"
                    if value is not None
                    else "Pending"
                    if status in ("InProgress", "Stopping")
                    else "Failed"
                ),
            }
            out.append({k: v for k, v in summary.items() if v is not None})
        return out

    def _refresh(self) -> None:
        summaries = self.summaries()
        statuses = [s["TrainingJobStatus"] for s in summaries]
        objectives = [s["ObjectiveStatus"] for s in summaries]
        t = self.tuning
        t.training_job_status_counters = {
            "Completed": statuses.count("Completed"),
            "InProgress": statuses.count("InProgress") + statuses.count("Stopping"),
            "RetryableError": 0,
            "NonRetryableError": statuses.count("Failed"),
            "Stopped": statuses.count("Stopped"),
        }
        t.objective_status_counters = {k: objectives.count(k) for k in ("Succeeded", "Pending", "Failed")}
        scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        if scored:
            sign = -1 if scored[0]["FinalHyperParameterTuningJobObjectiveMetric"]["Type"] == "Minimize" else 1
            t.best_training_job = max(
                scored, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            )
        t.last_modified_time = utcnow()

    def _finish(self) -> None:
        self._refresh()
        t = self.tuning
        t.consumed_resources = {"RuntimeInSeconds": max(1, int(time.monotonic() - self.started))}
        t.hyper_parameter_tuning_end_time = utcnow()
        with self.status_lock:
            self._final_status(t)

    def _final_status(self, t) -> None:
        if self.stop_requested.is_set():
            t.hyper_parameter_tuning_job_status = "Stopped"
        elif t.best_training_job is None:
            first = next((s.get("FailureReason") for s in self.summaries() if s.get("FailureReason")), None)
            t.failure_reason = (
                t.failure_reason
                or (
                    f"No training job succeeded after {len(self.jobs)} attempts (or none logged the objective metric); "
                    f"list the tuning job's training jobs for their failures. First failure: {first or 'none recorded'}"
                )
            )[:FAILURE_REASON_MAX]
            t.hyper_parameter_tuning_job_status = "Failed"
        else:
            t.hyper_parameter_tuning_job_status = "Completed"
