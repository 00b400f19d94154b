"""Local SageMaker: moto's training jobs, tuning jobs and endpoints run the container's own code.

`install(runtime)` patches moto's SageMaker backend and the sagemaker-runtime
response in place:

- CreateTrainingJob keeps moto's record, InProgress, and runs `python -m vwt_model train`
  in a background thread over `<work>/training/<job>/` laid out as SageMaker lays
  `/opt/ml` (channels downloaded from the emulator's S3). The model goes to
  `<S3OutputPath>/<job>/output/model.tar.gz`, the final metrics come from the job's
  metric definitions, the log goes to CloudWatch Logs (`/aws/sagemaker/TrainingJobs`,
  stream `<job>/algo-1-<epoch>`). StopTrainingJob and MaxRuntimeInSeconds stop it.
- CreateHyperParameterTuningJob runs its training jobs with that same code. Stand-in for
  SageMaker's Bayesian (and every other) strategy: a random search seeded from the tuning
  job's name; `Auto` scaling is taken as linear. ListTrainingJobsForHyperParameterTuningJob
  and StopHyperParameterTuningJob work.
- CreateEndpoint starts `python -m vwt_model serve` for the configuration's first production
  variant on a free port and answers once GET /ping does (InService at once, or Failed with
  the reason). UpdateEndpoint starts the new configuration's process and switches traffic
  only once it is healthy; the old one stops when its requests in flight are done. A serve
  process that dies on its own makes the endpoint Failed. DeleteEndpoint stops it.
- InvokeEndpoint forwards to the endpoint's current process over a keep-alive pool.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from vwt_deploy.emulator.runtime import Runtime, free_port

log = logging.getLogger("vwt_deploy.emulator.runtime.sagemaker")

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/{endpoint}"  # as SageMaker names it; a stream per variant/config
LOG_SHIP_SECONDS = 2.0
HOST = "algo-1"
DEFAULT_MAX_RUNTIME = 86400  # SageMaker's default StoppingCondition
DEFAULT_STARTUP_TIMEOUT = 120.0  # seconds a serve process has to answer GET /ping
INVOKE_TIMEOUT = 60.0  # SageMaker's limit for one invocation
DRAIN_TIMEOUT = 60.0  # how long a replaced process may finish its requests in flight
FAILURE_REASON_MAX = 1024

_rt: Runtime | None = None
_training: dict[str, TrainingRun] = {}  # training job ARN ->
_tuning: dict[str, TuningRun] = {}  # tuning job ARN ->
_endpoints: dict[str, EndpointState] = {}  # endpoint ARN ->
_installed = False


def _spawn(name: str, argv: list[str], **kwargs) -> subprocess.Popen:
    assert _rt is not None
    return _rt.spawn(name, argv, **kwargs)


def install(runtime: Runtime) -> None:
    """Patch moto so SageMaker records run here (once per process; the latest runtime wins)."""
    global _rt, _installed
    _rt = runtime
    runtime.on_stop(_on_emulator_stop)
    if _installed:
        return
    _patch_training()
    _patch_tuning()
    _patch_endpoints()
    _patch_invoke()
    _installed = True


def _now():
    from moto.core.utils import utcnow

    return utcnow()


def _errors():
    from moto.sagemaker import exceptions

    return exceptions


#: a stop request and a job's end both change its status: one at a time, so a job that just ended stays ended
_status_lock = threading.Lock()
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's pattern of job, endpoint and config names


def _check_name(field: str, name: str, longest: int = 63) -> None:
    """Refuse a name SageMaker refuses (botocore does not check patterns); the names become local folders."""
    if not (isinstance(name, str) and _NAME.match(name) and len(name) <= longest):
        raise _errors().ValidationError(
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must "
            f"satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{longest - 1}}}"
        )


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[5:].partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def _tail(path: Path, lines: int = 10) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class JobError(Exception):
    """A training job failure with its FailureReason."""


# =========================================================================== training jobs


class TrainingRun:
    """One training job running `python -m vwt_model train` in a background thread."""

    def __init__(self, backend, job):
        self.backend, self.job = backend, job
        self.name = job.training_job_name
        self.root = _rt.work / "training" / self.name  # the job's /opt/ml
        self.log_path = _rt.work / "training" / f"{self.name}.log"
        self.stop_requested = threading.Event()
        self.done = threading.Event()
        self.timed_out = False
        self.proc: subprocess.Popen | None = None
        self._logs = _LogShipper(backend, TRAINING_LOG_GROUP, f"{self.name}/{HOST}-{int(time.time())}", self.log_path)

    def start(self) -> None:
        job = self.job
        # a job of this name from an earlier emulator run left its folder and log: this run starts clean
        shutil.rmtree(self.root, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)
        job.training_job_status, job.failure_reason = "InProgress", None
        job.training_start_time = job.training_end_time = job.final_metric_data_list = None
        job.secondary_status_transitions = []
        self._stage("Starting", "Launching requested ML instances")
        threading.Thread(target=self._run, name=f"training {self.name}", daemon=True).start()

    def request_stop(self) -> None:
        with _status_lock:
            if self.job.training_job_status == "InProgress":
                self.job.training_job_status = "Stopping"
                self._stage("Stopping", "Stopping the training job")
        self.stop_requested.set()

    # ------------------------------------------------------------------ stages
    def _stage(self, status: str, message: str) -> None:
        now, job = _now(), self.job
        if job.secondary_status_transitions and "EndTime" not in job.secondary_status_transitions[-1]:
            job.secondary_status_transitions[-1]["EndTime"] = now
        job.secondary_status_transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.secondary_status, job.last_modified_time = status, now

    def _finish(self, status: str, secondary: str, message: str, reason: str | None = None) -> None:
        job = self.job
        self._stage(secondary, message)
        now = _now()
        job.secondary_status_transitions[-1]["EndTime"] = now
        job.training_end_time = now
        if job.training_start_time is not None:
            seconds = max(1, int((now - job.training_start_time).total_seconds()))
            job.training_time_in_seconds = job.billable_time_in_seconds = seconds
        job.failure_reason = reason[:FAILURE_REASON_MAX] if reason else None
        with _status_lock:
            job.training_job_status = status

    def _run(self) -> None:
        try:
            self._stage("Downloading", "Downloading input data")
            self._layout()
            if self.stop_requested.is_set():
                raise _Stopped()
            self._stage("Training", "Training image download completed. Training in progress.")
            self.job.training_start_time = _now()
            code = self._train()
            if self.timed_out:
                self._finish(
                    "Stopped", "MaxRuntimeExceeded", "Training job runtime exceeded MaxRuntimeInSeconds provided"
                )
            elif self.stop_requested.is_set():
                raise _Stopped()
            elif code != 0:
                self._finish("Failed", "Failed", "Training job failed", self._failure_reason(code))
            else:
                self._stage("Uploading", "Uploading generated training model")
                self.job.final_metric_data_list = self._metrics() or None
                self._upload()
                self._finish("Completed", "Completed", "Training job completed")
        except _Stopped:
            self._finish("Stopped", "Stopped", "Training job stopped")
        except JobError as exc:
            self._finish("Failed", "Failed", "Training job failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug here must still end the job, with the reason
            log.exception("training job %s", self.name)
            self._finish("Failed", "Failed", "Training job failed", f"InternalServerError: {type(exc).__name__}: {exc}")
        finally:
            self._logs.flush(final=True)
            shutil.rmtree(self.root / "input" / "data", ignore_errors=True)  # a copy of S3's: not kept
            self.done.set()

    # ------------------------------------------------------------------ /opt/ml
    def _layout(self) -> None:
        job = self.job
        algorithm = job.algorithm_specification or {}
        shutil.rmtree(self.root, ignore_errors=True)
        config = self.root / "input" / "config"
        config.mkdir(parents=True)
        for sub in ("model", "output/data", "input/data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        hyperparameters = {str(k): str(v) for k, v in (job.hyper_parameters or {}).items()}
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        channels = job.input_data_config or []
        (config / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    c["ChannelName"]: {
                        "ContentType": c.get("ContentType", ""),
                        "TrainingInputMode": c.get("InputMode") or algorithm.get("TrainingInputMode", "File"),
                        "S3DistributionType": (c.get("DataSource", {}).get("S3DataSource") or {}).get(
                            "S3DataDistributionType", "FullyReplicated"
                        ),
                        "RecordWrapperType": c.get("RecordWrapperType", "None"),
                    }
                    for c in channels
                }
            )
        )
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": HOST,
                    "current_instance_type": (job.resource_config or {}).get("InstanceType", ""),
                    "hosts": [HOST],
                    "network_interface_name": "eth0",
                }
            )
        )
        s3 = _rt.client("s3", self.backend.region_name)
        for channel in channels:
            self._download(s3, channel, self.root / "input" / "data" / channel["ChannelName"])

    def _download(self, s3, channel: dict, dest: Path) -> None:
        from botocore.exceptions import ClientError

        name = channel["ChannelName"]
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not source:
            raise JobError(f"ClientError: channel {name!r}: the local runtime reads S3DataSource channels only")
        kind, uri = source.get("S3DataType", "S3Prefix"), source.get("S3Uri", "")
        if kind != "S3Prefix":
            raise JobError(f"ClientError: channel {name!r}: S3DataType {kind} is not supported locally; use S3Prefix")
        try:
            bucket, prefix = _split_s3(uri)
        except ValueError as exc:
            raise JobError(f"ClientError: channel {name!r}: {exc}") from None
        base = prefix[: prefix.rfind("/") + 1]  # SageMaker keeps the key's path below the prefix's folder
        dest.mkdir(parents=True, exist_ok=True)
        count = 0
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    target = (dest / key[len(base) :]).resolve()
                    if key.endswith("/") or not target.is_relative_to(dest.resolve()):
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, key, str(target))
                    count += 1
        except ClientError as exc:
            raise JobError(f"ClientError: Data download failed: channel {name!r} ({uri}): {exc}") from None
        if not count:
            raise JobError(
                f'ClientError: Data download failed: No S3 objects found under S3 URL "{uri}" given in '
                f"input data source (channel {name!r}). Put the data there, or fix the channel's S3Uri."
            )

    # ------------------------------------------------------------------ the process
    def _train(self) -> int:
        env = {
            "VWT_ML_ROOT": str(self.root),
            "PYTHONPATH": str(_rt.container_dir),
            "PYTHONUNBUFFERED": "1",
            "TRAINING_JOB_NAME": self.name,
            "TRAINING_JOB_ARN": self.job.arn,
        }
        self.proc = proc = _spawn(
            f"training job {self.name}",
            [sys.executable, "-m", "vwt_model", "train"],
            env=env,
            cwd=self.root,
            log_path=self.log_path,
        )
        limit = (self.job.stopping_condition or {}).get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME
        deadline = time.monotonic() + float(limit)
        while True:
            try:
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            self._logs.flush()
            if time.monotonic() > deadline:
                self.timed_out = True
            if self.timed_out or self.stop_requested.is_set() or _rt.stopping:
                _rt.stop(proc)
                return proc.returncode
        _rt.forget(proc)
        return code

    def _failure_reason(self, code: int) -> str:
        failure = self.root / "output" / "failure"
        text = failure.read_text(errors="replace").strip() if failure.is_file() else ""
        if text:
            return f"AlgorithmError: {text}"
        return f"AlgorithmError: the training process exited with code {code}; last log lines:\n{_tail(self.log_path)}"

    def _metrics(self) -> list[dict]:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        out = []
        for definition in (self.job.algorithm_specification or {}).get("MetricDefinitions") or []:
            value = None
            for match in re.finditer(definition["Regex"], text):
                try:
                    value = float(match.group(1) if match.groups() else match.group(0))
                except ValueError:
                    continue
            if value is not None and math.isfinite(value):
                out.append({"MetricName": definition["Name"], "Value": value, "Timestamp": _now()})
        return out

    def _upload(self) -> None:
        output = self.job.output_data_config or {}
        bucket, key = _split_s3(output["S3OutputPath"].rstrip("/") + f"/{self.name}/output/model.tar.gz")
        extra = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": output["KmsKeyId"]} if output.get("KmsKeyId") else None
        )
        s3 = _rt.client("s3", self.backend.region_name)
        for folder, name in ((self.root / "model", "model.tar.gz"), (self.root / "output" / "data", "output.tar.gz")):
            files = sorted(folder.iterdir()) if folder.is_dir() else []
            if not files and name == "output.tar.gz":
                continue
            tarball = self.root.parent / f"{self.name}.{name}"
            with tarfile.open(tarball, "w:gz") as tar:
                for path in files:
                    tar.add(path, arcname=path.name)
            try:
                s3.upload_file(str(tarball), bucket, key.rsplit("/", 1)[0] + "/" + name, ExtraArgs=extra)
            except Exception as exc:  # noqa: BLE001 - botocore raises several types; all end the job
                raise JobError(f"ClientError: could not upload {name} to s3://{bucket}/{key}: {exc}") from None
            finally:
                tarball.unlink(missing_ok=True)
        self.job.model_artifacts = {"S3ModelArtifacts": f"s3://{bucket}/{key}"}


class _Stopped(Exception):
    pass


class _LogShipper:
    """Sends a log file's new lines to a CloudWatch Logs stream (best effort: a failure is logged, not raised)."""

    def __init__(self, backend, group: str, stream: str, path: Path):
        self.backend, self.group, self.stream, self.path = backend, group, stream, path
        self.offset = 0

    def flush(self, final: bool = False) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return
        if not final:
            data = data[: data.rfind(b"\n") + 1]
        if not data:
            return
        self.offset += len(data)
        stamp = int(time.time() * 1000)
        events = [(stamp, line) for line in data.decode(errors="replace").splitlines() if line]
        try:
            _rt.put_log_events(self.backend.account_id, self.backend.region_name, self.group, self.stream, events)
        except Exception:  # noqa: BLE001 - the job goes on without its CloudWatch copy
            log.warning("could not send the log of %s to CloudWatch Logs", self.stream, exc_info=True)


