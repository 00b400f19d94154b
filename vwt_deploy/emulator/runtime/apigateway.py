"""API Gateway (REST): deployed APIs answer on `<emulator>/_aws/execute-api/<api id>/<stage>/<path>`.

moto records REST APIs but does not route requests to them in server mode.
`middleware` serves that address (LocalStack's form of a local invoke URL) from
moto's in-process API Gateway records, as API Gateway does:

- the stage must exist (else 403 Forbidden); the resource path ({param}, {proxy+}) and the method
  (or ANY) must match (else 403 "Missing Authentication Token");
- `apiKeyRequired`: the `x-api-key` header must be an enabled key of a usage plan covering the API and
  stage (else 403 Forbidden); the plan's throttle (token bucket per key), its per-method throttle and the
  stage's method settings (token bucket per method) give 429 "Too Many Requests", its quota 429 "Limit Exceeded";
- a request validator checks required parameters and the body against the method's model
  (JSON Schema draft 4): 400 "Invalid request body";
- MOCK integrations answer their integration response (static header values; VTL is not interpreted:
  its directive lines are left out); AWS_PROXY to Lambda builds the REST proxy event, calls
  `runtime.lambdas.invoke` and maps the proxy answer; a function error or a malformed answer gives
  502 "Internal server error", no answer within the integration timeout (29 s) 504;
- errors are the API's gateway responses when it customises them (static headers; `$context` values
  substituted), else API Gateway's defaults (`{"message": ...}`).

The routes serve the API's current resources: moto keeps no snapshot per deployment.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from datetime import datetime, timezone

from vwt_deploy.emulator.runtime import ACCOUNT_ID, Runtime

log = logging.getLogger("vwt_deploy.emulator.runtime.apigateway")
PREFIX = "/_aws/execute-api/"
DEFAULT_TIMEOUT_MS = 29000
AUTHORIZER_TIMEOUT_S = 29.0  # the integration's limit: an authorizer that answers later fails the request

# response type -> (status, message, x-amzn-ErrorType) of API Gateway's default gateway responses
_DEFAULTS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token", "MissingAuthenticationTokenException"),
    "INVALID_API_KEY": (403, "Forbidden", "ForbiddenException"),
    "ACCESS_DENIED": (403, "Forbidden", "ForbiddenException"),
    "THROTTLED": (429, "Too Many Requests", "TooManyRequestsException"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded", "LimitExceededException"),
    "BAD_REQUEST_BODY": (400, "Invalid request body", "BadRequestException"),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters", "BadRequestException"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error", "InternalServerErrorException"),
    "INTEGRATION_FAILURE": (502, "Internal server error", "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out", "InternalServerErrorException"),
    "UNAUTHORIZED": (401, "Unauthorized", "UnauthorizedException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None, "AuthorizerConfigurationException"),
}
_PROXY_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


def local_invoke_url(emulator_url: str, api_id: str, stage: str) -> str:
    """The local address of a deployed stage (requests go to `<it>/<resource path>`)."""
    return f"{emulator_url.rstrip('/')}{PREFIX}{api_id}/{stage}"


def local_url_of(emulator_url: str, api_url: str) -> str | None:
    """The local address of a stage given its AWS invoke URL (`https://<id>.execute-api.<region>...../<stage>`)."""
    match = re.match(r"^https?://([a-z0-9]+)\.execute-api\.[^/]+/([^/]+)/?$", api_url or "")
    return local_invoke_url(emulator_url, match.group(1), match.group(2)) if match else None


def _aws_wording(error) -> str:
    """A request-validation error as API Gateway's validator words it in $context.error.validationErrorString
    (e.g. `object has missing required properties (["records"])`): the JSON-quoted names are what a gateway
    response template must cope with. Kinds API Gateway words differently from jsonschema keep jsonschema's."""
    names = json.dumps
    if error.validator == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = sorted(k for k in error.validator_value if k not in present)
        return f"object has missing required properties ({names(missing, separators=(',', ':'))})"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties") or {})
        extra = sorted(k for k in error.instance if k not in allowed)
        return (
            f"object instance has properties which are not allowed by the schema: {names(extra, separators=(',', ':'))}"
        )
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        found = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
            type(error.instance), "integer" if isinstance(error.instance, int) else "number"
        )
        return (
            f"instance type ({found}) does not match any allowed primitive type "
            f"(allowed: {names(kinds, separators=(',', ':'))})"
        )
    if error.validator == "minItems":
        return (
            f"array is too short: must have at least {error.validator_value} elements but instance has "
            f"{len(error.instance)} elements"
        )
    if error.validator == "maxItems":
        return (
            f"array is too long: must have at most {error.validator_value} elements but instance has "
            f"{len(error.instance)} elements"
        )
    return error.message


