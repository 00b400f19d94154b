"""Loading: environment files and the model catalogue, read once into the schema's immutable objects.

Look-up chain for every setting: `--set key=value` on the command line, then the
environment's file (`environments/<env>.yaml`), then the defaults declared in `schema`.
The model catalogue (`environments/models.yaml`) is shared by all environments;
an environment may name another catalogue file and override single models.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vwt_deploy.config.schema import ENVIRONMENTS, Catalogue, Environment
from vwt_deploy.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's mapping keys are unique (YAML 1.2, 3.2.1.1), but PyYAML keeps the last of two silently: a second
    `model_overrides:` appended to a file would drop the first without a word. Here it is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in first:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first[key] + 1})", key_node.start_mark
                )
            if isinstance(key, str):
                first[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader, with unique keys
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
            with contextlib.suppress(KeyError, IndexError, TypeError):  # no usable name: keep the index
                loc[1] = f"[{data['models'][loc[1]]['name']}]"
        where = _loc(tuple(loc)).replace(".[", "[")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling against the configuration reference, docs/configuration.md)"
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


def load_catalogue(
    path: Path, overrides: Mapping[str, Mapping] | None = None, overrides_from: Path | None = None
) -> Catalogue:
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
        raise ConfigError(f"environment {env!r} has no file {path}", "create it (see docs/configuration.md)")
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
