"""What AWS refuses before a request reaches the service, checked against botocore's model of the service.

moto accepts malformed requests that AWS refuses. AWS's JSON-protocol services (SageMaker among them) read a
request in two steps, and the emulator refuses what each refuses:

1. Deserialising: a value of the wrong JSON type stops the request with a `SerializationException` (no
   constraint is checked). moto's DynamoDB answers two of AWS's wordings, "NUMBER_VALUE cannot be converted to
   String" and "Start of structure or map found where not expected" (moto/dynamodb/models/table.py); the other
   combinations here follow the same wording and are not checked against AWS.
2. Validating every constraint of the model: a `ValidationException` listing each failure in the format of
   AWS's validation layer ("Coral"), e.g. as SageMaker answered (aws/sagemaker-python-sdk#384,
   zenml-io/zenml#1502, aws/amazon-sagemaker-examples#2228, aws-samples/aws-sagemaker-heart-disease-prediction#1)::

       1 validation error detected: Value 'ml.t2.medium' at 'resourceConfig.instanceType' failed to satisfy
       constraint: Member must satisfy enum value set: [ml.p2.xlarge, ...]
       2 validation errors detected: Value '...' at 'trainingJobName' failed to satisfy constraint: Member must
       satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; Value '...' at 'trainingJobName'
       failed to satisfy constraint: Member must have length less than or equal to 63
       Value 'ENTER MODEL NAME' at 'productionVariants.1.member.modelName' failed to satisfy constraint: ...

   Paths are the member names with their first letter in lower case (`advancedSecurityOptions.sAMLOptions`
   for `SAMLOptions`: ministryofjustice/cloud-platform-infrastructure#4097), joined by "."; an element of a
   list of structures is `<list>.<n>.member` (1-based: #2228, hashicorp/terraform-provider-aws#41023). A
   missing required member is "Value null at '<path>' failed to satisfy constraint: Member must not be null".
   A list of scalars with a bad element fails once, at the list, with every constraint of its member: "Member
   must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length
   greater than or equal to 0, Member must satisfy regular expression pattern: ...]" (appleboy/lambda-action#72);
   a map's values likewise as "Map value must satisfy constraint: [...]" (awslabs/aws-service-catalog-factory
   #279, #41023), its keys as "Map keys must satisfy constraint: [...]" (by analogy: no real message found).
   A map's or a sensitive member's value is not shown, "Value at '<path>'" (#41023, aws/aws-sdk-js#4203);
   others are shown as Java prints them ('0', '[a, b]', 'true'). Lengths and ranges read the model's
   `min`/`max` (the length of strings, blobs, lists and maps; the value of numbers), enums list the model's
   values in its order (AWS prints its set in no fixed order), and a pattern must match the whole value (as
   Java's `Pattern.matches`: #1502's 83-character name fails the `{0,62}` pattern as well as the length).

What the model does not let this reproduce exactly:

* Patterns: botocore's SageMaker model carries them without the `^`/`$` anchors AWS's messages still show
  (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}` where SageMaker says `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`; botocore 1.35
  still had them), so the message prints the model's pattern; the verdict is the same (full match). Java-only
  syntax that Python's `re` cannot compile (`\\p{L}`, UTF-16 surrogate ranges: 18 of SageMaker's 491
  patterns) is not checked.
* The order of the failures: AWS's varies (#1502 lists the pattern before the length,
  aws-samples/sagemaker-ml-workflow-with-apache-airflow#3 the length first); here it is the model's member
  order, and for one value max, min, enum, then pattern.
* Unknown members are not refused: botocore's client refuses them, and no AWS rule for the server side was
  found. Unions and documents are not checked.

botocore's own `botocore.validate.ParamValidator` checks what a client can (required members, `min` only,
Python types such as datetime and bytes) in botocore's words, so it is not reused: the service side sees JSON
and answers in AWS's words.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

VALIDATION = "ValidationException"
SERIALIZATION = "SerializationException"

_SIZED = ("string", "blob", "list", "map")  # min/max constrain the length
_NUMBERS = ("integer", "long", "float", "double")  # min/max constrain the value
_JAVA_TYPES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "float": "Float",
    "double": "Double",
    "boolean": "Boolean",
    "timestamp": "Date",
    "blob": "ByteBuffer",
}


class ContractError(Exception):
    """A request AWS refuses before the service reads it: `code` is AWS's error code, the message its text."""

    def __init__(self, message: str, code: str = VALIDATION):
        super().__init__(message)
        self.message, self.code = message, code


