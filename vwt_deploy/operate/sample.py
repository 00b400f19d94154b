"""`vwt-deploy data sample`: a documented, seeded synthetic data set per data bucket, made from the catalogue.

One CSV file (with a header) per data bucket and data prefix: `<data_prefix>synthetic.csv`, beside
`<data_prefix>schema.json` (the models' feature schema, which the training container reads from
its `train` channel; models that share a prefix share it, so they should share their features).
Columns: `user_id` (`synthetic-0001`, ...), the union of the features of the models on the bucket,
then their label columns: a self-exclusion model's `labeling.source_column`, an unlabelled model's
`label` (a Ground Truth model's label comes from its labeling job: no column). Booleans are
`true`/`false`. Rewriting replaces the file (the bucket keeps the old version). numpy only; the
same seed (and numpy version) gives the same bytes; each column has its own random stream, so a
new feature in the catalogue leaves the other columns as they were.

How a player is drawn. Every player has a latent risk r ~ N(0, 1) that the features share, so
they are correlated the way real ones are (a risky player deposits more often, plays at night,
chases losses). ln-normal(m, s) is exp(N(m, s)); sig(x) = 1 / (1 + e^-x). Each value is then
clipped to the feature's catalogue min/max (ints rounded).

    gambling-behaviour (per-player aggregates)
      deposits_per_week      ln-normal(0.3 + 0.6 r, 0.7)                      2 decimals
      avg_deposit            ln-normal(3.4 + 0.35 r, 0.8)  (median about 30)   2 decimals
      stake_per_day          deposits_per_week * avg_deposit / 7 * ln-normal(1.0, 0.5)
      session_minutes        ln-normal(3.2 + 0.3 r, 0.5)   (median about 25)   1 decimal
      night_play_share       sig(N(-2.0 + 0.7 r, 0.8))  share of play 00:00-06:00, 3 decimals
      loss_chasing_ratio     sig(N(-1.8 + 0.8 r, 0.7))  share of deposits within an hour of a loss
      cancelled_withdrawals  Poisson(exp(-1.0 + 0.8 r))
      deposit_limit_changes  Poisson(exp(-1.5 + 0.6 r))
      days_active            ln-normal(4.5 - 0.2 r, 1.0), rounded
      product                casino/sports/poker/lottery with weights
                             softmax(0.6 + 0.5 r, 0.4, -0.8 + 0.2 r, -0.9 - 0.5 r)
    before-initial-deposit (registration data)
      age                    18 + ln-normal(2.8 - 0.25 r, 0.55), rounded
      country                nl 35%, de 25%, gb 20%, se 10%, other 10%
      device                 web/ios/android with weights softmax(0.3 - 0.4 r, 0, 0.1 + 0.3 r)
      registration_hour      0-5 with probability sig(-1.8 + 0.6 r), else N(19, 3.5) mod 24
      declared_deposit_limit 0 (none) with probability sig(0.3 + 0.4 r), else ln-normal(5.5 + 0.4 r, 0.8) in tens
      marketing_opt_in       Bernoulli(sig(0.2 + 0.4 r))
      id_verified            Bernoulli(sig(1.0 - 0.5 r))
      referral_affiliate     Bernoulli(sig(-1.5 + 0.5 r))

A feature with no recipe (a new one in the catalogue, or one whose type or allowed values no
longer fit its recipe) gets a generic draw: a number uniform over [min, max] (a missing bound is
taken 100 from the other, [0, 100] with neither; ints whole), a category uniform over its allowed
values, a bool with probability 0.5. It has no term in the label models below.

The self-exclusion flag (the column of every model labelled by self-exclusion, and any label
named `self_excluded`) is Bernoulli(sig(z)), a logistic model of the features as written:

    z = -3.6
        + 0.6 (ln(1 + deposits_per_week) - 1.0)  + 0.3 (ln(1 + stake_per_day) - 3.0)
        + 0.02 (session_minutes - 28)            + 2.5 (night_play_share - 0.15)
        + 3.0 (loss_chasing_ratio - 0.17)        + 0.4 (min(cancelled_withdrawals, 5) - 0.5)
        + 0.3 (min(deposit_limit_changes, 5) - 0.25)                - 0.2 (ln(1 + days_active) - 4.5)
        + 0.4 ([product = casino] - 0.45)        - 0.3 ([product = lottery] - 0.1)
        - 0.05 (age - 35)                        + 1.2 [registration_hour < 6]
        + 0.35 [device != web]                   + 0.25 (ln(1 + declared_deposit_limit / 100) - 1.0)
        + 0.4 marketing_opt_in                   - 0.7 id_verified
        + 0.7 referral_affiliate                 + 0.3 [country = other]

(booleans and [conditions] count 1 when true, else 0). This gives about 5% self-excluded players
at registration (before-initial-deposit) and about 8% among active players (gambling-behaviour).
Terms of features that are not columns of the bucket are left out. The flag depends on the
features only, so the best any classifier can reach is the AUC of sig(z) itself: about 0.76 on
before-initial-deposit and 0.88 on gambling-behaviour (5,000 rows, seeds 0-2).

`future_stake_per_day` (the marketing model's label) is 0 for a self-excluded player, else

    ln(1 + future_stake_per_day) = 0.9 ln(1 + stake_per_day) + 0.2 ln(1 + deposits_per_week)
                                   + 0.3 loss_chasing_ratio - 0.1 ln(1 + days_active) + 0.15 + N(0, 0.35)

Any other label: a classification label is drawn like the self-exclusion flag (independently);
a regression label is the sum of the bucket's standardised numeric features plus N(0, 1).
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vwt_deploy.config import Environment, Feature, Model
from vwt_deploy.contract import USER_ID_FIELD
from vwt_deploy.errors import ConfigError
from vwt_deploy.operate import refuse_prod as refuse_prod_for

DEFAULT_ROWS = 5000
MAX_ROWS = 1_000_000
DATA_FILE = "synthetic.csv"
LABELS_FILE = "synthetic-review.csv"  # an operator's labels, under each labelling model's labels prefix
OPERATOR_SHARE = 0.6  # the share of players an operator reviewed (their label is the self-exclusion draw)
SCHEMA_FILE = "schema.json"
SCORING_FILE = "players.csv"  # the players batch scoring scores, under scoring/<model>/<operator>/
SHIFT_SD = 1.5  # `data sample --shift`: the players' latent risk, this many standard deviations higher
SELF_EXCLUSION_LABEL = "self_excluded"
FUTURE_STAKE_LABEL = "future_stake_per_day"
_CHUNK = 50_000  # rows formatted at a time

Columns = dict[str, np.ndarray]


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _lognormal(rng: np.random.Generator, mean: Any, sd: float) -> np.ndarray:
    return np.exp(rng.normal(mean, sd))


def _choice(rng: np.random.Generator, logits: Sequence[Any] | np.ndarray, n: int) -> np.ndarray:
    """Index of a category per player, from per-player (or constant) logits."""
    weights = np.exp(np.column_stack([np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in logits]))
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.random(n)[:, None] > cumulative).sum(axis=1), len(logits) - 1)


@dataclass(frozen=True)
class Recipe:
    """How one feature is drawn: `draw(rng, risk, columns drawn so far)` -> values (category: indices)."""

    type: str
    draw: Callable[[np.random.Generator, np.ndarray, Columns], np.ndarray]
    decimals: int = 0
    values: tuple[str, ...] = ()  # categories, in the order of the drawn indices


# In drawing order: a recipe may read the columns above it.
RECIPES: dict[str, Recipe] = {
    # gambling-behaviour
    "deposits_per_week": Recipe("float", lambda g, r, c: _lognormal(g, 0.3 + 0.6 * r, 0.7), 2),
    "avg_deposit": Recipe("float", lambda g, r, c: _lognormal(g, 3.4 + 0.35 * r, 0.8), 2),
    "stake_per_day": Recipe(
        "float", lambda g, r, c: c["deposits_per_week"] * c["avg_deposit"] / 7 * _lognormal(g, 1.0, 0.5), 2
    ),
    "session_minutes": Recipe("float", lambda g, r, c: _lognormal(g, 3.2 + 0.3 * r, 0.5), 1),
    "night_play_share": Recipe("float", lambda g, r, c: _sig(g.normal(-2.0 + 0.7 * r, 0.8)), 3),
    "loss_chasing_ratio": Recipe("float", lambda g, r, c: _sig(g.normal(-1.8 + 0.8 * r, 0.7)), 3),
    "cancelled_withdrawals": Recipe("int", lambda g, r, c: g.poisson(np.exp(-1.0 + 0.8 * r))),
    "deposit_limit_changes": Recipe("int", lambda g, r, c: g.poisson(np.exp(-1.5 + 0.6 * r))),
    "days_active": Recipe("int", lambda g, r, c: _lognormal(g, 4.5 - 0.2 * r, 1.0)),
    "product": Recipe(
        "category",
        lambda g, r, c: _choice(g, [0.6 + 0.5 * r, 0.4, -0.8 + 0.2 * r, -0.9 - 0.5 * r], len(r)),
        values=("casino", "sports", "poker", "lottery"),
    ),
    # before-initial-deposit
    "age": Recipe("int", lambda g, r, c: 18 + _lognormal(g, 2.8 - 0.25 * r, 0.55)),
    "country": Recipe(
        "category",
        lambda g, r, c: _choice(g, np.log([0.35, 0.25, 0.2, 0.1, 0.1]), len(r)),
        values=("nl", "de", "gb", "se", "other"),
    ),
    "device": Recipe(
        "category",
        lambda g, r, c: _choice(g, [0.3 - 0.4 * r, 0.0, 0.1 + 0.3 * r], len(r)),
        values=("web", "ios", "android"),
    ),
    "registration_hour": Recipe(
        "int",
        lambda g, r, c: np.where(
            g.random(len(r)) < _sig(-1.8 + 0.6 * r),
            g.integers(0, 6, len(r)),
            np.mod(np.round(g.normal(19, 3.5, len(r))), 24),
        ),
    ),
    "declared_deposit_limit": Recipe(
        "float",
        lambda g, r, c: np.where(
            g.random(len(r)) < _sig(0.3 + 0.4 * r), 0.0, np.round(_lognormal(g, 5.5 + 0.4 * r, 0.8), -1)
        ),
        2,
    ),
    "marketing_opt_in": Recipe("bool", lambda g, r, c: g.random(len(r)) < _sig(0.2 + 0.4 * r)),
    "id_verified": Recipe("bool", lambda g, r, c: g.random(len(r)) < _sig(1.0 - 0.5 * r)),
    "referral_affiliate": Recipe("bool", lambda g, r, c: g.random(len(r)) < _sig(-1.5 + 0.5 * r)),
}


def _is(name: str, value: str) -> Callable[[Columns], np.ndarray]:
    return lambda c: (c[name] == value).astype(float)


# The self-exclusion model: intercept and (feature, term) pairs; a term reads the written columns.
SELF_EXCLUSION_INTERCEPT = -3.6
SELF_EXCLUSION_TERMS: tuple[tuple[str, Callable[[Columns], np.ndarray]], ...] = (
    ("deposits_per_week", lambda c: 0.6 * (np.log1p(c["deposits_per_week"]) - 1.0)),
    ("stake_per_day", lambda c: 0.3 * (np.log1p(c["stake_per_day"]) - 3.0)),
    ("session_minutes", lambda c: 0.02 * (c["session_minutes"] - 28)),
    ("night_play_share", lambda c: 2.5 * (c["night_play_share"] - 0.15)),
    ("loss_chasing_ratio", lambda c: 3.0 * (c["loss_chasing_ratio"] - 0.17)),
    ("cancelled_withdrawals", lambda c: 0.4 * (np.minimum(c["cancelled_withdrawals"], 5) - 0.5)),
    ("deposit_limit_changes", lambda c: 0.3 * (np.minimum(c["deposit_limit_changes"], 5) - 0.25)),
    ("days_active", lambda c: -0.2 * (np.log1p(c["days_active"]) - 4.5)),
    ("product", lambda c: 0.4 * (_is("product", "casino")(c) - 0.45) - 0.3 * (_is("product", "lottery")(c) - 0.1)),
    ("age", lambda c: -0.05 * (c["age"] - 35)),
    ("registration_hour", lambda c: 1.2 * (c["registration_hour"] < 6)),
    ("device", lambda c: 0.35 * (c["device"] != "web")),
    ("declared_deposit_limit", lambda c: 0.25 * (np.log1p(c["declared_deposit_limit"] / 100) - 1.0)),
    ("marketing_opt_in", lambda c: 0.4 * c["marketing_opt_in"]),
    ("id_verified", lambda c: -0.7 * c["id_verified"]),
    ("referral_affiliate", lambda c: 0.7 * c["referral_affiliate"]),
    ("country", lambda c: 0.3 * _is("country", "other")(c)),
)

FUTURE_STAKE_TERMS: tuple[tuple[str, Callable[[Columns], np.ndarray]], ...] = (
    ("stake_per_day", lambda c: 0.9 * np.log1p(c["stake_per_day"])),
    ("deposits_per_week", lambda c: 0.2 * np.log1p(c["deposits_per_week"])),
    ("loss_chasing_ratio", lambda c: 0.3 * c["loss_chasing_ratio"]),
    ("days_active", lambda c: -0.1 * np.log1p(c["days_active"])),
)


# --------------------------------------------------------------------------- the data set


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # int, float, bool, category
    values: np.ndarray  # numbers, bools, or strings for categories
    decimals: int = 0

    def cells(self, start: int, stop: int) -> list[str]:
        part = self.values[start:stop]
        if self.type == "bool":
            return np.where(part, "true", "false").tolist()
        if self.type == "category":
            return part.tolist()
        if self.type == "int":
            return part.astype(np.int64).astype(str).tolist()
        return np.char.mod(f"%.{self.decimals}f", part).tolist()


@dataclass(frozen=True)
class DataSet:
    """The synthetic data of one data bucket: `user_id`, the features, the labels, in that order."""

    bucket: str  # the catalogue's data bucket key
    columns: tuple[Column, ...]
    features: tuple[Feature, ...]
    labels: tuple[str, ...]
    self_exclusion_probability: np.ndarray  # sig(z) per player: the stated model's probability

    @property
    def rows(self) -> int:
        return len(self.columns[0].values)

    def column(self, name: str) -> np.ndarray:
        return next(c.values for c in self.columns if c.name == name)

    def to_csv(self) -> bytes:
        """CSV with a header, `\\n` line ends, booleans as true/false."""
        out = io.BytesIO()
        out.write((",".join(c.name for c in self.columns) + "\n").encode())
        for start in range(0, self.rows, _CHUNK):
            stop = min(start + _CHUNK, self.rows)
            rows = zip(*(c.cells(start, stop) for c in self.columns), strict=True)
            out.write(("\n".join(",".join(row) for row in rows) + "\n").encode())
        return out.getvalue()

    def scoring_files(self, model: Model, operators: Sequence[str]) -> dict[str, bytes]:
        """Per operator, the players batch scoring scores with `model`: headerless CSV, `user_id` then the model's
        features in training order (what the transform job sends the container). Player i is operator i mod n's."""
        names = [USER_ID_FIELD, *(f.name for f in model.features)]
        columns = [next(c for c in self.columns if c.name == name) for name in names]
        lines: list[list[str]] = [[] for _ in operators]
        for start in range(0, self.rows, _CHUNK):
            stop = min(start + _CHUNK, self.rows)
            for i, row in enumerate(zip(*(c.cells(start, stop) for c in columns), strict=True), start):
                lines[i % len(operators)].append(",".join(row))
        return {op: ("\n".join(rows) + "\n").encode() for op, rows in zip(operators, lines, strict=True) if rows}

    def schema_json(self) -> bytes:
        from vwt_model.schema import schema_document

        return (json.dumps(schema_document(self.features), indent=2, sort_keys=True) + "\n").encode()

    def operator_labels(self, seed: int, share: float = OPERATOR_SHARE) -> bytes:
        """An operator's label file (`user_id,label`): a seeded `share` of the players, each labelled with their
        self-exclusion draw, in a shuffled order (labels are joined by user_id, never by position)."""
        rng = _rng(seed, self.bucket, "operator-labels")
        users, flags = self.column(USER_ID_FIELD), self.column(SELF_EXCLUSION_LABEL)
        chosen = rng.permutation(np.flatnonzero(rng.random(self.rows) < share))
        lines = [f"{USER_ID_FIELD},label"] + [f"{users[i]},{int(flags[i])}" for i in chosen]
        return ("\n".join(lines) + "\n").encode()

    def label_summary(self) -> dict[str, float]:
        """The rate of each boolean label, the mean of each numeric one."""
        out = {}
        for name in self.labels:
            values = self.column(name)
            key = f"{name} rate" if values.dtype == bool else f"{name} mean"
            out[key] = round(float(values.mean()), 4)
        return out


