"""The configuration's schema: environment settings and the model catalogue as typed, immutable objects,
with their defaults, their checks and the names derived from them (`Environment`)."""

from __future__ import annotations

import ipaddress
import math
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vwt_deploy.config.schedule import check_schedule_expression
from vwt_deploy.contract import IMAGE_CONTEXT
from vwt_deploy.errors import ConfigError
from vwt_model.spec import ALGORITHMS, METRICS, Param, params_for

ENVIRONMENTS = ("local", "dev", "staging", "prod")
REAL_ENVIRONMENTS = ("dev", "staging", "prod")

_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
_INSTANCE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
# Instance families with local NVMe instance storage. Their volumes are encrypted by the instance's hardware, and
# SageMaker refuses a KMS key for them ("You can't request a KmsKeyId when using an instance type with local
# storage": CreateEndpointConfig.KmsKeyId; the same for ResourceConfig.VolumeKmsKeyId). The SageMaker guide names
# ml.p4d, ml.g4dn and ml.g5; the others have instance store volumes in EC2's instance store table. Every endpoint
# configuration and training job of the framework sends the environment's key, so these are refused.
LOCAL_STORAGE_FAMILIES = frozenset(
    {
        "c5d",
        "c6id",
        "m5d",
        "m6id",
        "r5d",
        "r6id",
        "g4dn",
        "g5",
        "g6",
        "g6e",
        "p3dn",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "trn1",
        "trn1n",
    }
)


def check_instance_type(instance_type: str) -> str:
    """Refuse an instance type with local NVMe storage: SageMaker refuses the KMS key the framework always sends."""
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else ""
    if family in LOCAL_STORAGE_FAMILIES:
        raise ValueError(
            f"{instance_type} has local NVMe instance storage, for which SageMaker refuses a KMS key "
            "(KmsKeyId, VolumeKmsKeyId), and the framework encrypts every volume with the environment's key; "
            "choose an EBS-backed family such as ml.m5, ml.c5, ml.r5 or ml.g4"
        )
    return instance_type


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_bucket_name(name: str) -> str:
    """The S3 general purpose bucket naming rules; raise ValueError naming the rule broken."""
    if not 3 <= len(name) <= 63:
        raise ValueError(f"bucket name {name!r} is {len(name)} characters; S3 allows 3 to 63")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        raise ValueError(
            f"bucket name {name!r} may hold only lowercase letters, digits, '.' and '-', "
            "and must start and end with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        raise ValueError(f"bucket name {name!r} must not have two adjacent periods or a period next to a hyphen")
    try:
        ipaddress.IPv4Address(name)
        raise ValueError(f"bucket name {name!r} must not look like an IP address")
    except ipaddress.AddressValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            raise ValueError(f"bucket name {name!r} must not start with {prefix!r}")
    for suffix in ("-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3"):
        if name.endswith(suffix):
            raise ValueError(f"bucket name {name!r} must not end with {suffix!r}")
    return name


# --------------------------------------------------------------------------- the model catalogue


class Feature(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="column name in the data and in API requests")
    type: Literal["float", "int", "bool", "category"]
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] = ()
    required: bool = True
    default: float | int | bool | str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Feature:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature {self.name}: min {self.min} is greater than max {self.max}")
        if self.type == "category" and not self.allowed:
            raise ValueError(f"feature {self.name}: a category feature needs its allowed values")
        if self.type != "category" and self.allowed:
            raise ValueError(f"feature {self.name}: only category features take allowed values")
        if not self.required and self.default is None:
            raise ValueError(f"feature {self.name}: an optional feature needs a default")
        return self


class ParameterRange(Frozen):
    type: Literal["integer", "continuous", "categorical"]
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    scaling: Literal["Auto", "Linear", "Logarithmic"] = "Auto"

    @model_validator(mode="after")
    def _check(self) -> ParameterRange:
        if self.type == "categorical":
            if not self.values:
                raise ValueError("a categorical range needs values")
        else:
            if self.min is None or self.max is None:
                raise ValueError(f"an {self.type} range needs min and max")
            if self.min > self.max:
                raise ValueError(f"range min {self.min:g} is greater than max {self.max:g}")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        """(min, max) of an integer or continuous range; validation made sure it has both."""
        if self.min is None or self.max is None:
            raise ValueError(f"a {self.type} range has no bounds")
        return self.min, self.max


class Tuning(Frozen):
    objective_metric: str
    objective_type: Literal["Maximize", "Minimize"] | None = None
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"
    max_jobs: int = Field(10, ge=1, le=500)
    max_parallel_jobs: int = Field(2, ge=1, le=100)
    ranges: Mapping[str, ParameterRange] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Tuning:
        if not self.ranges:
            raise ValueError("tuning is enabled but has no ranges; give at least one hyperparameter range")
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(f"max_parallel_jobs ({self.max_parallel_jobs}) exceeds max_jobs ({self.max_jobs})")
        if self.strategy == "Grid" and any(r.type != "categorical" for r in self.ranges.values()):
            raise ValueError(
                "the Grid strategy searches categorical ranges only; "
                "use Bayesian or Random for integer and continuous ranges"
            )
        return self


