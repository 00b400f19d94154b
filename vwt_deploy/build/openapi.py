"""The prediction API's contract: an OpenAPI 3.0 document made from the model catalogue.

One path per model (`/v1/models/<model>/predictions`) with that model's request
schema (feature types, ranges, allowed values, required fields), the answers
(200, 400 with the problem list, 403, 404, 429, 500, 502/503 with Retry-After),
API key security (`x-api-key` header) and examples per model.

The schemas use only keywords that JSON Schema draft 4 and OpenAPI 3.0 share,
so `request_schema(env, model)` doubles as an API Gateway request-validation
model (API Gateway models are draft 4): `api_gateway_models(env)` gives them
as JSON strings keyed by model name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vwt_deploy import __version__
from vwt_deploy.build.catalogue import catalogue_document
from vwt_deploy.config import Environment
from vwt_deploy.contract import USER_ID_FIELD
from vwt_deploy.files import write_if_changed
from vwt_deploy.project import Project

DRAFT4 = "http://json-schema.org/draft-04/schema#"
REQUEST_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


def path_of(model: str) -> str:
    return f"/v1/models/{model}/predictions"


def _feature_schema(f: dict) -> dict:
    kind = f["type"]
    if kind == "category":
        schema: dict[str, Any] = {"type": "string", "enum": list(f["allowed"])}
    elif kind == "bool":
        schema = {"type": "boolean"}
    else:
        schema = {"type": "integer" if kind == "int" else "number"}
        if "min" in f:
            schema["minimum"] = f["min"]
        if "max" in f:
            schema["maximum"] = f["max"]
    if "default" in f:
        schema["default"] = f["default"]
    if f.get("description"):
        schema["description"] = f["description"]
    return schema


def record_schema(model: dict) -> dict:
    properties: dict[str, Any] = {
        USER_ID_FIELD: {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "the player the prediction is for",
        },
    }
    required = [USER_ID_FIELD]
    for f in model["features"]:
        properties[f["name"]] = _feature_schema(f)
        if f["required"]:
            required.append(f["name"])
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def _request_schema(model: dict, max_records: int) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["records"],
        "properties": {
            "records": {"type": "array", "minItems": 1, "maxItems": max_records, "items": record_schema(model)},
            "request_id": {
                "type": "string",
                "pattern": REQUEST_ID_PATTERN,
                "description": "your id of the request; send it again with a retry so consumers drop duplicates",
            },
        },
    }


def request_schema(env: Environment, model: str) -> dict:
    """A model's request body as a JSON Schema (draft 4: usable as an API Gateway model)."""
    doc = catalogue_document(env)
    for m in doc["models"]:
        if m["name"] == model:
            return {"$schema": DRAFT4, "title": f"{model} prediction request", **_request_schema(m, doc["max_records"])}
    raise KeyError(model)


def api_gateway_models(env: Environment) -> dict[str, str]:
    """Model name -> its request schema as a JSON string, for `aws_api_gateway_model.schema`."""
    return {m.name: json.dumps(request_schema(env, m.name), sort_keys=True) for m in env.catalogue.models}


def api_gateway_request_schema(env: Environment) -> str:
    """One draft-4 schema for the single `/v1/models/{model}/predictions` resource (the prediction_api module's
    `request_schema`): the shape every model shares (1..max_records objects, each with a user_id, and an optional
    request_id). API Gateway cannot pick a model by path parameter, so the features are checked by the Lambda;
    for per-model validation at the gateway, use `api_gateway_models` on one resource per model."""
    doc = catalogue_document(env)
    schema = {
        "$schema": DRAFT4,
        "title": "PredictionRequest",
        "type": "object",
        "additionalProperties": False,
        "required": ["records"],
        "properties": {
            "records": {
                "type": "array",
                "minItems": 1,
                "maxItems": doc["max_records"],
                "items": {
                    "type": "object",
                    "required": [USER_ID_FIELD],
                    "properties": {USER_ID_FIELD: {"type": "string", "minLength": 1, "maxLength": 128}},
                },
            },
            "request_id": {"type": "string", "pattern": REQUEST_ID_PATTERN},
        },
    }
    return json.dumps(schema, sort_keys=True)