def _check_metric_definitions(definitions: list[dict]) -> None:
    for d in definitions or []:
        try:
            re.compile(d.get("Regex", ""))
        except re.error as exc:
            raise _errors().ValidationError(
                f"MetricDefinitions: {d.get('Name')!r} has an invalid Regex: {exc}"
            ) from None


def _patch_training() -> None:
    from moto.core.responses import EmptyResult
    from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerModelBackend.create_training_job

    def create_training_job(self, **kwargs):
        name = kwargs["training_job_name"]
        _check_name("trainingJobName", name)
        if name in self.training_jobs:
            arn = FakeTrainingJob.arn_formatter(name, self.account_id, self.region_name)
            raise _errors().ResourceInUseException(
                f"Training job names must be unique within an AWS account and region, and a training job with "
                f"this name already exists ({arn})"
            )
        algorithm = kwargs.get("algorithm_specification") or {}
        definitions = copy.deepcopy(algorithm.get("MetricDefinitions") or [])
        _check_metric_definitions(definitions)
        job = original(self, **kwargs)
        job.algorithm_specification["MetricDefinitions"] = definitions  # moto puts a "test:dcg" one there
        if not definitions:
            del job.algorithm_specification["MetricDefinitions"]
        job.model_artifacts = {
            "S3ModelArtifacts": kwargs["output_data_config"]["S3OutputPath"].rstrip("/")
            + f"/{name}/output/model.tar.gz"
        }
        run = _training[job.arn] = TrainingRun(self, job)
        run.start()
        return job

    def stop_training_job(self, training_job_name: str) -> None:
        self.describe_training_job(training_job_name)  # raises moto's "Could not find" for an unknown job
        job = self.training_jobs[training_job_name]
        if job.training_job_status != "InProgress":
            raise _errors().ValidationError(
                f"The request was rejected because the training job is in status {job.training_job_status}."
            )
        _training[job.arn].request_stop()

    def stop_training_job_response(self):
        self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
        return EmptyResult()

    SageMakerModelBackend.create_training_job = create_training_job
    SageMakerModelBackend.stop_training_job = stop_training_job
    stop_training_job_response.__name__ = "stop_training_job"
    SageMakerResponse.stop_training_job = stop_training_job_response


