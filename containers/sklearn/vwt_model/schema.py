"""The feature schema: which columns a model reads, their types, and how they are encoded.

Pure standard library (the deployment tool and the baseline builder import it).

A schema is a JSON document `{"features": [{"name", "type", "allowed", "required",
"default", "min", "max"}, ...]}`, the same fields as a catalogue feature. It
travels with the training data as `schema.json` in the `train` channel (or in a
channel of its own named `schema`). Without one, every column but the label is
a numeric feature.

Encoding (the same at training and at serving, so a model sees what it was
trained on): `float`/`int` -> the number, `bool` -> 0/1, `category` -> one
column per allowed value (one-hot, in the order of `allowed`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TYPES = ("float", "int", "bool", "category")
SCHEMA_FILE = "schema.json"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})


class SchemaError(ValueError):
    """The schema document itself is invalid."""


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    type: str = "float"
    allowed: tuple[str, ...] = ()
    required: bool = True
    default: Any = None
    min: float | None = None
    max: float | None = None

    @property
    def width(self) -> int:
        """How many encoded columns this feature takes."""
        return len(self.allowed) if self.type == "category" else 1

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "int")

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.allowed:
            out["allowed"] = list(self.allowed)
        if not self.required:
            out["required"] = False
            out["default"] = self.default
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        return out

    def encoded_names(self) -> list[str]:
        if self.type == "category":
            return [f"{self.name}={value}" for value in self.allowed]
        return [self.name]

    # ---- one value (serving and the slow path of parsing)
    def encode(self, raw: Any) -> list[float]:
        """Encode one raw value (a str from CSV, or a JSON value). Raise ValueError saying what is wrong."""
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if self.required:
                raise ValueError(f"{self.name} is required but missing")
            raw = self.default
        if self.type == "category":
            return self._one_hot(raw)
        if self.type == "bool":
            return [self._bool(raw)]
        return [self._number(raw)]  # float / int

    def _one_hot(self, raw: Any) -> list[float]:
        value = (raw if isinstance(raw, str) else _json_scalar(raw)).strip()
        try:
            index = self.allowed.index(value)
        except ValueError:
            raise ValueError(f"{self.name} must be one of {', '.join(self.allowed)}, got {_short(raw)}") from None
        row = [0.0] * len(self.allowed)
        row[index] = 1.0
        return row

    def _bool(self, raw: Any) -> float:
        if isinstance(raw, bool):
            return 1.0 if raw else 0.0
        if isinstance(raw, (int, float)) and raw in (0, 1):
            return float(raw)
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return 1.0 if raw.strip().lower() in _TRUE else 0.0
        raise ValueError(f"{self.name} must be a boolean (true/false or 1/0), got {_short(raw)}")

    def _number(self, raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError(f"{self.name} must be a number, got {_short(raw)}")
        if isinstance(raw, (int, float)):
            try:
                value = float(raw)
            except OverflowError:
                raise ValueError(f"{self.name} is too large a number") from None
        elif isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{self.name} must be a number, got {_short(raw)}") from None
        else:
            raise ValueError(f"{self.name} must be a number, got {_short(raw)}")
        if not math.isfinite(value):
            raise ValueError(f"{self.name} must be a finite number, got {_short(raw)}")
        return value


def _json_scalar(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return str(raw)
    raise ValueError(f"expected a string, got {type(raw).__name__}")


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Schema:
    features: tuple[FeatureSpec, ...]
    explicit: bool = True  # False when inferred (every column but the label is numeric)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(f.name for f in self.features))

    @property
    def width(self) -> int:
        return sum(f.width for f in self.features)

    @property
    def all_numeric(self) -> bool:
        """True when every feature encodes to one column parsed as a number (the fast path)."""
        return all(f.numeric for f in self.features)

    def encoded_names(self) -> list[str]:
        return [n for f in self.features for n in f.encoded_names()]

    def to_dict(self) -> dict:
        return {"features": [f.to_dict() for f in self.features]}

    def encode_row(self, values: list[Any]) -> list[float]:
        """Encode one row of raw values in feature order."""
        out: list[float] = []
        for feature, raw in zip(self.features, values, strict=True):
            out.extend(feature.encode(raw))
        return out


def _as_mapping(obj: Any) -> Mapping:
    """A mapping as it is; a pydantic model as its JSON dump; another object by its Feature attributes."""
    if isinstance(obj, Mapping):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return {
        k: getattr(obj, k) for k in ("name", "type", "allowed", "required", "default", "min", "max") if hasattr(obj, k)
    }


def feature_from(obj: Any) -> FeatureSpec:
    """A FeatureSpec from a mapping or from an object with the catalogue's Feature attributes."""
    if isinstance(obj, FeatureSpec):
        return obj
    obj = _as_mapping(obj)
    unknown = set(obj) - {"name", "type", "allowed", "required", "default", "min", "max", "description"}
    if unknown:
        raise SchemaError(f"feature {obj.get('name', '?')!r}: unknown field(s) {', '.join(sorted(unknown))}")
    name = obj.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SchemaError(f"feature name {name!r} must be a column name (letters, digits, _ . -)")
    ftype = obj.get("type", "float")
    if ftype not in TYPES:
        raise SchemaError(f"feature {name}: type must be one of {', '.join(TYPES)}, got {ftype!r}")
    allowed = tuple(str(v) for v in (obj.get("allowed") or ()))
    if ftype == "category" and not allowed:
        raise SchemaError(f"feature {name}: a category feature needs its allowed values")
    if ftype != "category" and allowed:
        raise SchemaError(f"feature {name}: only category features take allowed values")
    if len(set(allowed)) != len(allowed):
        raise SchemaError(f"feature {name}: allowed values must be unique")
    required = bool(obj.get("required", True))
    default = obj.get("default")
    if not required and default is None:
        raise SchemaError(f"feature {name}: an optional feature needs a default")
    spec = FeatureSpec(
        name,
        ftype,
        allowed,
        required,
        default if not required else None,
        _num(obj.get("min"), name, "min"),
        _num(obj.get("max"), name, "max"),
    )
    if not required:
        try:
            spec.encode(default)
        except ValueError as exc:
            raise SchemaError(f"feature {name}: default {default!r} is invalid: {exc}") from None
    return spec


