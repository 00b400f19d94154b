"""The model catalogue as the Lambda sees it: loaded once per container, checked, compiled into fast validators.

Where it comes from: `$VWT_CATALOGUE_PATH` or `$CATALOGUE_PATH` (a JSON file; tests point at a built one),
else `catalogue.json` at the package root (vwt-deploy bundles it into the zip). The Lambda never imports
the tool: without either file it fails with a CatalogueError that says so.
"""

from __future__ import annotations

import bisect
import json
import math
import os

TYPE_CHECKING = False  # typing is not imported at run time: a shorter cold start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

FORMAT = 1
# lambdas/ in the source tree, the zip root when deployed (os.path, not pathlib: a shorter cold start)
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = os.path.join(PACKAGE_ROOT, "catalogue.json")


class CatalogueError(Exception):
    """The catalogue is missing or inconsistent: a deployment problem, never the caller's."""


# --------------------------------------------------------------------------- the intervention table


class Intervention:
    """Risk score -> risk group -> intervention level, from the catalogue's table (levels weakest first)."""

    def __init__(self, levels: list[str], groups: list[dict]):
        if not levels or len(set(levels)) != len(levels):
            raise CatalogueError("intervention levels must be a non-empty list of unique names")
        if not groups:
            raise CatalogueError("the intervention table has no risk groups")
        self.levels = tuple(levels)
        self.names: list[str] = []
        self.bounds: list[float] = []
        self.level_of: list[str] = []
        last_rank = -1
        for i, group in enumerate(groups):
            try:
                name, bound, level = str(group["name"]), float(group["min_score"]), str(group["level"])
            except (KeyError, TypeError, ValueError):
                raise CatalogueError(f"risk group {i} needs name, min_score (a number) and level") from None
            if i == 0 and bound != 0:
                raise CatalogueError("the first risk group must start at min_score 0 so every score has a group")
            if not 0 <= bound <= 1:
                raise CatalogueError(f"risk group {name}: min_score {bound} is outside [0, 1]")
            if self.bounds and bound <= self.bounds[-1]:
                raise CatalogueError(
                    f"risk groups must be in increasing min_score order; {name} follows {self.names[-1]}"
                )
            if level not in self.levels:
                raise CatalogueError(f"risk group {name}: level {level!r} is not one of {', '.join(self.levels)}")
            rank = self.levels.index(level)
            if rank < last_rank:
                raise CatalogueError(
                    f"risk group {name} gets {level!r}, weaker than a lower-risk group: the mapping must be monotonic"
                )
            last_rank = rank
            self.names.append(name)
            self.bounds.append(bound)
            self.level_of.append(level)

    def classify(self, score: float) -> tuple[str, str]:
        """(risk group, intervention level) of a score in [0, 1]."""
        i = bisect.bisect_right(self.bounds, score) - 1
        if i < 0:
            i = 0
        return self.names[i], self.level_of[i]


# --------------------------------------------------------------------------- features


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()


