"""Calling the model's SageMaker endpoint and reading its answer.

The payload is `application/json`: a list of records, each an object of the
model's features in the catalogue's (training) order with typed values:
numbers as JSON numbers, bools as true/false, categories as their catalogue
string (the image encodes them the way it did in training). Optional
features absent from the request carry their catalogue default.

The answer may be a JSON list of predictions, or an object with
`predictions` (and optionally `model_version`); a prediction is a number or
an object with one of `score`, `probability`, `prediction`, `value`.
"""

from __future__ import annotations

import json
import math

TYPE_CHECKING = False  # typing is not imported at run time: a shorter cold start
if TYPE_CHECKING:
    from typing import Any

# Below API Gateway's 29 s integration timeout, with room for validation and publishing:
# at most 2 attempts x (1 s connect + READ_TIMEOUT) + backoff < 29 s.
CONNECT_TIMEOUT = 1.0
DEFAULT_READ_TIMEOUT = 8.0
MAX_READ_TIMEOUT = 10.0
MAX_ATTEMPTS = 2


class EndpointFailure(Exception):
    """The endpoint could not give predictions. `status` is 502 or 503; `retry_after` in seconds; `detail` is the
    service's own message (an access denied names the role and the endpoint: for the log, not for the client)."""

    def __init__(self, status: int, reason: str, message: str, retry_after: int, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.detail = detail


def client_config(read_timeout: float):
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=min(max(read_timeout, 1.0), MAX_READ_TIMEOUT),
        retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        tcp_keepalive=True,
    )


def payload(names: tuple[str, ...], rows: list[list[Any]]) -> bytes:
    return json.dumps(
        [dict(zip(names, row, strict=True)) for row in rows], separators=(",", ":"), allow_nan=False
    ).encode()


_THROTTLED = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ModelNotReadyException",
    "InternalFailure",
    "InternalDependencyException",
    "RequestTimeout",
    "RequestTimeoutException",
}


def classify(exc: BaseException, endpoint: str) -> EndpointFailure:
    """Map a botocore failure to the API's answer: 503 when retrying later may help, 502 when the model failed."""
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        text = str(err.get("Message", ""))
        if code in _THROTTLED:
            return EndpointFailure(
                503,
                "endpoint_throttled" if "hrottl" in code or "TooMany" in code else "endpoint_unavailable",
                f"the model endpoint is busy or not ready ({code})",
                2,
            )
        if code == "ValidationException" and ("not found" in text.lower() or "could not find" in text.lower()):
            return EndpointFailure(503, "endpoint_absent", f"the model endpoint {endpoint} does not exist (yet)", 60)
        if code == "ModelError":
            return EndpointFailure(502, "model_error", "the model failed on these records", 5)
        if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
            return EndpointFailure(502, "endpoint_forbidden", f"the API may not call the endpoint ({code})", 60, text)
        return EndpointFailure(502, "endpoint_error", f"the model endpoint refused the call ({code or 'unknown'})", 5)
    if isinstance(exc, ReadTimeoutError):
        return EndpointFailure(503, "endpoint_timeout", "the model endpoint did not answer in time", 2)
    if isinstance(exc, BotoConnectionError):
        return EndpointFailure(503, "endpoint_unreachable", "the model endpoint could not be reached", 5)
    return EndpointFailure(502, "endpoint_error", f"calling the model endpoint failed ({type(exc).__name__})", 5)


_KEYS = ("score", "probability", "prediction", "value")


def _number(item: Any) -> float | None:
    if isinstance(item, dict):
        for key in _KEYS:
            if key in item:
                item = item[key]
                break
        else:
            return None
    if isinstance(item, list) and len(item) in (1, 2):
        item = item[-1]  # [value], or a binary classifier's [p(0), p(1)]: the risk is p(1)
    if type(item) in (int, float) and math.isfinite(item):
        return float(item)
    return None


def parse_answer(body: bytes, expected: int, task: str) -> tuple[list[float], str | None]:
    """(one number per record, model version if the answer names one) or EndpointFailure(502)."""

    def bad(why: str) -> EndpointFailure:
        return EndpointFailure(502, "bad_model_answer", f"the model endpoint answered something unusable: {why}", 5)

    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        raise bad("not JSON") from None
    version = None
    if isinstance(answer, dict):
        version = answer.get("model_version")
        answer = answer.get("predictions")
    if not isinstance(answer, list):
        raise bad("no list of predictions")
    if len(answer) != expected:
        raise bad(f"{len(answer)} predictions for {expected} records")
    out = []
    for item in answer:
        value = _number(item)
        if value is None:
            raise bad(f"{str(item)[:40]!r} is not a finite number")
        if task != "regression" and not 0.0 <= value <= 1.0:
            raise bad(f"risk score {value} is outside [0, 1]")
        out.append(value)
    return out, (str(version) if version is not None else None)


def invoke(
    client: Any, endpoint: str, names: tuple[str, ...], rows: list[list[Any]], task: str
) -> tuple[list[float], str | None]:
    """Predictions for `rows` and the model version, or EndpointFailure."""
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Accept="application/json",
            Body=payload(names, rows),
        )
        body = response["Body"].read()
    except EndpointFailure:
        raise
    except Exception as exc:  # botocore's many error types: classified, never raised to the caller
        raise classify(exc, endpoint) from None
    values, version = parse_answer(body, len(rows), task)
    if version is None:
        version = _version_from_attributes(response.get("CustomAttributes"))
    return values, version


def _version_from_attributes(attributes: Any) -> str | None:
    if not isinstance(attributes, str):
        return None
    for part in attributes.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip() == "model_version" and value.strip():
            return value.strip()
    return None
