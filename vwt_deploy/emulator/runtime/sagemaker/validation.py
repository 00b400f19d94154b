"""What SageMaker refuses and moto accepts: checked before a record is made, answered as SageMaker's
ValidationError (moto's exception class, so the API answers it as SageMaker does)."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's pattern of job, endpoint and config names
_SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


def errors():
    """moto's SageMaker exceptions (ValidationError, ResourceInUseException, ...)."""
    from moto.sagemaker import exceptions

    return exceptions


def check_name(field: str, name: str, longest: int = 63) -> None:
    """Refuse a name SageMaker refuses (botocore does not check patterns); the names become local folders."""
    if not (isinstance(name, str) and _NAME.match(name) and len(name) <= longest):
        raise errors().ValidationError(
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must "
            f"satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{longest - 1}}}"
        )


def check_metric_definitions(definitions: list[dict] | None) -> None:
    for d in definitions or []:
        try:
            re.compile(d.get("Regex", ""))
        except re.error as exc:
            raise errors().ValidationError(
                f"MetricDefinitions: {d.get('Name')!r} has an invalid Regex: {exc}"
            ) from None


def _check_range(kind: str, r: dict) -> None:
    error = errors().ValidationError
    name, scaling = r.get("Name"), r.get("ScalingType", "Auto")
    try:
        lo, hi = (
            (int(r["MinValue"]), int(r["MaxValue"]))
            if kind.startswith("Integer")
            else (float(r["MinValue"]), float(r["MaxValue"]))
        )
    except (KeyError, ValueError):
        raise error(f"{kind}: {name!r} needs numeric MinValue and MaxValue, got {r}") from None
    if lo > hi:
        raise error(f"{kind}: {name!r} has MinValue {lo} greater than MaxValue {hi}")
    if scaling not in _SCALINGS:
        raise error(f"{kind}: {name!r} has ScalingType {scaling!r}; use one of {', '.join(_SCALINGS)}")
    if scaling == "Logarithmic" and lo <= 0:
        raise error(f"{kind}: {name!r} uses Logarithmic scaling, which needs MinValue > 0 (got {lo})")
    if scaling == "ReverseLogarithmic" and not (kind.startswith("Continuous") and lo >= 0 and hi < 1):
        raise error(f"{kind}: {name!r} uses ReverseLogarithmic scaling, which needs a continuous range within [0, 1)")


def check_ranges(ranges: dict, static: dict) -> None:
    """Refuse what SageMaker refuses at CreateHyperParameterTuningJob."""
    error = errors().ValidationError
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for r in ranges.get(kind) or []:
            _check_range(kind, r)
    for r in ranges.get("CategoricalParameterRanges") or []:
        if not r.get("Values"):
            raise error(f"CategoricalParameterRanges: {r.get('Name')!r} has no Values")
    tuned = {r["Name"] for rs in ranges.values() if isinstance(rs, list) for r in rs}
    both = sorted(tuned & set(static or {}))
    if both:
        raise error(f"hyperparameters {', '.join(both)} are both static and tuned: give each in one place only")


def check_tuning_job(request: dict) -> None:
    """CreateHyperParameterTuningJob's arguments (moto's names): the name, each definition's objective,
    ranges and metric definitions."""
    check_name("hyperParameterTuningJobName", request["hyper_parameter_tuning_job_name"], longest=32)
    config = request.get("hyper_parameter_tuning_job_config") or {}
    definitions = (
        [request["training_job_definition"]]
        if request.get("training_job_definition")
        else request.get("training_job_definitions") or []
    )
    if not definitions:
        raise errors().ValidationError("give a TrainingJobDefinition (or TrainingJobDefinitions)")
    for d in definitions:
        if not (d.get("TuningObjective") or config.get("HyperParameterTuningJobObjective") or {}).get("MetricName"):
            raise errors().ValidationError("HyperParameterTuningJobObjective (MetricName and Type) is required")
        check_ranges(
            d.get("HyperParameterRanges") or config.get("ParameterRanges") or {},
            d.get("StaticHyperParameters") or {},
        )
        check_metric_definitions((d.get("AlgorithmSpecification") or {}).get("MetricDefinitions"))