# =========================================================================== tuning jobs

_SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


def _check_ranges(ranges: dict, static: dict) -> None:
    """Refuse what SageMaker refuses at CreateHyperParameterTuningJob."""
    error = _errors().ValidationError
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for r in ranges.get(kind) or []:
            name, scaling = r.get("Name"), r.get("ScalingType", "Auto")
            try:
                lo, hi = (
                    (int(r["MinValue"]), int(r["MaxValue"]))
                    if kind.startswith("Integer")
                    else (float(r["MinValue"]), float(r["MaxValue"]))
                )
            except (KeyError, ValueError):
                raise error(f"{kind}: {name!r} needs numeric MinValue and MaxValue, got {r}") from None
            if lo > hi:
                raise error(f"{kind}: {name!r} has MinValue {lo} greater than MaxValue {hi}")
            if scaling not in _SCALINGS:
                raise error(f"{kind}: {name!r} has ScalingType {scaling!r}; use one of {', '.join(_SCALINGS)}")
            if scaling == "Logarithmic" and lo <= 0:
                raise error(f"{kind}: {name!r} uses Logarithmic scaling, which needs MinValue > 0 (got {lo})")
            if scaling == "ReverseLogarithmic" and not (kind.startswith("Continuous") and lo >= 0 and hi < 1):
                raise error(
                    f"{kind}: {name!r} uses ReverseLogarithmic scaling, which needs a continuous range within [0, 1)"
                )
    for r in ranges.get("CategoricalParameterRanges") or []:
        if not r.get("Values"):
            raise error(f"CategoricalParameterRanges: {r.get('Name')!r} has no Values")
    tuned = {r["Name"] for rs in ranges.values() if isinstance(rs, list) for r in rs}
    both = sorted(tuned & set(static or {}))
    if both:
        raise error(f"hyperparameters {', '.join(both)} are both static and tuned: give each in one place only")


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

    def __init__(self, backend, tuning):
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
        with _status_lock:
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
            while not self.stop_requested.is_set() and not _rt.stopping:
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
        run = _training[job.arn]
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
        for job, run, tuned, d in jobs:
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
        t.last_modified_time = _now()

    def _finish(self) -> None:
        self._refresh()
        t = self.tuning
        t.consumed_resources = {"RuntimeInSeconds": max(1, int(time.monotonic() - self.started))}
        t.hyper_parameter_tuning_end_time = _now()
        with _status_lock:
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


