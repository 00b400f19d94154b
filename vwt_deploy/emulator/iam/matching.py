"""Wildcard, ARN and policy-variable matching shared by the evaluator.

Sources (IAM User Guide):

* "IAM JSON policy elements: Action": the service prefix and action name are
  case insensitive (`iam:ListAccessKeys` is the same as `IAM:listaccesskeys`);
  `*` may stand for all or part of the action name.
* "IAM JSON policy elements: Resource", "Using wildcards in resource ARNs":
  `*` and `?` may be used *within ARN segments* (the parts separated by
  colons); `*` expands to everything within a segment, `/` included.
* "IAM JSON policy elements: Condition operators", ARN operators: "Each of the
  six colon-delimited components of the ARN is checked separately"; a `*` does
  not cross a colon (the doc's `arn:aws:someservice:*:111122223333:finance/*`
  example).
* "IAM policy elements: Variables and tags": variables need policy `Version`
  `2012-10-17` (otherwise `${...}` is literal text), key names are case
  insensitive, `${*}` `${?}` `${$}` stand for the literal characters, a default
  is written `${key, 'default'}`, and a variable with no value "will not match
  any resource" and makes `StringEquals`/`StringLike` not match.

The compiled regular expressions are cached by the standard library's `re`
module cache; this module holds no state of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

VARIABLES_VERSION = "2012-10-17"
"""The policy language version from which `${...}` is a policy variable."""

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'([^']*)'\s*$")

# Wildcard characters produced by resolving ${*} / ${?} must match literally; they are carried through
# substitution as these private-use code points and turned back into escaped literals by glob_regex.
_LITERAL_STAR = "\ue000"
_LITERAL_QMARK = "\ue001"


class Unresolved(Exception):
    """A policy variable whose key is not in the request context (the doc's "no value")."""


def glob_regex(pattern: str, *, segment: bool = False) -> str:
    """The regular expression (for `re.fullmatch`) of an IAM wildcard pattern.

    `*` is any run of characters and `?` any one character ("Using wildcards in
    resource ARNs"). With `segment=True` neither crosses a colon (ARN operators,
    "each of the six colon-delimited components ... is checked separately").
    """
    any_run, any_one = ("[^:]*", "[^:]") if segment else (".*", ".")
    # re.escape writes every * and ? as \* and \?, so these replacements touch only the wildcards
    regex = re.escape(pattern).replace(r"\*", any_run).replace(r"\?", any_one)
    return regex.replace(_LITERAL_STAR, r"\*").replace(_LITERAL_QMARK, r"\?")


def _has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether `value` matches the IAM wildcard `pattern` as a whole (`*`, `?`)."""
    if not _has_wildcard(pattern):
        literal = restore_literals(pattern)
        return literal.casefold() == value.casefold() if ignore_case else literal == value
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(glob_regex(pattern), value, flags) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Whether an `Action`/`NotAction` entry matches `action`, case insensitively ("IAM JSON policy elements:
    Action")."""
    if pattern == "*":
        return True
    return glob_match(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """Whether a `Resource` entry or an `ArnLike`/`ArnEquals` value matches `arn`, case sensitively.

    The six colon-delimited components are compared one by one ("IAM JSON policy
    elements: Condition operators", ARN operators; "Using wildcards in resource
    ARNs": wildcards work *within* segments). The sixth component (resource) is
    everything after the fifth colon, so it may itself hold colons
    (`function:f:alias`), and a `*` there spans them. A lone `*` matches any resource.
    """
    if pattern == "*":
        return True
    if not _has_wildcard(pattern):
        return restore_literals(pattern) == arn
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return pattern == arn
    for index, (want, have) in enumerate(zip(pattern_parts, arn_parts, strict=True)):
        if not _has_wildcard(want):
            if restore_literals(want) != have:
                return False
        elif re.fullmatch(glob_regex(want, segment=index < 5), have, re.DOTALL) is None:
            return False
    return True


def _variable_value(body: str, context: Mapping[str, Sequence[str]]) -> str:
    """The text one `${...}` stands for, or Unresolved when its key has no value and there is no default."""
    if body in _SPECIAL:
        return {"*": _LITERAL_STAR, "?": _LITERAL_QMARK, "$": "$"}[body]
    default = None
    found = _DEFAULT.match(body)
    if found:
        body, default = found.group(1), found.group(2)
    values = context.get(body.strip().lower())
    if values is not None and len(values) == 1:
        return values[0]
    if default is not None:
        return default
    raise Unresolved(body)


def substitute(text: str, context: Mapping[str, Sequence[str]], version: str | None) -> str:
    """`text` with its policy variables replaced from the (lower-cased key) request context.

    Only for policies whose `Version` is 2012-10-17 ("If you don't include the
    Version element ... variables like ${aws:username} are treated as literal
    strings"). A multivalued key, or a missing key without a default, raises
    Unresolved: the caller then treats the pattern as matching nothing.
    """
    if version != VARIABLES_VERSION or "${" not in text:
        return text
    return _VARIABLE.sub(lambda m: _variable_value(m.group(1), context), text)


def restore_literals(text: str) -> str:
    """Turn the markers left by `${*}` / `${?}` back into plain characters (for exact comparisons)."""
    return text.replace(_LITERAL_STAR, "*").replace(_LITERAL_QMARK, "?")
