"""What SageMaker refuses and moto accepts, answered as SageMaker answers it (moto's exception classes, so the
API serialises them as SageMaker does).

- `refusing`: every SageMaker API request is checked against botocore's model of the API before moto reads it
  (`vwt_deploy.emulator.contracts`: required members, types, enums, lengths, ranges and patterns, in AWS's
  words). That covers the names that become local folders (job, endpoint and configuration names).
- `check_tuning_job`, `check_metric_definitions`: what SageMaker checks beyond the model (ranges that parse as
  numbers, in order, that their scaling can use; regular expressions that compile).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from vwt_deploy.emulator.contracts import VALIDATION, ContractError

if TYPE_CHECKING:
    from vwt_deploy.emulator.contracts import Contracts


def errors():
    """moto's SageMaker exceptions (ValidationError, ResourceInUseException, ...)."""
    from moto.sagemaker import exceptions

    return exceptions


def refusal(contracts: Contracts, action: str, body: str | bytes | None) -> Exception | None:
    """The exception SageMaker answers the request `action` with `body` (its JSON), None if the model lets it
    through. A body that is not a JSON object, or an action the model lacks, is left to moto."""
    from botocore.model import OperationNotFoundError

    try:
        params = json.loads(body or "{}")
    except ValueError:
        return None
    if not isinstance(params, dict):
        return None
    try:
        contracts.check("sagemaker", action, params)
    except OperationNotFoundError:
        return None
    except ContractError as exc:
        if exc.code == VALIDATION:
            return errors().ValidationError(exc.message)
        return errors().SagemakerClientError(exc.code, exc.message)  # SerializationException
    return None


def refusing(contracts: Contracts) -> Callable[[Callable | None], Callable]:
    """A patch of moto's `SageMakerResponse.call_action` (`patching.patch`): a request the model refuses is
    answered with SageMaker's error before any record is made; the others go on to moto (whose `call_action`
    SageMakerResponse inherits: `original` is None)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    def make(original: Callable | None) -> Callable:
        def call_action(self):
            error = refusal(contracts, self._get_action(), self.body)
            if error is None:
                return original(self) if original else super(SageMakerResponse, self).call_action()
            status, headers, body = self.serialized(ActionResult(error))
            headers, body = self._enrich_response(headers, body)  # the request id, as moto's own errors have
            return status, headers, body

        return call_action

    return make


def check_metric_definitions(definitions: list[dict] | None) -> None:
    for d in definitions or []:
        try:
            re.compile(d.get("Regex", ""))
        except re.error as exc:
            raise errors().ValidationError(
                f"MetricDefinitions: {d.get('Name')!r} has an invalid Regex: {exc}"
            ) from None


def _check_range(kind: str, r: dict) -> None:
    """One integer or continuous range (its members are there and ScalingType is one of the model's: checked
    against the model before)."""
    error = errors().ValidationError
    name, scaling = r["Name"], r.get("ScalingType", "Auto")
    number = int if kind.startswith("Integer") else float
    try:
        lo, hi = number(r["MinValue"]), number(r["MaxValue"])
    except ValueError:
        raise error(f"{kind}: {name!r} needs numeric MinValue and MaxValue, got {r}") from None
    if lo > hi:
        raise error(f"{kind}: {name!r} has MinValue {lo} greater than MaxValue {hi}")
    if scaling == "Logarithmic" and lo <= 0:
        raise error(f"{kind}: {name!r} uses Logarithmic scaling, which needs MinValue > 0 (got {lo})")
    if scaling == "ReverseLogarithmic" and not (kind.startswith("Continuous") and lo >= 0 and hi < 1):
        raise error(f"{kind}: {name!r} uses ReverseLogarithmic scaling, which needs a continuous range within [0, 1)")


def check_ranges(ranges: dict, static: dict) -> None:
    """Refuse what SageMaker refuses at CreateHyperParameterTuningJob beyond the model."""
    error = errors().ValidationError
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for r in ranges.get(kind) or []:
            _check_range(kind, r)
    tuned = {r["Name"] for rs in ranges.values() if isinstance(rs, list) for r in rs}
    both = sorted(tuned & set(static or {}))
    if both:
        raise error(f"hyperparameters {', '.join(both)} are both static and tuned: give each in one place only")


def check_tuning_job(request: dict) -> None:
    """CreateHyperParameterTuningJob's arguments (moto's names): each definition's objective, ranges and metric
    definitions."""
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