def models_on(env: Environment, bucket: str) -> list[Model]:
    return [m for m in env.catalogue.models if m.data_bucket == bucket]


def _label_columns(models: Iterable[Model]) -> dict[str, str]:
    """Label column -> task ('classification' or 'regression'); a self-exclusion model's column is its flag."""
    out: dict[str, str] = {}
    for model in models:
        if model.labeling.mode == "self_exclusion":
            out.setdefault(str(model.labeling.source_column), "self_exclusion")
        elif model.anchor:  # an unsupervised model's known outcome (never a feature): the self-exclusion flag
            out.setdefault(model.anchor, "self_exclusion")
        elif model.labeling.mode in ("none", "ground_truth") and model.label:
            # Ground Truth's data may hold an observed value; the pipeline hides it from the workers and replaces it
            out.setdefault(model.label, model.task)
    return out


def _union_features(models: Iterable[Model]) -> tuple[Feature, ...]:
    seen: dict[str, Feature] = {}
    for model in models:
        for feature in model.features:
            seen.setdefault(feature.name, feature)
    return tuple(seen.values())


def _rng(seed: int, *names: str) -> np.random.Generator:
    """An independent stream per (seed, bucket, column): adding a column leaves the others' values as they were."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(zlib.crc32(n.encode()) for n in names)))


def _fits(recipe: Recipe, feature: Feature) -> bool:
    return recipe.type == feature.type and set(recipe.values) <= set(feature.allowed)


def _generic(rng: np.random.Generator, feature: Feature, n: int) -> np.ndarray:
    if feature.type == "category":
        return np.asarray(feature.allowed)[rng.integers(0, len(feature.allowed), n)]
    if feature.type == "bool":
        return rng.random(n) < 0.5
    lo = feature.min if feature.min is not None else (feature.max - 100 if feature.max is not None else 0.0)
    hi = feature.max if feature.max is not None else lo + 100
    if feature.type == "int":
        return rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, n)
    return rng.uniform(lo, hi, n)


def _typed(feature: Feature, values: np.ndarray) -> np.ndarray:
    """Within the catalogue's bounds; ints whole."""
    if feature.type not in ("int", "float"):
        return values
    values = np.asarray(values, dtype=float)
    if feature.type == "int":
        values = np.round(values)
    lo = -np.inf if feature.min is None else feature.min
    hi = np.inf if feature.max is None else feature.max
    if feature.type == "int":
        lo, hi = np.ceil(lo), np.floor(hi)
    return np.clip(values, lo, hi)


