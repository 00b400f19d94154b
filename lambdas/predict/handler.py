"""The prediction API's Lambda: `POST /v1/models/{model}/predictions` (API Gateway proxy integration).

validate (the catalogue's feature schema) -> preprocess (training order, defaults)
-> InvokeEndpoint -> risk group and intervention level (risk models) ->
publish (intervention topic, or operator topic) -> respond. Nothing is
published unless every prediction of the request is in.

Environment variables (Terraform sets them). Each is read as
VWT_<NAME> first (the names terraform/modules/prediction_api sets), then <NAME>:
  VWT_ENVIRONMENT              environment name (metrics dimension), default: the catalogue's
  VWT_ENDPOINTS                JSON object model -> SageMaker endpoint name (also VWT_ENDPOINT_NAMES, ENDPOINT_NAMES),
                               default: the catalogue's endpoint_name
  VWT_INTERVENTION_TOPIC_ARN   SNS topic of intervention events (risk models)
  VWT_OPERATOR_TOPIC_ARN       SNS topic of the operator feed (regression models)
  VWT_MAX_RECORDS              records per request, default: the catalogue's max_records
  VWT_MAX_BODY_BYTES           request body limit, default 1048576
  VWT_ENDPOINT_TIMEOUT_SECONDS read timeout of InvokeEndpoint, default 8 (capped at 10: 2 attempts stay below 29 s)
  VWT_CORS_ALLOW_ORIGINS       allowed origins, comma-separated or a JSON list, default: the catalogue's
  VWT_METRICS_NAMESPACE        embedded-metric namespace, default VWT/Prediction
  VWT_CATALOGUE_PATH           a catalogue.json to read instead of the bundled one
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

from . import catalogue as catalogue_mod
from .catalogue import MISSING, Catalogue, CatalogueError
from .endpoint import DEFAULT_READ_TIMEOUT, EndpointFailure, client_config, invoke
from .metrics import DEFAULT_NAMESPACE, emf_line
from .publish import PublishFailure, attributes, entries, publish
from .request import Problems, read_body, request_id_of, validate

TYPE_CHECKING = False  # typing is not imported at run time: a shorter cold start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_MAX_BODY = 1024 * 1024
# No publishing attempt starts later than this after the request arrived: with the endpoint's worst case
# (2 x (1 + 10) s = 22 s) and one SNS call (1 + 3 s), the answer leaves well inside API Gateway's 29 s
# (the Lambda function's timeout should be 28 s).
PUBLISH_DEADLINE_SECONDS = 24.0
_PATH = re.compile(r"/models/([^/]+)/predictions/?$")


def _get(environ: dict, *names: str) -> tuple[str, str]:
    """(the name found, its value): VWT_<NAME> first, then <NAME>, for each name given; ("", "") if none is set."""
    for name in names:
        for key in ("VWT_" + name, name):
            value = environ.get(key)
            if value:
                return key, value
    return "", ""


def _int_env(environ: dict, name: str, default: int) -> int:
    key, raw = _get(environ, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CatalogueError(f"environment variable {key} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise CatalogueError(f"environment variable {key} must be positive")
    return value


class Settings:
    """What the handler reads from its environment, checked once per container."""

    def __init__(self, catalogue: Catalogue, environ: dict):
        self.environment = _get(environ, "ENVIRONMENT")[1] or catalogue.environment or "unknown"
        key, raw = _get(environ, "ENDPOINTS", "ENDPOINT_NAMES")
        names: Any = {}
        if raw:
            try:
                names = json.loads(raw)
            except ValueError:
                names = None
            if not isinstance(names, dict):
                raise CatalogueError(f"environment variable {key} must be a JSON object of model -> endpoint name")
        self.endpoints = {m.name: str(names.get(m.name) or m.endpoint_name or "") for m in catalogue.models.values()}
        self.topics = {
            "intervention": _get(environ, "INTERVENTION_TOPIC_ARN")[1],
            "operator": _get(environ, "OPERATOR_TOPIC_ARN")[1],
        }
        self.max_records = _int_env(environ, "MAX_RECORDS", catalogue.max_records)
        self.max_body = _int_env(environ, "MAX_BODY_BYTES", DEFAULT_MAX_BODY)
        key, raw = _get(environ, "ENDPOINT_TIMEOUT_SECONDS")
        try:
            self.read_timeout = float(raw or DEFAULT_READ_TIMEOUT)
        except ValueError:
            raise CatalogueError(f"environment variable {key} must be a number") from None
        key, raw = _get(environ, "CORS_ALLOW_ORIGINS")
        if not raw:
            origins = list(catalogue.cors_allow_origins)
        elif raw.lstrip().startswith("["):
            try:
                origins = json.loads(raw)
            except ValueError:
                origins = None
            if not isinstance(origins, list):
                raise CatalogueError(f"environment variable {key} must be a JSON list or comma-separated origins")
        else:
            origins = [o.strip() for o in raw.split(",") if o.strip()]
        self.cors = tuple(str(o) for o in origins)
        self.namespace = _get(environ, "METRICS_NAMESPACE")[1] or DEFAULT_NAMESPACE
        self.region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or catalogue.region


class PredictionService:
    """One container's state: the catalogue, settings and AWS clients (made on first use, or given by tests)."""

    def __init__(
        self,
        catalogue: Catalogue,
        environ: dict | None = None,
        sagemaker: Any = None,
        sns: Any = None,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.catalogue = catalogue
        self.settings = Settings(catalogue, dict(os.environ if environ is None else environ))
        self._sagemaker = sagemaker
        self._sns = sns
        self.log = log or _print
        self.clock = clock

    @property
    def sagemaker(self) -> Any:
        if self._sagemaker is None:
            import boto3  # imported on first use: keeps the module's import fast

            self._sagemaker = boto3.client(
                "sagemaker-runtime", region_name=self.settings.region, config=client_config(self.settings.read_timeout)
            )
        return self._sagemaker

    @property
    def sns(self) -> Any:
        if self._sns is None:
            import boto3
            from botocore.config import Config

            # one attempt per call: publish() retries failed entries itself, within the request's deadline
            self._sns = boto3.client(
                "sns",
                region_name=self.settings.region,
                config=Config(connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1, "mode": "standard"}),
            )
        return self._sns

    # ------------------------------------------------------------------ the request
    def handle(self, event: Any, context: Any = None) -> dict:
        started = time.perf_counter()
        event = event if isinstance(event, dict) else {}
        api_request_id = _api_request_id(event, context)
        headers = _cors_headers(event, self.settings.cors)
        headers["X-Request-Id"] = api_request_id
        metrics: dict[str, float] = {"Requests": 1}
        props: dict[str, Any] = {"api_request_id": api_request_id}
        model_name = "unknown"

        def finish(status: int, body: dict, extra_headers: dict | None = None) -> dict:
            metrics["Latency"] = round((time.perf_counter() - started) * 1000, 3)
            props["status"] = status
            self.log(
                emf_line(
                    self.settings.namespace,
                    self.settings.environment,
                    model_name,
                    int(self.clock() * 1000),
                    metrics,
                    props,
                )
            )
            return {
                "statusCode": status,
                "headers": {**headers, **(extra_headers or {})},
                "body": json.dumps(body, separators=(",", ":")),
            }

        method = _method(event)
        if method == "OPTIONS":
            metrics["Requests"] = 0
            return finish(200, {})
        if method not in (None, "POST"):
            metrics["ClientErrors"] = 1
            return finish(
                405,
                _error("method_not_allowed", f"{method} is not allowed; POST the records", api_request_id),
                {"Allow": "POST, OPTIONS"},
            )

        asked = _model_name(event)
        model = self.catalogue.models.get(asked) if asked is not None else None
        if model is None:
            metrics["ClientErrors"] = 1
            return finish(
                404,
                _error(
                    "unknown_model",
                    f"no model {str(asked)[:80]!r}; models are: {', '.join(self.catalogue.models)}",
                    api_request_id,
                ),
            )
        model_name = model.name

        problems = Problems()
        body = read_body(event, self.settings.max_body, problems)
        request_id = api_request_id
        user_ids: list[str] = []
        rows: list[list[Any]] = []
        if body is not MISSING:
            request_id = request_id_of(body, problems) or api_request_id
            user_ids, rows = validate(model, body, self.settings.max_records, self.catalogue.user_id_field, problems)
        props["request_id"] = request_id
        if problems:
            metrics["ClientErrors"] = 1
            err = _error(
                "invalid_request", f"{problems.count} problem(s) in the request; fix them and send it again", request_id
            )
            err["problems"] = problems.items
            err["problem_count"] = problems.count
            return finish(400, err)

        metrics["Records"] = len(rows)
        endpoint = self.settings.endpoints.get(model.name)
        topic = self.settings.topics[model.consumer]
        if not endpoint or not topic:
            missing = "ENDPOINT_NAMES" if not endpoint else f"{model.consumer.upper()}_TOPIC_ARN"
            self.log(json.dumps({"level": "ERROR", "request_id": request_id, "message": f"{missing} is not set"}))
            return finish(
                500, _error("misconfigured", "the prediction service is not configured for this model", request_id)
            )

        t0 = time.perf_counter()
        try:
            scores, version = invoke(self.sagemaker, endpoint, model.names, rows, model.task)
        except EndpointFailure as failure:
            metrics["EndpointLatency"] = round((time.perf_counter() - t0) * 1000, 3)
            metrics["EndpointErrors"] = 1
            props["error"] = failure.reason
            self.log(
                json.dumps(
                    {
                        "level": "ERROR",
                        "request_id": request_id,
                        "model": model.name,
                        "endpoint": endpoint,
                        "reason": failure.reason,
                        "message": failure.message,
                    }
                )
            )
            err = _error(failure.reason, failure.message + "; nothing was published, try again later", request_id)
            err["retry_after"] = failure.retry_after
            return finish(failure.status, err, {"Retry-After": str(failure.retry_after)})
        metrics["EndpointLatency"] = round((time.perf_counter() - t0) * 1000, 3)
        version = version or "unknown"

        now = _iso_time(self.clock())
        predictions, messages, attrs = self._results(model, user_ids, scores, version, request_id, now, metrics)
        try:
            publish(self.sns, topic, entries(messages, attrs), deadline=started + PUBLISH_DEADLINE_SECONDS)
        except PublishFailure as failure:
            metrics["PublishErrors"] = 1
            props["error"] = "publish_failed"
            self.log(
                json.dumps(
                    {
                        "level": "ERROR",
                        "request_id": request_id,
                        "model": model.name,
                        "topic": topic,
                        "failed": failure.failed,
                        "message": failure.detail,
                    }
                )
            )
            err = _error(
                "publish_failed",
                f"the predictions could not all be delivered to the {model.consumer} feed; "
                "send the same request (same request_id) again: consumers drop duplicates by event_id",
                request_id,
            )
            err["retry_after"] = 5
            return finish(503, err, {"Retry-After": "5"})

        props["model_version"] = version
        return finish(
            200, {"request_id": request_id, "model": model.name, "model_version": version, "predictions": predictions}
        )

    def _results(self, model, user_ids, scores, version, request_id, now, metrics):
        predictions, messages, attrs = [], [], []
        env = self.settings.environment
        name = model.name
        if model.consumer == "intervention":
            classify = self.catalogue.intervention.classify
            counts: dict[str, int] = dict.fromkeys(self.catalogue.intervention.names, 0)
            shared: dict[str, dict] = {}  # message attributes, one per risk group
            for i, (user_id, score) in enumerate(zip(user_ids, scores, strict=True)):
                group, level = classify(score)
                counts[group] += 1
                predictions.append(
                    {"user_id": user_id, "prediction": score, "risk_group": group, "intervention_level": level}
                )
                messages.append(
                    {
                        "event_id": f"{request_id}:{i}",
                        "event_type": "intervention",
                        "user_id": user_id,
                        "model": name,
                        "model_version": version,
                        "score": score,
                        "risk_group": group,
                        "intervention_level": level,
                        "request_id": request_id,
                        "time": now,
                        "environment": env,
                    }
                )
                a = shared.get(group)
                if a is None:
                    a = shared[group] = attributes(
                        {"event_type": "intervention", "model": name, "risk_group": group, "intervention_level": level}
                    )
                attrs.append(a)
            for group, count in counts.items():
                metrics[f"RiskGroup_{group}"] = count
        else:
            a = attributes({"event_type": "prediction", "model": name})
            for i, (user_id, value) in enumerate(zip(user_ids, scores, strict=True)):
                predictions.append({"user_id": user_id, "prediction": value})
                messages.append(
                    {
                        "event_id": f"{request_id}:{i}",
                        "event_type": "prediction",
                        "user_id": user_id,
                        "model": name,
                        "model_version": version,
                        "prediction": value,
                        "target": model.label,
                        "request_id": request_id,
                        "time": now,
                        "environment": env,
                    }
                )
                attrs.append(a)
        return predictions, messages, attrs


