"""The consumers' contract: a JSON Schema (draft 2020-12) per event type the framework publishes.

Written beside the OpenAPI document, to `.vwt/envs/<env>/render/events/<event_type>.schema.json`, for the
intervention model's team and the operators: the fields, their types, and the values this environment can
send (its models, operators, risk groups and intervention levels). The prediction Lambda makes these
events (lambdas/predict/events.py); tests validate its messages against these schemas.

Versioning: `schema_version` is "<major>.<minor>". A minor version only adds optional fields; a consumer
reads any minor version of a major it knows, and refuses a major it does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vwt_deploy.build.catalogue import consumer_of
from vwt_deploy.config import Environment
from vwt_deploy.files import write_if_changed
from vwt_deploy.project import Project

#: the events' schema version (lambdas/predict/events.py sends the same; a test checks they agree)
SCHEMA_VERSION = "1.0"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _common(env: Environment, models: list[str], event_type: str) -> dict[str, Any]:
    return {
        "event_id": {
            "type": "string",
            "description": "<request_id>:<record index>; the same when a request is sent again: drop duplicates",
        },
        "event_type": {"const": event_type},
        "schema_version": {
            "type": "string",
            "pattern": r"^1\.[0-9]+$",
            "description": "<major>.<minor>; minor versions only add optional fields",
        },
        "operator_id": {
            "enum": [o.id for o in env.catalogue.operators],
            "description": "the operator whose player it is: the owner of the API key of the request",
        },
        "user_id": {"type": "string", "minLength": 1, "maxLength": 128, "description": "the player"},
        "model": {"enum": models},
        "model_version": {"type": "string", "description": "the deployed model version that scored the player"},
        "request_id": {"type": "string"},
        "time": {"type": "string", "format": "date-time", "description": "when it was scored (UTC)"},
        "environment": {"const": env.name},
    }


def schemas(env: Environment) -> dict[str, dict[str, Any]]:
    """event_type -> its JSON Schema, for this environment's catalogue."""
    by_consumer: dict[str, list[str]] = {"intervention": [], "operator": []}
    for m in env.catalogue.models:
        by_consumer[consumer_of(m.task)].append(m.name)
    intervention = env.catalogue.intervention
    out = {}
    props = _common(env, by_consumer["intervention"], "intervention")
    props |= {
        "score": {"type": "number", "minimum": 0, "maximum": 1, "description": "the risk score"},
        "risk_group": {"enum": [g.name for g in intervention.risk_groups]},
        "intervention_level": {
            "enum": list(intervention.levels),
            "description": "the restriction for the risk group (levels weakest first; a higher risk never weaker)",
        },
    }
    out["intervention"] = _schema(
        env,
        "intervention",
        "A player's risk score, risk group and intervention level: on the intervention topic, for the "
        "intervention model. Message attributes: event_type, schema_version, model, operator_id, risk_group, "
        "intervention_level.",
        props,
    )
    props = _common(env, by_consumer["operator"], "prediction")
    props |= {
        "prediction": {"type": "number", "description": "the predicted value (e.g. the marketing insight)"},
        "target": {"type": "string", "description": "what the model predicts (its label column)"},
    }
    out["prediction"] = _schema(
        env,
        "prediction",
        "A prediction for an operator: on the operator topic, delivered to that operator's queue only (a "
        "subscription filter on the operator_id message attribute). Message attributes: event_type, "
        "schema_version, model, operator_id.",
        props,
    )
    return out


def _schema(env: Environment, event_type: str, description: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": f"urn:vwt:{env.name}:events:{event_type}:{SCHEMA_VERSION.split('.')[0]}",
        "title": f"vwt {event_type} event",
        "description": description,
        "type": "object",
        "required": sorted(props),
        "properties": props,
        # a newer minor version may add fields: consumers must not refuse what they do not know
        "additionalProperties": True,
    }


def events_dir(project: Project, env_name: str) -> Path:
    return project.env_dir(env_name) / "render" / "events"


def write(project: Project, env: Environment) -> list[Path]:
    """Write each schema to `.vwt/envs/<env>/render/events/<event_type>.schema.json` (atomically)."""
    out_dir = events_dir(project, env.name)
    return [
        write_if_changed(out_dir / f"{event_type}.schema.json", json.dumps(schema, indent=2, sort_keys=True) + "\n")
        for event_type, schema in schemas(env).items()
    ]
