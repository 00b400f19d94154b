"""What the image can train: algorithms, tasks, hyperparameters and metrics.

This module is the contract between the image and the deployment tool. It has
no third-party imports, so `vwt_deploy` validates a model catalogue against it
without loading scikit-learn, and the image parses the strings SageMaker hands
it with the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

TASKS = ("classification", "regression", "unsupervised")


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its type and the values it may take."""

    kind: type  # int, float or str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""
    check: Callable[[str], object] | None = None  # a str parameter's own check: raises ValueError

    def parse(self, name: str, raw: object) -> object:
        """Parse a value (SageMaker passes strings) or raise ValueError."""
        if self.kind is str:
            text = str(raw)
            if self.choices and text not in self.choices:
                raise ValueError(f"{name} must be one of {', '.join(self.choices)}, got {text!r}")
            if self.check is not None:
                self.check(text)
            return text
        if isinstance(raw, bool):
            raise ValueError(f"{name} must be a number, got {raw!r}")
        value: float  # an int for int parameters
        try:
            if self.kind is int:
                if isinstance(raw, float) and not raw.is_integer():
                    raise ValueError
                value = int(str(raw).strip()) if not isinstance(raw, (int, float)) else int(raw)
            else:
                value = float(raw)  # type: ignore[arg-type]  # any value: one float() refuses is a TypeError, caught
        except (TypeError, ValueError):
            kind = "a whole number" if self.kind is int else "a number"
            raise ValueError(f"{name} must be {kind}, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be a finite number, got {raw!r}")
        if self.minimum is not None and (value < self.minimum or (self.exclusive_minimum and value == self.minimum)):
            op = ">" if self.exclusive_minimum else ">="
            raise ValueError(f"{name} must be {op} {self.minimum:g}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{name} must be <= {self.maximum:g}, got {value}")
        return value


_TREES = Param(int, minimum=1, maximum=5000, doc="number of trees (the seed's no_trees)")
_DEPTH = Param(int, minimum=1, maximum=100, doc="maximum tree depth; omit for unlimited")
_SEED = Param(int, minimum=0, maximum=2**31 - 1, doc="random seed")

#: the catalogue's default risk groups (environments/models.yaml, intervention.risk_groups): the evaluation
#: report's thresholds when the pipeline passes no `risk_groups` hyperparameter
DEFAULT_RISK_GROUPS = (("low", 0.0), ("medium", 0.3), ("high", 0.6), ("severe", 0.85))
#: the hyperparameter that carries the catalogue's risk groups (the pipeline passes it; the report reads it)
RISK_GROUPS = "risk_groups"


def parse_risk_groups(text: str | None) -> list[dict]:
    """The `risk_groups` hyperparameter, JSON `[{"name": "low", "min_score": 0.0}, ...]` (the catalogue's
    intervention.risk_groups; other keys such as `level` are ignored): names, then min_score from 0, increasing,
    at most 1. None or empty: DEFAULT_RISK_GROUPS. Raises ValueError saying what is wrong."""
    import json

    if text is None or not str(text).strip():
        return [{"name": name, "min_score": low} for name, low in DEFAULT_RISK_GROUPS]
    how = 'risk_groups must be a JSON list like [{"name": "low", "min_score": 0}, {"name": "high", "min_score": 0.6}]'
    try:
        doc = json.loads(text)
    except ValueError:
        raise ValueError(f"{how}; it is not JSON: {str(text)[:80]!r}") from None
    if not isinstance(doc, list) or not doc or not all(isinstance(g, dict) for g in doc):
        raise ValueError(f"{how}, got {str(text)[:80]!r}")
    groups: list[dict] = []
    for i, group in enumerate(doc):
        name, low = group.get("name"), group.get("min_score")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{how}; group {i + 1} has no name")
        if isinstance(low, bool) or not isinstance(low, (int, float)) or not 0 <= low <= 1:
            raise ValueError(f"risk_groups: {name}'s min_score must be a number from 0 to 1, got {low!r}")
        if groups and low <= groups[-1]["min_score"]:
            raise ValueError(f"risk_groups: min_score must increase; {name} ({low}) follows {groups[-1]['name']}")
        groups.append({"name": name, "min_score": float(low)})
    if groups[0]["min_score"] != 0:
        raise ValueError(f"risk_groups: the first group must start at min_score 0; {groups[0]['name']} starts above")
    if len({g["name"] for g in groups}) != len(groups):
        raise ValueError("risk_groups: the group names must be unique")
    return groups