class Contracts:
    """Checks requests against botocore's service models; models and compiled patterns are cached here, per
    instance (one per runtime: loading SageMaker's model takes a fraction of a second)."""

    def __init__(self, loader: Loader | None = None):
        self._loader = loader or Loader()
        self._models: dict[str, ServiceModel] = {}
        self._patterns: dict[str, re.Pattern[str] | None] = {}
        self._lock = threading.Lock()  # the emulator answers requests on several threads

    def operation(self, service: str, operation: str) -> OperationModel:
        """botocore's model of `operation` (raises botocore's OperationNotFoundError for an unknown one)."""
        with self._lock:
            if service not in self._models:
                self._models[service] = ServiceModel(self._loader.load_service_model(service, "service-2"), service)
        return self._models[service].operation_model(operation)

    def errors(self, service: str, operation: str, params: Mapping[str, Any]) -> list[str]:
        """Each constraint `params` (the JSON-decoded request) fails, in AWS's words. A value of the wrong JSON
        type raises ContractError(SerializationException) instead: AWS stops there and checks nothing else."""
        shape = self.operation(service, operation).input_shape
        found: list[str] = []
        if shape is not None:
            self._value(params, shape, "", found)
        return found

    @staticmethod
    def message(errors: Sequence[str]) -> str:
        """AWS's ValidationException message of `errors`: "N validation error(s) detected: a; b"."""
        noun = "error" if len(errors) == 1 else "errors"
        return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)

    def check(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Raise ContractError with AWS's code and message if AWS refuses the request."""
        found = self.errors(service, operation, params)
        if found:
            raise ContractError(self.message(found))

    # ------------------------------------------------------------------ the walk
    def _value(self, value: Any, shape: Shape, path: str, found: list[str]) -> None:
        """A present (non-null) value of `shape` at `path`."""
        _check_type(value, shape)
        kind = shape.type_name
        if kind == "structure":
            self._structure(value, shape, path, found)
        elif kind == "list":
            self._list(value, shape, path, found)
        elif kind == "map":
            self._map(value, shape, path, found)
        else:
            found += [_failure(value, shape, path, c) for c in self._failed(value, shape)]

    def _structure(self, value: Mapping[str, Any], shape: Any, path: str, found: list[str]) -> None:
        if getattr(shape, "is_document_type", False) or getattr(shape, "is_tagged_union", False):
            return
        required = set(shape.required_members)
        for name, member in shape.members.items():
            where = f"{path}.{_camel(name)}" if path else _camel(name)
            if value.get(name) is not None:
                self._value(value[name], member, where, found)
            elif name in required:
                found.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")

    def _list(self, value: list, shape: Any, path: str, found: list[str]) -> None:
        found += [_failure(value, shape, path, c) for c in self._failed(value, shape)]
        member = shape.member
        if member.type_name in ("structure", "list", "map"):
            for n, item in enumerate(value, 1):
                if item is not None:
                    self._value(item, member, f"{path}.{n}.member", found)
            return
        items = [v for v in value if v is not None]
        for item in items:
            _check_type(item, member)
        if any(self._failed(item, member) for item in items):
            found.append(_failure(value, shape, path, f"Member must satisfy constraint: [{self._all(member)}]"))

    def _map(self, value: Mapping[str, Any], shape: Any, path: str, found: list[str]) -> None:
        found += [_failure(value, shape, path, c) for c in self._failed(value, shape)]
        key, item = shape.key, shape.value
        if any(self._failed(k, key) for k in value):
            found.append(_failure(value, shape, path, f"Map keys must satisfy constraint: [{self._all(key)}]"))
        present = {k: v for k, v in value.items() if v is not None}
        if item.type_name in ("structure", "list", "map"):  # not seen in a real message: the key as a member
            for k, v in present.items():
                self._value(v, item, f"{path}.{k}", found)
            return
        for v in present.values():
            _check_type(v, item)
        if any(self._failed(v, item) for v in present.values()):
            found.append(_failure(value, shape, path, f"Map value must satisfy constraint: [{self._all(item)}]"))

    # ------------------------------------------------------------------ one value's constraints
    def _constraints(self, shape: Shape) -> list[tuple[str, Any]]:
        """(kind, bound) of every constraint the model puts on `shape`, in the order the messages give them."""
        meta = shape.metadata
        kind = shape.type_name
        out: list[tuple[str, Any]] = []
        if kind in _SIZED or kind in _NUMBERS:
            out += [(bound, meta[bound]) for bound in ("max", "min") if bound in meta]
        if getattr(shape, "enum", None):
            out.append(("enum", shape.enum))
        if kind == "string" and "pattern" in meta:
            out.append(("pattern", meta["pattern"]))
        return out

    def _describe(self, shape: Shape, kind: str, bound: Any) -> str:
        measure = "value" if shape.type_name in _NUMBERS else "length"
        if kind == "max":
            return f"Member must have {measure} less than or equal to {bound}"
        if kind == "min":
            return f"Member must have {measure} greater than or equal to {bound}"
        if kind == "enum":
            return f"Member must satisfy enum value set: [{', '.join(bound)}]"
        return f"Member must satisfy regular expression pattern: {bound}"

    def _all(self, shape: Shape) -> str:
        return ", ".join(self._describe(shape, kind, bound) for kind, bound in self._constraints(shape))

    def _failed(self, value: Any, shape: Shape) -> list[str]:
        """The constraints of `shape` that `value` (of the right type) fails, described."""
        return [
            self._describe(shape, kind, bound)
            for kind, bound in self._constraints(shape)
            if not self._holds(value, shape, kind, bound)
        ]

    def _holds(self, value: Any, shape: Shape, kind: str, bound: Any) -> bool:
        if kind in ("max", "min"):
            measured = value if shape.type_name in _NUMBERS else _size(value, shape)
            return measured <= bound if kind == "max" else measured >= bound
        if kind == "enum":
            return value in bound
        pattern = self._pattern(bound)
        return pattern is None or pattern.fullmatch(value) is not None

    def _pattern(self, source: str) -> re.Pattern[str] | None:
        """The compiled pattern; None for Java-only syntax Python's `re` cannot compile (then it is not checked)."""
        if source not in self._patterns:
            try:
                self._patterns[source] = re.compile(source)
            except re.error:
                self._patterns[source] = None
        return self._patterns[source]


# ---------------------------------------------------------------------- helpers


def _camel(name: str) -> str:
    """A member's name in AWS's paths: the first letter in lower case (`SAMLOptions` -> `sAMLOptions`)."""
    return name[:1].lower() + name[1:]


def _size(value: Any, shape: Shape) -> int:
    if shape.type_name == "blob":  # base64 in JSON: the constraint is on the bytes
        try:
            return len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            return len(value)
    return len(value)


def _java(value: Any) -> str:
    """`value` as Java's toString prints it (AWS's messages show the deserialised value so)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_java(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java(v)}" for k, v in value.items()) + "}"  # a structure in a list
    return str(value)


def _hidden(shape: Any) -> bool:
    """AWS's message does not show a map's value, nor a sensitive one (a list of sensitive members included)."""
    member = getattr(shape, "member", None)
    return shape.type_name == "map" or any(s is not None and s.metadata.get("sensitive") for s in (shape, member))


def _failure(value: Any, shape: Shape, path: str, constraint: str) -> str:
    shown = "Value" if _hidden(shape) else f"Value '{_java(value)}'"
    return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "structure or map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    return "STRING_VALUE"


_ACCEPTS = {  # model type -> the JSON types it is read from (timestamps: epoch seconds, or a string)
    "structure": ("structure or map",),
    "map": ("structure or map",),
    "list": ("list",),
    "string": ("STRING_VALUE",),
    "blob": ("STRING_VALUE",),
    "boolean": ("BOOLEAN_VALUE",),
    "integer": ("NUMBER_VALUE",),
    "long": ("NUMBER_VALUE",),
    "float": ("NUMBER_VALUE",),
    "double": ("NUMBER_VALUE",),
    "timestamp": ("NUMBER_VALUE", "STRING_VALUE"),
}


def _check_type(value: Any, shape: Any) -> None:
    """Raise AWS's SerializationException for a value the model's type cannot be read from."""
    if getattr(shape, "is_document_type", False):
        return
    got = _json_type(value)
    if got in _ACCEPTS.get(shape.type_name, (got,)):
        return
    if got in ("structure or map", "list"):
        raise ContractError(f"Start of {got} found where not expected", SERIALIZATION)
    target = _JAVA_TYPES.get(shape.type_name, shape.type_name.capitalize())
    raise ContractError(f"{got} cannot be converted to {target}", SERIALIZATION)