def _patch_tuning() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerModelBackend.create_hyper_parameter_tuning_job

    def create_hyper_parameter_tuning_job(self, **kwargs):
        _check_name("hyperParameterTuningJobName", kwargs["hyper_parameter_tuning_job_name"], longest=32)
        config = kwargs.get("hyper_parameter_tuning_job_config") or {}
        definitions = (
            [kwargs["training_job_definition"]]
            if kwargs.get("training_job_definition")
            else kwargs.get("training_job_definitions") or []
        )
        if not definitions:
            raise _errors().ValidationError("give a TrainingJobDefinition (or TrainingJobDefinitions)")
        for d in definitions:
            if not (d.get("TuningObjective") or config.get("HyperParameterTuningJobObjective") or {}).get("MetricName"):
                raise _errors().ValidationError("HyperParameterTuningJobObjective (MetricName and Type) is required")
            _check_ranges(
                d.get("HyperParameterRanges") or config.get("ParameterRanges") or {},
                d.get("StaticHyperParameters") or {},
            )
            _check_metric_definitions((d.get("AlgorithmSpecification") or {}).get("MetricDefinitions"))
        arn = original(self, **kwargs)
        run = _tuning[arn] = TuningRun(
            self, self.hyper_parameter_tuning_jobs[kwargs["hyper_parameter_tuning_job_name"]]
        )
        run.start()
        return arn

    def stop_hyper_parameter_tuning_job(self, name: str) -> None:
        self.describe_hyper_parameter_tuning_job(name)  # raises moto's ResourceNotFound
        tuning = self.hyper_parameter_tuning_jobs[name]
        if tuning.hyper_parameter_tuning_job_status != "InProgress":
            raise _errors().ValidationError(
                f"The hyperparameter tuning job {name} is "
                f"{tuning.hyper_parameter_tuning_job_status}: only InProgress jobs stop"
            )
        _tuning[tuning.arn].request_stop()

    def list_training_jobs_for_tuning(
        self, name: str, status_equals=None, sort_by=None, sort_order=None, next_token=None, max_results=None
    ) -> tuple[list[dict], str | None]:
        self.describe_hyper_parameter_tuning_job(name)
        run = _tuning.get(self.hyper_parameter_tuning_jobs[name].arn)
        items = [
            s for s in (run.summaries() if run else []) if not status_equals or s["TrainingJobStatus"] == status_equals
        ]
        key = {
            "Name": lambda s: s["TrainingJobName"],
            "Status": lambda s: s["TrainingJobStatus"],
            "FinalObjectiveMetricValue": lambda s: s.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get(
                "Value", -math.inf
            ),
        }.get(sort_by or "", lambda s: s["CreationTime"])
        items.sort(key=key, reverse=sort_order == "Descending")
        start = int(next_token or 0)
        end = start + int(max_results or 100)
        return items[start:end], (str(end) if end < len(items) else None)

    def stop_response(self):
        self.sagemaker_backend.stop_hyper_parameter_tuning_job(self._get_param("HyperParameterTuningJobName"))
        return EmptyResult()

    def list_response(self):
        items, token = self.sagemaker_backend.list_training_jobs_for_hyper_parameter_tuning_job(
            self._get_param("HyperParameterTuningJobName"),
            self._get_param("StatusEquals"),
            self._get_param("SortBy"),
            self._get_param("SortOrder"),
            self._get_param("NextToken"),
            self._get_param("MaxResults"),
        )
        return ActionResult({"TrainingJobSummaries": items, "NextToken": token})

    SageMakerModelBackend.create_hyper_parameter_tuning_job = create_hyper_parameter_tuning_job
    SageMakerModelBackend.stop_hyper_parameter_tuning_job = stop_hyper_parameter_tuning_job
    SageMakerModelBackend.list_training_jobs_for_hyper_parameter_tuning_job = list_training_jobs_for_tuning
    stop_response.__name__ = "stop_hyper_parameter_tuning_job"
    list_response.__name__ = "list_training_jobs_for_hyper_parameter_tuning_job"
    SageMakerResponse.stop_hyper_parameter_tuning_job = stop_response
    SageMakerResponse.list_training_jobs_for_hyper_parameter_tuning_job = list_response


