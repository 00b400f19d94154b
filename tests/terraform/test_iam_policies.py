"""Least privilege, checked over every IAM policy written in terraform/ (HCL and JSON).

Rules:
- no statement allows the action "*" (no exceptions);
- a service-wide action ("s3:*") appears only in a Deny statement, and its line says why
  with an `# iam-star-ok: <reason>` comment;
- a "*" resource appears only where the API has no narrower form (e.g. ecr:GetAuthorizationToken,
  X-Ray, CloudWatch PutMetricData, a key policy's own key), and its line says why the same way.

Policies are read from the HCL (aws_iam_policy_document `actions`/`resources`, jsonencode'd
`Action`/`Resource`) and from JSON policy files under terraform/; a mocked plan cannot be used
because the provider's policy documents are computed by the provider.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import TERRAFORM

MARKER = re.compile(r"#\s*iam-star-ok:\s*(\S.*)$")
KEYS = re.compile(
    r"(?<![\w.])(actions|not_actions|resources|not_resources|Action|NotAction|Resource|NotResource)\s*=(?!=)\s*"
)


def _value_span(text: str, start: int) -> str:
    """The expression after `key =`: a bracketed list (to its matching bracket) or the rest of the line."""
    if text[start] != "[":
        # a single value: a string literal (plus the rest of its line, for the marker) or an expression
        literal = re.match(r'"[^"]*"', text[start:])
        end = text.find("\n", start)
        rest = text[start : end if end >= 0 else len(text)]
        return (
            rest
            if literal is None
            else literal.group(0) + (MARKER.search(rest).group(0) if MARKER.search(rest) else "")
        )
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                end = text.find("\n", i)
                return text[start : end if end >= 0 else len(text)]
    raise AssertionError(f"unbalanced brackets at offset {start}")


def _statement_effect(text: str, pos: int) -> str:
    """The effect of the statement enclosing pos (Allow unless `effect = "Deny"` / `Effect = "Deny"` comes first
    in it)."""
    opening = max(text.rfind("statement {", 0, pos), text.rfind("content {", 0, pos), text.rfind("{", 0, pos))
    block = text[opening:pos]
    return "Deny" if re.search(r'(?i)\beffect\s*=\s*"Deny"', block) else "Allow"


def findings(text: str, where: str) -> list[str]:
    """Every violation of the rules in one HCL text."""
    problems = []
    for m in KEYS.finditer(text):
        key = m.group(1).lower()
        span = _value_span(text, m.end())
        literals = re.findall(r'"([^"]*)"', re.sub(r"#[^\n]*", "", span))
        line_no = text.count("\n", 0, m.start()) + 1
        lines = span.splitlines()
        marker = MARKER.search(lines[-1]) if lines else None
        is_action = "action" in key
        for lit in literals:
            if is_action and lit == "*":
                problems.append(f'{where}:{line_no}: the action "*" is never allowed')
            elif is_action and lit.endswith(":*"):
                if _statement_effect(text, m.start()) != "Deny":
                    problems.append(f"{where}:{line_no}: service-wide action {lit!r} in an Allow statement")
                elif not marker:
                    problems.append(f"{where}:{line_no}: {lit!r} needs an `# iam-star-ok: <reason>` comment")
            elif not is_action and lit == "*" and not marker:
                problems.append(f'{where}:{line_no}: resource "*" without an `# iam-star-ok: <reason>` comment')
    return problems


def json_findings(doc: dict, where: str) -> list[str]:
    problems = []
    statements = doc.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        for key in ("Action", "NotAction"):
            for action in [st.get(key)] if isinstance(st.get(key), str) else st.get(key) or []:
                if action == "*" or (action.endswith(":*") and st.get("Effect") != "Deny"):
                    problems.append(f"{where}: statement {st.get('Sid', '?')} allows {action!r}")
        for key in ("Resource", "NotResource"):
            for res in [st.get(key)] if isinstance(st.get(key), str) else st.get(key) or []:
                if res == "*":
                    problems.append(
                        f'{where}: statement {st.get("Sid", "?")} has resource "*"'
                        " (JSON policies carry no justification)"
                    )
    return problems


def _tf_files() -> list[Path]:
    return sorted(p for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts)


def test_there_are_policies_to_check():
    text = "\n".join(p.read_text() for p in _tf_files())
    assert len(KEYS.findall(text)) > 40


@pytest.mark.parametrize("path", _tf_files(), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_no_wildcards_without_reason(path: Path):
    assert findings(path.read_text(), str(path.relative_to(TERRAFORM))) == []


@pytest.mark.parametrize("path", sorted(TERRAFORM.rglob("*policy*.json")), ids=lambda p: p.name)
def test_json_policy_files(path: Path):
    assert json_findings(json.loads(path.read_text()), path.name) == []


def test_every_justification_says_something():
    for path in _tf_files():
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if "iam-star-ok" in line:
                m = MARKER.search(line)
                assert m and len(m.group(1)) >= 15, f"{path}:{no}: the reason must say why no narrower resource exists"


# ---- the checker itself catches what it must (so the tests above can fail)

BAD = """
data "aws_iam_policy_document" "x" {
  statement {
    actions   = ["s3:GetObject", "*"]
    resources = ["arn:aws:s3:::b/*"]
  }
  statement {
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.q.arn]
  }
  statement {
    actions = [
      "logs:PutLogEvents",
    ]
    resources = ["*"]
  }
}
resource "aws_iam_role_policy" "y" {
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "lambda:*", Resource = "*" }]
  })
}
"""


def test_checker_flags_each_kind_of_wildcard():
    problems = findings(BAD, "bad.tf")
    assert any('the action "*"' in p for p in problems)
    assert any("'sqs:*' in an Allow" in p for p in problems)
    assert any("'lambda:*' in an Allow" in p for p in problems)
    assert sum('resource "*"' in p for p in problems) == 2


def test_checker_accepts_justified_and_deny():
    good = """
  statement {
    effect  = "Deny"
    actions = ["s3:*"] # iam-star-ok: a Deny of every S3 action over plain HTTP
    resources = ["arn:aws:s3:::b"]
  }
  statement {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # iam-star-ok: GetAuthorizationToken supports no resource-level permissions
  }
"""
    assert findings(good, "good.tf") == []


def test_json_checker():
    assert json_findings({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:x"}]}, "p")
    assert json_findings({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}, "p")
    assert (
        json_findings(
            {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}]}, "p"
        )
        == []
    )