def _num(value: Any, name: str, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"feature {name}: {key} must be a number, got {value!r}")
    return float(value)


def schema_from(features: Iterable[Any]) -> Schema:
    """A Schema from catalogue features (pydantic objects) or mappings."""
    specs = tuple(feature_from(f) for f in features)
    if not specs:
        raise SchemaError("a schema needs at least one feature")
    names = [f.name for f in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaError(f"duplicate feature names: {', '.join(dupes)}")
    return Schema(specs)


def schema_document(features: Iterable[Any]) -> dict:
    """The JSON document of a schema (what `schema.json` holds)."""
    return schema_from(features).to_dict()


def write_schema(features: Iterable[Any], path: str | Path) -> Path:
    """Write `schema.json` for catalogue features (the pipeline puts it beside the training data)."""
    path = Path(path)
    if path.is_dir():
        path = path / SCHEMA_FILE
    path.write_text(json.dumps(schema_document(features), indent=2, sort_keys=True) + "\n")
    return path


def load_schema(path: str | Path) -> Schema:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: not a readable JSON schema: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("features"), list):
        raise SchemaError(f'{path}: a schema is {{"features": [{{"name": ..., "type": ...}}, ...]}}')
    return schema_from(doc["features"])


def inferred(columns: Iterable[str]) -> Schema:
    """Every column is a required numeric feature (no schema given)."""
    return Schema(tuple(FeatureSpec(str(c)) for c in columns), explicit=False)