# =========================================================================== endpoints


class StartError(Exception):
    """A serve process that could not start, with the reason."""


def _start_failure(exc: Exception) -> str:
    if not isinstance(exc, StartError):  # a bug here: the endpoint still leaves Creating/Updating, saying why
        log.exception("starting a serve process")
        return f"internal error of the local runtime: {type(exc).__name__}: {exc}"
    return str(exc)


class Served:
    """One `python -m vwt_model serve` process of an endpoint configuration, and its keep-alive pool."""

    def __init__(self, proc: subprocess.Popen, port: int, config: str, variant: str, folder: Path):
        import urllib3

        self.proc, self.port, self.config, self.variant, self.folder = proc, port, config, variant, folder
        self.log_path = folder.with_name(folder.name + ".log")
        self.pool = urllib3.HTTPConnectionPool(
            "127.0.0.1",
            port,
            maxsize=32,
            block=False,
            timeout=urllib3.Timeout(connect=5, read=INVOKE_TIMEOUT),
            retries=urllib3.Retry(
                total=2, connect=2, read=1, status=0, redirect=0, allowed_methods=None, raise_on_status=False
            ),
        )  # predictions are pure: a retry on a closed keep-alive is safe
        self.inflight = 0
        self.retired = False

    def stop(self) -> None:
        """Stop the process (it drains its requests in flight) and remove its model folder; the log stays."""
        self.retired = True
        self.pool.close()
        _rt.stop(self.proc, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


class EndpointState:
    """The serve process behind one endpoint; `lock` guards `current` and every process's in-flight count."""

    def __init__(self, backend, name: str):
        self.backend, self.name = backend, name
        self.lock = threading.Condition()
        self.current: Served | None = None
        self.deleted = False

    @property
    def record(self):
        return self.backend.endpoints.get(self.name)

    def close(self) -> None:
        with self.lock:
            self.deleted = True
            served, self.current = self.current, None
            if served is not None:
                served.retired = True
        if served is not None:
            served.stop()

    def acquire(self) -> Served | None:
        with self.lock:
            served = self.current
            if served is not None:
                served.inflight += 1
            return served

    def release(self, served: Served) -> None:
        with self.lock:
            served.inflight -= 1
            self.lock.notify_all()

    def switch(self, new: Served, apply) -> Served | None:
        """Make `new` the current process (running `apply()` under the lock); return the old one, retired."""
        with self.lock:
            if self.deleted:
                new.retired = True
                old = new
            else:
                old, self.current = self.current, new
                apply()
            if old is not None:
                old.retired = True
        return old

    def retire(self, old: Served) -> None:
        """Stop `old` once its requests in flight are done."""
        with self.lock:
            self.lock.wait_for(lambda: old.inflight == 0, timeout=DRAIN_TIMEOUT)
        old.stop()


def _extract(tar: tarfile.TarFile, folder: Path) -> None:
    """Unpack a model.tar.gz inside `folder` only: no absolute paths, no `..`, no links or devices."""
    if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
        tar.extractall(folder, filter="data")
        return
    root = folder.resolve()
    for member in tar.getmembers():
        if not (member.isfile() or member.isdir()) or not (root / member.name).resolve().is_relative_to(root):
            raise tarfile.TarError(f"refusing to unpack {member.name!r}: not a plain file inside the archive's folder")
    tar.extractall(folder)


def _model_dir(endpoint: str, config: str) -> Path:
    base = _rt.work / "endpoints" / endpoint / config
    folder, n = base, 1
    while folder.exists():  # a folder a running process may still read is never rewritten
        n += 1
        folder = base.with_name(f"{config}-{n}")
    folder.mkdir(parents=True)
    return folder


def _start_serving(state: EndpointState, config_name: str) -> Served:
    """Download the configuration's model, start its serve process and wait for GET /ping. Raises StartError."""
    backend = state.backend
    config = backend.endpoint_configs.get(config_name)
    if config is None or not config.production_variants:
        raise StartError(f"endpoint configuration {config_name} does not exist or has no production variant")
    variant = config.production_variants[0]
    model = backend._models.get(variant["ModelName"])
    if model is None:
        raise StartError(f"model {variant['ModelName']} of endpoint configuration {config_name} does not exist")
    container = model.primary_container or (model.containers or [None])[0] or {}
    url = container.get("ModelDataUrl")
    if not url:
        raise StartError(f"model {model.model_name} has no ModelDataUrl: the local runtime serves a model.tar.gz")
    folder = _model_dir(state.name, config_name)
    try:
        bucket, key = _split_s3(url)
        with tempfile.TemporaryFile() as tmp:
            _rt.client("s3", backend.region_name).download_fileobj(bucket, key, tmp)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp, mode="r:*") as tar:
                _extract(tar, folder)
    except Exception as exc:  # noqa: BLE001 - S3 errors, bad archives: all are the reason the endpoint fails
        shutil.rmtree(folder, ignore_errors=True)
        raise StartError(f"could not fetch the model artifact {url}: {type(exc).__name__}: {exc}") from None
    env = {**(container.get("Environment") or {}), "PYTHONPATH": str(_rt.container_dir), "PYTHONUNBUFFERED": "1"}
    log_path = folder.with_name(folder.name + ".log")
    timeout = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_TIMEOUT)
    for _attempt in range(3):  # a port taken between free_port() and the child's bind: try another
        port = free_port()
        offset = log_path.stat().st_size if log_path.exists() else 0
        proc = _spawn(
            f"endpoint {state.name} ({config_name})",
            [
                sys.executable,
                "-m",
                "vwt_model",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--model-dir",
                str(folder),
            ],
            env=env,
            log_path=log_path,
        )
        served = Served(proc, port, config_name, variant["VariantName"], folder)
        why = _wait_healthy(served, timeout)
        if why is None:
            threading.Thread(target=_watch, args=(state, served), daemon=True, name=f"watch {state.name}").start()
            return served
        served.retired = True
        served.pool.close()
        _rt.stop(proc)
        with log_path.open("rb") as fh:
            fh.seek(offset)
            if b"cannot listen" not in fh.read():
                break
    shutil.rmtree(folder, ignore_errors=True)
    raise StartError(why)