class Schedule(Frozen):
    expression: str = Field(description="EventBridge rate() or cron() expression")
    mode: Literal["train", "tune"] = "train"
    enabled: bool = True

    _expr = field_validator("expression")(lambda cls, v: check_schedule_expression(v))


class Scoring(Frozen):
    """Batch scoring of every player in the model's scoring prefix (`scoring/<model>/<operator>/`)."""

    expression: str = Field("cron(0 2 * * ? *)", description="EventBridge rate() or cron() expression (UTC)")
    enabled: bool = True

    _expr = field_validator("expression")(lambda cls, v: check_schedule_expression(v))


class Drift(Frozen):
    """The drift check: the endpoint's captured players of the last `since_hours` against the training baseline
    (population stability index per feature), in a Processing job with the project's image."""

    expression: str = Field("cron(0 4 * * ? *)", description="EventBridge rate() or cron() expression (UTC)")
    enabled: bool = True
    psi_threshold: float = Field(0.25, gt=0, le=10, description="the largest feature PSI at or above which it alarms")
    retrain: bool = Field(False, description="start the retraining pipeline (mode train) when the threshold is met")
    since_hours: int = Field(24, ge=1, le=24 * 31)
    instance_type: str = Field("ml.m5.large", pattern=_INSTANCE)

    _expr = field_validator("expression")(lambda cls, v: check_schedule_expression(v))
    _instance = field_validator("instance_type")(lambda cls, v: check_instance_type(v))


class Labeling(Frozen):
    mode: Literal["none", "self_exclusion", "ground_truth"] = "none"
    source_column: str | None = Field(None, description="self_exclusion: the column with the self-exclusion flag")
    workteam_arn: str | None = Field(None, description="ground_truth: the private work team for human labeling")
    automated_min_objects: int = Field(5000, ge=1, description="automated labeling at or above this many data points")
    labels_prefix: str = Field(
        "labels/",
        pattern=r"^[^/].*/$",
        description="operators' label files (CSV: user_id,label) in the model's data bucket: they win over the "
        "self-exclusion anchor, and answer for the local Ground Truth work team",
    )

    @model_validator(mode="after")
    def _check(self) -> Labeling:
        if self.mode == "self_exclusion" and not self.source_column:
            raise ValueError("labeling mode self_exclusion needs source_column (the self-exclusion flag)")
        if self.mode == "ground_truth" and not self.workteam_arn:
            raise ValueError("labeling mode ground_truth needs a workteam_arn for human labeling of small datasets")
        return self


#: the values each metric the image logs can take (min_metric must be one of them)
_METRIC_RANGES = {
    "auc": (0.0, 1.0),
    "accuracy": (0.0, 1.0),
    "anomaly_rate": (0.0, 1.0),
    "anchor_auc": (0.0, 1.0),
    "logloss": (0.0, math.inf),
    "rmse": (0.0, math.inf),
    "mae": (0.0, math.inf),
    "r2": (-math.inf, 1.0),
}

#: metrics the image logs as information only, never a deployment decision (the gate or the tuning objective)
_NOT_A_GATE = {
    "validation:anomaly_rate": (
        "it is the share of players the isolation forest flags, which its contamination hyperparameter sets, not how "
        "well the model finds risk; use validation:anchor_auc (the AUC of the anomaly score against the model's "
        "anchor column)"
    ),
}


