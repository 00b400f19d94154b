"""What training, tuning, endpoints and batch transform share: limits, names, S3 URIs, log tails, the CloudWatch
Logs copy, the model artifact and the serve process."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime

log = logging.getLogger("vwt_deploy.emulator.runtime.sagemaker")

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/{endpoint}"  # as SageMaker names it; a stream per variant/config
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
LOG_SHIP_SECONDS = 2.0
HOST = "algo-1"
DEFAULT_MAX_RUNTIME = 86400  # SageMaker's default StoppingCondition
DEFAULT_STARTUP_TIMEOUT = 120.0  # seconds a serve process has to answer GET /ping
INVOKE_TIMEOUT = 60.0  # SageMaker's limit for one invocation
DRAIN_TIMEOUT = 60.0  # how long a replaced process may finish its requests in flight
FAILURE_REASON_MAX = 1024


def utcnow():
    """moto's clock (the records' timestamps)."""
    from moto.core.utils import utcnow

    return utcnow()


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[5:].partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def tail(path: Path, lines: int = 10) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class JobError(Exception):
    """A training job failure with its FailureReason."""


class AccessError(Exception):
    """SageMaker could not act with the execution role (it may not assume it, or the role may not pull the image);
    the message is AWS's."""


def execution_session(runtime: Runtime, role_arn: str):
    """SageMaker's session of an execution role: it assumes the role (whose trust policy must name
    sagemaker.amazonaws.com, with the account as `aws:SourceAccount`, as SageMaker sends it) and reads channels,
    writes artifacts and pulls images with it (SageMaker Developer Guide, "How to use SageMaker AI execution
    roles")."""
    from vwt_deploy.emulator.runtime.credentials import UntrustedRole

    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    try:
        return runtime.sessions.assume(role_arn, "SageMaker", "sagemaker.amazonaws.com", {"aws:SourceAccount": account})
    except UntrustedRole as exc:
        raise AccessError(
            f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
            f"'sagemaker.amazonaws.com' to assume the role. ({exc})"
        ) from None


def pull_image(runtime: Runtime, credentials, image: str) -> None:
    """What pulling `image` from ECR asks of the execution role (SageMaker Developer Guide, "CreateTrainingJob API:
    Execution Role Permissions": ecr:BatchCheckLayerAvailability, ecr:GetDownloadUrlForLayer, ecr:BatchGetImage on
    the repository, and ecr:GetAuthorizationToken). The local runtime runs the image's code from its folder, so
    this is the pull's permission check, not a pull. An image outside ECR asks nothing."""
    from vwt_deploy.emulator.enforcement import Denied, Session
    from vwt_deploy.emulator.iam.requests import Ask

    found = _ECR_IMAGE.match(image or "")
    if runtime.enforcer is None or credentials is None or not found:
        return
    repository = f"arn:aws:ecr:{found['region']}:{found['account']}:repository/{found['repository']}"
    asks = [Ask("ecr:GetAuthorizationToken", "*")]
    asks += [Ask(a, repository) for a in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer")]
    asks.append(Ask("ecr:BatchGetImage", repository))
    try:
        runtime.enforcer.demand(Session(credentials.role_arn, credentials.session_arn), asks)
    except Denied as exc:
        raise AccessError(f"Cannot pull the image {image}: {exc}") from None


_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)"
)


class LogShipper:
    """Sends a log file's new lines to a CloudWatch Logs stream (best effort: a failure is logged, not raised)."""

    def __init__(self, runtime: Runtime, backend, group: str, stream: str, path: Path):
        self.runtime, self.backend, self.group, self.stream, self.path = runtime, backend, group, stream, path
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
            self.runtime.put_log_events(
                self.backend.account_id, self.backend.region_name, self.group, self.stream, events
            )
        except Exception:  # noqa: BLE001 - the job goes on without its CloudWatch copy
            log.warning("could not send the log of %s to CloudWatch Logs", self.stream, exc_info=True)


# =========================================================================== the model artifact and `serve`


class ArtifactError(Exception):
    """A model artifact that could not be fetched or unpacked, with the reason."""