def _linear(terms: Sequence[tuple[str, Callable[[Columns], np.ndarray]]], columns: Columns, n: int) -> np.ndarray:
    total = np.zeros(n)
    for name, term in terms:
        if name in columns:
            total = total + np.asarray(term(columns), dtype=float)
    return total


def check_size(rows: int, seed: int) -> None:
    if not 0 < rows <= MAX_ROWS:
        raise ConfigError(
            f"--rows must be between 1 and {MAX_ROWS:,}, got {rows}",
            f"the default is {DEFAULT_ROWS:,} rows per data bucket",
        )
    if not 0 <= seed < 2**63:
        raise ConfigError(f"--seed must be a whole number from 0 to 2**63 - 1, got {seed}")


def generate(env: Environment, bucket: str, rows: int = DEFAULT_ROWS, seed: int = 0, shift: bool = False) -> DataSet:
    """The synthetic data set of one data bucket (its catalogue key), from the catalogue's models on it. `shift`:
    a population that has drifted: every player's latent risk is SHIFT_SD standard deviations higher, so every
    feature drawn from it (deposits, night play, loss chasing, ...) and the labels move with it."""
    check_size(rows, seed)
    models = models_on(env, bucket)
    if not models:
        raise ConfigError(f"no model reads the data bucket {bucket!r}", "a data set is made from the models' features")
    features = _union_features(models)
    columns = _feature_columns(features, bucket, rows, seed, SHIFT_SD if shift else 0.0)
    probability = _sig(SELF_EXCLUSION_INTERCEPT + _linear(SELF_EXCLUSION_TERMS, columns, rows))
    labels = _labels(models, features, columns, probability, bucket, rows, seed)

    width = len(str(rows))
    out = [
        Column(
            USER_ID_FIELD,
            "category",
            np.char.add("synthetic-", np.char.zfill(np.arange(1, rows + 1).astype(str), width)),
        )
    ]
    for feature in features:
        known = RECIPES.get(feature.name)
        decimals = known.decimals if known and _fits(known, feature) else 4
        out.append(Column(feature.name, feature.type, columns[feature.name], decimals))
    for name, values in labels.items():
        out.append(
            Column(name, "bool" if values.dtype == bool else "float", values, 2 if name == FUTURE_STAKE_LABEL else 4)
        )
    return DataSet(bucket, tuple(out), features, tuple(labels), probability)


