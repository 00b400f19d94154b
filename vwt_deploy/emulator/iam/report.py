"""Least-privilege evidence: per role, what it used during a local run, and what it was granted but never used.

Input: what the enforcement recorded (`enforcement.Recorder`: per role, each action on each resource, how often it
was allowed and denied, and the labels of the identity-policy statements that granted it) and the role's
policies as deployed. A grant is an (Allow statement, action pattern) pair of the role's identity-based
policies; it was used when a recorded allowed request matched that action pattern and was granted by that
statement (the evaluator's own matching, so a grant the evaluator never relied on is never counted as used).

Grants unused in one run are candidates, not verdicts: a run exercises the paths it takes (a failure path, a
blue/green rollback or a labelling job that did not run leaves its grants unused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vwt_deploy.emulator.iam.matching import action_matches
from vwt_deploy.emulator.iam.policy import MatchedStatement, Policy, statements


@dataclass
class Grant:
    policy: str
    statement: str  # the statement's label, as the evaluator names it
    action: str  # the action pattern as written
    resources: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "statement": self.statement, "action": self.action, "resources": self.resources}


@dataclass
class RoleAccess:
    role: str
    used: list[dict[str, Any]] = field(default_factory=list)  # {action, resource, allowed, denied}
    unused: list[Grant] = field(default_factory=list)

    @property
    def denied(self) -> list[dict[str, Any]]:
        return [u for u in self.used if u["denied"]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "used": self.used,
            "denied": self.denied,
            "granted_but_unused": [g.as_dict() for g in self.unused],
        }


def _label(policy: Policy, index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    return MatchedStatement(policy.name, "identity-based", index, sid, "Allow", statement).label


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def grants(policies: Iterable[Policy]) -> list[Grant]:
    """Every (Allow statement, action pattern) of identity-based policies; a NotAction statement is one grant."""
    out = []
    for policy in policies:
        for index, statement in enumerate(statements(policy.document)):
            if statement.get("Effect") != "Allow":
                continue
            label = _label(policy, index, statement)
            resources = tuple(_listed(statement.get("Resource") or statement.get("NotResource")))
            actions = _listed(statement.get("Action")) or [f"NotAction {_listed(statement.get('NotAction'))}"]
            out += [Grant(policy.name, label, action, resources) for action in actions]
    return out


def _used(grant: Grant, calls: Sequence[Mapping[str, Any]]) -> bool:
    for call in calls:
        if not call["allowed"] or grant.statement not in call.get("granted_by", ()):
            continue
        if grant.action.startswith("NotAction ") or action_matches(grant.action, call["action"]):
            return True
    return False


def access_report(
    recorded: Mapping[str, Sequence[Mapping[str, Any]]], policies_of: Callable[[str], list[Policy]]
) -> list[RoleAccess]:
    """One `RoleAccess` per role the run recorded (service principals, which have no policies of their own, show
    what they used only)."""
    out = []
    for role in sorted(recorded):
        calls = recorded[role]
        used = [
            {"action": c["action"], "resource": c["resource"], "allowed": c["allowed"], "denied": c["denied"]}
            | ({"conditions": c["conditions"]} if c.get("conditions") else {})
            for c in calls
        ]
        unused: list[Grant] = []
        if role.startswith("arn:") and ":role/" in role:
            unused = [g for g in grants(policies_of(role)) if not _used(g, calls)]
        out.append(RoleAccess(role, used, unused))
    return out


def lines(report: Sequence[RoleAccess]) -> list[str]:
    """The report as text for the terminal."""
    out: list[str] = []
    for role in report:
        out.append(f"{role.role}")
        for call in role.used:
            mark = "DENIED " if call["denied"] else ""
            counts = f"{call['allowed']} allowed, {call['denied']} denied"
            out.append(f"  used    {mark}{call['action']} on {call['resource']} ({counts})")
        for grant in role.unused:
            out.append(f"  unused  {grant.action} on {', '.join(grant.resources) or '-'}  [{grant.statement}]")
    return out or ["nothing recorded yet: run something locally (retrain, predict) first"]