def _wait_healthy(served: Served, timeout: float) -> str | None:
    """None once GET /ping answers 200, else why not."""
    import urllib3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = served.proc.poll()
        if code is not None:
            return (
                f"the serving process exited with code {code} before it answered /ping; last log lines:\n"
                f"{_tail(served.log_path)}"
            )
        try:
            if served.pool.request("GET", "/ping", retries=False, timeout=2.0).status == 200:
                return None
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.05)
    return f"the serving process did not answer /ping within {timeout:g} s; last log lines:\n{_tail(served.log_path)}"


def _watch(state: EndpointState, served: Served) -> None:
    """Ship the serve process's log to CloudWatch Logs while it runs; a process that dies on its own makes its
    endpoint Failed, with the exit code and the log's tail."""
    shipper = _LogShipper(
        state.backend,
        ENDPOINT_LOG_GROUP.format(endpoint=state.name),
        f"{served.variant}/{served.config}",
        served.log_path,
    )
    while True:
        try:
            code = served.proc.wait(LOG_SHIP_SECONDS)
            break
        except subprocess.TimeoutExpired:
            shipper.flush()
    shipper.flush(final=True)
    if served.retired or _rt.stopping:
        return
    _rt.forget(served.proc)
    with state.lock:
        if served.retired:
            return
        served.retired = True
        if state.current is served:
            state.current = None
        record = state.record
        if record is not None:
            record.endpoint_status = "Failed"
            record.failure_reason = (
                f"the serving process of endpoint configuration {served.config} exited with code "
                f"{code}; last log lines:\n{_tail(served.log_path)}"
            )[:FAILURE_REASON_MAX]
            record.last_modified_time = _now()
    served.pool.close()


