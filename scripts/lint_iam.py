"""parliament over the rendered deploy role policy (run by scripts/lint-iam.sh with parliament's own venv).

Every finding fails the lint except these, each checked and explained:
"""

from __future__ import annotations

import sys

# (issue, action): why it is not a defect
EXCEPTIONS = {
    ("RESOURCE_MISMATCH", "states:ListExecutions"): "its resource is the state machine OR a map run (alternatives in "
    "the Service Authorization Reference); parliament wants both",
    ("RESOURCE_MISMATCH", "states:DescribeExecution"): "its resource is a standard execution OR an express one "
    "(alternatives); the pipelines are standard state machines",
    ("RESOURCE_STAR", "cloudwatch:DescribeAlarms"): "`vwt-deploy status` lists the alarms in ALARM by name prefix, "
    "naming no alarm: IAM decides that request on *; the statement that names the environment's alarms covers the "
    "rest",
}


def main(path: str) -> int:
    from parliament import analyze_policy_string

    with open(path) as document:
        policy = analyze_policy_string(document.read())
    failing = []
    for finding in policy.findings:
        details = finding.detail if isinstance(finding.detail, list) else [finding.detail]
        actions = {d.get("action") if isinstance(d, dict) else d for d in details}
        if actions and all((finding.issue, a) in EXCEPTIONS for a in actions):
            continue
        failing.append(f"{finding.issue}: {finding.detail} (line {finding.location.get('line')})")
    for line in failing:
        print(line)
    print(f"parliament: {len(policy.findings)} findings, {len(failing)} not excepted (scripts/lint_iam.py)")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
