"""Configuration: environment files and the model catalogue, loaded once into typed, immutable objects.

Look-up chain for every setting: `--set key=value` on the command line, then the
environment's file (`environments/<env>.yaml`), then the defaults declared here.
The model catalogue (`environments/models.yaml`) is shared by all environments;
an environment may name another catalogue file and override single models.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from vwt_model.spec import ALGORITHMS, METRICS, params_for

ENVIRONMENTS = ("local", "dev", "staging", "prod")
REAL_ENVIRONMENTS = ("dev", "staging", "prod")

_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
_INSTANCE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- schedules


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_FIELD = {
    "minutes": r"^(\*|[0-5]?\d(-[0-5]?\d)?)(/\d+)?(,[0-5]?\d(-[0-5]?\d)?)*$",
    "hours": r"^(\*|(1?\d|2[0-3])(-(1?\d|2[0-3]))?)(/\d+)?(,(1?\d|2[0-3])(-(1?\d|2[0-3]))?)*$",
    "day-of-month": r"^(\*|\?|L|LW|([1-9]|[12]\d|3[01])W?(-([1-9]|[12]\d|3[01]))?)(/\d+)?(,([1-9]|[12]\d|3[01])(-([1-9]|[12]\d|3[01]))?)*$",
    "month": r"^(\*|([1-9]|1[0-2]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(-([1-9]|1[0-2]|[A-Z]{3}))?)(/\d+)?(,([1-9]|1[0-2]|[A-Z]{3})(-([1-9]|1[0-2]|[A-Z]{3}))?)*$",
    "day-of-week": r"^(\*|\?|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])?(-([1-7]|[A-Z]{3}))?)(/\d+)?(,([1-7]|[A-Z]{3})(-([1-7]|[A-Z]{3}))?)*$",
    "year": r"^(\*|(19[7-9]\d|2\d{3})(-(19[7-9]\d|2\d{3}))?)(/\d+)?(,(19[7-9]\d|2\d{3})(-(19[7-9]\d|2\d{3}))?)*$",
}


def check_schedule_expression(expr: str) -> str:
    """Check an EventBridge `rate(...)` or six-field `cron(...)` expression; return it or raise ValueError."""
    expr = expr.strip()
    rate = _RATE.match(expr)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ValueError(f"{expr!r}: a rate must be at least 1")
        if (value == 1) != (not unit.endswith("s")):
            raise ValueError(f"{expr!r}: use the singular unit for 1 and the plural otherwise (rate(1 day), rate(7 days))")
        return expr
    if expr.startswith("cron(") and expr.endswith(")"):
        fields = expr[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"{expr!r}: cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}")
        for (name, pattern), value in zip(_CRON_FIELD.items(), fields):
            if not re.match(pattern, value):
                raise ValueError(f"{expr!r}: {value!r} is not a valid {name} field")
        dom, dow = fields[2], fields[4]
        if (dom == "?") == (dow == "?"):
            raise ValueError(f"{expr!r}: exactly one of day-of-month and day-of-week must be '?'")
        return expr
    raise ValueError(f"{expr!r} is not a schedule expression; use rate(N minutes|hours|days) or cron(m h dom mon dow year)")


def check_bucket_name(name: str) -> str:
    """The S3 general purpose bucket naming rules; raise ValueError naming the rule broken."""
    if not 3 <= len(name) <= 63:
        raise ValueError(f"bucket name {name!r} is {len(name)} characters; S3 allows 3 to 63")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        raise ValueError(f"bucket name {name!r} may hold only lowercase letters, digits, '.' and '-', and must start and end with a letter or digit")
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
    def _check(self) -> "Feature":
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
    def _check(self) -> "ParameterRange":
        if self.type == "categorical":
            if not self.values:
                raise ValueError("a categorical range needs values")
        else:
            if self.min is None or self.max is None:
                raise ValueError(f"an {self.type} range needs min and max")
            if self.min > self.max:
                raise ValueError(f"range min {self.min:g} is greater than max {self.max:g}")
        return self


class Tuning(Frozen):
    objective_metric: str
    objective_type: Literal["Maximize", "Minimize"] | None = None
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"
    max_jobs: int = Field(10, ge=1, le=500)
    max_parallel_jobs: int = Field(2, ge=1, le=100)
    ranges: Mapping[str, ParameterRange] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "Tuning":
        if not self.ranges:
            raise ValueError("tuning is enabled but has no ranges; give at least one hyperparameter range")
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(f"max_parallel_jobs ({self.max_parallel_jobs}) exceeds max_jobs ({self.max_jobs})")
        if self.strategy == "Grid" and any(r.type != "categorical" for r in self.ranges.values()):
            raise ValueError("the Grid strategy searches categorical ranges only; use Bayesian or Random for integer and continuous ranges")
        return self


class Schedule(Frozen):
    expression: str = Field(description="EventBridge rate() or cron() expression")
    mode: Literal["train", "tune"] = "train"
    enabled: bool = True

    _expr = field_validator("expression")(lambda cls, v: check_schedule_expression(v))


class Labeling(Frozen):
    mode: Literal["none", "self_exclusion", "ground_truth"] = "none"
    source_column: str | None = Field(None, description="self_exclusion: the column with the self-exclusion flag")
    workteam_arn: str | None = Field(None, description="ground_truth: the private work team for human labeling")
    automated_min_objects: int = Field(5000, ge=1, description="automated labeling at or above this many data points")

    @model_validator(mode="after")
    def _check(self) -> "Labeling":
        if self.mode == "self_exclusion" and not self.source_column:
            raise ValueError("labeling mode self_exclusion needs source_column (the self-exclusion flag)")
        if self.mode == "ground_truth" and not self.workteam_arn:
            raise ValueError("labeling mode ground_truth needs a workteam_arn for human labeling of small datasets")
        return self


class Model(Frozen):
    name: str = Field(pattern=_NAME, max_length=40)
    description: str = ""
    data_bucket: str
    data_prefix: str = Field("", description="key prefix of this model's data in its data bucket")
    task: Literal["classification", "regression", "unsupervised"]
    label: str | None = None
    features: tuple[Feature, ...]
    algorithm: str
    hyperparameters: Mapping[str, int | float | str] = Field(default_factory=dict)
    metric: str | None = Field(None, description="validation metric the deployment gate compares")
    tuning: Tuning | None = None
    schedule: Schedule
    labeling: Labeling = Labeling()

    @model_validator(mode="after")
    def _check(self) -> "Model":
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; allowed: {', '.join(ALGORITHMS)}")
        tasks = ALGORITHMS[self.algorithm][0]
        if self.task not in tasks:
            raise ValueError(f"algorithm {self.algorithm} does not do {self.task}; it does {', '.join(tasks)}")
        allowed = {k: p for k, p in params_for(self.algorithm).items() if k not in ("algorithm", "task", "label")}
        for key, value in self.hyperparameters.items():
            if key not in allowed:
                raise ValueError(f"unknown hyperparameter {key!r} for {self.algorithm}; allowed: {', '.join(sorted(allowed))}")
            if isinstance(value, str) and allowed[key].kind is not str:
                raise ValueError(f"hyperparameter {key} must be a {allowed[key].kind.__name__}, got the string {value!r}")
            allowed[key].parse(key, value)
        names = [f.name for f in self.features]
        if not names:
            raise ValueError("a model needs at least one feature")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate feature names: {', '.join(dupes)}")
        if self.task == "unsupervised":
            if self.label:
                raise ValueError("an unsupervised model has no label; remove label")
        elif not self.label:
            raise ValueError(f"a {self.task} model needs a label column")
        elif self.label in names:
            raise ValueError(f"label {self.label!r} is also a feature")
        if self.metric is not None and self.metric not in METRICS[self.task]:
            raise ValueError(f"metric {self.metric!r} is not logged for {self.task}; allowed: {', '.join(METRICS[self.task])}")
        if self.tuning:
            if self.tuning.objective_metric not in METRICS[self.task]:
                raise ValueError(
                    f"tuning objective {self.tuning.objective_metric!r} is not a metric the container logs for "
                    f"{self.task}; allowed: {', '.join(METRICS[self.task])}"
                )
            wanted = "Maximize" if METRICS[self.task][self.tuning.objective_metric] else "Minimize"
            if self.tuning.objective_type not in (None, wanted):
                raise ValueError(
                    f"tuning objective_type {self.tuning.objective_type} contradicts {self.tuning.objective_metric}, "
                    f"which is better when {'higher' if wanted == 'Maximize' else 'lower'}; use {wanted} or leave it out"
                )
            for key, rng in self.tuning.ranges.items():
                if key not in allowed:
                    raise ValueError(f"tuning range for unknown hyperparameter {key!r}; allowed: {', '.join(sorted(allowed))}")
                param = allowed[key]
                if rng.type == "integer" and param.kind is not int:
                    raise ValueError(f"tuning range {key}: {key} is not an integer hyperparameter")
                if rng.type != "categorical":
                    param.parse(key, rng.min if param.kind is float else int(rng.min or 0))
                    param.parse(key, rng.max if param.kind is float else int(rng.max or 0))
        if self.schedule.mode == "tune" and not self.tuning:
            raise ValueError("the schedule's mode is tune but the model has no tuning section")
        if self.labeling.mode != "none" and self.task == "unsupervised":
            raise ValueError("an unsupervised model needs no labeling; set labeling.mode to none")
        return self

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
        return {k: str(v) for k, v in sorted(hp.items())}


class DataBucket(Frozen):
    description: str = ""


class RiskGroup(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z_]*$")
    min_score: float = Field(ge=0, le=1, description="scores at or above this (and below the next group's) fall in this group")
    level: str


class Intervention(Frozen):
    levels: tuple[str, ...] = Field(description="intervention levels, weakest first")
    risk_groups: tuple[RiskGroup, ...]

    @model_validator(mode="after")
    def _check(self) -> "Intervention":
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("intervention levels must be unique")
        groups = self.risk_groups
        if not groups or groups[0].min_score != 0:
            raise ValueError("the first risk group must start at min_score 0 so every score has a group")
        last_rank = -1
        for prev, group in zip((None, *groups), groups):
            if group.level not in self.levels:
                raise ValueError(f"risk group {group.name}: level {group.level!r} is not one of {', '.join(self.levels)}")
            if prev is not None and group.min_score <= prev.min_score:
                raise ValueError(f"risk groups must be in increasing min_score order; {group.name} follows {prev.name}")
            rank = self.levels.index(group.level)
            if rank < last_rank:
                raise ValueError(
                    f"risk group {group.name} (min_score {group.min_score:g}) gets {group.level!r}, weaker than a lower-risk "
                    "group: a higher risk must never get a weaker restriction"
                )
            last_rank = rank
        return self

    def group_for(self, score: float) -> RiskGroup:
        chosen = self.risk_groups[0]
        for group in self.risk_groups:
            if score >= group.min_score:
                chosen = group
        return chosen


class Catalogue(Frozen):
    data_buckets: Mapping[str, DataBucket]
    models: tuple[Model, ...]
    intervention: Intervention

    @model_validator(mode="after")
    def _check(self) -> "Catalogue":
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate model name: {', '.join(dupes)}; model names must be unique")
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

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(f"unknown model {name!r}", f"models are: {', '.join(m.name for m in self.models)}")


# --------------------------------------------------------------------------- environments


class ApiSettings(Frozen):
    throttle_rate_limit: float = Field(50, gt=0, description="steady requests per second")
    throttle_burst_limit: int = Field(100, gt=0)
    quota_limit: int = Field(100000, gt=0)
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    max_records: int = Field(1000, ge=1, le=10000, description="records per prediction request")
    cors_allow_origins: tuple[str, ...] = ("*",)


class EndpointSettings(Frozen):
    instance_type: str = Field("ml.m5.large", pattern=_INSTANCE)
    initial_instance_count: int = Field(1, ge=1)
    min_capacity: int = Field(1, ge=1)
    max_capacity: int = Field(2, ge=1)
    target_invocations_per_instance: float = Field(1000, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "EndpointSettings":
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity ({self.min_capacity}) exceeds max_capacity ({self.max_capacity})")
        return self


class TrainingSize(Frozen):
    max_gb: float | None = Field(None, gt=0, description="up to this much training data; none for the last row")
    instance_type: str = Field(pattern=_INSTANCE)
    instance_count: int = Field(1, ge=1, le=100)
    volume_gb: int = Field(30, ge=1, le=16384)


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
        TrainingSize(max_gb=1, instance_type="ml.m5.large"),
        TrainingSize(max_gb=10, instance_type="ml.m5.2xlarge", volume_gb=50),
        TrainingSize(instance_type="ml.m5.4xlarge", instance_count=2, volume_gb=200),
    )
    max_runtime_seconds: int = Field(3600, ge=60, le=28 * 24 * 3600)

    @model_validator(mode="after")
    def _check(self) -> "Training":
        bounds = [s.max_gb for s in self.sizing]
        if not bounds or bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("training sizing: every row but the last needs max_gb, and the last none (it takes the rest)")
        if bounds[:-1] != sorted(bounds[:-1]):
            raise ValueError("training sizing rows must be in increasing max_gb order")
        return self


class Alarms(Frozen):
    api_5xx_per_5min: int = Field(5, ge=1)
    api_latency_p99_ms: int = Field(3000, ge=1)
    lambda_errors_per_5min: int = Field(5, ge=1)
    lambda_throttles_per_5min: int = Field(1, ge=1)
    endpoint_errors_per_5min: int = Field(5, ge=1)
    model_latency_p99_ms: int = Field(1000, ge=1)


class StateBackend(Frozen):
    bucket: str | None = Field(None, description="S3 bucket of the Terraform state; default <name_prefix>-tfstate")
    key: str = "vwt-deploy/terraform.tfstate"
    region: str | None = None


class Environment(Frozen):
    name: Literal["local", "dev", "staging", "prod"]
    region: str = Field("eu-west-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    allowed_account_ids: tuple[str, ...] = ()
    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
    owner: str = "ml-platform"
    tags: Mapping[str, str] = Field(default_factory=dict)
    admin_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    api: ApiSettings = ApiSettings()
    endpoints: EndpointSettings = EndpointSettings()
    training: Training = Training()
    alarms: Alarms = Alarms()
    state: StateBackend = StateBackend()
    log_retention_days: int = Field(90, ge=1)
    catalogue: Catalogue

    @field_validator("allowed_account_ids")
    @classmethod
    def _accounts(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        for account in ids:
            if not re.fullmatch(r"\d{12}", str(account)):
                raise ValueError(f"account id {account!r} must be 12 digits (quote it in YAML)")
        return ids

    @model_validator(mode="after")
    def _check(self) -> "Environment":
        if self.name in REAL_ENVIRONMENTS and not self.allowed_account_ids:
            raise ValueError(
                f"environment {self.name} deploys to AWS and needs allowed_account_ids: the 12-digit AWS "
                "account ids it may touch (the tool refuses any other account)"
            )
        for name in self.bucket_names().values():
            check_bucket_name(name)
        for model in self.catalogue.models:
            endpoint = self.endpoint_name(model.name)
            if len(endpoint) > 63:
                raise ValueError(f"endpoint name {endpoint!r} is longer than SageMaker's 63 characters; shorten name_prefix or the model name")
        return self

    # ---- derived names: the one place they are made
    @property
    def is_local(self) -> bool:
        return self.name == "local"

    def data_bucket_name(self, key: str) -> str:
        return f"{self.name_prefix}-data-{key}"

    def model_bucket_name(self, model: str) -> str:
        return f"{self.name_prefix}-model-{model}"

    def endpoint_name(self, model: str) -> str:
        return f"{self.name_prefix}-{model}"

    @property
    def log_bucket_name(self) -> str:
        return f"{self.name_prefix}-access-logs"

    @property
    def state_bucket_name(self) -> str:
        return self.state.bucket or f"{self.name_prefix}-tfstate"

    def bucket_names(self) -> dict[str, str]:
        names = {f"data:{k}": self.data_bucket_name(k) for k in self.catalogue.data_buckets}
        names.update({f"model:{m.name}": self.model_bucket_name(m.name) for m in self.catalogue.models})
        names["logs"] = self.log_bucket_name
        names["state"] = self.state_bucket_name
        return names

    def all_tags(self) -> dict[str, str]:
        return {"environment": self.name, "owner": self.owner, "managed-by": "vwt-deploy", **self.tags}


# --------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "tagged-union")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(exc: ValidationError, path: Path, data: Any) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        # name the model rather than its index
        if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int) and isinstance(data, dict):
            try:
                loc[1] = f"[{data['models'][loc[1]]['name']}]"
            except (KeyError, IndexError, TypeError):
                pass
        where = _loc(tuple(loc)).replace(".[", "[")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling against the README's configuration reference)"
        elif err["type"] == "literal_error":
            msg = f"{err['input']!r} is not allowed; {msg[0].lower() + msg[1:]}"
        lines.append(f"{path}: {where}: {msg}")
    return ConfigError("invalid configuration:\n  " + "\n  ".join(lines), "fix the keys named above; nothing was run")


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {part} is not a section")
    node[parts[-1]] = value


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict:
    """`key.sub=value` pairs (values parsed as YAML scalars) into a nested mapping."""
    out: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} is not key=value", "for example --set api.throttle_rate_limit=20")
        _set_dotted(out, key.strip(), yaml.safe_load(raw) if raw else "")
    return out


def _merge(base: dict, over: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_catalogue(path: Path, overrides: Mapping[str, Mapping] | None = None, overrides_from: Path | None = None) -> Catalogue:
    data = _read_yaml(path)
    if overrides:
        models = data.get("models") or []
        known = {m.get("name"): i for i, m in enumerate(models) if isinstance(m, dict)}
        for name, patch in overrides.items():
            if name not in known:
                raise ConfigError(
                    f"{overrides_from}: model_overrides.{name}: no model {name!r} in {path.name}",
                    f"models are: {', '.join(str(k) for k in known)}",
                )
            models[known[name]] = _merge(models[known[name]], patch or {})
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, path, data) from None


def environments_dir(root: Path) -> Path:
    return root / "environments"


def load(env: str, root: Path, overrides: Mapping | None = None) -> Environment:
    """Load and validate one environment with its catalogue. Raises ConfigError, never anything else."""
    env_dir = environments_dir(root)
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}", f"choose one of {', '.join(ENVIRONMENTS)}")
    path = env_dir / f"{env}.yaml"
    if not path.exists():
        raise ConfigError(f"environment {env!r} has no file {path}", "create it (see the README's configuration reference)")
    data = _merge(_read_yaml(path), overrides or {})
    declared = data.setdefault("name", env)
    if declared != env:
        raise ConfigError(f"{path}: name: the file says {declared!r} but it is the {env!r} environment's file")
    catalogue_path = env_dir / str(data.pop("catalogue_file", "models.yaml"))
    model_overrides = data.pop("model_overrides", None) or {}
    if not isinstance(model_overrides, Mapping):
        raise ConfigError(f"{path}: model_overrides: must map model names to the keys they change")
    data["catalogue"] = load_catalogue(catalogue_path, model_overrides, path)
    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, path, data) from None