def _update(state: EndpointState, config_name: str) -> None:
    record = state.record
    try:
        new = _start_serving(state, config_name)
    except Exception as exc:  # noqa: BLE001 - every failure leaves the endpoint on its old configuration
        if record is not None and not state.deleted:
            record.endpoint_status = "InService" if state.current is not None else "Failed"
            record.failure_reason = (
                f"Failed to update the endpoint to configuration {config_name}: {_start_failure(exc)}"
            )[:FAILURE_REASON_MAX]
            record.last_modified_time = _now()
        return

    def apply() -> None:
        config = state.backend.endpoint_configs.get(config_name)
        record.endpoint_config_name = config_name
        if config is not None:
            record.production_variants = record._process_production_variants(config.production_variants)
        record.failure_reason = None
        record.endpoint_status, record.last_modified_time = "InService", _now()

    old = state.switch(new, apply)
    if old is not None:
        state.retire(old)


def _patch_endpoints() -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    original_create = SageMakerModelBackend.create_endpoint
    original_delete = SageMakerModelBackend.delete_endpoint

    def create_endpoint(self, endpoint_name: str, endpoint_config_name: str, tags=None):
        _check_name("endpointName", endpoint_name)
        _check_name("endpointConfigName", endpoint_config_name)
        if endpoint_name in self.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise _errors().ValidationError(f'Cannot create already existing endpoint "{arn}".')
        endpoint = original_create(
            self, endpoint_name=endpoint_name, endpoint_config_name=endpoint_config_name, tags=tags
        )
        endpoint.endpoint_status = "Creating"
        state = _endpoints[endpoint.arn] = EndpointState(self, endpoint_name)
        try:
            served = _start_serving(state, endpoint_config_name)
        except Exception as exc:  # noqa: BLE001 - every failure is the endpoint's FailureReason
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", _start_failure(exc)[:FAILURE_REASON_MAX]
            return endpoint
        if state.switch(served, lambda: setattr(endpoint, "endpoint_status", "InService")) is served:
            served.stop()  # deleted while it started
        return endpoint

    def delete_endpoint(self, endpoint_name: str) -> None:
        endpoint = self.endpoints.get(endpoint_name)
        original_delete(self, endpoint_name)  # raises moto's "Could not find endpoint" for an unknown one
        state = _endpoints.pop(endpoint.arn, None)
        if state is not None:
            state.close()

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str) -> str:
        _check_name("endpointConfigName", endpoint_config_name)
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise _errors().ValidationError(f"Could not find endpoint '{arn}'.")
        if endpoint_config_name not in self.endpoint_configs:
            arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise _errors().ValidationError(f"Could not find endpoint configuration '{arn}'.")
        if endpoint.endpoint_status == "Failed":
            raise _errors().ValidationError(
                f'Cannot update failed endpoint "{endpoint.arn}": delete it and create '
                f"it again. It failed because: {endpoint.failure_reason}"
            )
        if endpoint.endpoint_status != "InService":
            raise _errors().ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        endpoint.endpoint_status, endpoint.last_modified_time = "Updating", _now()
        state = _endpoints[endpoint.arn]
        threading.Thread(
            target=_update, args=(state, endpoint_config_name), daemon=True, name=f"update {endpoint_name}"
        ).start()
        return endpoint.arn

    def update_endpoint_response(self):
        # RetainAllVariantProperties, DeploymentConfig and RetainDeploymentConfig are accepted: the local
        # switch is always all at once, once the new process is healthy
        arn = self.sagemaker_backend.update_endpoint(
            self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        )
        return ActionResult({"EndpointArn": arn})

    SageMakerModelBackend.create_endpoint = create_endpoint
    SageMakerModelBackend.delete_endpoint = delete_endpoint
    SageMakerModelBackend.update_endpoint = update_endpoint
    update_endpoint_response.__name__ = "update_endpoint"
    SageMakerResponse.update_endpoint = update_endpoint_response