def _feature_columns(features: Sequence[Feature], bucket: str, rows: int, seed: int, shift: float = 0.0) -> Columns:
    """Every feature's values: its recipe's draw where the recipe fits it, else the generic draw."""
    risk = _rng(seed, bucket, "risk").standard_normal(rows) + shift
    drawn: Columns = {}
    for name, recipe in RECIPES.items():  # every recipe, so a feature's recipe may read one the catalogue lacks
        values = np.asarray(recipe.draw(_rng(seed, bucket, name), risk, drawn))
        drawn[name] = np.asarray(recipe.values)[values] if recipe.values else values
    columns: Columns = {}
    for feature in features:
        known = RECIPES.get(feature.name)
        raw = (
            drawn[feature.name]
            if known and _fits(known, feature)
            else _generic(_rng(seed, bucket, feature.name, "generic"), feature, rows)
        )
        columns[feature.name] = _typed(feature, raw)
    return columns


def _labels(
    models: Sequence[Model],
    features: Sequence[Feature],
    columns: Columns,
    probability: np.ndarray,
    bucket: str,
    rows: int,
    seed: int,
) -> Columns:
    """The label columns of the models (those that are not another model's feature), as the module doc says."""
    wanted = {f.name: f for f in features}
    excluded = _rng(seed, bucket, SELF_EXCLUSION_LABEL).random(rows) < probability
    labels: Columns = {}
    for name, task in _label_columns(models).items():
        if name in columns:
            continue  # another model's feature: drawn above
        rng = _rng(seed, bucket, name)
        if task == "self_exclusion" or name == SELF_EXCLUSION_LABEL:
            labels[name] = excluded
        elif task == "classification":
            labels[name] = rng.random(rows) < probability
        elif name == FUTURE_STAKE_LABEL:
            log_value = _linear(FUTURE_STAKE_TERMS, columns, rows) + 0.15 + rng.normal(0, 0.35, rows)
            labels[name] = np.where(excluded, 0.0, np.maximum(np.expm1(log_value), 0.0))
        else:
            numeric = [v for k, v in columns.items() if wanted[k].type in ("int", "float")]
            labels[name] = sum(((v - v.mean()) / (v.std() or 1.0) for v in numeric), rng.normal(0, 1, rows))
    return labels