#: hyperparameters every algorithm understands (set by the tool, not by users)
COMMON: Mapping[str, Param] = {
    "algorithm": Param(str, doc="which estimator to train"),
    "task": Param(str, choices=TASKS, doc="classification, regression or unsupervised"),
    "label": Param(str, doc="name of the label column"),
    "anchor": Param(
        str,
        doc="unsupervised: a 0/1 column the anomaly score is checked against (validation:anchor_auc); never a feature",
    ),
    RISK_GROUPS: Param(str, check=parse_risk_groups, doc="the evaluation report's risk groups, JSON (report.py)"),
    "random_state": _SEED,
    "validation_fraction": Param(float, minimum=0.05, maximum=0.5, doc="hold-out share when no validation channel"),
}

#: algorithm -> (tasks it serves, its own hyperparameters)
ALGORITHMS: Mapping[str, tuple[tuple[str, ...], Mapping[str, Param]]] = {
    "random_forest": (
        ("classification", "regression"),
        {
            "no_trees": _TREES,
            "max_depth": _DEPTH,
            "min_samples_leaf": Param(int, minimum=1, maximum=10000),
        },
    ),
    "gradient_boosting": (
        ("classification", "regression"),
        {
            "no_trees": _TREES,
            "max_depth": _DEPTH,
            "learning_rate": Param(float, minimum=0, exclusive_minimum=True, maximum=1),
        },
    ),
    "logistic_regression": (
        ("classification",),
        {
            "c": Param(float, minimum=0, exclusive_minimum=True, maximum=1e6, doc="inverse regularisation"),
            "max_iter": Param(int, minimum=1, maximum=100000),
        },
    ),
    "isolation_forest": (
        ("unsupervised",),
        {
            "no_trees": _TREES,
            "contamination": Param(float, minimum=0, exclusive_minimum=True, maximum=0.5),
        },
    ),
}

#: metric the image logs per task, and whether larger is better
METRICS: Mapping[str, Mapping[str, bool]] = {
    "classification": {"validation:auc": True, "validation:accuracy": True, "validation:logloss": False},
    "regression": {"validation:rmse": False, "validation:mae": False, "validation:r2": True},
    # anchor_auc: the AUC of the served anomaly score against the anchor column (a known outcome such as self-exclusion)
    # on the hold-out rows that have it, the gate's metric; anomaly_rate (the share the estimator flags) is information
    # only: it follows from `contamination`, not from how good the model is
    "unsupervised": {"validation:anchor_auc": True, "validation:anomaly_rate": False},
}

#: the regex a training job's metric definition uses for a metric the image logs
#: as one line `validation:auc=0.8123`
METRIC_REGEX = r"{name}=([0-9.eE+-]+)"


def metric_regex(name: str) -> str:
    return METRIC_REGEX.format(name=name.replace(".", r"\."))


def params_for(algorithm: str) -> Mapping[str, Param]:
    """Every hyperparameter `algorithm` accepts (its own plus the common ones)."""
    return {**COMMON, **ALGORITHMS[algorithm][1]}


def parse_hyperparameters(raw: Mapping[str, object], on_error: Callable[[str], None] | None = None) -> dict:
    """Parse and check a full hyperparameter mapping (as SageMaker passes it)."""
    errors: list[str] = []
    algorithm = str(raw.get("algorithm", ""))
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    allowed = params_for(algorithm)
    parsed: dict = {}
    for key, value in raw.items():
        if key not in allowed:
            errors.append(f"unknown hyperparameter {key!r} for {algorithm}; allowed: {', '.join(sorted(allowed))}")
            continue
        try:
            parsed[key] = allowed[key].parse(key, value)
        except ValueError as exc:
            errors.append(str(exc))
    task = parsed.get("task")
    if task and task not in ALGORITHMS[algorithm][0]:
        errors.append(f"{algorithm} does not do {task}; it does {', '.join(ALGORITHMS[algorithm][0])}")
    if errors:
        if on_error:
            for e in errors:
                on_error(e)
        raise ValueError("; ".join(errors))
    return parsed
