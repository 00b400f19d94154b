"""An account's policies, read through its API, and the decision AWS would make for one call.

`Account(client)` reads, through boto3 clients of the emulator (or of any account), what the evaluator
(`policy.evaluate`) needs: a role's identity-based policies (inline, and the default version of each attached
managed policy) and the resource-based policy of the resource a call acts on (an S3 bucket policy, a KMS key
policy, an SNS topic or SQS queue policy, a Lambda function policy, a role's trust policy).
`Account.decide(role_arn, action, resource_arn)` is then AWS's answer for a session of that role, with AWS's
denial message.

This is what the local environment checks a principal's calls with; it holds no state beyond a per-instance
cache of what it read.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from vwt_deploy.emulator.iam.policy import Decision, Policy, Request, evaluate

ClientFactory = Callable[..., Any]  # client(service, region=None): a boto3 client of the account


def policy_document(raw: Any) -> Mapping[str, Any]:
    """A policy document as IAM returns it: a dict, or URL-encoded or plain JSON text."""
    if isinstance(raw, Mapping):
        return raw
    text = str(raw)
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    return json.loads(text)


_NOT_FOUND = (
    "NoSuchEntity",
    "NotFound",
    "NotFoundException",
    "NoSuchBucket",
    "ResourceNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
)


def _missing(exc: Exception, *codes: str) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in codes


def session_arn(role_arn: str, session: str = "vwt-local") -> str:
    """The ARN a session of `role_arn` acts as (`arn:aws:sts::<account>:assumed-role/<name>/<session>`)."""
    partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    return f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}"


class Account:
    """The policies of one account, read on demand through `client(service)`, cached per instance."""

    def __init__(self, client: ClientFactory):
        self.client = client
        self._roles: dict[str, list[Policy]] = {}
        self._resources: dict[str, Policy | None] = {}

    # ---- identity-based policies
    def role_policies(self, role_arn: str) -> list[Policy]:
        """The inline policies and the attached managed policies (their default versions) of a role."""
        if role_arn not in self._roles:
            self._roles[role_arn] = self._read_role(role_arn.rsplit("/", 1)[-1])
        return self._roles[role_arn]

    def _read_role(self, name: str) -> list[Policy]:
        """A deleted role has no policies (its sessions are refused; a report of a finished run lists its use)."""
        iam = self.client("iam")
        try:
            return self._role_documents(iam, name)
        except iam.exceptions.NoSuchEntityException:
            return []

    def _role_documents(self, iam: Any, name: str) -> list[Policy]:
        out = []
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                doc = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                out.append(Policy(policy_document(doc), f"{name}/{policy_name}"))
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in page["AttachedPolicies"]:
                arn = attached["PolicyArn"]
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
                out.append(Policy(policy_document(doc), attached["PolicyName"], arn))
        return out

    # ---- resource-based policies
    def resource_policy(self, resource_arn: str) -> Policy | None:
        """The resource-based policy of the resource `resource_arn` names, if its service has them."""
        if resource_arn not in self._resources:
            try:
                self._resources[resource_arn] = self._read_resource(resource_arn)
            except Exception as exc:  # botocore ClientError: a resource that does not exist has no policy
                if not _missing(exc, *_NOT_FOUND):
                    raise
                self._resources[resource_arn] = None
        return self._resources[resource_arn]

    def _read_resource(self, arn: str) -> Policy | None:
        parts = arn.split(":", 5)
        if len(parts) < 6:
            return None
        service, resource = parts[2], parts[5]
        reader = {
            "iam": self._trust_policy,
            "s3": self._bucket_policy,
            "kms": self._key_policy,
            "sns": self._topic_policy,
            "sqs": self._queue_policy,
            "lambda": self._function_policy,
        }.get(service)
        return reader(arn, resource) if reader else None

    def _trust_policy(self, arn: str, resource: str) -> Policy | None:
        """A role's trust policy: the resource-based policy that decides sts:AssumeRole ("IAM roles": "a trust
        policy ... defines which principals can assume the role"; it may name only sts actions)."""
        if not resource.startswith("role/"):
            return None
        role = self.client("iam").get_role(RoleName=resource.rsplit("/", 1)[-1])["Role"]
        return Policy(policy_document(role["AssumeRolePolicyDocument"]), f"trust policy of {resource}")

    def _bucket_policy(self, arn: str, resource: str) -> Policy | None:
        bucket = resource.split("/", 1)[0]
        try:
            text = self.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]
        except Exception as exc:  # botocore ClientError: NoSuchBucketPolicy means none
            if _missing(exc, "NoSuchBucketPolicy", "NoSuchBucket"):
                return None
            raise
        return Policy(policy_document(text), f"bucket policy of {bucket}")

    def _key_policy(self, arn: str, resource: str) -> Policy | None:
        if not resource.startswith("key/"):
            return None
        text = self.client("kms", arn.split(":")[3]).get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
        return Policy(policy_document(text), f"key policy of {resource}")

    def _topic_policy(self, arn: str, resource: str) -> Policy | None:
        attributes = self.client("sns", arn.split(":")[3]).get_topic_attributes(TopicArn=arn)["Attributes"]
        return (
            Policy(policy_document(attributes["Policy"]), f"topic policy of {resource}")
            if "Policy" in attributes
            else None
        )

    def _queue_policy(self, arn: str, resource: str) -> Policy | None:
        sqs = self.client("sqs", arn.split(":")[3])
        url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=arn.split(":")[4])["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
        return (
            Policy(policy_document(attributes["Policy"]), f"queue policy of {resource}")
            if "Policy" in attributes
            else None
        )

    def _function_policy(self, arn: str, resource: str) -> Policy | None:
        try:
            text = self.client("lambda", arn.split(":")[3]).get_policy(FunctionName=arn)["Policy"]
        except Exception as exc:
            if _missing(exc, "ResourceNotFoundException"):
                return None
            raise
        return Policy(policy_document(text), f"function policy of {resource}")

    # ---- decisions
    def decide(
        self,
        role_arn: str,
        action: str,
        resource_arn: str,
        context: Mapping[str, Any] | None = None,
        policy_of: str | None = None,
        session: str | None = None,
    ) -> Decision:
        """AWS's decision for a session of `role_arn` calling `action` on `resource_arn` (`*` for actions without
        a resource type). `policy_of` names the resource whose policy applies when it differs from the ARN (the
        bucket of an object is read from the object's ARN already; a key behind an S3 object is its own call).
        `session` is the session's ARN as AWS names it in messages (default: a session named vwt-local)."""
        request = Request(session or session_arn(role_arn), action, resource_arn, dict(context or {}))
        resource = self.resource_policy(policy_of or resource_arn) if resource_arn != "*" else None
        return evaluate(request, self.role_policies(role_arn), resource)