def example_record(model: dict, full: bool) -> dict:
    """A valid record: each feature at the middle of its range (or its first allowed value)."""
    record: dict[str, Any] = {USER_ID_FIELD: "player-0001"}
    for f in model["features"]:
        if not f["required"] and not full:
            continue
        kind = f["type"]
        if kind == "category":
            value: Any = f["allowed"][0]
        elif kind == "bool":
            value = False
        else:
            lo = f.get("min", 0 if f.get("max") is None or f["max"] >= 0 else f["max"])
            hi = f.get("max", lo + 10)
            mid = lo + (hi - lo) / 2
            value = int(mid) if kind == "int" else round(mid, 4)
        record[f["name"]] = value
    return record


def _response_schema(model: dict, levels: list[str], groups: list[str]) -> dict:
    item: dict[str, Any] = {
        "type": "object",
        "required": ["user_id", "prediction"],
        "properties": {"user_id": {"type": "string"}, "prediction": {"type": "number"}},
    }
    if model["consumer"] == "intervention":
        item["properties"]["prediction"] = {"type": "number", "minimum": 0, "maximum": 1, "description": "risk score"}
        item["properties"]["risk_group"] = {"type": "string", "enum": groups}
        item["properties"]["intervention_level"] = {"type": "string", "enum": levels}
        item["required"] += ["risk_group", "intervention_level"]
    else:
        item["properties"]["prediction"]["description"] = f"predicted {model.get('label') or 'value'}"
    return {
        "type": "object",
        "required": ["request_id", "model", "model_version", "predictions"],
        "properties": {
            "request_id": {"type": "string"},
            "model": {"type": "string", "enum": [model["name"]]},
            "model_version": {"type": "string"},
            "predictions": {"type": "array", "items": item},
        },
    }


def _error_response(description: str, retry: bool = False) -> dict:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        out["headers"] = {
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return out


def document(env: Environment, server_url: str | None = None) -> dict:
    """The OpenAPI 3.0 document of `env`'s prediction API."""
    doc = catalogue_document(env)
    levels = doc["intervention"]["levels"]
    groups = [g["name"] for g in doc["intervention"]["risk_groups"]]
    table = ", ".join(
        f"{g['name']} (score >= {g['min_score']:g}) -> {g['level']}" for g in doc["intervention"]["risk_groups"]
    )
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": _error_schema()}
    for m in doc["models"]:
        key = _schema_key(m["name"])
        schemas[f"{key}Request"] = _request_schema(m, doc["max_records"])
        schemas[f"{key}Response"] = _response_schema(m, levels, groups)
        operation = _operation(m, key, table)
        paths[path_of(m["name"])] = {"post": operation}
        if env.api.device_tokens.enabled:
            paths[device_path_of(m["name"])] = {"post": _device_operation(operation, key)}
    schemes: dict[str, Any] = {"api_key": {"type": "apiKey", "in": "header", "name": "x-api-key"}}
    if env.api.device_tokens.enabled:
        schemes["device_token"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "a token of the operator's identity provider for one of its players (RS*/PS*/ES*, "
            f"{', '.join(env.api.device_tokens.algorithms)} accepted); it may ask about that player only",
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"VWT prediction API ({env.name})",
            "version": __version__,
            "description": (
                f"Predictions of the VWT models. At most {doc['max_records']} records per request. "
                "Send the API key in the x-api-key header."
            ),
        },
        "servers": _servers(env, server_url),
        "security": [{"api_key": []}],
        "tags": [{"name": "predictions"}],
        "paths": paths,
        "components": {"securitySchemes": schemes, "schemas": schemas},
    }


def device_path_of(model: str) -> str:
    """The device route of a model: the operator is in the path, the token says who the player is."""
    return f"/v1/operators/{{operator}}/models/{model}/predictions"