# --------------------------------------------------------------------------- helpers


def _iso_time(t: float) -> str:
    """UTC ISO 8601 with milliseconds, e.g. 2026-11-27T09:41:52.923Z (without importing datetime)."""
    seconds = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((t - seconds) * 1000):03d}Z"


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")


def _error(code: str, message: str, request_id: str) -> dict:
    return {"error": code, "message": message, "request_id": request_id}


def _api_request_id(event: dict, context: Any) -> str:
    rc = event.get("requestContext")
    if isinstance(rc, dict) and isinstance(rc.get("requestId"), str) and rc["requestId"]:
        return rc["requestId"][:128]
    aws_id = getattr(context, "aws_request_id", None)
    if isinstance(aws_id, str) and aws_id:
        return aws_id
    import uuid

    return str(uuid.uuid4())


def _method(event: dict) -> str | None:
    method = event.get("httpMethod")
    if method is None:
        rc = event.get("requestContext")
        http = rc.get("http") if isinstance(rc, dict) else None
        method = http.get("method") if isinstance(http, dict) else None
    return method.upper() if isinstance(method, str) else None


def _model_name(event: dict) -> Any:
    params = event.get("pathParameters")
    if isinstance(params, dict) and "model" in params:
        return params["model"] if isinstance(params["model"], str) else None
    path = event.get("path") or event.get("rawPath")
    if isinstance(path, str):
        match = _PATH.search(path)
        if match:
            return match.group(1)
    return None