class GatewayError(Exception):
    """An answer API Gateway gives itself (a gateway response). `key` names the message in the default body:
    `message`, or `Message` in an authorizer's denial, as API Gateway words them."""

    def __init__(self, response_type: str, message: str | None = None, validation: str = "", key: str = "message"):
        self.response_type = response_type
        self.status, default, self.error_type = _DEFAULTS[response_type]
        self.message = message or default
        self.validation = validation
        self.key = key
        super().__init__(self.message or response_type)


class _Bucket:
    """A token bucket: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class Gateway:
    """Serves the local invoke URLs of every REST API in the emulator."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._buckets: dict[tuple, _Bucket] = {}
        self._quota: dict[tuple, tuple[str, int]] = {}
        self._authorizers = None  # authorizers.Authorizers, made on the first request that needs one
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict, start_response) -> list[bytes]:
        from werkzeug.wrappers import Request

        request = Request(environ)
        request_id = str(uuid.uuid4())
        api = None
        try:
            api_id, _, rest = request.path[len(PREFIX) :].partition("/")
            stage_name, _, path = rest.partition("/")
            backend, api = self._api(api_id)
            if api is None:
                status, headers, body = (
                    404,
                    [("Content-Type", "application/json")],
                    json.dumps(
                        {
                            "message": f"no REST API {api_id!r} in this emulator: `vwt-deploy status --env local` "
                            "shows the local address of the deployed API"
                        }
                    ).encode(),
                )
            else:
                status, headers, body = self._handle(request, request_id, backend, api, stage_name, "/" + path)
        except GatewayError as exc:
            status, headers, body = self._gateway_response(api, exc, request_id)
        except Exception:  # noqa: BLE001 - a bug here answers as API Gateway's own failure, and is logged
            log.exception("local API Gateway failed on %s %s", request.method, request.path)
            status, headers, body = 500, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'
        headers = [*headers, ("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
        start_response(f"{status} {_reason(status)}", headers)
        return [body]

    def _api(self, api_id: str):
        from moto.apigateway.models import apigateway_backends

        for backend in list(apigateway_backends[ACCOUNT_ID].values()):
            if api_id in backend.apis:
                return backend, backend.apis[api_id]
        return None, None

    # ------------------------------------------------------------------ one request
    def _handle(self, request, request_id: str, backend, api, stage_name: str, path: str):
        stage = api.stages.get(stage_name)
        if stage is None:
            raise GatewayError("ACCESS_DENIED")
        resource, params = _match(api, path)
        method = resource.resource_methods.get(request.method) or resource.resource_methods.get("ANY")
        if method is None:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
        resource_path = resource.get_path()
        execute_api = f"arn:aws:execute-api:{backend.region_name}:{backend.account_id}:{api.id}"
        body = request.get_data()
        authorized = None
        if (method.authorization_type or "NONE").upper() == "CUSTOM":
            event = _proxy_event(request, request_id, api, stage, resource, resource_path, path, params, b"", None)
            for name in ("body", "isBase64Encoded"):
                event.pop(name)
            authorized = self._authorize(api, method, request, f"{execute_api}/{stage_name}/{request.method}{path}",
                                         event)  # fmt: skip
        key, plan = self._authorise(request, backend, api, stage_name) if method.api_key_required else (None, None)
        self._throttle(api, stage, stage_name, resource_path, request.method, key, plan)
        self._validate(request, api, method, body)
        integration = method.method_integration
        if integration is None:
            raise GatewayError("API_CONFIGURATION_ERROR")
        if integration.integration_type == "MOCK":
            return _mock(integration, request)
        if integration.integration_type == "AWS_PROXY" and ":lambda:path/" in (integration.uri or ""):
            event = _proxy_event(request, request_id, api, stage, resource, resource_path, path, params, body, key)
            if authorized is not None:
                event["requestContext"]["authorizer"] = authorized
            return self._call_lambda(integration, event, f"{execute_api}/{stage_name}/{request.method}{resource_path}")
        raise GatewayError(
            "API_CONFIGURATION_ERROR",
            f"the local API Gateway runs MOCK and AWS_PROXY (Lambda) "
            f"integrations only, not {integration.integration_type} ({request.method} {resource_path})",
        )

    def _authorise(self, request, backend, api, stage_name: str):
        """(the API key, its usage plan covering this stage), or GatewayError INVALID_API_KEY."""
        value = request.headers.get("x-api-key")
        key = next((k for k in backend.keys.values() if value and k.value == value and k.enabled), None)
        if key is not None:
            for plan in backend.usage_plans.values():
                covers = any(s.get("apiId") == api.id and s.get("stage") == stage_name for s in plan.api_stages)
                if covers and key.id in backend.usage_plan_keys.get(plan.id, {}):
                    return key, plan
        raise GatewayError("INVALID_API_KEY")

    def _bucket_allows(self, scope: tuple, settings: dict, rate_key: str, burst_key: str) -> bool:
        if rate_key not in settings and burst_key not in settings:
            return True
        rate, burst = float(settings.get(rate_key, 0)), int(settings.get(burst_key, 0))
        with self._lock:
            bucket = self._buckets.get(scope)
            if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
                bucket = self._buckets[scope] = _Bucket(rate, burst)
        return bucket.take()

    def _throttle(self, api, stage, stage_name: str, resource_path: str, http_method: str, key, plan) -> None:
        method_key = f"{resource_path.replace('/', '~1')}/{http_method}"
        settings = stage.method_settings.get(method_key) or stage.method_settings.get("*/*") or {}
        checks = [((api.id, stage_name, method_key), settings, "throttlingRateLimit", "throttlingBurstLimit")]
        if plan is not None:
            checks.append(((plan.id, key.id), plan.throttle or {}, "rateLimit", "burstLimit"))
            for api_stage in plan.api_stages:
                per_method = (api_stage.get("throttle") or {}).get(f"{resource_path}/{http_method}")
                if api_stage.get("apiId") == api.id and api_stage.get("stage") == stage_name and per_method:
                    checks.append(
                        ((plan.id, key.id, resource_path, http_method), per_method, "rateLimit", "burstLimit")
                    )
        for scope, values, rate_key, burst_key in checks:
            if not self._bucket_allows(scope, values, rate_key, burst_key):
                raise GatewayError("THROTTLED")
        if plan is not None and plan.quota.get("limit") is not None:
            self._count_quota(plan, key)

    def _count_quota(self, plan, key) -> None:
        now = datetime.now(timezone.utc)
        period = {"DAY": f"{now:%Y-%m-%d}", "WEEK": f"{now:%G-W%V}"}.get(plan.quota.get("period"), f"{now:%Y-%m}")
        with self._lock:
            seen, used = self._quota.get((plan.id, key.id), (period, 0))
            used = used if seen == period else 0
            if used >= int(plan.quota["limit"]):
                raise GatewayError("QUOTA_EXCEEDED")
            self._quota[(plan.id, key.id)] = (period, used + 1)

    def _validate(self, request, api, method, body: bytes) -> None:
        validator = api.request_validators.get(method.request_validator_id or "")
        if validator is None:
            return
        if validator.validate_request_parameters:
            sources = {"querystring": request.args, "header": request.headers}  # path parameters matched already
            wanted = [
                name.split(".", 3)[2:] for name, required in (method.request_parameters or {}).items() if required
            ]
            missing = [name for source, name in wanted if source in sources and name not in sources[source]]
            if missing:
                raise GatewayError(
                    "BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{', '.join(missing)}]"
                )
        models = method.request_models or {}
        content_type = (request.mimetype or "application/json").lower()
        model_name = models.get(content_type) or models.get("$default")
        if not validator.validate_request_body or not model_name or model_name == "Empty":
            return
        model = api.models.get(model_name)
        if model is None or not model.schema:
            raise GatewayError("API_CONFIGURATION_ERROR")
        import jsonschema

        try:
            document = json.loads(body or b"null")
        except ValueError as exc:
            raise GatewayError("BAD_REQUEST_BODY", validation=f"[Invalid JSON: {exc}]") from None
        errors = [_aws_wording(e) for e in jsonschema.Draft4Validator(json.loads(model.schema)).iter_errors(document)]
        if errors:
            raise GatewayError("BAD_REQUEST_BODY", validation="[" + ", ".join(errors) + "]")

    def _authorize(self, api, method, request, method_arn: str, event: dict) -> dict:
        """The method's Lambda authorizer's `requestContext.authorizer`, or the GatewayError it answers with
        (`authorizers`: 401, 403, or 500 for an authorizer that fails)."""
        from vwt_deploy.emulator.runtime.authorizers import Authorizers, Refused

        authorizer = api.authorizers.get(method.authorizer_id or "")
        if authorizer is None:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        with self._lock:
            if self._authorizers is None:
                self._authorizers = Authorizers(self._invoke_authorizer)
        try:
            found = self._authorizers.authorize(authorizer, request, method_arn, event)
        except Refused as refused:
            key = "Message" if refused.response_type == "ACCESS_DENIED" else "message"
            raise GatewayError(refused.response_type, refused.message, key=key) from None
        return {name: _context_value(value) for name, value in found.items()}

    def _invoke_authorizer(self, function: str, event: dict, authorizer_id: str) -> tuple[bytes, str | None]:
        """Invoke an authorizer's function as API Gateway does (its permission for the authorizer's ARN); an
        authorizer that may not be invoked or does not answer is AUTHORIZER_CONFIGURATION_ERROR."""
        from vwt_deploy.emulator.runtime.authorizers import Refused

        api = event["methodArn"].split("/", 1)[0]  # arn:aws:execute-api:<region>:<account>:<api id>
        source = f"{api}/authorizers/{authorizer_id}"
        try:
            status, payload, function_error = self._invoke(function, event, source, AUTHORIZER_TIMEOUT_S)
        except GatewayError:
            raise Refused("AUTHORIZER_CONFIGURATION_ERROR") from None
        if status != 200:
            raise Refused("AUTHORIZER_CONFIGURATION_ERROR")
        return payload, function_error

    def _call_lambda(self, integration, event: dict, source_arn: str):
        """Invoke the integration's function and turn its proxy answer into the HTTP answer."""
        function = integration.uri.split("/functions/", 1)[1].rsplit("/invocations", 1)[0]
        timeout = int(integration.timeout_in_millis or DEFAULT_TIMEOUT_MS) / 1000
        status, payload, function_error = self._invoke(function, event, source_arn, timeout)
        if status != 200:
            raise GatewayError("API_CONFIGURATION_ERROR")
        if function_error:
            raise GatewayError("INTEGRATION_FAILURE")
        return _proxy_answer(payload)

    def _invoke(self, function: str, event: dict, source_arn: str, timeout: float):
        """(status, payload, function error) of invoking `function` as API Gateway's service principal: the
        function's resource policy must allow apigateway.amazonaws.com for `source_arn` (Lambda Developer Guide,
        "Invoking a Lambda function using an Amazon API Gateway endpoint"); when it does not, API Gateway answers
        500 and logs "Execution failed due to configuration error: Invalid permissions on Lambda function"."""
        enforcer = self.runtime.enforcer
        if enforcer is not None:
            denial = enforcer.service_may(
                "apigateway.amazonaws.com",
                "lambda:InvokeFunction",
                function,
                {"aws:SourceArn": source_arn, "aws:SourceAccount": function.split(":")[4]},
            )
            if denial is not None:
                log.warning(
                    "Execution failed due to configuration error: Invalid permissions on Lambda function (%s)", denial
                )
                raise GatewayError("API_CONFIGURATION_ERROR")
        answer: list = []
        worker = threading.Thread(
            target=lambda: answer.append(self.runtime.lambdas.invoke(function, event, function.split(":")[3])),
            daemon=True,
        )
        worker.start()
        worker.join(timeout)
        if not answer:
            raise GatewayError("INTEGRATION_TIMEOUT")
        return answer[0]

    # ------------------------------------------------------------------ gateway responses
    def _gateway_response(self, api, exc: GatewayError, request_id: str):
        responses = api.gateway_responses if api is not None else {}
        family = "DEFAULT_4XX" if exc.status < 500 else "DEFAULT_5XX"
        custom = responses.get(exc.response_type) or responses.get(family)
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", exc.error_type)]
        body = json.dumps({exc.key: exc.message}).encode()
        status = exc.status
        if custom is not None:
            status = int(custom.status_code or status)
            headers += _static_headers(custom.response_parameters, "gatewayresponse.header.")
            template = (custom.response_templates or {}).get("application/json")
            if template is not None:
                values = {
                    "$context.error.messageString": json.dumps(exc.message),
                    "$context.error.message": exc.message or "",
                    "$context.requestId": request_id,
                    "$context.error.responseType": exc.response_type,
                    "$context.error.validationErrorString": exc.validation,
                }
                for name in sorted(values, key=len, reverse=True):
                    template = template.replace(name, values[name])
                body = template.encode()
        return status, headers, body


def _context_value(value) -> str:
    """An authorizer's context value as the proxy event carries it (a string; booleans as JSON writes them)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _static_headers(parameters: dict | None, prefix: str) -> list[tuple[str, str]]:
    """Headers mapped from static values ('value'); mappings from the request are not emulated."""
    return [
        (name[len(prefix) :], value[1:-1])
        for name, value in (parameters or {}).items()
        if name.startswith(prefix) and len(value) >= 2 and value[0] == value[-1] == "'"
    ]


def _match(api, path: str):
    """The resource that serves `path` (literal parts before {param} before {proxy+}) and its path parameters."""
    segments = [s for s in path.split("/") if s]
    best = None
    for resource in list(api.resources.values()):
        parts = [p for p in resource.get_path().split("/") if p]
        params: dict[str, str] = {}
        rank: list[int] = []
        for i, part in enumerate(parts):
            if part.startswith("{") and part.endswith("+}"):
                if i != len(parts) - 1 or len(segments) <= i:
                    break
                params[part[1:-2]] = "/".join(segments[i:])
                rank.append(2)
                break
            if i >= len(segments):
                break
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segments[i]
                rank.append(1)
            elif part == segments[i]:
                rank.append(0)
            else:
                break
        else:
            if len(parts) != len(segments):
                continue
        if len(rank) != len(parts):
            continue
        if best is None or rank < best[0]:
            best = (rank, resource, params)
    if best is None:
        raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
    return best[1], best[2]


def _mock(integration, request):
    """A MOCK integration: the integration response its request template's statusCode selects."""
    templates = integration.request_templates or {}
    template = templates.get(request.mimetype or "application/json") or next(iter(templates.values()), "")
    try:
        wanted = str(json.loads(template).get("statusCode", 200))
    except (ValueError, AttributeError):
        wanted = "200"
    responses = integration.integration_responses or {}
    chosen = responses.get(wanted) or next((r for r in responses.values() if not r.selection_pattern), None)
    if chosen is None:
        raise GatewayError("API_CONFIGURATION_ERROR")
    headers = [
        ("Content-Type", "application/json"),
        *_static_headers(chosen.response_parameters, "method.response.header."),
    ]
    text = (chosen.response_templates or {}).get("application/json") or ""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")).strip()
    return int(chosen.status_code), headers, body.encode()


def _proxy_event(
    request, request_id: str, api, stage, resource, resource_path: str, path: str, params: dict, body: bytes, key
) -> dict:
    """The event of a Lambda proxy integration (REST API, payload format 1.0)."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault("-".join(p.capitalize() for p in name.split("-")), []).append(value)
    query: dict[str, list[str]] = {}
    for name, value in request.args.items(multi=True):
        query.setdefault(name, []).append(value)
    now = datetime.now(timezone.utc)
    try:
        text, encoded = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    region = api.region_name
    return {
        "resource": resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in headers.items()} or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": params or None,
        "stageVariables": dict(stage.variables) or None,
        "requestContext": {
            "resourceId": resource.id,
            "resourcePath": resource_path,
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage.name}{path}",
            "accountId": api.account_id,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": stage.name,
            "domainPrefix": api.id,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.remote_addr or "127.0.0.1",
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": request.headers.get("User-Agent"),
                "user": None,
                "apiKey": key.value if key is not None else None,
                "apiKeyId": key.id if key is not None else None,
            },
            "domainName": f"{api.id}.execute-api.{region}.amazonaws.com",
            "apiId": api.id,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _proxy_answer(payload: bytes):
    """The HTTP answer of a Lambda proxy response, or GatewayError (502) when it is malformed."""
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not set(answer) <= _PROXY_KEYS:
        raise GatewayError("INTEGRATION_FAILURE")
    status = answer.get("statusCode")
    single = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    body = answer.get("body")
    if (
        not isinstance(status, int)
        or not 100 <= status <= 599
        or not isinstance(single, dict)
        or not isinstance(multi, dict)
        or not all(isinstance(v, list) for v in multi.values())
        or not (body is None or isinstance(body, str))
    ):
        raise GatewayError("INTEGRATION_FAILURE")
    headers = [(str(k), str(v)) for k, values in multi.items() for v in values]
    named = {k.lower() for k in multi}
    headers += [(str(k), str(v)) for k, v in single.items() if k.lower() not in named]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    data = (body or "").encode()
    if answer.get("isBase64Encoded") and body:
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            raise GatewayError("INTEGRATION_FAILURE") from None
    return status, headers, data


def install(runtime: Runtime) -> None:
    """Nothing to patch: the routes live in `middleware`."""


def middleware(app, runtime: Runtime):
    """moto's WSGI app with the local invoke URLs of REST APIs in front."""
    gateway = Gateway(runtime)

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return gateway(environ, start_response)
        return app(environ, start_response)

    return wsgi
