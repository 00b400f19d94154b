"""CloudWatch embedded metric format: one JSON log line per request becomes metrics, with no PutMetricData call.

Namespace `$METRICS_NAMESPACE` (default `VWT/Prediction`), dimensions
`[Environment, Model]` (Model is `unknown` for requests naming no catalogue
model, so callers cannot create metric dimensions at will). Metrics:
Requests, Records, Latency (ms), EndpointLatency (ms), ClientErrors,
EndpointErrors, PublishErrors, and for risk models RiskGroup_<group> counts.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing is not imported at run time: a shorter cold start
if TYPE_CHECKING:
    from typing import Any

DEFAULT_NAMESPACE = "VWT/Prediction"

_UNITS = {"Latency": "Milliseconds", "EndpointLatency": "Milliseconds"}


def emf_line(
    namespace: str,
    environment: str,
    model: str,
    timestamp_ms: int,
    metrics: dict[str, float],
    properties: dict[str, Any],
) -> str:
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["Environment", "Model"]],
                    "Metrics": [{"Name": name, "Unit": _UNITS.get(name, "Count")} for name in metrics],
                }
            ],
        },
        "Environment": environment,
        "Model": model,
    }
    doc.update(properties)
    doc.update(metrics)
    return json.dumps(doc, separators=(",", ":"), default=str)
