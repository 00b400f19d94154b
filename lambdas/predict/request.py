"""Reading and validating a prediction request: every problem is collected, none raises.

Body: `{"records": [{feature: value, ..., "user_id": "..."}, ...], "request_id": "optional"}`.
A problem is `{"record": index or None, "field": name or None, "problem": text}`.
"""

from __future__ import annotations

import json
import re

from .catalogue import MISSING, Model, NonFinite, _short

TYPE_CHECKING = False  # typing is not imported at run time: a shorter cold start
if TYPE_CHECKING:
    from typing import Any

MAX_PROBLEMS = 1000  # listed in a response (each counted); keeps a 400 far below Lambda's 6 MB response limit
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TOP_LEVEL = frozenset(("records", "request_id"))


class Problems:
    """The problems of one request: the first MAX_PROBLEMS listed, all counted."""

    __slots__ = ("items", "count")

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.count = 0

    def add(self, record: int | None, field: str | None, problem: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append({"record": record, "field": field, "problem": problem})

    def __bool__(self) -> bool:
        return self.count > 0


def _constant(text: str) -> NonFinite:
    return NonFinite(text)


def read_body(event: dict, max_bytes: int, problems: Problems) -> Any:
    """The JSON body of an API Gateway proxy event, or MISSING with a problem recorded."""
    raw = event.get("body")
    if raw is None or raw == "":
        problems.add(None, None, 'the request has no body; send JSON: {"records": [{...}, ...]}')
        return MISSING
    if not isinstance(raw, str):
        problems.add(None, None, "the request body is not text")
        return MISSING
    if event.get("isBase64Encoded"):
        if len(raw) > max_bytes * 4 // 3 + 4:
            problems.add(
                None, None, f"the request body is larger than {max_bytes} bytes; send fewer records per request"
            )
            return MISSING
        import base64
        import binascii

        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            problems.add(None, None, "the request body is not valid base64")
            return MISSING
    else:
        if len(raw) > max_bytes:  # characters <= bytes: a cheap first check
            problems.add(
                None, None, f"the request body is larger than {max_bytes} bytes; send fewer records per request"
            )
            return MISSING
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            problems.add(None, None, "the request body is not valid UTF-8 text")
            return MISSING
    if len(data) > max_bytes:
        problems.add(None, None, f"the request body is larger than {max_bytes} bytes; send fewer records per request")
        return MISSING
    try:
        return json.loads(data, parse_constant=_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply or malformed"
        problems.add(None, None, f"the request body is not valid JSON{where}: {reason}")
        return MISSING


def request_id_of(body: Any, problems: Problems) -> str | None:
    if not isinstance(body, dict) or "request_id" not in body:
        return None
    value = body["request_id"]
    if type(value) is str and _REQUEST_ID.match(value):
        return value
    problems.add(
        None,
        "request_id",
        f"must be 1 to 128 letters, digits or . _ : - (starting with a letter or digit), got {_short(value)}",
    )
    return None


def validate(
    model: Model, body: Any, max_records: int, user_id_field: str, problems: Problems
) -> tuple[list[str], list[list[Any]]]:
    """(user ids, feature rows in the model's feature order, defaults filled in). Problems go to `problems`."""
    records = _record_list(body, max_records, problems)
    user_ids: list[str] = []
    rows: list[list[Any]] = []
    for index, record in enumerate(records):
        checked = _record(model, index, record, user_id_field, problems)
        if checked is not None:
            user_ids.append(checked[0])
            rows.append(checked[1])
    return user_ids, rows


def _record_list(body: Any, max_records: int, problems: Problems) -> list:
    """The body's records, or [] with the problem when the body's shape is wrong."""
    if not isinstance(body, dict):
        problems.add(None, None, f'the body must be a JSON object {{"records": [...]}}, got {_short(body)}')
        return []
    for key in body:
        if key not in _TOP_LEVEL:
            problems.add(None, key, 'unknown top-level field; allowed: "records", "request_id"')
    records = body.get("records", MISSING)
    if records is MISSING:
        problems.add(None, "records", f"missing: send a list of 1 to {max_records} records")
        return []
    if type(records) is not list:
        problems.add(None, "records", f"must be a list of records, got {_short(records)}")
        return []
    if not records:
        problems.add(None, "records", f"is empty: send 1 to {max_records} records")
    elif len(records) > max_records:
        problems.add(None, "records", f"has {len(records)} records; at most {max_records} per request")
        return []
    return records


def _record(
    model: Model, index: int, record: Any, user_id_field: str, problems: Problems
) -> tuple[str, list[Any]] | None:
    """(user id, feature row) of one valid record; None, with its problems added, for an invalid one."""
    if type(record) is not dict:
        problems.add(index, None, f"must be an object of feature values, got {_short(record)}")
        return None
    row, seen, ok = _row(model.plan, index, record, problems)
    user_id = record.get(user_id_field, MISSING)
    if user_id is MISSING:
        problems.add(index, user_id_field, "missing (required: the player the prediction is for)")
        ok = False
    else:
        seen += 1
        if type(user_id) is not str or not 0 < len(user_id) <= 128:
            problems.add(index, user_id_field, f"must be a string of 1 to 128 characters, got {_short(user_id)}")
            ok = False
    if seen != len(record):  # a field that is neither a feature nor the user id
        for key in record:
            if key not in model.known and key != user_id_field:
                problems.add(
                    index,
                    str(key),
                    f"unknown field; {model.name} takes {', '.join(model.names)} and {user_id_field}",
                )
        ok = False
    return (user_id, row) if ok else None


def _row(plan: tuple, index: int, record: dict, problems: Problems) -> tuple[list[Any], int, bool]:
    """(the record's features in training order, defaults filled in; how many it gave; whether all are valid)."""
    ok = True
    row: list[Any] = []
    seen = 0
    for name, check, required, default in plan:
        value = record.get(name, MISSING)
        if value is MISSING:
            if required:
                problems.add(index, name, "missing (required)")
                ok = False
            row.append(default)
            continue
        seen += 1
        value, problem = check(value)
        if problem is not None:
            problems.add(index, name, problem)
            ok = False
        row.append(value)
    return row, seen, ok
