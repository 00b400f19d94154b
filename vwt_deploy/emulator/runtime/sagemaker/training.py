"""Training jobs: `python -m vwt_model train` over a folder laid out as SageMaker lays `/opt/ml`, in a thread.

`TrainingRun` moves moto's record through SageMaker's statuses and secondary statuses: the channels are
downloaded from the emulator's S3, the process runs (stopped by StopTrainingJob or MaxRuntimeInSeconds), the
final metrics come from the job's metric definitions, the model goes to
`<S3OutputPath>/<job>/output/model.tar.gz` and the log to CloudWatch Logs (`/aws/sagemaker/TrainingJobs`).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from vwt_deploy.emulator.runtime.sagemaker.common import (
    DEFAULT_MAX_RUNTIME,
    FAILURE_REASON_MAX,
    HOST,
    TRAINING_LOG_GROUP,
    AccessError,
    JobError,
    LogShipper,
    download_prefix,
    execution_session,
    log,
    pull_image,
    split_s3,
    tail,
    utcnow,
    wait_for_job,
)

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime.sagemaker.service import SageMakerRuntime


class TrainingRun:
    """One training job running `python -m vwt_model train` in a background thread."""

    def __init__(self, owner: SageMakerRuntime, backend, job):
        self.runtime, self.status_lock = owner.runtime, owner.status_lock
        self.backend, self.job = backend, job
        self.name = job.training_job_name
        self.root = self.runtime.work / "training" / self.name  # the job's /opt/ml
        self.log_path = self.runtime.work / "training" / f"{self.name}.log"
        self.stop_requested = threading.Event()
        self.done = threading.Event()
        self.timed_out = False
        self.proc: subprocess.Popen | None = None
        self.credentials = None  # SageMaker's session of the job's execution role, once assumed
        self._logs = LogShipper(
            self.runtime, backend, TRAINING_LOG_GROUP, f"{self.name}/{HOST}-{int(time.time())}", self.log_path
        )

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
        with self.status_lock:
            if self.job.training_job_status == "InProgress":
                self.job.training_job_status = "Stopping"
                self._stage("Stopping", "Stopping the training job")
        self.stop_requested.set()

    # ------------------------------------------------------------------ stages
    def _stage(self, status: str, message: str) -> None:
        now, job = utcnow(), self.job
        if job.secondary_status_transitions and "EndTime" not in job.secondary_status_transitions[-1]:
            job.secondary_status_transitions[-1]["EndTime"] = now
        job.secondary_status_transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.secondary_status, job.last_modified_time = status, now

    def _finish(self, status: str, secondary: str, message: str, reason: str | None = None) -> None:
        job = self.job
        self._stage(secondary, message)
        now = utcnow()
        job.secondary_status_transitions[-1]["EndTime"] = now
        job.training_end_time = now
        if job.training_start_time is not None:
            seconds = max(1, int((now - job.training_start_time).total_seconds()))
            job.training_time_in_seconds = job.billable_time_in_seconds = seconds
        job.failure_reason = reason[:FAILURE_REASON_MAX] if reason else None
        with self.status_lock:
            job.training_job_status = status

    def _run(self) -> None:
        try:
            self._stage("Downloading", "Downloading input data")
            self.credentials = execution_session(self.runtime, self.job.role_arn)
            pull_image(self.runtime, self.credentials, (self.job.algorithm_specification or {}).get("TrainingImage"))
            self._layout()
            if self.stop_requested.is_set():
                raise _Stopped()
            self._stage("Training", "Training image download completed. Training in progress.")
            self.job.training_start_time = utcnow()
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
        except (JobError, AccessError) as exc:
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
        s3 = self.runtime.client("s3", self.backend.region_name, self.credentials)
        for channel in channels:
            self._download(s3, channel, self.root / "input" / "data" / channel["ChannelName"])

    def _download(self, s3, channel: dict, dest: Path) -> None:
        name = channel["ChannelName"]
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not source:
            raise JobError(f"ClientError: channel {name!r}: the local runtime reads S3DataSource channels only")
        kind, uri = source.get("S3DataType", "S3Prefix"), source.get("S3Uri", "")
        if kind != "S3Prefix":
            raise JobError(f"ClientError: channel {name!r}: S3DataType {kind} is not supported locally; use S3Prefix")
        download_prefix(s3, uri, dest, f"channel {name!r}")

    # ------------------------------------------------------------------ the process
    def _train(self) -> int:
        env = {
            "VWT_ML_ROOT": str(self.root),
            "PYTHONPATH": str(self.runtime.container_dir),
            "PYTHONUNBUFFERED": "1",
            "TRAINING_JOB_NAME": self.name,
            "TRAINING_JOB_ARN": self.job.arn,
        }
        self.proc = proc = self.runtime.spawn(
            f"training job {self.name}",
            [sys.executable, "-m", "vwt_model", "train"],
            env=env,
            cwd=self.root,
            log_path=self.log_path,
        )
        limit = (self.job.stopping_condition or {}).get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME
        code, self.timed_out = wait_for_job(self.runtime, proc, limit, self._logs, self.stop_requested)
        return code

    def _failure_reason(self, code: int) -> str:
        failure = self.root / "output" / "failure"
        text = failure.read_text(errors="replace").strip() if failure.is_file() else ""
        if text:
            return f"AlgorithmError: {text}"
        return f"AlgorithmError: the training process exited with code {code}; last log lines:\n{tail(self.log_path)}"

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
                out.append({"MetricName": definition["Name"], "Value": value, "Timestamp": utcnow()})
        return out

    def _upload(self) -> None:
        output = self.job.output_data_config or {}
        bucket, key = split_s3(output["S3OutputPath"].rstrip("/") + f"/{self.name}/output/model.tar.gz")
        extra = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": output["KmsKeyId"]} if output.get("KmsKeyId") else None
        )
        s3 = self.runtime.client("s3", self.backend.region_name, self.credentials)
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
