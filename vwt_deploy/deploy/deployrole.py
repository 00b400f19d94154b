"""The deploy role's policy, derived from what a deployment really calls.

Locally, vwt-deploy and Terraform sign with their own access key, and the emulator records the IAM action and
resources each of their requests needs (the principal "deployer", as it decides a role's; the KMS calls services
make with the caller's credentials and iam:PassRole included). `derive_policy` turns that record into a policy
for any environment: the account, region and the environment's name prefix become template variables
(`${account_id}`, `${region}`, `${name_prefix}`), and each resource is widened only as far as the names the
deployment makes vary:

* a name that starts with the environment's prefix keeps it: `role/${name_prefix}-*`, `${name_prefix}-*` of S3
  (buckets and their objects), log groups `/aws/lambda/${name_prefix}-*`, parameters `/${name_prefix}/*`;
* a resource AWS names with an ID it makes (the KMS key, the REST API and everything under it, the API Gateway
  execution log group, a Route 53 hosted zone and change) gets that ID as `*`, in this account and region, and so
  does the custom domain, which the environment names without its prefix;
* `*` stays `*` only where the action has no resource-level form (the Service Authorization Reference lists no
  resource type for it): those actions are one statement, listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.errors import ConfigError, VwtError

#: resources AWS names with IDs it makes: (pattern on the templated ARN, what it becomes)
_MADE_IDS = (
    (re.compile(r"^(arn:aws:kms:\$\{region\}:\$\{account_id\}:key/).+$"), r"\1*"),
    (re.compile(r"^(arn:aws:apigateway:\$\{region\}::/restapis/)[^/]+(/.*)?$"), r"\1*"),
    (re.compile(r"^(arn:aws:apigateway:\$\{region\}::/(apikeys|usageplans|tags)/).+$"), r"\1*"),
    # the custom domain's name is the environment's setting, not a name with its prefix: every domain of the region
    (re.compile(r"^(arn:aws:apigateway:\$\{region\}::/domainnames/).+$"), r"\1*"),
    # Route 53's hosted zone (the custom domain's, given by the environment) and the change ids it answers with
    (re.compile(r"^(arn:aws:route53:::(hostedzone|change)/).+$"), r"\1*"),
    (re.compile(r"^(arn:aws:application-autoscaling:\$\{region\}:\$\{account_id\}:scalable-target/).+$"), r"\1*"),
    (
        re.compile(r"^(arn:aws:logs:\$\{region\}:\$\{account_id\}:log-group:API-Gateway-Execution-Logs_).+$"),
        r"\1*",
    ),
)
NO_RESOURCE_SID = "ActionsWithoutResourceLevelPermissions"


def resource_pattern(resource: str, name_prefix: str, account: str, region: str) -> str:
    """The template of one recorded resource: variables for the account, region and name prefix, and `*` for
    what varies (see the module's docstring)."""
    if resource == "*":
        return "*"
    templated = resource.replace(f":{region}:", ":${region}:").replace(f":{account}:", ":${account_id}:")
    at = _prefix_at(templated, name_prefix)
    if at >= 0:
        end = at + len(name_prefix)
        after = templated[end : end + 1]
        if after in ("-", "/"):
            return templated[:at] + "${name_prefix}" + after + "*"
        return templated[:at] + "${name_prefix}" + templated[end:]  # the name is the prefix itself (an alias)
    for pattern, replacement in _MADE_IDS:
        if pattern.match(templated):
            return pattern.sub(replacement, templated)
    return templated


def _prefix_at(arn: str, prefix: str) -> int:
    """Where the environment's name prefix starts a name in the ARN (after `:`, `/` or `_`), or -1."""
    for match in re.finditer(re.escape(prefix), arn):
        at = match.start()
        before = arn[at - 1 : at] if at else ""
        after = arn[at + len(prefix) : at + len(prefix) + 1]
        if before in (":", "/", "_", "") and after in ("-", "/", "", ":"):
            return at
    return -1


def derive_policy(used: Iterable[Mapping[str, Any]], name_prefix: str, account: str, region: str) -> dict[str, Any]:
    """The deploy role's policy document (a template) from the deployer's recorded calls. Each action is granted
    on every resource pattern it was used on, in one statement (an action that needs two resource types, such as
    sagemaker:CreateEndpoint's endpoint and endpoint configuration, finds both in it, as IAM linters check), and
    actions used on the same patterns share that statement."""
    by_action: dict[str, set[str]] = {}
    conditioned: dict[tuple[str, str], dict[str, set[str]]] = {}
    for call in used:
        if not call.get("allowed"):
            continue
        pattern = resource_pattern(call["resource"], name_prefix, account, region)
        if call.get("conditions"):  # a grant held to a condition (iam:AWSServiceName): a statement of its own
            for key, values in call["conditions"].items():
                conditioned.setdefault((call["action"], pattern), {}).setdefault(key, set()).update(values)
            continue
        by_action.setdefault(call["action"], set()).add(pattern)
    unscoped = sorted(a for a, patterns in by_action.items() if "*" in patterns)
    by_patterns: dict[tuple[str, ...], list[str]] = {}
    for action, used_on in by_action.items():
        scoped = tuple(sorted(used_on - {"*"}))
        if scoped:
            by_patterns.setdefault(scoped, []).append(action)
    statements: list[dict[str, Any]] = []
    ordered = sorted(by_patterns.items(), key=lambda kv: (sorted(kv[1])[0], kv[0]))
    for n, (resources, actions) in enumerate(ordered, 1):
        statements.append(
            {
                "Sid": f"{_camel(sorted(actions)[0].split(':', 1)[0])}{n}",
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": list(resources),
            }
        )
    for (action, pattern), conditions in sorted(conditioned.items()):
        statements.append(
            {
                "Sid": f"{action.split(':', 1)[1]}{len(statements) + 1}",
                "Effect": "Allow",
                "Action": [action],
                "Resource": [pattern],
                "Condition": {"StringEquals": {k: sorted(v) for k, v in sorted(conditions.items())}},
            }
        )
    if unscoped:
        statements.append({"Sid": NO_RESOURCE_SID, "Effect": "Allow", "Action": unscoped, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def _camel(service: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", service) if part)


def render_policy(template: str, name_prefix: str, account: str, region: str) -> str:
    """The policy of one environment: its name prefix, account and region in the template."""
    return (
        template.replace("${name_prefix}", name_prefix).replace("${account_id}", account).replace("${region}", region)
    )


# ---------------------------------------------------------------- the role itself (vwt-deploy bootstrap)

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
#: IAM quotas ("IAM and AWS STS quotas"): a customer managed policy holds at most 6,144 characters, whitespace
#: not counted, and a role takes 10 managed policies unless the quota is raised
MANAGED_POLICY_CHARACTERS = 6144
MANAGED_POLICIES_PER_ROLE = 10


@dataclass(frozen=True)
class DeployRole:
    arn: str
    provider_arn: str
    subject: str
    policies: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"role_arn": self.arn, "oidc_provider_arn": self.provider_arn, "subject": self.subject,
                "policies": list(self.policies)}  # fmt: skip


def subject(env: Environment) -> str:
    """The `sub` claim of the GitHub Actions jobs that may deploy `env`: its repository, in its GitHub Environment
    ("About security hardening with OpenID Connect": `repo:<owner>/<repo>:environment:<name>`)."""
    repository = env.delivery.github_repository
    if not repository:
        raise ConfigError(
            f"environment {env.name} names no GitHub repository to deploy it from",
            f"set delivery.github_repository: <owner>/<name> in environments/{env.name}.yaml",
        )
    return f"repo:{repository}:environment:{env.delivery.github_environment or env.name}"


def trust_policy(provider: str, sub: str) -> dict[str, Any]:
    """Only GitHub's tokens for this repository and environment, issued for STS, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActionsOfThisRepositoryAndEnvironment",
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com", f"{GITHUB_OIDC_HOST}:sub": sub}
                },
            }
        ],
    }


def policy_documents(template: str, env: Environment, account: str) -> list[dict[str, Any]]:
    """The environment's deploy policy, in as many managed policies as IAM's size quota needs."""
    document = json.loads(render_policy(template, env.name_prefix, account, env.region))
    documents: list[dict[str, Any]] = []
    for statement in document["Statement"]:
        if documents and _size({**documents[-1], "Statement": [*documents[-1]["Statement"], statement]}) <= (
            MANAGED_POLICY_CHARACTERS
        ):
            documents[-1]["Statement"].append(statement)
            continue
        if _size({"Version": "2012-10-17", "Statement": [statement]}) > MANAGED_POLICY_CHARACTERS:
            raise VwtError(
                f"statement {statement.get('Sid')} alone is over IAM's {MANAGED_POLICY_CHARACTERS} characters"
            )
        documents.append({"Version": "2012-10-17", "Statement": [statement]})
    if len(documents) > MANAGED_POLICIES_PER_ROLE:
        raise VwtError(
            f"the deploy policy needs {len(documents)} managed policies, over IAM's quota of "
            f"{MANAGED_POLICIES_PER_ROLE} per role",
            "raise the account's quota of managed policies per role, or narrow environments/deployer-policy.json",
        )
    return documents


def _size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts: the JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def bootstrap_deploy_role(env: Environment, iam: Any, template: str, account: str) -> DeployRole:
    """Create (or bring up to date) the account's GitHub OIDC provider and `env`'s deploy role, trusted by its
    repository's environment only, with the derived policy as customer managed policies. Idempotent."""
    sub, provider = subject(env), provider_arn(account)
    known = {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
    if provider not in known:
        # no thumbprint: IAM trusts GitHub's provider through its own certificate authorities (IAM User Guide,
        # "Create an OpenID Connect (OIDC) identity provider in IAM": ThumbprintList is optional)
        iam.create_open_id_connect_provider(Url=f"https://{GITHUB_OIDC_HOST}", ClientIDList=["sts.amazonaws.com"])
    role, trust = env.deploy_role_name, json.dumps(trust_policy(provider, sub))
    tags = [{"Key": "vwt:env", "Value": env.name}, {"Key": "vwt:owner", "Value": env.owner}]
    try:
        arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust)
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(
            RoleName=role,
            AssumeRolePolicyDocument=trust,
            Description=f"vwt-deploy's deploy role of {env.name}, for {sub}",
            MaxSessionDuration=3600,
            Tags=tags,
        )["Role"]["Arn"]
    names = []
    documents = policy_documents(template, env, account)
    for n, document in enumerate(documents, 1):
        name = f"{role}-{n}"
        _put_managed_policy(iam, account, name, document, tags)
        iam.attach_role_policy(RoleName=role, PolicyArn=f"arn:aws:iam::{account}:policy/{name}")
        names.append(name)
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        if attached["PolicyName"].startswith(f"{role}-") and attached["PolicyName"] not in names:
            iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])  # a shorter policy than before
    return DeployRole(arn, provider, sub, tuple(names))


def provider_arn(account: str) -> str:
    """The ARN of the account's IAM OIDC provider of GitHub Actions."""
    return f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}"


