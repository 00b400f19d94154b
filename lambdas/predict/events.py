"""The events a prediction becomes: what the intervention model and the operators receive.

One implementation for every path that scores players (the API, and batch scoring: pipeline/score.py), so a score
maps to the same risk group, intervention level and event wherever it was made. The consumer-side JSON
Schemas (`vwt-deploy build` writes them beside the OpenAPI document, vwt_deploy/build/events.py) describe
exactly these dictionaries; tests validate the Lambda's messages against them.

Every event carries:
- `event_type`: `intervention` (risk models, to the intervention topic) or `prediction` (the operator feed);
- `schema_version`: the version of that event type's schema (a consumer refuses a major version it
  does not know);
- `event_id`: `<request id>:<record index>`, the same when a request is sent again, so a consumer
  drops duplicates;
- `operator_id`: the operator whose player it is, from the API key (never from the request).

The message attributes (`event_type`, `schema_version`, `model`, `operator_id`, and `risk_group`,
`intervention_level` for intervention events) let subscriptions filter: each operator's queue takes only
its own `operator_id`.
"""

from __future__ import annotations

from .publish import attributes

TYPE_CHECKING = False  # typing is not imported at run time: a shorter cold start
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = "1.0"
INTERVENTION = "intervention"
PREDICTION = "prediction"
EVENT_TYPES = (INTERVENTION, PREDICTION)


class Batch:
    """The facts every event of one request (or one batch) shares."""

    __slots__ = ("model", "version", "operator_id", "request_id", "time", "environment")

    def __init__(self, model: Any, version: str, operator_id: str, request_id: str, time: str, environment: str):
        self.model, self.version, self.operator_id = model, version, operator_id
        self.request_id, self.time, self.environment = request_id, time, environment


def intervention_events(
    batch: Batch, classify: Any, group_names: list[str], user_ids: list[str], scores: list[float], first: int = 0
) -> tuple[list[dict], list[dict], list[dict], dict[str, int]]:
    """Risk models: (predictions, messages, message attributes, count per risk group); `classify` maps a score
    to (risk group, intervention level): the catalogue's table. `first` is the index of the first record (a
    batch published in parts keeps one event_id sequence)."""
    predictions, messages, attrs = [], [], []
    counts: dict[str, int] = dict.fromkeys(group_names, 0)
    shared: dict[str, dict] = {}  # message attributes, one per risk group
    name, request_id = batch.model.name, batch.request_id
    for i, (user_id, score) in enumerate(zip(user_ids, scores, strict=True), first):
        group, level = classify(score)
        counts[group] += 1
        predictions.append({"user_id": user_id, "prediction": score, "risk_group": group, "intervention_level": level})
        messages.append(
            {
                "event_id": f"{request_id}:{i}",
                "event_type": INTERVENTION,
                "schema_version": SCHEMA_VERSION,
                "operator_id": batch.operator_id,
                "user_id": user_id,
                "model": name,
                "model_version": batch.version,
                "score": score,
                "risk_group": group,
                "intervention_level": level,
                "request_id": request_id,
                "time": batch.time,
                "environment": batch.environment,
            }
        )
        a = shared.get(group)
        if a is None:
            a = shared[group] = attributes(
                {
                    "event_type": INTERVENTION,
                    "schema_version": SCHEMA_VERSION,
                    "model": name,
                    "operator_id": batch.operator_id,
                    "risk_group": group,
                    "intervention_level": level,
                }
            )
        attrs.append(a)
    return predictions, messages, attrs, counts


def prediction_events(
    batch: Batch, user_ids: list[str], values: list[float], first: int = 0
) -> tuple[list[dict], list[dict], list[dict]]:
    """Regression models (the operator feed): (predictions, messages, message attributes); `first` as above."""
    predictions, messages, attrs = [], [], []
    name, request_id = batch.model.name, batch.request_id
    a = attributes(
        {"event_type": PREDICTION, "schema_version": SCHEMA_VERSION, "model": name, "operator_id": batch.operator_id}
    )
    for i, (user_id, value) in enumerate(zip(user_ids, values, strict=True), first):
        predictions.append({"user_id": user_id, "prediction": value})
        messages.append(
            {
                "event_id": f"{request_id}:{i}",
                "event_type": PREDICTION,
                "schema_version": SCHEMA_VERSION,
                "operator_id": batch.operator_id,
                "user_id": user_id,
                "model": name,
                "model_version": batch.version,
                "prediction": value,
                "target": batch.model.label,
                "request_id": request_id,
                "time": batch.time,
                "environment": batch.environment,
            }
        )
        attrs.append(a)
    return predictions, messages, attrs