# =========================================================================== sagemaker-runtime


def _patch_invoke() -> None:
    import urllib3
    from moto.core.exceptions import ServiceException
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    class RuntimeValidationError(ServiceException):
        code = "ValidationError"

    class ServiceUnavailable(ServiceException):
        code = "ServiceUnavailable"

    class ModelError(ServiceException):
        code = "ModelError"

        def __init__(self, message: str, status: int, original: str):
            super().__init__(message)
            self.OriginalStatusCode, self.OriginalMessage = status, original

    def invoke_endpoint(self):
        name = self._get_param("EndpointName") or self.path.split("/")[2]
        backend = sagemaker_backends[self.current_account][self.region]
        record = backend.endpoints.get(name)
        state = _endpoints.get(record.arn) if record is not None else None
        if state is None:
            raise RuntimeValidationError(f"Endpoint {name} of account {self.current_account} not found.")
        served = state.acquire() if record.endpoint_status in ("InService", "Updating") else None
        if served is None:
            why = f": {record.failure_reason}" if record.failure_reason else ""
            raise RuntimeValidationError(
                f"Endpoint {name} of account {self.current_account} is in status "
                f"{record.endpoint_status}, not InService{why}"
            )
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() in ("content-type", "accept") or k.lower().startswith("x-amzn-sagemaker-")
        }
        try:
            response = served.pool.urlopen("POST", "/invocations", body=self.raw_body or b"", headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise ServiceUnavailable(
                f"endpoint {name}: its serving process did not answer ({exc}); see {served.log_path}"
            ) from None
        finally:
            state.release(served)
        body = response.data
        if response.status >= 400:
            kind = "client" if response.status < 500 else "server"
            text = body.decode(errors="replace")
            raise ModelError(
                f'Received {kind} error ({response.status}) from primary with message "{text}". '
                f"See the endpoint's log {served.log_path} for more information.",
                response.status,
                text,
            )
        out = {
            "Content-Type": response.headers.get("Content-Type", "application/octet-stream"),
            "x-Amzn-Invoked-Production-Variant": served.variant,
        }
        custom = response.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if custom:
            out["X-Amzn-SageMaker-Custom-Attributes"] = custom
        return 200, out, body

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint


def _on_emulator_stop() -> None:
    """The emulator stops: its processes are being stopped, so no job or endpoint may count that as a failure."""
    for run in list(_training.values()):
        run.stop_requested.set()
    for state in list(_endpoints.values()):
        with state.lock:
            if state.current is not None:
                state.current.retired = True