def _device_operation(operation: dict, key: str) -> dict:
    """The model's operation as a player's device calls it: with a bearer token instead of the API key, the
    operator in the path, and the answers only a token gets."""
    responses = {
        **operation["responses"],
        "401": _error_response("no token, or one that is malformed, expired, not yet valid or not the operator's"),
        "403": _error_response("the token is another operator's, or a record names another player than the token's"),
        "503": _error_response("the operator's identity provider cannot be reached: nothing was scored", retry=True),
    }
    return {
        **operation,
        "operationId": "predictForDevice" + key,
        "security": [{"device_token": []}],
        "parameters": [
            {
                "name": "operator",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "the operator whose identity provider issued the token",
            }  # fmt: skip
        ],
        "responses": responses,
    }


def _schema_key(model: str) -> str:
    """gb-problem-gambling -> GbProblemGambling (the prefix of the model's schema names)."""
    return "".join(part.capitalize() for part in model.split("-"))


def _error_schema() -> dict:
    """The body of every error answer (the Lambda's `_error`, with the problems of a 400)."""
    return {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "a machine-readable code"},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
            "retry_after": {"type": "integer"},
            "problem_count": {"type": "integer"},
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "record": {"type": "integer", "nullable": True},
                        "field": {"type": "string", "nullable": True},
                        "problem": {"type": "string"},
                    },
                },
            },
        },
    }


def _operation(m: dict, key: str, table: str) -> dict:
    """The POST operation of one model's path: its request with examples and every answer it can get."""
    consumer = (
        "Each prediction becomes an intervention event (risk group -> intervention level: "
        f"{table}) on the intervention topic."
        if m["consumer"] == "intervention"
        else "Each prediction goes to the operator feed."
    )
    return {
        "operationId": "predict" + key,
        "summary": f"Predict with {m['name']}",
        "description": f"{m['description'] or m['name']}. {consumer}",
        "tags": ["predictions"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{key}Request"},
                    "examples": {
                        "required-only": {
                            "summary": "required features only (optional ones take their defaults)",
                            "value": {"records": [example_record(m, full=False)]},
                        },
                        "full": {
                            "summary": "every feature, two records, with a request id",
                            "value": {
                                "request_id": "example-0001",
                                "records": [
                                    example_record(m, True),
                                    {**example_record(m, True), USER_ID_FIELD: "player-0002"},
                                ],
                            },
                        },
                    },
                }
            },
        },
        "responses": {
            "200": {
                "description": "one prediction per record, in order",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{key}Response"}}},
            },
            "400": _error_response("invalid request: every problem listed by record index and field"),
            "403": {"description": "missing or invalid API key (answered by API Gateway)"},
            "404": _error_response("unknown model"),
            "429": {"description": "throttled by the usage plan (answered by API Gateway)"},
            "500": _error_response("the service is misconfigured"),
            "502": _error_response("the model failed or answered something unusable; nothing was published", True),
            "503": _error_response(
                "the model endpoint is busy, absent or not ready, or delivery failed; "
                "nothing was published (or send the same request_id again)",
                True,
            ),
        },
    }


def _servers(env: Environment, server_url: str | None) -> list[dict]:
    """The API's custom domain first (api.domain), then its own URL."""
    domain = env.api.domain
    own = [_server(env, server_url)]
    if domain is None:
        return own
    return [{"url": f"https://{domain.name}", "description": "the API's custom domain (api.domain)"}, *own]


def _server(env: Environment, server_url: str | None) -> dict:
    """The given URL, or the deployed API's URL template (its id is known only once it is deployed)."""
    if server_url:
        return {"url": server_url.rstrip("/")}
    return {
        "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
        "description": "the deployed API (`vwt-deploy status` shows api_url)",
        "variables": {
            "api_id": {"default": "API_ID"},
            "region": {"default": env.region},
            "stage": {"default": env.name},
        },
    }


def openapi_path(project: Project, env_name: str) -> Path:
    return project.env_dir(env_name) / "render" / "openapi.json"


def write(project: Project, env: Environment, server_url: str | None = None) -> Path:
    """Write the document to `.vwt/envs/<env>/render/openapi.json` (atomically) and return its path."""
    text = json.dumps(document(env, server_url), indent=2, sort_keys=True) + "\n"
    return write_if_changed(openapi_path(project, env.name), text)
