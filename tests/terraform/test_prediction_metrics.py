"""The monitoring module's alarms and widgets on VWT/Prediction name exactly what the prediction Lambda emits.

A metric name, namespace, dimension or unit that differs from the Lambda's embedded-metric lines is an
alarm that never fires (CloudWatch finds no such metric and, with missing data "not breaching", stays OK).
The Lambda's side is read from its code: the namespace, dimensions and units from an `emf_line` it
writes, the metric names from every `<call>.metrics["Name"] = ...` of the handler.
"""

from __future__ import annotations

import ast
import json
import re

from tests.helpers import REPO, TERRAFORM, lambda_packages_importable

lambda_packages_importable()

from predict import metrics as emf  # noqa: E402

MONITORING = (TERRAFORM / "modules" / "monitoring" / "main.tf").read_text()
PREDICTION_API = (TERRAFORM / "modules" / "prediction_api" / "main.tf").read_text()


def _emitted_names() -> set[str]:
    """Metric names the handler sets with a literal key: `x.metrics["Name"] = ...`."""
    tree = ast.parse((REPO / "lambdas" / "predict" / "handler.py").read_text())
    names = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        for t in targets:
            if (
                isinstance(t, ast.Subscript)
                and isinstance(t.value, ast.Attribute)
                and t.value.attr == "metrics"
                and isinstance(t.slice, ast.Constant)
            ):
                names.add(t.slice.value)
        if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "Requests" for k in node.keys):
            names.update(k.value for k in node.keys if isinstance(k, ast.Constant))
    return names


def _emf_directive() -> dict:
    line = json.loads(emf.emf_line(emf.DEFAULT_NAMESPACE, "dev", "gb-marketing", 0, {"Latency": 1.0}, {}))
    return line["_aws"]["CloudWatchMetrics"][0]


def _prediction_alarm_block() -> str:
    m = re.search(r'resource "aws_cloudwatch_metric_alarm" "prediction" \{(.*?)\n\}', MONITORING, re.S)
    assert m, "modules/monitoring has no aws_cloudwatch_metric_alarm.prediction"
    return m.group(1)


def _alarmed_metrics() -> set[str]:
    m = re.search(r"\n  prediction_alarms = merge\((.*?)\n  \)\n", MONITORING, re.S)
    assert m, "modules/monitoring has no local prediction_alarms"
    return set(re.findall(r'metric = "([A-Za-z_]+)"', m.group(1)))


def test_the_lambda_emits_what_this_test_expects():
    names = _emitted_names()
    assert {"Requests", "Records", "Latency", "EndpointLatency", "ClientErrors", "EndpointErrors"} <= names, names
    assert _emf_directive()["Dimensions"] == [["Environment", "Model"]]


def test_namespace_is_the_lambdas():
    assert re.search(r'prediction_namespace\s*=\s*"([^"]+)"', MONITORING).group(1) == emf.DEFAULT_NAMESPACE
    assert "namespace           = local.prediction_namespace" in _prediction_alarm_block()
    # the Lambda would write elsewhere if Terraform gave it another namespace
    assert "METRICS_NAMESPACE" not in PREDICTION_API


def test_dimensions_are_the_lambdas():
    dims = _emf_directive()["Dimensions"][0]
    m = re.search(r"dimensions\s*=\s*\{([^}]*)\}", _prediction_alarm_block())
    assert [k.strip().split("=")[0].strip() for k in m.group(1).split(",")] == dims
    assert "Environment = var.environment" in m.group(1) and "Model = each.value.model" in m.group(1)
    # Environment is what the Lambda is told (VWT_ENVIRONMENT) and the root gives both modules the same value
    assert re.search(r"VWT_ENVIRONMENT\s*=\s*var\.environment", PREDICTION_API)
    root = (TERRAFORM / "main.tf").read_text()
    for module in ("prediction_api", "monitoring"):
        block = re.search(rf'module "{module}" \{{(.*?)\n\}}', root, re.S).group(1)
        assert re.search(r"\n\s*environment\s*=\s*var\.environment\n", block), module
    # the dashboard's widgets name the same dimensions
    assert re.search(
        r'local\.prediction_namespace, "Requests", "Environment", var\.environment, "Model", model', MONITORING
    )


def test_every_alarmed_and_charted_metric_is_emitted():
    emitted = _emitted_names()
    alarmed = _alarmed_metrics()
    assert {"ClientErrors", "EndpointErrors", "PublishErrors", "Latency"} <= alarmed
    assert alarmed <= emitted, alarmed - emitted
    charted = set(re.findall(r'\[(?:local\.prediction_namespace|"\.")\s*,\s*"([A-Za-z_]+)"', MONITORING))
    charted &= set(re.findall(r'"([A-Z][A-Za-z]+)"', MONITORING.split("Predictions ${model}")[1]))
    assert {"Requests", "ClientErrors", "EndpointErrors", "PublishErrors", "Latency", "EndpointLatency"} <= charted
    assert charted <= emitted, charted - emitted
    # every error count the Lambda writes has its alarm
    assert {n for n in emitted if n.endswith("Errors")} <= alarmed


def test_units_and_statistics_match():
    block = _prediction_alarm_block()
    unit = re.search(r'unit\s*=\s*each\.value\.metric == "(\w+)" \? "(\w+)" : "(\w+)"', block)
    assert unit, "the alarm gives the unit the Lambda writes"
    special, special_unit, other_unit = unit.groups()
    for name in _alarmed_metrics():
        expected = emf._UNITS.get(name, "Count")
        assert (special_unit if name == special else other_unit) == expected, name
    # a percentile is an extended_statistic; statistic only for the counts
    assert 'statistic           = each.value.extended == null ? "Sum" : null' in block
    assert "extended_statistic  = each.value.extended" in block
    assert re.search(r'metric = "Latency".*?extended = "p99"', MONITORING, re.S)
    assert 'treat_missing_data  = "notBreaching"' in block
