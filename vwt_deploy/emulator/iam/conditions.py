"""The `Condition` element: operators, `...IfExists`, `Null`, and the `ForAnyValue:`/`ForAllValues:` qualifiers.

Sources (IAM User Guide):

* "IAM JSON policy elements: Condition": keys within a block and operators are
  ANDed, the values of one key are ORed; condition key names are case
  insensitive; "A key that is not present in the request is considered a mismatch."
* "IAM JSON policy elements: Condition operators", Important box: "If the key
  that you specify in a policy condition is not present in the request context,
  the values do not match and the condition is false. If the policy condition
  requires that the key is not matched, such as StringNotLike or ArnNotLike, and
  the right key is not present, the condition is true. This logic applies to all
  condition operators except ...IfExists and Null check."
* Same page, "...IfExists condition operators": "If the key is not present,
  evaluate the condition element as true" (for every operator but Null).
* Same page, "Condition operator to check existence of condition keys": `Null`
  `true` means the key does not exist, `false` that it exists.
* "Creating a condition with multiple keys or values": for negated operators
  with several values "the effective permissions work like a logical AND" (the
  request value must match none of them); `ForAllValues` "returns true if there
  are no keys in the request, or if the key values resolve to a null data set";
  `ForAnyValue` returns false "for no matching key or a null dataset".
* "IAM policy elements: Variables and tags": variables are allowed in the values
  of String and ARN operators only; a variable with no value makes
  `StringEquals`/`StringLike` not match while "Inverted condition operators like
  StringNotEquals or StringNotLike do match against a null value".

Not verified against AWS (the docs do not say): a single-valued operator without
a qualifier applied to a multivalued request key is treated here as "any request
value matches" (negated: "no request value matches").
"""

from __future__ import annotations

import base64
import ipaddress
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from vwt_deploy.emulator.iam.matching import (
    Unresolved,
    arn_matches,
    glob_match,
    restore_literals,
    substitute,
)

Context = Mapping[str, Sequence[str]]
"""A request context normalised by `normalise_context`: lower-cased keys, each a list of strings."""


class PolicyError(ValueError):
    """A policy document AWS would not accept (for example an unknown condition operator)."""


def _string_equals(have: str, want: str) -> bool:
    return have == restore_literals(want)


def _string_equals_ignore_case(have: str, want: str) -> bool:
    return have.casefold() == restore_literals(want).casefold()


def _string_like(have: str, want: str) -> bool:
    return glob_match(want, have)


def _arn_like(have: str, want: str) -> bool:
    return arn_matches(want, have)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _date(text: str) -> datetime | None:
    """An ISO 8601 date/time or epoch seconds ("Date condition operators"); naive times are taken as UTC."""
    number = _number(text)
    try:
        moment = datetime.fromtimestamp(number, timezone.utc) if number is not None else datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _ordered(parse: Callable[[str], Any], compare: Callable[[Any, Any], Any]) -> Callable[[str, str], bool]:
    def check(have: str, want: str) -> bool:
        left, right = parse(have), parse(want)
        return left is not None and right is not None and compare(left, right)

    return check


def _bool(have: str, want: str) -> bool:
    return have.lower() == want.lower()


def _ip_address(have: str, want: str) -> bool:
    try:
        return ipaddress.ip_address(have.strip()) in ipaddress.ip_network(want.strip(), strict=False)
    except ValueError:
        return False


def _binary(have: str, want: str) -> bool:
    try:
        return base64.b64decode(have, validate=True) == base64.b64decode(want, validate=True)
    except ValueError:
        return False


@dataclass(frozen=True)
class _Operator:
    """One base operator: its positive comparison, whether it is the negated form, and whether values take
    policy variables (String and ARN operators only)."""

    compare: Callable[[str, str], bool]
    negated: bool = False
    variables: bool = False


def _operators() -> dict[str, _Operator]:
    """The base operators by lower-cased name ("IAM JSON policy elements: Condition operators")."""
    table: dict[str, _Operator] = {}
    for name, compare, variables in (
        ("String{}Equals", _string_equals, True),
        ("String{}EqualsIgnoreCase", _string_equals_ignore_case, True),
        ("String{}Like", _string_like, True),
        ("Arn{}Equals", _arn_like, True),  # "ArnEquals and ArnLike condition operators behave identically"
        ("Arn{}Like", _arn_like, True),
        ("Numeric{}Equals", _ordered(_number, operator.eq), False),
        ("Date{}Equals", _ordered(_date, operator.eq), False),
        ("{}IpAddress", _ip_address, False),
    ):
        table[name.format("").lower()] = _Operator(compare, False, variables)
        table[name.format("Not").lower()] = _Operator(compare, True, variables)
    for kind, parse in (("Numeric", _number), ("Date", _date)):
        for suffix, compare_values in (
            ("LessThan", operator.lt),
            ("LessThanEquals", operator.le),
            ("GreaterThan", operator.gt),
            ("GreaterThanEquals", operator.ge),
        ):
            table[(kind + suffix).lower()] = _Operator(_ordered(parse, compare_values))
    table["bool"] = _Operator(_bool)
    table["binaryequals"] = _Operator(_binary)
    return table


