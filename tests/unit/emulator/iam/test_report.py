"""The least-privilege report: used grants are those the evaluator relied on; the rest are listed unused."""

from __future__ import annotations

from vwt_deploy.emulator.iam.policy import Policy, Request, evaluate
from vwt_deploy.emulator.iam.report import access_report, grants, lines

ROLE = "arn:aws:iam::123456789012:role/size"
SESSION = "arn:aws:sts::123456789012:assumed-role/size/size"
POLICY = Policy(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        ],
    },
    "size/inline",
)


def _recorded(*requests: tuple[str, str]) -> list[dict]:
    out = []
    for action, resource in requests:
        decision = evaluate(Request(SESSION, action, resource), [POLICY])
        out.append(
            {
                "action": action,
                "resource": resource,
                "allowed": int(decision.allowed),
                "denied": int(not decision.allowed),
                "granted_by": [m.label for m in decision.matched if m.effect == "Allow"] if decision.allowed else [],
            }
        )
    return out


def test_grants_are_allow_statements_by_action_pattern():
    assert [(g.statement, g.action) for g in grants([POLICY])] == [
        ("size/inline Read", "s3:GetObject"),
        ("size/inline Read", "s3:GetObjectVersion"),
        ("size/inline statement 2", "s3:ListBucket"),
    ]


def test_a_grant_no_request_relied_on_is_unused_and_a_refusal_is_listed():
    recorded = {ROLE: _recorded(("s3:GetObject", "arn:aws:s3:::data/a.csv"), ("s3:PutObject", "arn:aws:s3:::data/b"))}
    (report,) = access_report(recorded, lambda role: [POLICY])
    assert [(g.statement, g.action) for g in report.unused] == [
        ("size/inline Read", "s3:GetObjectVersion"),
        ("size/inline statement 2", "s3:ListBucket"),
    ]
    assert [d["action"] for d in report.denied] == ["s3:PutObject"]
    text = "\n".join(lines([report]))
    assert "used    DENIED s3:PutObject on arn:aws:s3:::data/b (0 allowed, 1 denied)" in text
    assert "unused  s3:ListBucket on arn:aws:s3:::data  [size/inline statement 2]" in text


def test_a_service_principal_shows_what_it_used_and_has_no_grants_to_report():
    recorded = {
        "apigateway.amazonaws.com": [
            {
                "action": "lambda:InvokeFunction",
                "resource": "arn:aws:lambda:eu-west-1:1:function:f",
                "allowed": 3,
                "denied": 0,
                "granted_by": ["function policy of f statement 1"],
            }
        ]
    }
    (report,) = access_report(recorded, lambda role: (_ for _ in ()).throw(AssertionError("no policies to read")))
    assert report.unused == [] and report.used[0]["allowed"] == 3


def test_nothing_recorded_says_what_to_do():
    assert lines([]) == ["nothing recorded yet: run something locally (retrain, predict) first"]