# --------------------------------------------------------------------------- writing to the data buckets


@dataclass(frozen=True)
class Written:
    """One data file written: where, how much, and its label summary."""

    bucket: str
    key: str
    schema_key: str
    rows: int
    bytes: int
    encryption: str
    labels: Mapping[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "schema_key": self.schema_key,
            "rows": self.rows,
            "bytes": self.bytes,
            "encryption": self.encryption,
            "labels": dict(self.labels),
        }


def refuse_prod(env: Environment) -> None:
    refuse_prod_for(
        env,
        "to write synthetic data to prod",
        "its data buckets hold real players' data, and the models trained there must learn from real "
        "players only (synthetic rows would be trained on and never told apart)",
        "use --env local, dev or staging",
    )


def bucket_keys(env: Environment, names: Sequence[str] = ()) -> list[str]:
    """The catalogue keys of the data buckets named (by key or by bucket name); all that models read when none."""
    read = [key for key in env.catalogue.data_buckets if models_on(env, key)]
    if not names:
        return read
    by_name = {env.data_bucket_name(key): key for key in read}
    keys = []
    for name in names:
        key = name if name in read else by_name.get(name)
        if key is None:
            listed = ", ".join(f"{k} ({env.data_bucket_name(k)})" for k in read)
            raise ConfigError(f"unknown data bucket {name!r} in {env.name}", f"data buckets that models read: {listed}")
        if key not in keys:
            keys.append(key)
    return keys


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _check_buckets(env: Environment, s3: Any, keys: Sequence[str]) -> None:
    """Every bucket exists; else one message: not deployed (none exists) or which are missing."""
    from botocore.exceptions import BotoCoreError, ClientError

    missing = []
    for key in keys:
        name = env.data_bucket_name(key)
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                missing.append(name)
                continue
            raise ConfigError(
                f"cannot reach the data bucket {name}: {exc}",
                "use credentials of the environment's account that may write to its data buckets",
            ) from None
        except BotoCoreError as exc:
            raise ConfigError(
                f"cannot reach S3 for {env.name}: {exc}", f"check `vwt-deploy status --env {env.name}`"
            ) from None
    if not missing:
        return
    if len(missing) == len(keys):
        raise ConfigError(
            f"{env.name} is not deployed: its data bucket(s) {', '.join(missing)} do not exist",
            f"deploy it with `vwt-deploy up --env {env.name}`, then run this again; nothing was written",
        )
    raise ConfigError(
        f"the data bucket(s) {', '.join(missing)} of {env.name} do not exist",
        f"run `vwt-deploy up --env {env.name}` to create them; nothing was written",
    )


