"""Repair what Terraform cannot: an endpoint SageMaker has marked Failed.

"DeleteEndpoint is the only operation that can be performed on a failed endpoint" (SageMaker API reference,
DescribeEndpoint, EndpointStatus), and Terraform ignores the endpoint's configuration after the first deployment
(the pipeline deploys), so a plan never touches it. `up` therefore deletes each Failed endpoint of the
environment and creates it again, with the same name, tags and the configuration it was serving: the model the
registry approved and the pipeline deployed. Deleting an endpoint deregisters its auto scaling ("Delete an
endpoint configured for auto scaling"), so the plan that follows registers the target and its policy again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.errors import VwtError


@dataclass(frozen=True)
class Repair:
    endpoint: str
    config: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "endpoint_config": self.config, "was_failed_because": self.reason}


def failed_endpoints(env: Environment, sm: Any) -> list[dict[str, Any]]:
    """DescribeEndpoint of each model's endpoint that exists and is Failed."""
    from botocore.exceptions import ClientError

    failed = []
    for model in env.catalogue.models:
        try:
            described = sm.describe_endpoint(EndpointName=env.endpoint_name(model.name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException":  # not deployed (yet)
                continue
            raise
        if described["EndpointStatus"] == "Failed":
            failed.append(described)
    return failed


def repair_failed_endpoints(
    env: Environment, sm: Any, echo: Callable[[str], None], poll_seconds: float, timeout_seconds: float
) -> list[Repair]:
    """Delete and create again every Failed endpoint of `env` with the configuration it served; each one is
    InService when this returns, or a VwtError says why it failed again."""
    repairs = []
    for described in failed_endpoints(env, sm):
        name, config = described["EndpointName"], described["EndpointConfigName"]
        reason = described.get("FailureReason") or "no reason given"
        echo(f"endpoint {name} is Failed ({reason.splitlines()[0]}): creating it again with {config}, what it served")
        tags = [
            t
            for t in sm.list_tags(ResourceArn=described["EndpointArn"]).get("Tags", [])
            if not t["Key"].startswith("aws:")
        ]
        sm.delete_endpoint(EndpointName=name)
        _wait(sm, name, {None}, poll_seconds, timeout_seconds)
        sm.create_endpoint(EndpointName=name, EndpointConfigName=config, **({"Tags": tags} if tags else {}))
        status = _wait(sm, name, {"InService", "Failed"}, poll_seconds, timeout_seconds)
        if status == "Failed":
            again = sm.describe_endpoint(EndpointName=name).get("FailureReason", "no reason given")
            raise VwtError(
                f"endpoint {name} failed again with {config}: {again}",
                "the model it serves cannot start: deploy another version with `vwt-deploy models rollback`, "
                "or retrain, then run `up` again",
            )
        echo(f"endpoint {name} is InService again")
        repairs.append(Repair(name, config, reason))
    return repairs


def _status(sm: Any, name: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return sm.describe_endpoint(EndpointName=name)["EndpointStatus"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException":  # "Could not find endpoint"
            return None
        raise


def _wait(sm: Any, name: str, done: set, poll: float, timeout: float) -> str | None:
    """Poll the endpoint until its status (None: deleted) is one of `done`."""
    deadline = time.monotonic() + timeout
    while (status := _status(sm, name)) not in done:
        if time.monotonic() > deadline:
            raise VwtError(f"timed out waiting for endpoint {name} (it is {status})", "run `vwt-deploy up` again")
        time.sleep(poll)
    return status
