"""Processing jobs: the project's image (`python -m vwt_model <ContainerArguments>`) over a SageMaker-style
/opt/ml tree, in a thread.

As SageMaker runs a processing container (Developer Guide, "How Amazon SageMaker Processing runs your processing
container image"): each ProcessingInput's S3 objects are downloaded to its LocalPath under /opt/ml/processing/
(here under the job's folder, which the container reads as VWT_ML_ROOT), `/opt/ml/config/processingjobconfig.json`
and `resourceconfig.json` describe the job, the container runs with the job's Environment, and when it exits each
output's LocalPath is uploaded to its S3Uri (EndOfJob), with the output config's KMS key. A non-zero exit fails
the job (FailureReason `AlgorithmError: ...`); the first 1 KB of `/opt/ml/output/message` is its ExitMessage.
MaxRuntimeInSeconds and StopProcessingJob stop it. Everything S3 is done with a session of the job's role, so a
missing permission fails the job as on AWS. The log goes to `/aws/sagemaker/ProcessingJobs`.

Not emulated: S3InputMode Pipe, S3DataDistributionType ShardedByS3Key over several instances (one instance runs),
Athena/Redshift dataset definitions, Continuous upload.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from vwt_deploy.emulator.runtime.sagemaker.common import (
    DEFAULT_MAX_RUNTIME,
    FAILURE_REASON_MAX,
    HOST,
    PROCESSING_LOG_GROUP,
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

LOCAL_ROOT = "/opt/ml/"
ENTRYPOINT = ("python3", "-m", "vwt_model")  # the image's ENTRYPOINT (containers/sklearn/Dockerfile)


class ProcessingRun:
    """One processing job running the project's image in a background thread."""

    def __init__(self, owner: SageMakerRuntime, backend, job):
        self.runtime, self.status_lock = owner.runtime, owner.status_lock
        self.backend, self.job = backend, job
        self.name = job.processing_job_name
        self.root = self.runtime.work / "processing" / self.name  # the job's /opt/ml
        self.log_path = self.runtime.work / "processing" / f"{self.name}.log"
        self.stop_requested = threading.Event()
        self.done = threading.Event()
        self.timed_out = False
        self.credentials = None
        self._logs = LogShipper(
            self.runtime, backend, PROCESSING_LOG_GROUP, f"{self.name}/{HOST}-{int(time.time())}", self.log_path
        )

    def start(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.unlink(missing_ok=True)
        job = self.job
        job.processing_job_status, job.failure_reason, job.exit_message = "InProgress", None, None
        job.processing_start_time, job.processing_end_time = utcnow(), None
        threading.Thread(target=self._run, name=f"processing {self.name}", daemon=True).start()

    def request_stop(self) -> None:
        with self.status_lock:
            if self.job.processing_job_status == "InProgress":
                self.job.processing_job_status = "Stopping"
        self.stop_requested.set()

    def _finish(self, status: str, reason: str | None = None) -> None:
        job = self.job
        message = self.root / "output" / "message"
        if message.is_file():
            job.exit_message = message.read_bytes()[:1024].decode("utf-8", errors="replace")
        job.failure_reason = reason[:FAILURE_REASON_MAX] if reason else None
        job.processing_end_time = job.last_modified_time = utcnow()
        with self.status_lock:
            job.processing_job_status = status

    def _run(self) -> None:
        try:
            self.credentials = execution_session(self.runtime, self.job.role_arn)
            spec = self.job.app_specification or {}
            pull_image(self.runtime, self.credentials, spec.get("ImageUri"))
            self._layout()
            if self.stop_requested.is_set():
                self._finish("Stopped")
                return
            code = self._process(spec)
            if self.timed_out:
                self._finish("Stopped", "Processing job runtime exceeded MaxRuntimeInSeconds provided")
            elif self.stop_requested.is_set():
                self._finish("Stopped")
            elif code != 0:
                self._finish("Failed", self._failure_reason(code))
            else:
                self._upload()
                self._finish("Completed")
        except (JobError, AccessError) as exc:
            self._finish("Failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug here must still end the job, with the reason
            log.exception("processing job %s", self.name)
            self._finish("Failed", f"InternalServerError: {type(exc).__name__}: {exc}")
        finally:
            self._logs.flush(final=True)
            shutil.rmtree(self.root / "processing", ignore_errors=True)  # copies of S3's objects: not kept
            self.done.set()

    # ------------------------------------------------------------------ /opt/ml
    def _local(self, path: str, what: str) -> Path:
        if not path.startswith(LOCAL_ROOT + "processing/"):
            raise JobError(f"ClientError: {what}: LocalPath {path!r} must lie under /opt/ml/processing/")
        target = (self.root / path[len(LOCAL_ROOT) :]).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise JobError(f"ClientError: {what}: LocalPath {path!r} leaves /opt/ml/processing/")
        return target

    def _layout(self) -> None:
        config = self.root / "config"
        config.mkdir(parents=True)
        (self.root / "output").mkdir()
        description = {
            "ProcessingJobName": self.name,
            "ProcessingJobArn": self.job.arn,
            "AppSpecification": self.job.app_specification,
            "ProcessingInputs": self.job.processing_inputs or [],
            "ProcessingOutputConfig": self.job.processing_output_config or {},
            "RoleArn": self.job.role_arn,
        }
        (config / "processingjobconfig.json").write_text(json.dumps(description, default=str))
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": HOST, "hosts": [HOST]}))
        s3 = self.runtime.client("s3", self.backend.region_name, self.credentials)
        for given in self.job.processing_inputs or []:
            name = given.get("InputName", "?")
            source = given.get("S3Input")
            if not source:
                raise JobError(f"ClientError: input {name!r}: the local runtime reads S3Input inputs only")
            if source.get("S3InputMode", "File") != "File":
                raise JobError(f"ClientError: input {name!r}: S3InputMode {source['S3InputMode']} is not emulated")
            kind = source.get("S3DataType", "S3Prefix")
            if kind != "S3Prefix":
                raise JobError(f"ClientError: input {name!r}: S3DataType {kind} is not emulated; use S3Prefix")
            dest = self._local(source.get("LocalPath", ""), f"input {name!r}")
            download_prefix(s3, source.get("S3Uri", ""), dest, f"input {name!r}")
        for output in (self.job.processing_output_config or {}).get("Outputs") or []:
            target = output.get("S3Output") or {}
            self._local(target.get("LocalPath", ""), f"output {output.get('OutputName')!r}").mkdir(
                parents=True, exist_ok=True
            )

    # ------------------------------------------------------------------ the process
    def _process(self, spec: dict) -> int:
        entrypoint = list(spec.get("ContainerEntrypoint") or ENTRYPOINT)
        if tuple(entrypoint[:3]) not in (ENTRYPOINT, ("python", "-m", "vwt_model")):
            raise JobError(
                f"ClientError: ContainerEntrypoint {entrypoint}: the local runtime runs the project's image "
                "(python3 -m vwt_model)"
            )
        args = entrypoint[3:] + [str(a) for a in spec.get("ContainerArguments") or []]
        env = {
            **{str(k): str(v) for k, v in (getattr(self.job, "environment", None) or {}).items()},
            "VWT_ML_ROOT": str(self.root),
            "PYTHONPATH": str(self.runtime.container_dir),
            "PYTHONUNBUFFERED": "1",
        }
        proc = self.runtime.spawn(
            f"processing job {self.name}",
            [sys.executable, "-m", "vwt_model", *args],
            env=env,
            cwd=self.root,
            log_path=self.log_path,
        )
        limit = (self.job.stopping_condition or {}).get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME
        code, self.timed_out = wait_for_job(self.runtime, proc, limit, self._logs, self.stop_requested)
        return code

    def _failure_reason(self, code: int) -> str:
        message = self.root / "output" / "message"
        text = message.read_text(errors="replace").strip() if message.is_file() else ""
        if text:
            return f"AlgorithmError: {text}"
        return (
            f"AlgorithmError: the processing container exited with code {code}; last log lines:\n{tail(self.log_path)}"
        )

    def _upload(self) -> None:
        config = self.job.processing_output_config or {}
        extra = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config["KmsKeyId"]} if config.get("KmsKeyId") else None
        )
        s3 = self.runtime.client("s3", self.backend.region_name, self.credentials)
        for output in config.get("Outputs") or []:
            target = output.get("S3Output") or {}
            folder = self._local(target.get("LocalPath", ""), f"output {output.get('OutputName')!r}")
            bucket, prefix = split_s3(target.get("S3Uri", ""))
            prefix = prefix.rstrip("/")
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                key = (
                    f"{prefix}/{path.relative_to(folder).as_posix()}" if prefix else path.relative_to(folder).as_posix()
                )
                try:
                    s3.upload_file(str(path), bucket, key, ExtraArgs=extra)
                except Exception as exc:  # noqa: BLE001 - botocore raises several types; all end the job
                    raise JobError(f"ClientError: could not upload {path.name} to s3://{bucket}/{key}: {exc}") from None