def _cors_headers(event: dict, allowed: tuple[str, ...]) -> dict:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if not allowed:
        return headers
    origin = None
    raw = event.get("headers")
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(key, str) and key.lower() == "origin" and isinstance(value, str):
                origin = value
                break
    if "*" in allowed:
        headers["Access-Control-Allow-Origin"] = "*"
    elif origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    else:
        return headers
    headers["Access-Control-Allow-Headers"] = "Content-Type,X-Api-Key"
    headers["Access-Control-Allow-Methods"] = "POST,OPTIONS"
    return headers


# --------------------------------------------------------------------------- the Lambda entry point

_service: PredictionService | None = None


def service() -> PredictionService:
    """The container's service, made on the first request (the catalogue is read once)."""
    global _service
    if _service is None:
        _service = PredictionService(catalogue_mod.load())
    return _service


def handler(event: Any, context: Any = None) -> dict:
    """API Gateway proxy handler. Always answers JSON; a stack trace only ever reaches the log."""
    try:
        return service().handle(event, context)
    except CatalogueError as exc:
        _print(json.dumps({"level": "ERROR", "message": f"misconfigured: {exc}"}))
        return _last_resort(event, context, "misconfigured", "the prediction service is misconfigured")
    except Exception:
        import traceback

        _print(json.dumps({"level": "ERROR", "message": "unexpected error", "traceback": traceback.format_exc()}))
        return _last_resort(event, context, "internal_error", "unexpected error; it was logged")


def _last_resort(event: Any, context: Any, code: str, message: str) -> dict:
    request_id = _api_request_id(event if isinstance(event, dict) else {}, context)
    return {
        "statusCode": 500,
        "headers": {"Content-Type": "application/json", "X-Request-Id": request_id},
        "body": json.dumps(_error(code, message, request_id)),
    }