class NonFinite:
    """What the JSON parser gives for NaN / Infinity / -Infinity, so validation can name the field."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _short(value: Any) -> str:
    if isinstance(value, NonFinite):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number_check(
    name: str, integer: bool, lo: float | None, hi: float | None
) -> Callable[[Any], tuple[Any, str | None]]:
    kind = "a whole number" if integer else "a number"

    def check(value: Any) -> tuple[Any, str | None]:
        t = type(value)
        if t is int:
            pass
        elif t is float:
            if value != value or value in (math.inf, -math.inf):
                return None, f"must be a finite number, got {_short(value)}"
            if integer:
                if not value.is_integer():
                    return None, f"must be {kind}, got {value!r}"
                value = int(value)
        elif t is NonFinite:
            return None, f"must be a finite number, got {value.text}"
        else:
            return None, f"must be {kind}, got {_short(value)}"
        if lo is not None and value < lo:
            return None, f"must be at least {lo:g}, got {value!r}"
        if hi is not None and value > hi:
            return None, f"must be at most {hi:g}, got {value!r}"
        if integer or t is float:
            return value, None
        try:
            return float(value), None
        except OverflowError:
            return None, "must be a finite number, got an integer too large to be one"

    return check


def _bool_check(value: Any) -> tuple[Any, str | None]:
    if type(value) is bool:
        return value, None
    return None, f"must be true or false, got {_short(value)}"


def _category_check(allowed: list[str]) -> Callable[[Any], tuple[Any, str | None]]:
    allowed_set = frozenset(allowed)
    listing = ", ".join(allowed)

    def check(value: Any) -> tuple[Any, str | None]:
        if type(value) is str and value in allowed_set:
            return value, None
        if type(value) is str:
            return None, f"must be one of {listing}, got {_short(value)}"
        return None, f"must be a string, one of {listing}, got {_short(value)}"

    return check


class Feature:
    __slots__ = ("name", "type", "required", "default", "min", "max", "allowed", "check")

    def __init__(self, raw: dict, model: str):
        try:
            self.name = str(raw["name"])
            self.type = raw["type"]
        except (KeyError, TypeError):
            raise CatalogueError(f"model {model}: a feature needs a name and a type") from None
        self.required = bool(raw.get("required", True))
        self.min = raw.get("min")
        self.max = raw.get("max")
        self.allowed = list(raw.get("allowed") or [])
        if self.type == "int":
            self.check = _number_check(self.name, True, self.min, self.max)
        elif self.type == "float":
            self.check = _number_check(self.name, False, self.min, self.max)
        elif self.type == "bool":
            self.check = _bool_check
        elif self.type == "category":
            if not self.allowed:
                raise CatalogueError(f"model {model}: category feature {self.name} has no allowed values")
            self.check = _category_check(self.allowed)
        else:
            raise CatalogueError(f"model {model}: feature {self.name} has unknown type {self.type!r}")
        self.default = None
        if not self.required:
            if "default" not in raw:
                raise CatalogueError(f"model {model}: optional feature {self.name} has no default")
            self.default, problem = self.check(raw["default"])
            if problem:
                raise CatalogueError(f"model {model}: default of {self.name} {problem}")


class Model:
    __slots__ = (
        "name",
        "task",
        "label",
        "consumer",
        "endpoint_name",
        "features",
        "names",
        "plan",
        "known",
        "description",
    )

    def __init__(self, raw: dict):
        try:
            self.name = str(raw["name"])
            self.task = str(raw["task"])
            features = raw["features"]
        except (KeyError, TypeError):
            raise CatalogueError("every model needs a name, a task and features") from None
        self.description = str(raw.get("description") or "")
        self.label = raw.get("label")
        self.consumer = raw.get("consumer") or ("operator" if self.task == "regression" else "intervention")
        if self.consumer not in ("intervention", "operator"):
            raise CatalogueError(f"model {self.name}: consumer {self.consumer!r} is neither intervention nor operator")
        self.endpoint_name = raw.get("endpoint_name")
        self.features = [Feature(f, self.name) for f in features]
        if not self.features:
            raise CatalogueError(f"model {self.name} has no features")
        self.names = tuple(f.name for f in self.features)
        if len(set(self.names)) != len(self.names):
            raise CatalogueError(f"model {self.name} has duplicate feature names")
        # the validator's inner loop: (name, check, required, default) per feature, in training order
        self.plan = tuple((f.name, f.check, f.required, f.default) for f in self.features)
        self.known = frozenset(self.names)


class Catalogue:
    def __init__(self, doc: Any, source: str = "catalogue"):
        if not isinstance(doc, dict):
            raise CatalogueError(f"{source}: the catalogue must be a JSON object")
        if doc.get("format") != FORMAT:
            raise CatalogueError(
                f"{source}: catalogue format {doc.get('format')!r}, this handler reads format {FORMAT}"
            )
        self.source = source
        self.environment = str(doc.get("environment") or "")
        self.region = str(doc.get("region") or "") or None
        try:
            self.max_records = int(doc.get("max_records") or 1000)
            self.user_id_field = str(doc.get("user_id_field") or "user_id")
            intervention = doc["intervention"]
            self.intervention = Intervention(list(intervention["levels"]), list(intervention["risk_groups"]))
            self.models = {m.name: m for m in (Model(raw) for raw in doc["models"])}
        except (KeyError, TypeError) as exc:
            raise CatalogueError(f"{source}: malformed catalogue ({type(exc).__name__}: {exc})") from None
        self.cors_allow_origins = tuple(str(o) for o in (doc.get("cors_allow_origins") or ()))
        for model in self.models.values():
            if self.user_id_field in model.known:
                raise CatalogueError(
                    f"model {model.name}: a feature is named {self.user_id_field}, the player id field"
                )


def load(environ: dict | None = None) -> Catalogue:
    """The catalogue bundled in the package (`catalogue.json`), or the file `VWT_CATALOGUE_PATH` names."""
    environ = os.environ if environ is None else environ
    source = environ.get("VWT_CATALOGUE_PATH") or environ.get("CATALOGUE_PATH") or BUNDLED
    try:
        with open(source, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise CatalogueError(
            f"cannot read the catalogue {source}: {exc}; the package built by vwt-deploy bundles "
            "catalogue.json, or set VWT_CATALOGUE_PATH"
        ) from None
    return Catalogue(doc, source)
