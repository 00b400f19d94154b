"""The model catalogue as the prediction Lambda reads it: `catalogue.json`, plain JSON for the standard library.

Features, task, label, the intervention table, the record limit and this environment's endpoint names.
The Lambda package bundles it (`package.py`), the OpenAPI document is made from it (`openapi.py`), and
tests point the Lambda at a built one (`VWT_CATALOGUE_PATH`).
"""

from __future__ import annotations

import json
from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.contract import CATALOGUE_FORMAT, USER_ID_FIELD
from vwt_deploy.errors import VwtError


def consumer_of(task: str) -> str:
    """Where a model's predictions go: risk models (a score) to the intervention topic, regression to the operator."""
    return "operator" if task == "regression" else "intervention"


def catalogue_document(env: Environment) -> dict[str, Any]:
    """The catalogue as the Lambda reads it (JSON types only, stable order)."""
    models = []
    for model in env.catalogue.models:
        names = [f.name for f in model.features]
        if USER_ID_FIELD in names:
            raise VwtError(
                f"model {model.name}: a feature is named {USER_ID_FIELD!r}, "
                "which prediction records use for the player id",
                "rename the feature in the model catalogue",
            )
        features = []
        for f in model.features:
            entry: dict[str, Any] = {"name": f.name, "type": f.type, "required": f.required}
            if f.min is not None:
                entry["min"] = int(f.min) if f.type == "int" and float(f.min).is_integer() else f.min
            if f.max is not None:
                entry["max"] = int(f.max) if f.type == "int" and float(f.max).is_integer() else f.max
            if f.allowed:
                entry["allowed"] = list(f.allowed)
            if not f.required:
                entry["default"] = _typed_default(f.type, f.default, model.name, f.name)
            if f.description:
                entry["description"] = f.description
            features.append(entry)
        models.append(
            {
                "name": model.name,
                "description": model.description,
                "task": model.task,
                "label": model.label,
                "consumer": consumer_of(model.task),
                "endpoint_name": env.endpoint_name(model.name),
                "features": features,
            }
        )
    return {
        "format": CATALOGUE_FORMAT,
        "environment": env.name,
        "region": env.region,
        "max_records": env.api.max_records,
        "cors_allow_origins": list(env.api.cors_allow_origins),
        "user_id_field": USER_ID_FIELD,
        "intervention": {
            "levels": list(env.catalogue.intervention.levels),
            "risk_groups": [
                {"name": g.name, "min_score": g.min_score, "level": g.level}
                for g in env.catalogue.intervention.risk_groups
            ],
        },
        "models": models,
    }


def _typed_default(kind: str, value: Any, model: str, feature: str) -> Any:
    """A default of the feature's own type (YAML gives `default: 0` for a float, `false` for a bool...)."""
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError
        if kind == "int":
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise VwtError(
            f"model {model}: feature {feature}: default {value!r} is not a {kind}",
            "give the optional feature a default of its own type in the model catalogue",
        ) from None


def catalogue_bytes(env: Environment) -> bytes:
    return (json.dumps(catalogue_document(env), indent=1, sort_keys=True) + "\n").encode()
