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
  VWT_OPERATOR_KEYS            JSON object API key id -> operator id (required): the operator of a request is
                               the owner of the key API Gateway checked, never anything in the body
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
from .events import Batch, intervention_events, prediction_events
from .metrics import DEFAULT_NAMESPACE, emf_line
from .publish import PublishFailure, entries, publish
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
        key, raw = _get(environ, "OPERATOR_KEYS")
        try:
            keys = json.loads(raw) if raw else None
        except ValueError:
            keys = None
        if not isinstance(keys, dict) or not keys or not all(isinstance(v, str) and v for v in keys.values()):
            raise CatalogueError(
                f"environment variable {key or 'VWT_OPERATOR_KEYS'} must be a JSON object of API key id -> operator id"
            )
        self.operator_keys: dict[str, str] = keys
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
        """One API Gateway proxy event in, its answer out; every answer logs one embedded-metric line."""
        started = time.perf_counter()
        event = event if isinstance(event, dict) else {}
        call = _Call(started, _api_request_id(event, context), _cors_headers(event, self.settings.cors))
        try:
            status, body, extra_headers = 200, self._predict(event, call), None
        except _Answer as answer:
            status, body, extra_headers = answer.status, answer.body, answer.headers
        return self._finish(call, status, body, extra_headers)

    def _finish(self, call: _Call, status: int, body: dict, extra_headers: dict | None) -> dict:
        call.metrics["Latency"] = round((time.perf_counter() - call.started) * 1000, 3)
        call.props["status"] = status
        self.log(
            emf_line(
                self.settings.namespace,
                self.settings.environment,
                call.model_name,
                int(self.clock() * 1000),
                call.metrics,
                call.props,
            )
        )
        return {
            "statusCode": status,
            "headers": {**call.headers, **(extra_headers or {})},
            "body": json.dumps(body, separators=(",", ":")),
        }

    def _predict(self, event: dict, call: _Call) -> dict:
        """The 200 answer's body; any other answer is raised as _Answer by the step that decides it."""
        _check_method(event, call)
        operator_id = self._operator(event, call)
        model = self._model(event, call)
        user_ids, rows = self._records(event, model, call)
        _own_player(event, user_ids, call)
        endpoint, topic = self._destinations(model, call)
        scores, version = self._invoke(model, endpoint, rows, call)
        now = _iso_time(self.clock())
        predictions, messages, attrs = self._results(
            model, user_ids, scores, version, operator_id, call.request_id, now, call.metrics
        )
        self._publish(model, topic, messages, attrs, call)
        call.props["model_version"] = version
        return {
            "request_id": call.request_id,
            "operator_id": operator_id,
            "model": model.name,
            "model_version": version,
            "predictions": predictions,
        }

    def _operator(self, event: dict, call: _Call) -> str:
        """The operator whose API key API Gateway checked (requestContext.identity.apiKeyId), or, on the device
        route, the one whose identity provider issued the token (requestContext.authorizer.operator_id, which the
        authorizer allowed on that operator's path only), or 403. The body never names the operator: a caller can
        only ever speak, and be answered, for its own operator."""
        authorizer = _authorizer(event)
        key_id = _api_key_id(event)
        if authorizer.get("operator_id"):
            parameters = event.get("pathParameters")
            path_operator = parameters.get("operator") if isinstance(parameters, dict) else None
            operator_id = authorizer["operator_id"] if path_operator == authorizer["operator_id"] else None
        else:
            operator_id = self.settings.operator_keys.get(key_id) if key_id else None
        if operator_id is None:
            call.metrics["ClientErrors"] = 1
            raise _Answer(
                403,
                _error(
                    "unknown_operator",
                    "this API key belongs to no operator of the prediction service; use the key your operator "
                    "was given (vwt-deploy predict --operator ID reads it)",
                    call.request_id,
                ),
            )
        call.props["operator_id"] = operator_id
        return operator_id

    def _model(self, event: dict, call: _Call) -> Any:
        """The catalogue's model the path names, or 404."""
        asked = _model_name(event)
        model = self.catalogue.models.get(asked) if asked is not None else None
        if model is None:
            call.metrics["ClientErrors"] = 1
            raise _Answer(
                404,
                _error(
                    "unknown_model",
                    f"no model {str(asked)[:80]!r}; models are: {', '.join(self.catalogue.models)}",
                    call.request_id,
                ),
            )
        call.model_name = model.name
        return model

    def _records(self, event: dict, model: Any, call: _Call) -> tuple[list[str], list[list[Any]]]:
        """(user ids, feature rows) of a valid body, or 400 with every problem; sets the request id."""
        problems = Problems()
        body = read_body(event, self.settings.max_body, problems)
        user_ids: list[str] = []
        rows: list[list[Any]] = []
        if body is not MISSING:
            call.request_id = request_id_of(body, problems) or call.request_id
            user_ids, rows = validate(model, body, self.settings.max_records, self.catalogue.user_id_field, problems)
        call.props["request_id"] = call.request_id
        if problems:
            call.metrics["ClientErrors"] = 1
            err = _error(
                "invalid_request",
                f"{problems.count} problem(s) in the request; fix them and send it again",
                call.request_id,
            )
            err["problems"] = problems.items
            err["problem_count"] = problems.count
            raise _Answer(400, err)
        call.metrics["Records"] = len(rows)
        return user_ids, rows

    def _destinations(self, model: Any, call: _Call) -> tuple[str, str]:
        """(the model's endpoint, its consumer's topic), or 500 when the environment lacks one."""
        endpoint = self.settings.endpoints.get(model.name)
        topic = self.settings.topics[model.consumer]
        if not endpoint or not topic:
            missing = "ENDPOINT_NAMES" if not endpoint else f"{model.consumer.upper()}_TOPIC_ARN"
            self.log(json.dumps({"level": "ERROR", "request_id": call.request_id, "message": f"{missing} is not set"}))
            raise _Answer(
                500, _error("misconfigured", "the prediction service is not configured for this model", call.request_id)
            )
        return endpoint, topic

    def _invoke(self, model: Any, endpoint: str, rows: list[list[Any]], call: _Call) -> tuple[list[float], str]:
        """(predictions, model version) from the endpoint, or the endpoint's failure as an answer."""
        t0 = time.perf_counter()
        try:
            scores, version = invoke(self.sagemaker, endpoint, model.names, rows, model.task)
        except EndpointFailure as failure:
            call.metrics["EndpointLatency"] = round((time.perf_counter() - t0) * 1000, 3)
            call.metrics["EndpointErrors"] = 1
            call.props["error"] = failure.reason
            self.log(
                json.dumps(
                    {
                        "level": "ERROR",
                        "request_id": call.request_id,
                        "model": model.name,
                        "endpoint": endpoint,
                        "reason": failure.reason,
                        "message": failure.message,
                        **({"detail": failure.detail} if failure.detail else {}),
                    }
                )
            )
            err = _error(failure.reason, failure.message + "; nothing was published, try again later", call.request_id)
            err["retry_after"] = failure.retry_after
            raise _Answer(failure.status, err, {"Retry-After": str(failure.retry_after)}) from None
        call.metrics["EndpointLatency"] = round((time.perf_counter() - t0) * 1000, 3)
        return scores, version or "unknown"

    def _publish(self, model: Any, topic: str, messages: list[dict], attrs: list[dict], call: _Call) -> None:
        """Every message on the consumer's topic before the deadline, or 503 (the client sends it again)."""
        try:
            publish(self.sns, topic, entries(messages, attrs), deadline=call.started + PUBLISH_DEADLINE_SECONDS)
        except PublishFailure as failure:
            call.metrics["PublishErrors"] = 1
            call.props["error"] = "publish_failed"
            self.log(
                json.dumps(
                    {
                        "level": "ERROR",
                        "request_id": call.request_id,
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
                call.request_id,
            )
            err["retry_after"] = 5
            raise _Answer(503, err, {"Retry-After": "5"}) from None

    def _results(self, model, user_ids, scores, version, operator_id, request_id, now, metrics):
        """(predictions for the answer, messages for the consumer's topic, their message attributes); for risk
        models, the count per risk group goes to the metrics."""
        batch = Batch(model, version, operator_id, request_id, now, self.settings.environment)
        if model.consumer != "intervention":
            return prediction_events(batch, user_ids, scores)
        intervention = self.catalogue.intervention
        predictions, messages, attrs, counts = intervention_events(
            batch, intervention.classify, intervention.names, user_ids, scores
        )
        for group, count in counts.items():
            metrics[f"RiskGroup_{group}"] = count
        return predictions, messages, attrs


# --------------------------------------------------------------------------- one request


class _Call:
    """One request's answer headers, request id, model name, and the metrics and properties it logs."""

    __slots__ = ("started", "request_id", "headers", "metrics", "props", "model_name")

    def __init__(self, started: float, api_request_id: str, headers: dict):
        self.started = started
        self.request_id = api_request_id  # the body's request_id replaces it once the body is read
        self.headers = headers
        self.headers["X-Request-Id"] = api_request_id
        self.metrics: dict[str, float] = {"Requests": 1}
        self.props: dict[str, Any] = {"api_request_id": api_request_id}
        self.model_name = "unknown"


class _Answer(Exception):
    """An answer decided before the predictions are in (an error, or a CORS preflight): handle() sends it."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


def _authorizer(event: dict) -> dict:
    """What the device route's authorizer told API Gateway about the caller (operator_id, player_id), or {}."""
    context = event.get("requestContext")
    found = context.get("authorizer") if isinstance(context, dict) else None
    return found if isinstance(found, dict) else {}


def _own_player(event: dict, user_ids: list[str], call: _Call) -> None:
    """On the device route, a token that names its player may ask only about that player: any other record is 403,
    and nothing of the request is scored (OWASP API1, broken object level authorisation)."""
    player = _authorizer(event).get("player_id")
    if not player:
        return
    others = sorted({u for u in user_ids if u != player})
    if others:
        call.metrics["ClientErrors"] = 1
        raise _Answer(
            403,
            _error(
                "not_your_player",
                f"this token is {player}'s and may ask about {player} only; {len(others)} record(s) name other "
                "players, so nothing was scored",
                call.request_id,
            ),
        )


def _check_method(event: dict, call: _Call) -> None:
    """POST goes on; OPTIONS (a CORS preflight) is answered 200 and not counted; anything else is 405."""
    method = _method(event)
    if method == "OPTIONS":
        call.metrics["Requests"] = 0
        raise _Answer(200, {})
    if method not in (None, "POST"):
        call.metrics["ClientErrors"] = 1
        raise _Answer(
            405,
            _error("method_not_allowed", f"{method} is not allowed; POST the records", call.request_id),
            {"Allow": "POST, OPTIONS"},
        )


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


def _api_key_id(event: dict) -> str | None:
    """The id of the API key API Gateway checked (REST API proxy events: requestContext.identity.apiKeyId)."""
    rc = event.get("requestContext")
    identity = rc.get("identity") if isinstance(rc, dict) else None
    key_id = identity.get("apiKeyId") if isinstance(identity, dict) else None
    return key_id if isinstance(key_id, str) and key_id else None


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