class Model(Frozen):
    name: str = Field(pattern=_NAME, max_length=40)
    description: str = ""
    data_bucket: str
    data_prefix: str = Field("", description="key prefix of this model's data in its data bucket")
    task: Literal["classification", "regression", "unsupervised"]
    label: str | None = None
    anchor: str | None = Field(
        None,
        description="unsupervised: a 0/1 column known for some players (e.g. self_excluded), never a feature; the "
        "gate measures the AUC of the anomaly score against it (validation:anchor_auc)",
    )
    features: tuple[Feature, ...]
    algorithm: str
    hyperparameters: Mapping[str, int | float | str] = Field(default_factory=dict)
    metric: str | None = Field(None, description="validation metric the deployment gate compares")
    min_metric: float | None = Field(
        None,
        description="the floor of the gate metric: a model worse than it is never deployed, even over the baseline",
    )
    tuning: Tuning | None = None
    schedule: Schedule
    scoring: Scoring = Scoring()
    drift: Drift = Drift()
    labeling: Labeling = Labeling()

    @model_validator(mode="after")
    def _check(self) -> Model:
        allowed = self._check_algorithm()
        self._check_columns()
        if self.metric is not None and self.metric not in METRICS[self.task]:
            raise ValueError(
                f"metric {self.metric!r} is not logged for {self.task}; allowed: {', '.join(METRICS[self.task])}"
            )
        objective = self.tuning.objective_metric if self.tuning else None
        for what, name in (("metric", self.metric), ("tuning objective", objective)):
            if name in _NOT_A_GATE:
                raise ValueError(f"{what} {name} cannot decide which model is deployed: {_NOT_A_GATE[name]}")
        if self.min_metric is not None:
            self._check_floor(self.min_metric)
        if self.tuning:
            self._check_tuning(self.tuning, allowed)
        if self.schedule.mode == "tune" and not self.tuning:
            raise ValueError("the schedule's mode is tune but the model has no tuning section")
        if self.labeling.mode != "none" and self.task == "unsupervised":
            raise ValueError("an unsupervised model needs no labeling; set labeling.mode to none")
        labels, data = self.labeling.labels_prefix, self.data_prefix
        if self.labeling.mode != "none" and (labels.startswith(data) or data.startswith(labels)):
            raise ValueError(
                f"labeling.labels_prefix {labels!r} and data_prefix {data!r} overlap: label files would "
                "be read as training data; give them prefixes apart (e.g. labels/ and training/)"
            )
        scoring = self.scoring_prefix
        if scoring.startswith(data) or data.startswith(scoring):
            raise ValueError(
                f"data_prefix {data!r} and the scoring prefix {scoring!r} overlap: the players to score would be "
                "read as training data; give the training data a prefix of its own (e.g. training/)"
            )
        return self

    @property
    def scoring_prefix(self) -> str:
        """Where batch scoring reads the players: one folder per operator, headerless CSV of user_id and the
        features in training order (`scoring/<model>/<operator>/*.csv`)."""
        return f"scoring/{self.name}/"

    def _check_algorithm(self) -> dict[str, Param]:
        """The algorithm does the task and takes the hyperparameters; returns the ones it takes."""
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; allowed: {', '.join(ALGORITHMS)}")
        tasks = ALGORITHMS[self.algorithm][0]
        if self.task not in tasks:
            raise ValueError(f"algorithm {self.algorithm} does not do {self.task}; it does {', '.join(tasks)}")
        allowed = {
            k: p for k, p in params_for(self.algorithm).items() if k not in ("algorithm", "task", "label", "anchor")
        }
        for key, value in self.hyperparameters.items():
            if key not in allowed:
                raise ValueError(
                    f"unknown hyperparameter {key!r} for {self.algorithm}; allowed: {', '.join(sorted(allowed))}"
                )
            if isinstance(value, str) and allowed[key].kind is not str:
                raise ValueError(
                    f"hyperparameter {key} must be a {allowed[key].kind.__name__}, got the string {value!r}"
                )
            allowed[key].parse(key, value)
        return allowed

    def _check_columns(self) -> None:
        """At least one feature, no two with one name, a label exactly when the task has one, and an anchor exactly
        when it has none (an unsupervised model's gate needs a known outcome to measure the score against)."""
        names = [f.name for f in self.features]
        if not names:
            raise ValueError("a model needs at least one feature")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate feature names: {', '.join(dupes)}")
        if self.task == "unsupervised":
            if self.label:
                raise ValueError("an unsupervised model has no label; remove label")
            if not self.anchor:
                raise ValueError(
                    "an unsupervised model needs an anchor: a 0/1 column known for some players (e.g. self_excluded), "
                    "never a feature; its gate measures the anomaly score against it (validation:anchor_auc), as "
                    "nothing else says whether the score finds risk"
                )
            if self.anchor in names:
                raise ValueError(
                    f"anchor {self.anchor!r} is also a feature: the anomaly score is checked against the anchor, "
                    "so it can never be an input; remove it from the features"
                )
        elif self.anchor:
            raise ValueError(
                f"anchor is for unsupervised models; a {self.task} model is measured against its label {self.label!r}: "
                "remove anchor"
            )
        elif not self.label:
            raise ValueError(f"a {self.task} model needs a label column")
        elif self.label in names:
            raise ValueError(f"label {self.label!r} is also a feature")

    def _check_tuning(self, tuning: Tuning, allowed: Mapping[str, Param]) -> None:
        """The objective is a metric of the task, in its direction; each range is of a hyperparameter, in bounds."""
        if tuning.objective_metric not in METRICS[self.task]:
            raise ValueError(
                f"tuning objective {tuning.objective_metric!r} is not a metric the container logs for "
                f"{self.task}; allowed: {', '.join(METRICS[self.task])}"
            )
        wanted = "Maximize" if METRICS[self.task][tuning.objective_metric] else "Minimize"
        if tuning.objective_type not in (None, wanted):
            raise ValueError(
                f"tuning objective_type {tuning.objective_type} contradicts {tuning.objective_metric}, "
                f"which is better when {'higher' if wanted == 'Maximize' else 'lower'}; "
                f"use {wanted} or leave it out"
            )
        for key, rng in tuning.ranges.items():
            if key not in allowed:
                raise ValueError(
                    f"tuning range for unknown hyperparameter {key!r}; allowed: {', '.join(sorted(allowed))}"
                )
            param = allowed[key]
            if rng.type == "integer" and param.kind is not int:
                raise ValueError(f"tuning range {key}: {key} is not an integer hyperparameter")
            if rng.type != "categorical":
                for bound in rng.bounds:
                    param.parse(key, bound if param.kind is float else int(bound))

    def _check_floor(self, floor: float) -> None:
        """A floor must be a value the gate metric can take (AUC, accuracy and rates in [0, 1]; errors >= 0; R^2 at
        most 1)."""
        low, high = _METRIC_RANGES.get(self.gate_metric.split(":")[-1], (-math.inf, math.inf))
        if not (math.isfinite(floor) and low <= floor <= high):
            raise ValueError(
                f"min_metric {floor} cannot be a floor of {self.gate_metric}, whose values lie in [{low}, {high}]"
            )

    @property
    def gate_metric(self) -> str:
        """The metric the deployment gate compares (the tuning objective, or the task's first)."""
        if self.metric:
            return self.metric
        if self.tuning:
            return self.tuning.objective_metric
        return next(iter(METRICS[self.task]))

    @property
    def higher_is_better(self) -> bool:
        return METRICS[self.task][self.gate_metric]

    def training_hyperparameters(self) -> dict[str, str]:
        """Hyperparameters as SageMaker passes them: every value a string."""
        hp: dict[str, Any] = {"algorithm": self.algorithm, "task": self.task, **self.hyperparameters}
        if self.label:
            hp["label"] = self.label
        if self.anchor:
            hp["anchor"] = self.anchor
        return {k: str(v) for k, v in sorted(hp.items())}