def extract(tar: tarfile.TarFile, folder: Path) -> None:
    """Unpack a model.tar.gz inside `folder` only: no absolute paths, no `..`, no links or devices."""
    if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
        tar.extractall(folder, filter="data")
        return
    root = folder.resolve()
    for member in tar.getmembers():
        if not (member.isfile() or member.isdir()) or not (root / member.name).resolve().is_relative_to(root):
            raise tarfile.TarError(f"refusing to unpack {member.name!r}: not a plain file inside the archive's folder")
    tar.extractall(folder)


def fetch_model(runtime: Runtime, region: str, url: str, folder: Path, credentials) -> None:
    """Download the model.tar.gz at `url` as `credentials` (the model's execution role) and unpack it into
    `folder`, as SageMaker fills /opt/ml/model. ArtifactError with the reason (and `folder` removed) if it cannot."""
    try:
        bucket, key = split_s3(url)
        with tempfile.TemporaryFile() as tmp:
            runtime.client("s3", region, credentials).download_fileobj(bucket, key, tmp)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp, mode="r:*") as tar:
                extract(tar, folder)
    except Exception as exc:  # noqa: BLE001 - S3 errors, bad archives: all are the reason
        shutil.rmtree(folder, ignore_errors=True)
        raise ArtifactError(f"could not fetch the model artifact {url}: {type(exc).__name__}: {exc}") from None


def serve_argv(port: int, folder: Path) -> list[str]:
    """The container's `serve` on 127.0.0.1:`port` over the unpacked model in `folder`."""
    return [
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
    ]


def listen_failed(log_path: Path, offset: int) -> bool:
    """Whether a serve process's log (from `offset`) says its port was taken (worth another port)."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(offset)
            return b"cannot listen" in fh.read()
    except OSError:
        return False


def wait_healthy(
    proc: subprocess.Popen, pool, log_path: Path, timeout: float, cancelled: Callable[[], bool] | None = None
) -> str | None:
    """None once the serve process answers GET /ping with 200 (through the urllib3 `pool`), else why not (also when
    `cancelled()` turns true)."""
    import urllib3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cancelled is not None and cancelled():
            return "the job was stopped before its container answered /ping"
        code = proc.poll()
        if code is not None:
            return (
                f"the serving process exited with code {code} before it answered /ping; last log lines:\n"
                f"{tail(log_path)}"
            )
        try:
            if pool.request("GET", "/ping", retries=False, timeout=2.0).status == 200:
                return None
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.05)
    return f"the serving process did not answer /ping within {timeout:g} s; last log lines:\n{tail(log_path)}"


def download_prefix(s3, uri: str, dest: Path, what: str) -> None:
    """Every object under an S3 prefix into `dest`, keeping each key's path below the prefix's folder, as SageMaker
    lays out a training channel or a processing input (`what`: "channel 'train'", "input 'model'"). Raises
    JobError with SageMaker's reason: a refused read, or no object at all."""
    from botocore.exceptions import ClientError

    try:
        bucket, prefix = split_s3(uri)
    except ValueError as exc:
        raise JobError(f"ClientError: {what}: {exc}") from None
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
                # GetObject, not download_file's HeadObject: a HEAD answer has no body, so AWS's message of a
                # refusal would be lost ("Forbidden") on its way to the FailureReason
                with target.open("wb") as fh:
                    shutil.copyfileobj(s3.get_object(Bucket=bucket, Key=key)["Body"], fh, 1 << 20)
                count += 1
    except ClientError as exc:
        raise JobError(f"ClientError: Data download failed: {what} ({uri}): {exc}") from None
    if not count:
        raise JobError(
            f'ClientError: Data download failed: No S3 objects found under S3 URL "{uri}" given in '
            f"input data source ({what}). Put the data there, or fix the {what.split()[0]}'s S3Uri."
        )


def wait_for_job(
    runtime: Runtime, proc: subprocess.Popen, max_runtime: float, logs: LogShipper, stop
) -> tuple[int, bool]:
    """Wait for a job's process while shipping its log; stop it at MaxRuntimeInSeconds, on a stop request (`stop`, a
    threading.Event) or when the emulator stops. Returns (exit code, whether the runtime limit stopped it)."""
    deadline = time.monotonic() + float(max_runtime)
    while True:
        try:
            code = proc.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        logs.flush()
        timed_out = time.monotonic() > deadline
        if timed_out or stop.is_set() or runtime.stopping:
            runtime.stop(proc)
            return proc.returncode, timed_out
    runtime.forget(proc)
    return code, False
