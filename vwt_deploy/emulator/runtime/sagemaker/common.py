"""What training, tuning and endpoints share: limits, names, S3 URIs, log tails and the CloudWatch Logs copy."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime

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