class DataBucket(Frozen):
    description: str = ""


class RiskGroup(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z_]*$")
    min_score: float = Field(
        ge=0, le=1, description="scores at or above this (and below the next group's) fall in this group"
    )
    level: str


class Intervention(Frozen):
    levels: tuple[str, ...] = Field(description="intervention levels, weakest first")
    risk_groups: tuple[RiskGroup, ...]

    @model_validator(mode="after")
    def _check(self) -> Intervention:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("intervention levels must be unique")
        groups = self.risk_groups
        if not groups or groups[0].min_score != 0:
            raise ValueError("the first risk group must start at min_score 0 so every score has a group")
        last_rank = -1
        for prev, group in zip((None, *groups), groups, strict=False):  # each group after the one before it
            if group.level not in self.levels:
                raise ValueError(
                    f"risk group {group.name}: level {group.level!r} is not one of {', '.join(self.levels)}"
                )
            if prev is not None and group.min_score <= prev.min_score:
                raise ValueError(f"risk groups must be in increasing min_score order; {group.name} follows {prev.name}")
            rank = self.levels.index(group.level)
            if rank < last_rank:
                raise ValueError(
                    f"risk group {group.name} (min_score {group.min_score:g}) gets {group.level!r}, "
                    "weaker than a lower-risk group: a higher risk must never get a weaker restriction"
                )
            last_rank = rank
        return self

    def group_for(self, score: float) -> RiskGroup:
        chosen = self.risk_groups[0]
        for group in self.risk_groups:
            if score >= group.min_score:
                chosen = group
        return chosen


class DeviceIdentity(Frozen):
    """The operator's identity provider, whose tokens its players' devices call the prediction API with: an OIDC
    issuer, its JWKS (the keys it signs with), the audience its tokens name for this API, and the claim that holds
    the player's id."""

    issuer: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", description="the tokens' `iss`, exactly")
    jwks_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", description="where the issuer publishes its keys")
    audience: str = Field(min_length=1, max_length=256, description="the tokens' `aud` for this API")
    player_claim: str = Field("player_id", pattern=r"^[A-Za-z_][A-Za-z0-9_:.-]{0,63}$")


class Operator(Frozen):
    """A gambling operator the predictions are for: its own API key (and usage plan), its own feed, and, for calls
    from its players' devices, its identity provider."""

    id: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$",
        description="carried in every event (operator_id) and in its key's, plan's and queue's names",
    )
    name: str = Field(min_length=1, max_length=100)
    contact: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="who hears about the key and the feed")
    # the operator's own usage plan; unset: the environment's api settings
    throttle_rate_limit: float | None = Field(None, gt=0)
    throttle_burst_limit: int | None = Field(None, gt=0)
    quota_limit: int | None = Field(None, gt=0)
    identity: DeviceIdentity | None = None