def encryption_args(s3: Any, bucket: str) -> dict[str, str]:
    """PutObject arguments that encrypt as the bucket's default encryption does (SSE-S3 when it has none)."""
    from botocore.exceptions import ClientError

    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if _error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    args = {"ServerSideEncryption": default.get("SSEAlgorithm", "AES256")}
    if default.get("KMSMasterKeyID"):
        args["SSEKMSKeyId"] = default["KMSMasterKeyID"]
    return args


def write_samples(
    env: Environment,
    s3: Any,
    buckets: Sequence[str] = (),
    rows: int = DEFAULT_ROWS,
    seed: int = 0,
    shift: bool = False,
) -> list[Written]:
    """Generate and write the data set of each data bucket (under each data prefix its models read).

    Checks everything first (not prod, known buckets, size, buckets exist): on any problem nothing is written."""
    refuse_prod(env)
    keys = bucket_keys(env, buckets)
    check_size(rows, seed)
    _check_buckets(env, s3, keys)
    written = []
    for key in keys:
        data = generate(env, key, rows, seed, shift)
        body, schema = data.to_csv(), data.schema_json()
        name = env.data_bucket_name(key)
        sse = encryption_args(s3, name)
        for prefix in sorted({m.data_prefix for m in models_on(env, key)}):
            s3.put_object(Bucket=name, Key=prefix + SCHEMA_FILE, Body=schema, ContentType="application/json", **sse)
            s3.put_object(Bucket=name, Key=prefix + DATA_FILE, Body=body, ContentType="text/csv", **sse)
            written.append(
                Written(
                    name,
                    prefix + DATA_FILE,
                    prefix + SCHEMA_FILE,
                    data.rows,
                    len(body),
                    sse["ServerSideEncryption"],
                    data.label_summary(),
                )
            )
        operators = [o.id for o in env.catalogue.operators]
        for model in models_on(env, key):
            for operator, players in data.scoring_files(model, operators).items():
                scoring_key = f"{model.scoring_prefix}{operator}/{SCORING_FILE}"
                s3.put_object(Bucket=name, Key=scoring_key, Body=players, ContentType="text/csv", **sse)
                written.append(
                    Written(name, scoring_key, "", players.count(b"\n"), len(players), sse["ServerSideEncryption"], {})
                )
        if SELF_EXCLUSION_LABEL in data.labels:
            labels = data.operator_labels(seed)
            for prefix in sorted({m.labeling.labels_prefix for m in models_on(env, key) if m.labeling.mode != "none"}):
                s3.put_object(Bucket=name, Key=prefix + LABELS_FILE, Body=labels, ContentType="text/csv", **sse)
    return written