_OPERATORS: Mapping[str, _Operator] = MappingProxyType(_operators())
"""Read-only operator table, built once at import (constant, not mutable state)."""


@dataclass(frozen=True)
class ParsedOperator:
    """A condition operator name taken apart: `ForAnyValue:StringLikeIfExists` -> qualifier, base, if_exists."""

    name: str
    qualifier: str | None  # "forallvalues" | "foranyvalue" | None
    base: str  # lower-cased base operator name, e.g. "stringlike" or "null"
    if_exists: bool


def parse_operator(name: str) -> ParsedOperator:
    """Split a condition operator name; PolicyError for a qualifier or operator AWS does not define."""
    qualifier, _, base = name.rpartition(":")
    qualifier_key = qualifier.lower() or None
    if qualifier_key not in (None, "forallvalues", "foranyvalue"):
        raise PolicyError(f"unknown condition set qualifier {qualifier!r} in {name!r}")
    base_key = base.lower()
    if_exists = base_key.endswith("ifexists") and base_key != "ifexists"
    if if_exists:
        base_key = base_key[: -len("ifexists")]
    if base_key == "null" and if_exists:
        raise PolicyError("Null cannot take the IfExists suffix (Condition operators, ...IfExists)")
    if base_key != "null" and base_key not in _OPERATORS:
        raise PolicyError(f"unknown condition operator {name!r}")
    return ParsedOperator(name, qualifier_key, base_key, if_exists)


def normalise_context(context: Mapping[str, object]) -> dict[str, list[str]]:
    """The request context with lower-cased keys (condition keys are case insensitive) and list-of-string values.

    `True`/`False` become "true"/"false" (the `Bool` operator compares those), numbers their decimal text, a
    string a one-item list; `None` drops the key (not present). An empty list stays: a present key with an
    empty ("null") data set, which the set qualifiers treat specially.
    """
    result: dict[str, list[str]] = {}
    for key, value in context.items():
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        result[key.lower()] = [_text(item) for item in items]
    return result


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_list(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [_text(item) for item in value]
    return [_text(value)]


def _policy_values(values: object, base: _Operator, context: Context, version: str | None) -> list[str]:
    """The policy's values for one key with variables resolved; a value whose variable has no value is dropped
    (it can equal or be like nothing)."""
    resolved = []
    for value in _as_list(values):
        if not base.variables:
            resolved.append(value)
            continue
        try:
            resolved.append(substitute(value, context, version))
        except Unresolved:
            continue
    return resolved


def _null_check(present: bool, values: object) -> bool:
    """`Null`: "true" holds when the key is absent, "false" when it exists; several values are ORed."""
    return any((value.lower() == "true") != present for value in _as_list(values))


def _missing(parsed: ParsedOperator, negated: bool) -> bool:
    """The outcome when the key is absent (or, for a qualifier, holds an empty data set)."""
    if parsed.if_exists:
        return True
    if parsed.qualifier == "forallvalues":
        return True
    if parsed.qualifier == "foranyvalue":
        return False
    return negated


def key_matches(parsed: ParsedOperator, key: str, values: object, context: Context, version: str | None) -> bool:
    """One operator/key pair of a Condition block against the request context (see the module docstring)."""
    have = context.get(key.lower())
    present = bool(have)
    if parsed.base == "null":
        return _null_check(present, values)
    base = _OPERATORS[parsed.base]
    if not have:
        return _missing(parsed, base.negated)
    wanted = _policy_values(values, base, context, version)

    def hit(value: str) -> bool:
        return any(base.compare(value, want) for want in wanted)

    if parsed.qualifier == "forallvalues":
        return all(hit(value) != base.negated for value in have)
    if parsed.qualifier == "foranyvalue":
        return any(hit(value) != base.negated for value in have)
    return any(hit(value) for value in have) != base.negated


def condition_matches(block: Mapping[str, Mapping[str, object]] | None, context: Context, version: str | None) -> bool:
    """Whether a statement's whole `Condition` block holds: every operator and every key in it (logical AND),
    each key true when any of its values matches (logical OR) or, negated, when none does."""
    if not block:
        return True
    for operator_name, keys in block.items():
        parsed = parse_operator(operator_name)
        if not isinstance(keys, Mapping):
            raise PolicyError(f"condition operator {operator_name!r} must map keys to values")
        for key, values in keys.items():
            if not key_matches(parsed, key, values, context, version):
                return False
    return True