class Catalogue(Frozen):
    data_buckets: Mapping[str, DataBucket]
    models: tuple[Model, ...]
    intervention: Intervention
    operators: tuple[Operator, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Catalogue:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate model name: {', '.join(dupes)}; model names must be unique")
        ids = [o.id for o in self.operators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate operator id: {', '.join(dupes)}; operator ids must be unique")
        for key in self.data_buckets:
            if not re.match(_NAME, key):
                raise ValueError(f"data bucket key {key!r} must be lowercase words joined by '-'")
        for model in self.models:
            if model.data_bucket not in self.data_buckets:
                raise ValueError(
                    f"model {model.name} points at data bucket {model.data_bucket!r}, which does not exist; "
                    f"data buckets: {', '.join(self.data_buckets)}"
                )
        return self

    def operator(self, operator_id: str) -> Operator:
        for o in self.operators:
            if o.id == operator_id:
                return o
        raise ConfigError(
            f"unknown operator {operator_id!r}", f"operators are: {', '.join(o.id for o in self.operators)}"
        )

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(f"unknown model {name!r}", f"models are: {', '.join(m.name for m in self.models)}")


# --------------------------------------------------------------------------- environments


class WafSettings(Frozen):
    """AWS WAF in front of the API's stage: a regional web ACL with AWS's managed rule groups and a rate-based rule
    per client IP (the web ACL is evaluated before API Gateway's own throttling and keys)."""

    # default: on for staging and prod (Environment.waf_enabled)
    enabled: bool | None = None
    # requests one client IP may send within the window before its further requests are blocked (the provider's
    # range: 100 to 2,000,000,000)
    rate_limit: int = Field(2000, ge=100, le=2_000_000_000)
    rate_window_seconds: Literal[60, 120, 300, 600] = 300
    # AWS managed rule groups (vendor AWS), evaluated in this order after the rate rule and the known-bad-inputs
    # group, which is always there (it blocks Log4j's JNDI lookups and other exploit patterns)
    managed_rule_groups: tuple[str, ...] = ("AWSManagedRulesCommonRuleSet",)
    # "count" counts what the rules match without blocking it: to watch a new rule set before it blocks
    action: Literal["block", "count"] = "block"

    @field_validator("managed_rule_groups")
    @classmethod
    def _groups(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        bad = [g for g in groups if not re.fullmatch(r"AWSManagedRules[A-Za-z0-9]+", g)]
        if bad:
            raise ValueError(
                f"not an AWS managed rule group name: {', '.join(bad)} (they are named AWSManagedRules<Name>, e.g. "
                "AWSManagedRulesSQLiRuleSet)"
            )
        if len(set(groups)) != len(groups):
            raise ValueError("a managed rule group is listed twice")
        if "AWSManagedRulesKnownBadInputsRuleSet" in groups:
            raise ValueError("AWSManagedRulesKnownBadInputsRuleSet is always on: leave it out of managed_rule_groups")
        return groups


class DomainSettings(Frozen):
    """The API's custom domain name: a regional API Gateway domain with an ACM certificate of the environment's region
    (TLS 1.2), the stage mapped at its root, and, given a Route 53 hosted zone, an alias record to it."""

    name: str = Field(
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="the host name clients call, e.g. predictions.example.com (lowercase)",
    )
    certificate_arn: str = Field(
        pattern=r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        description="an ISSUED ACM certificate for the name, in the environment's region (a regional domain's)",
    )
    hosted_zone_id: str | None = Field(None, pattern=r"^[A-Z0-9]{1,32}$")  # Route 53's ResourceId


class DeviceTokens(Frozen):
    """Calls straight from players' devices: `POST /v1/operators/{operator}/models/{model}/predictions` with a bearer
    token of the operator's identity provider (`Operator.identity`), checked by a Lambda authorizer."""

    enabled: bool = False
    # how long API Gateway reuses the authorizer's answer for the same token (0: checked on every call; at most 3600)
    cache_seconds: int = Field(300, ge=0, le=3600)
    # clock skew allowed on exp and nbf
    leeway_seconds: int = Field(30, ge=0, le=300)
    # the signing algorithms accepted (never `none`, never a symmetric one: the keys come from a JWKS)
    algorithms: tuple[Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"], ...] = (
        Field(("RS256", "ES256"), min_length=1)
    )


class ApiSettings(Frozen):
    throttle_rate_limit: float = Field(50, gt=0, description="steady requests per second")
    throttle_burst_limit: int = Field(100, gt=0)
    quota_limit: int = Field(100000, gt=0)
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    max_records: int = Field(1000, ge=1, le=10000, description="records per prediction request")
    cors_allow_origins: tuple[str, ...] = ("*",)
    # API Gateway writes every API's logs in a region with one account-wide role. Setting it is account-wide,
    # so the tool leaves it alone unless told to (then `down` resets it); `up` refuses while it is unset.
    manage_account_logging_role: bool = False
    waf: WafSettings = WafSettings()
    domain: DomainSettings | None = None
    device_tokens: DeviceTokens = DeviceTokens()


class EndpointSettings(Frozen):
    instance_type: str = Field("ml.m5.large", pattern=_INSTANCE)
    _instance = field_validator("instance_type")(lambda cls, v: check_instance_type(v))
    # Every endpoint configuration (Terraform's and each one the pipeline deploys) starts with this many
    # instances: by default min_capacity, so a deployment never drops below what auto scaling keeps.
    initial_instance_count: int = Field(1, ge=1)
    min_capacity: int = Field(1, ge=1)
    max_capacity: int = Field(2, ge=1)
    target_invocations_per_instance: float = Field(1000, gt=0)
    # Data capture: this share of the endpoints' requests and answers is written to the model bucket
    # (data-capture/), encrypted with the environment's key, for drift monitoring; 0 turns capture off.
    capture_percentage: int = Field(10, ge=0, le=100)

    @model_validator(mode="before")
    @classmethod
    def _start_at_min_capacity(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "initial_instance_count" not in data and "min_capacity" in data:
            return {**data, "initial_instance_count": data["min_capacity"]}
        return data

    @model_validator(mode="after")
    def _check(self) -> EndpointSettings:
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity ({self.min_capacity}) exceeds max_capacity ({self.max_capacity})")
        if not self.min_capacity <= self.initial_instance_count <= self.max_capacity:
            raise ValueError(
                f"initial_instance_count ({self.initial_instance_count}) must lie between min_capacity "
                f"({self.min_capacity}) and max_capacity ({self.max_capacity}): every deployment starts the new "
                "model on that many instances"
            )
        return self


class TrainingSize(Frozen):
    """One row of the size function's table: data up to max_gb trains on this instance. Sized vertically: the
    container loads the data into memory and trains with scikit-learn, which does not share work between
    instances, so a second instance (the channels are FullyReplicated) would train the same model again."""

    max_gb: float | None = Field(None, gt=0, description="up to this much training data; none for the last row")
    instance_type: str = Field(pattern=_INSTANCE)
    instance_count: int = Field(1, ge=1, le=1)
    _instance = field_validator("instance_type")(lambda cls, v: check_instance_type(v))
    volume_gb: int = Field(30, ge=1, le=16384)

    @field_validator("instance_count", mode="before")
    @classmethod
    def _one_instance(cls, count: Any) -> Any:
        if isinstance(count, int) and count > 1:
            raise ValueError(
                f"instance_count {count}: the container's algorithms (scikit-learn) train on one instance, and "
                "every further instance would train the same model again on a full copy of the data; size "
                "vertically with a larger instance_type (memory about 4x the data)"
            )
        return count


class ScoringSettings(Frozen):
    """How batch scoring (a SageMaker Batch Transform job) is sized: the transform splits the input by line into
    mini-batches and spreads the files over its instances, so it scales out, unlike training."""

    instance_type: str = Field("ml.m5.xlarge", pattern=_INSTANCE)
    _instance = field_validator("instance_type")(lambda cls, v: check_instance_type(v))
    records_per_instance: int = Field(2_000_000, ge=1, description="one more instance per this many players")
    max_instances: int = Field(4, ge=1, le=100)
    max_payload_mb: int = Field(6, ge=1, le=100, description="a mini-batch's size (the container accepts 6 MB)")


class TrainingVpc(Frozen):
    """Run training jobs and the models they make inside these private subnets (optional)."""

    subnet_ids: tuple[str, ...] = Field(min_length=1, max_length=16)
    security_group_ids: tuple[str, ...] = Field(min_length=1, max_length=5)

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        for sid in ids:
            if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", sid):
                raise ValueError(f"{sid!r} is not a subnet id (subnet-0123456789abcdef0)")
        return ids

    @field_validator("security_group_ids")
    @classmethod
    def _groups(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        for gid in ids:
            if not re.fullmatch(r"sg-[0-9a-f]{8,17}", gid):
                hint = " (that is an ARN, not a security group id)" if gid.startswith("arn:") else ""
                raise ValueError(f"{gid!r} is not a security group id (sg-0123456789abcdef0){hint}")
        return ids


class Training(Frozen):
    vpc: TrainingVpc | None = Field(None, description="VPC for training jobs and models; none runs them without a VPC")
    sizing: tuple[TrainingSize, ...] = (
        # memory about 4x the data (a CSV loads as float32 columns, and the forests copy what they sample); the
        # volume holds the channels' copy of the data twice over
        TrainingSize(max_gb=1, instance_type="ml.m5.large", volume_gb=30),  # 8 GiB
        TrainingSize(max_gb=10, instance_type="ml.m5.4xlarge", volume_gb=64),  # 64 GiB
        TrainingSize(instance_type="ml.r5.12xlarge", volume_gb=500),  # 384 GiB
    )
    max_runtime_seconds: int = Field(3600, ge=60, le=28 * 24 * 3600)

    @model_validator(mode="after")
    def _check(self) -> Training:
        bounds = [s.max_gb for s in self.sizing]
        if not bounds or bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError(
                "training sizing: every row but the last needs max_gb, and the last none (it takes the rest)"
            )
        limits = [b for b in bounds[:-1] if b is not None]  # every one of them, as checked above
        if limits != sorted(limits):
            raise ValueError("training sizing rows must be in increasing max_gb order")
        return self


class PredictionAlarms(Frozen):
    """Thresholds of the alarms on the prediction function's own metrics (VWT/Prediction, per model)."""

    client_errors_per_5min: int = Field(25, ge=1, description="rejected requests (4xx) per 5 minutes")
    endpoint_errors_per_5min: int = Field(5, ge=1, description="failed endpoint invocations per 5 minutes")
    publish_errors_per_5min: int = Field(1, ge=1, description="failed event publications per 5 minutes")
    latency_p99_ms: int = Field(3000, ge=1, description="p99 of the function's latency, in 2 of 3 periods")


class Alarms(Frozen):
    api_5xx_per_5min: int = Field(5, ge=1)
    api_latency_p99_ms: int = Field(3000, ge=1)
    lambda_errors_per_5min: int = Field(5, ge=1)
    lambda_throttles_per_5min: int = Field(1, ge=1)
    endpoint_errors_per_5min: int = Field(5, ge=1)
    model_latency_p99_ms: int = Field(1000, ge=1)
    prediction: PredictionAlarms = PredictionAlarms()


class StateBackend(Frozen):
    bucket: str | None = Field(None, description="S3 bucket of the Terraform state; default <name_prefix>-tfstate")
    key: str = "vwt-deploy/terraform.tfstate"
    region: str | None = None


class Delivery(Frozen):
    """Where the environment is deployed from: the GitHub repository (`owner/name`) whose Actions, in the GitHub
    Environment of this environment's name (or `github_environment`), may assume its deploy role through the
    account's GitHub OIDC provider (`vwt-deploy bootstrap` creates both)."""

    github_repository: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    github_environment: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")


class Environment(Frozen):
    name: Literal["local", "dev", "staging", "prod"]
    region: str = "eu-west-1"
    allowed_account_ids: tuple[str, ...] = ()
    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
    owner: str = "ml-platform"
    tags: Mapping[str, str] = Field(default_factory=dict)
    admin_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    api: ApiSettings = ApiSettings()
    endpoints: EndpointSettings = EndpointSettings()
    training: Training = Training()
    scoring: ScoringSettings = ScoringSettings()
    alarms: Alarms = Alarms()
    state: StateBackend = StateBackend()
    delivery: Delivery = Delivery()
    log_retention_days: int = Field(90, ge=1)
    # how a model version that passed the gate is approved: "auto" (it is deployed at once) or "manual" (it waits as
    # PendingManualApproval for `vwt-deploy models approve`); default: manual for staging and prod, else auto
    approval: Literal["auto", "manual"] | None = None
    # S3 bucket names are global across accounts and regions: every bucket of a real environment ends with this
    # (default: "<account>-<region>" of its one allowed account; "" keeps the bare names)
    bucket_suffix: str | None = Field(None, pattern=r"^([a-z0-9][a-z0-9-]{0,38}[a-z0-9])?$")
    catalogue: Catalogue

    @field_validator("region")
    @classmethod
    def _region(cls, region: str) -> str:
        # The rendered state machines and policies name the aws partition (arn:aws:states:::..., arn:aws:s3:::...):
        # a GovCloud (-gov-) or China (cn-) region is another partition, where those ARNs do not exist.
        if re.fullmatch(r"(cn|[a-z]{2}-gov)-[a-z]+-\d", region):
            raise ValueError(
                f"region {region!r} is in another AWS partition than 'aws', which the rendered state "
                "machines and policies name; use a region of the aws partition"
            )
        if not re.fullmatch(r"[a-z]{2}-[a-z]+-\d", region):
            raise ValueError(f"region {region!r} is not an AWS region name such as eu-west-1")
        return region

    @field_validator("allowed_account_ids")
    @classmethod
    def _accounts(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        for account in ids:
            if not re.fullmatch(r"\d{12}", str(account)):
                raise ValueError(f"account id {account!r} must be 12 digits (quote it in YAML)")
        return ids

    @model_validator(mode="after")
    def _check(self) -> Environment:
        if self.name in REAL_ENVIRONMENTS and not self.allowed_account_ids:
            raise ValueError(
                f"environment {self.name} deploys to AWS and needs allowed_account_ids: the 12-digit AWS "
                "account ids it may touch (the tool refuses any other account)"
            )
        if self.bucket_suffix is None and self.name in REAL_ENVIRONMENTS and len(self.allowed_account_ids) > 1:
            raise ValueError(
                f"environment {self.name} allows {len(self.allowed_account_ids)} accounts, so its bucket names cannot "
                "end with the account id: set bucket_suffix (bucket names are global across all accounts), or "
                'bucket_suffix: "" to keep the bare names'
            )
        for name in self.bucket_names().values():
            try:
                check_bucket_name(name)
            except ValueError as exc:
                raise ValueError(f"{exc} (shorten name_prefix or bucket_suffix)") from None
        for model in self.catalogue.models:
            endpoint = self.endpoint_name(model.name)
            if len(endpoint) > 63:
                raise ValueError(
                    f"endpoint name {endpoint!r} is longer than SageMaker's 63 characters; "
                    "shorten name_prefix or the model name"
                )
        self._check_domain()
        self._check_device_tokens()
        return self

    def _check_device_tokens(self) -> None:
        """Device tokens need an operator with an identity provider; on AWS its URLs are HTTPS; and staging and prod
        name their CORS origins (a `*` would let any web page call the API with a player's token)."""
        if not self.api.device_tokens.enabled:
            return
        identities = {o.id: o.identity for o in self.catalogue.operators if o.identity is not None}
        if not identities:
            raise ValueError(
                "api.device_tokens is enabled but no operator names its identity provider: give at least one "
                "operator an identity (issuer, jwks_url, audience) in the model catalogue"
            )
        if not self.is_local:
            https = ("https://",)
            plain = sorted(
                o for o, i in identities.items() if not (i.issuer.startswith(https) and i.jwks_url.startswith(https))
            )
            if plain:
                raise ValueError(f"the identity provider of {', '.join(plain)} is not served over HTTPS")
        if self.name in ("staging", "prod") and "*" in self.api.cors_allow_origins:
            raise ValueError(
                f'{self.name} takes device tokens, so api.cors_allow_origins cannot be "*": list the operators\' web '
                "origins (https://app.example.com)"
            )

    def _check_domain(self) -> None:
        """A regional custom domain's certificate must be in the API's region (API Gateway Developer Guide, "Setting up
        a regional custom domain name": "the certificate must be in the same Region as the API"), and in an allowed
        account."""
        domain = self.api.domain
        if domain is None:
            return
        _, _, _, region, account, _ = domain.certificate_arn.split(":", 5)
        if region != self.region:
            raise ValueError(
                f"api.domain.certificate_arn is in {region}, but a regional custom domain needs a certificate of the "
                f"API's region {self.region}: request or import one there in ACM"
            )
        if self.allowed_account_ids and account not in self.allowed_account_ids:
            raise ValueError(
                f"api.domain.certificate_arn belongs to account {account}, not to an allowed account of {self.name} "
                f"({', '.join(self.allowed_account_ids)})"
            )

    # ---- derived names: the one place they are made
    @property
    def is_local(self) -> bool:
        return self.name == "local"

    @property
    def _bucket_end(self) -> str:
        """`-<suffix>` of every bucket name: unique by construction in a real environment (its account and
        region), none locally (the emulator's buckets belong to one project folder)."""
        if self.bucket_suffix is not None:
            return f"-{self.bucket_suffix}" if self.bucket_suffix else ""
        if self.name in REAL_ENVIRONMENTS and self.allowed_account_ids:
            return f"-{self.allowed_account_ids[0]}-{self.region}"
        return ""

    def data_bucket_name(self, key: str) -> str:
        return f"{self.name_prefix}-data-{key}{self._bucket_end}"

    def model_bucket_name(self, model: str) -> str:
        return f"{self.name_prefix}-model-{model}{self._bucket_end}"

    def endpoint_name(self, model: str) -> str:
        return f"{self.name_prefix}-{model}"

    def model_package_group(self, model: str) -> str:
        """The model registry's group of a model's versions (SageMaker's name rule is the endpoint's: 63)."""
        return self.endpoint_name(model)

    @property
    def approval_mode(self) -> str:
        """ "manual" where a person approves each version before it is deployed (staging, prod), else "auto"."""
        return self.approval or ("manual" if self.name in ("staging", "prod") else "auto")

    @property
    def lambda_runtime(self) -> str:
        """The functions' Lambda runtime: python3.12 on AWS; locally this machine's Python, which the emulator runs
        them with (a package with compiled libraries is built for it)."""
        return f"python{sys.version_info.major}.{sys.version_info.minor}" if self.is_local else "python3.12"

    @property
    def waf_enabled(self) -> bool:
        """Whether a WAF web ACL protects the API: `api.waf.enabled`, by default on for staging and prod."""
        enabled = self.api.waf.enabled
        return enabled if enabled is not None else self.name in ("staging", "prod")

    @property
    def image_repository_name(self) -> str:
        """The ECR repository of the training/serving image (Terraform's registry module creates it)."""
        return f"{self.name_prefix}-{IMAGE_CONTEXT}"

    @property
    def log_bucket_name(self) -> str:
        return f"{self.name_prefix}-access-logs{self._bucket_end}"

    @property
    def results_bucket_name(self) -> str:
        """Batch scoring's results: a dated file per operator and model, under the operator's prefix."""
        return f"{self.name_prefix}-results{self._bucket_end}"

    @property
    def deploy_role_name(self) -> str:
        """The role CI pipelines deploy this environment as (`vwt-deploy bootstrap` creates it)."""
        return f"{self.name_prefix}-deploy"

    @property
    def runs_table_name(self) -> str:
        """The DynamoDB table naming, per model, the run that last claimed its endpoint (one run at a time)."""
        return f"{self.name_prefix}-runs"

    @property
    def state_bucket_name(self) -> str:
        return self.state.bucket or f"{self.name_prefix}-tfstate{self._bucket_end}"

    def bucket_names(self) -> dict[str, str]:
        names = {f"data:{k}": self.data_bucket_name(k) for k in self.catalogue.data_buckets}
        names.update({f"model:{m.name}": self.model_bucket_name(m.name) for m in self.catalogue.models})
        names["results"] = self.results_bucket_name
        names["logs"] = self.log_bucket_name
        names["state"] = self.state_bucket_name
        return names

    def all_tags(self) -> dict[str, str]:
        return {"environment": self.name, "owner": self.owner, "managed-by": "vwt-deploy", **self.tags}