def require_bootstrapped(env: Environment, iam: Any, account: str) -> None:
    """ConfigError naming `vwt-deploy bootstrap` unless `env`'s deploy role and the account's GitHub OIDC provider
    exist (`iam`: a client of the account that may read them)."""
    missing = []
    provider = provider_arn(account)
    for what, lookup in (
        (f"the deploy role {env.deploy_role_name}", lambda: iam.get_role(RoleName=env.deploy_role_name)),
        (f"the account's GitHub OIDC provider {provider}", lambda: iam.get_open_id_connect_provider(
            OpenIDConnectProviderArn=provider)),
    ):  # fmt: skip
        try:
            lookup()
        except iam.exceptions.NoSuchEntityException:
            missing.append(what)
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} of {env.name} do{'es' if len(missing) == 1 else ''} not exist, so "
            f"the pipelines of {env.delivery.github_repository} cannot deploy it",
            f"create them with `vwt-deploy bootstrap --env {env.name}`",
        )


def _put_managed_policy(iam: Any, account: str, name: str, document: Mapping[str, Any], tags: list) -> None:
    arn, text = f"arn:aws:iam::{account}:policy/{name}", json.dumps(document, separators=(",", ":"))
    try:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    except iam.exceptions.NoSuchEntityException:
        iam.create_policy(PolicyName=name, PolicyDocument=text, Description="vwt-deploy's deploy policy", Tags=tags)
        return
    if len(versions) >= 5:  # IAM keeps five versions of a managed policy: the oldest one not in use goes
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
