"""IAM enforcement: the emulator decides every request of a principal as AWS would, and refuses what AWS refuses.

Who asks is read from the request's SigV4 signature: an access key that the emulator's STS issued
(AssumeRole) is a session of that role; any other key (Terraform, the CLI, the runtime's own bookkeeping)
acts as the account's administrator, as they do on AWS with an administrator's credentials. What is asked
(the action, the resource ARNs) is read from the request by `iam.requests.RequestReader`, from botocore's
service models and the Service Authorization Reference's ARN formats. The decision is `iam.policy.evaluate`
over the role's identity-based policies and the resource's own policy (`iam.account.Account`), including the
KMS calls AWS makes with the caller's credentials ("the calls services make on a role's behalf"):

* S3: reading an SSE-KMS object needs `kms:Decrypt` on its key; writing into a bucket whose default
  encryption is SSE-KMS needs `kms:GenerateDataKey`, and a multipart upload `kms:Decrypt` too (Amazon S3 User
  Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)": "the requester must have permission to
  the kms:Decrypt and kms:GenerateDataKey actions" for multipart uploads);
* SNS: publishing to a topic with SSE needs `kms:GenerateDataKey*` and `kms:Decrypt` on the topic's key
  (Amazon SNS Developer Guide, "Managing Amazon SNS encryption keys and costs": "Enable compatibility between
  event sources from AWS services and encrypted topics" / publishers need those two).

Each of those KMS requests carries `kms:ViaService` = `<service>.<region>.amazonaws.com` and
`kms:CallerAccount`, the context keys AWS sets (AWS KMS Developer Guide, "kms:ViaService").

The same requests of role sessions are held to their service's contract when they use a JSON protocol
(`contracts.Contracts`: botocore's model, AWS's ValidationException text), whatever the mode: that is how
Step Functions' aws-sdk integrations, which moto's interpreter sends unvalidated, meet AWS's checks.

Modes (`VWT_LOCAL_IAM`): `enforce` (the default) refuses with AWS's error and message; `soft` records the
violation and lets the request through; `off` checks nothing. Every decision is recorded (`Recorder`): the
access report (`vwt-deploy local access`) and the denials stream read it.
"""

from __future__ import annotations

import datetime
import enum
import io
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vwt_deploy.emulator.contracts import ContractError, Contracts
from vwt_deploy.emulator.iam.account import Account
from vwt_deploy.emulator.iam.policy import Decision, Request, evaluate
from vwt_deploy.emulator.iam.requests import Ask, Interpreted, RequestReader, UnknownOperation
from vwt_deploy.emulator.manager import DEPLOYER, DEPLOYER_ACCESS_KEY
from vwt_deploy.emulator.webidentity import ACTION as WEB_IDENTITY
from vwt_deploy.emulator.webidentity import Issuer, WebIdentity

log = logging.getLogger("vwt_deploy.emulator.iam")

MODE_ENV = "VWT_LOCAL_IAM"
ACCESS_FILE = "access.json"
DENIALS_FILE = "denials.jsonl"
#: condition keys the deployer's record keeps, for the deploy role's policy to hold its grant to them
CONDITIONED = frozenset({"iam:AWSServiceName"})
#: services whose writes may change a policy the evaluator has read
_POLICY_SERVICES = frozenset({"iam", "s3", "kms", "sns", "sqs", "lambda"})
_READS = ("Get", "List", "Describe", "Head")
#: the emulator answers on plain HTTP on 127.0.0.1 in place of AWS's TLS endpoints, which the SDKs always use:
#: requests are evaluated as the HTTPS requests they stand for (a "deny unless aws:SecureTransport" applies
#: as it does on AWS)
_SECURE = {"aws:SecureTransport": "true"}
MAX_DECISIONS = 10_000  # decisions kept for requests seen again (per set of policies)


class Mode(str, enum.Enum):
    ENFORCE = "enforce"
    SOFT = "soft"
    OFF = "off"

    @classmethod
    def parse(cls, value: str | None) -> Mode:
        """The mode a `VWT_LOCAL_IAM` value names (empty: enforce); ValueError with the choices otherwise."""
        text = (value or cls.ENFORCE.value).strip().lower()
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"{MODE_ENV}={value!r} is not a mode; use one of {choices}") from None


@dataclass(frozen=True)
class Session:
    """A role session: the role, and the session ARN that AWS names in its messages."""

    role_arn: str
    arn: str


class Recorder:
    """Every decision, per role: which action on which resource was allowed or denied, how often.

    `<dir>/access.json` is rewritten (atomically) when a role uses a new action/resource pair, so its size and
    writes grow with the pairs, not with the requests; `<dir>/denials.jsonl` gets one line per denial (soft
    mode: per violation), AWS's message included."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seen: dict[str, dict[str, dict[str, Any]]] = {}

    def record(self, role_arn: str, decision: Decision, mode: Mode) -> None:
        request = decision.request
        pair = f"{request.action} {request.resource_arn}"
        with self._lock:
            entries = self._seen.setdefault(role_arn, {})
            entry = entries.get(pair)
            fresh = entry is None or (not decision.allowed and not entry["denied"])
            if entry is None:
                entry = entries[pair] = {"action": request.action, "resource": request.resource_arn, "allowed": 0}
                entry.update(denied=0, granted_by=[])
            entry["allowed" if decision.allowed else "denied"] += 1
            for statement in decision.matched if decision.allowed else ():
                if statement.effect == "Allow" and statement.label not in entry["granted_by"]:
                    entry["granted_by"].append(statement.label)
                    fresh = True
            if fresh:
                self._write()
            if not decision.allowed:
                line = {
                    "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
                    "mode": mode.value,
                    "role": role_arn,
                    "action": request.action,
                    "resource": request.resource_arn,
                    "message": decision.message,
                }
                with open(self.dir / DENIALS_FILE, "a") as fh:
                    fh.write(json.dumps(line) + "\n")

    def record_use(self, principal: str, asks: Iterable[Ask]) -> None:
        """Record what an administrator's request asked, allowed (the deployer's calls: nothing decides them)."""
        with self._lock:
            entries = self._seen.setdefault(principal, {})
            fresh = False
            for ask in asks:
                entry = entries.get(f"{ask.action} {ask.resource}")
                if entry is None:
                    entry = entries[f"{ask.action} {ask.resource}"] = {
                        "action": ask.action, "resource": ask.resource, "allowed": 0, "denied": 0, "granted_by": []
                    }  # fmt: skip
                    fresh = True
                entry["allowed"] += 1
                for key in CONDITIONED & set(ask.context):  # the condition a policy must then hold it to
                    values = entry.setdefault("conditions", {}).setdefault(key, [])
                    if ask.context[key] not in values:
                        values.append(ask.context[key])
                        fresh = True
            if fresh:
                self._write()

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """What was recorded so far: per role (or service principal), each action/resource pair's counts and the
        statements that granted it."""
        with self._lock:
            return self._data()

    def _data(self) -> dict[str, list[dict[str, Any]]]:  # under the lock
        return {
            role: sorted((dict(e, granted_by=list(e["granted_by"])) for e in pairs.values()), key=_pair_order)
            for role, pairs in self._seen.items()
        }

    def _write(self) -> None:  # under the lock
        tmp = self.dir / (ACCESS_FILE + ".tmp")
        tmp.write_text(json.dumps(self._data(), indent=1, sort_keys=True))
        tmp.replace(self.dir / ACCESS_FILE)


def _pair_order(entry: Mapping[str, Any]) -> tuple[str, str]:
    return entry["action"], entry["resource"]


def install(enforcer: Enforcer) -> None:
    """Check what moto does inside itself on a principal's behalf: SNS delivering to an SQS queue (a refused
    delivery is dropped, as AWS drops it, and recorded). Installing again replaces the check."""
    from moto.sns.models import Subscription

    from vwt_deploy.emulator.runtime import patching

    def make(original: Callable) -> Callable:
        def publish(self, message: str, message_id: str, *args: Any, **kwargs: Any) -> Any:
            if self.protocol == "sqs" and enforcer.mode is not Mode.OFF:
                refused = enforcer.delivery_refused(self.topic.arn, self.endpoint)
                if refused:
                    log.warning("SNS did not deliver message %s to %s: %s", message_id, self.endpoint, refused)
                    return None
            return original(self, message, message_id, *args, **kwargs)

        return publish

    patching.patch(Subscription, "publish", make)


def admin_clients(url: str, default_region: str = "eu-west-1") -> Callable[..., Any]:
    """`client(service, region=None)`: boto3 clients of the emulator at `url` with an administrator's keys,
    made once per service and region (a made client is thread-safe)."""
    made: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client(service: str, region: str | None = None) -> Any:
        import boto3

        key = (service, region or default_region)
        with lock:
            if key not in made:
                made[key] = boto3.client(
                    service,
                    endpoint_url=url,
                    region_name=key[1],
                    aws_access_key_id="test",
                    aws_secret_access_key="test",
                )
            return made[key]

    return client


class Denied(Exception):
    """A principal's call that the enforcement refused; the message is AWS's."""


class Enforcer:
    """The emulator's IAM decisions (one per emulator; the runtime and the request middleware share it).

    `client(service, region)` gives administrator clients of the emulator itself, through which the policies
    are read (`Account`); what was read is kept until an administrator's write may have changed it."""

    def __init__(self, mode: Mode, client: Callable[..., Any], record_dir: Path, reader: RequestReader | None = None):
        self.mode = mode
        self.client = client
        self.reader = reader or RequestReader()
        self.recorder = Recorder(record_dir)
        self.contracts = Contracts()
        self._account = Account(client)
        self._decisions: dict[tuple, Decision] = {}
        self._sessions: dict[str, Session | None] = {}
        self._lock = threading.Lock()
        #: GitHub's tokens, locally: issued here, and AssumeRoleWithWebIdentity decided by the role's trust policy
        self.web_identity = WebIdentity(
            Issuer(), client, lambda provider, role, context: self.service_may(provider, WEB_IDENTITY, role, context)
        )

    # ------------------------------------------------------------------ who and what
    def session(self, access_key_id: str) -> Session | None:
        """The role session an STS-issued access key belongs to; None for any other key (an administrator). Both
        answers are kept: STS issues new random key ids, so a key that is not a session's never becomes one."""
        if access_key_id in self._sessions:
            return self._sessions[access_key_id]
        from moto.sts.models import sts_backends

        found = None
        for account in list(sts_backends.keys()):
            for partition in list(sts_backends[account].keys()):
                found = found or sts_backends[account][partition].get_assumed_role_from_access_key(access_key_id)
        self._sessions[access_key_id] = Session(found.role_arn, found.arn) if found is not None else None
        return self._sessions[access_key_id]

    def policies_changed(self) -> None:
        """Forget the policies read and the decisions made so far (an administrator may have changed a policy)."""
        with self._lock:
            self._account = Account(self.client)
            self._decisions = {}

    def _decided(self, key: tuple, decide: Callable[..., Decision], *args: Any, **kwargs: Any) -> Decision:
        """A decision made before for the same request and the same policies, else `decide()` (kept, at most
        MAX_DECISIONS: object keys make many distinct requests); `decide(*args, **kwargs)` makes it."""
        decisions = self._decisions
        decision = decisions.get(key)
        if decision is None:
            decision = decide(*args, **kwargs)
            if len(decisions) >= MAX_DECISIONS:
                decisions.clear()
            decisions[key] = decision
        return decision

    # ------------------------------------------------------------------ decisions
    def decide(self, session: Session, asks: Iterable[Ask]) -> Decision | None:
        """The first denial among `asks` for `session` (each decision recorded), or None if all are allowed."""
        account = self._account
        denial = None
        for ask in asks:
            context = {**_SECURE, **ask.context}
            key = (session.arn, ask.action, ask.resource, tuple(sorted(context.items())))
            decision = self._decided(
                key, account.decide, session.role_arn, ask.action, ask.resource, context, session=session.arn
            )
            self._note(session.role_arn, decision)
            if not decision.allowed and denial is None:
                denial = decision
        return denial

    def _note(self, principal: str, decision: Decision) -> None:
        """Record a decision, and log a refusal (or, in soft mode, what would have been refused)."""
        self.recorder.record(principal, decision, self.mode)
        if not decision.allowed:
            log.warning("IAM %s: %s", "denied" if self.mode is Mode.ENFORCE else "would deny", decision.message)

    def demand(self, session: Session, asks: Iterable[Ask]) -> None:
        """Raise `Denied` (enforce mode) when AWS would refuse any of `asks` to `session`: for the calls the runtime
        makes with a role's credentials without a request (SageMaker pulling an image)."""
        if self.mode is Mode.OFF:
            return
        denial = self.decide(session, asks)
        if denial is not None and self.mode is Mode.ENFORCE:
            raise Denied(denial.message)

    def service_may(
        self, service: str, action: str, resource: str, context: Mapping[str, Any] | None = None
    ) -> str | None:
        """Whether a resource's policy lets a service principal (`apigateway.amazonaws.com`) call it: AWS's
        message when it does not (and the mode enforces), else None."""
        if self.mode is Mode.OFF:
            return None
        account = self._account
        request = Request(service, action, resource, {**_SECURE, **(context or {})})
        key = (service, action, resource, tuple(sorted(request.context.items())))
        decision = self._decided(key, lambda: evaluate(request, (), account.resource_policy(resource)))
        self._note(service, decision)
        return decision.message if self.mode is Mode.ENFORCE and not decision.allowed else None

    def delivery_refused(self, topic_arn: str, queue_arn: str) -> str | None:
        """Why SNS may not deliver from the topic to the queue (AWS's message), or None: the queue's policy must
        let sns.amazonaws.com send for this topic, and an encrypted queue's key policy let SNS use the key (SNS
        Developer Guide, "Subscribing an Amazon SQS queue to an Amazon SNS topic" and "Enable compatibility
        between event sources from AWS services and encrypted queues")."""
        account, region = queue_arn.split(":")[4], queue_arn.split(":")[3]
        context = {"aws:SourceArn": topic_arn, "aws:SourceAccount": topic_arn.split(":")[4]}
        refused = self.service_may("sns.amazonaws.com", "sqs:SendMessage", queue_arn, context)
        if refused:
            return refused
        from moto.sqs.models import sqs_backends

        try:
            queue = sqs_backends[account][region].get_queue(queue_arn.rsplit(":", 1)[-1])
        except Exception:  # noqa: BLE001 - no such queue: moto drops the message itself
            return None
        key = _key_arn(getattr(queue, "kms_master_key_id", None), region, account)
        if key is None:
            return None
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            refused = self.service_may("sns.amazonaws.com", action, key, context)
            if refused:
                return refused
        return None

    def _log_group_key(self, environ: dict, headers: Mapping[str, str], signing: Any):
        """CloudWatch Logs uses a log group's KMS key as its own service principal, so the key policy must allow
        logs.<region>.amazonaws.com for the group (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch
        Logs using AWS KMS": CreateLogGroup and AssociateKmsKey fail otherwise, with "The specified KMS key does
        not exist or is not allowed to be used with Arn '<log group ARN>'"). Checked for anyone's request."""
        operation = headers.get("x-amz-target", "").rsplit(".", 1)[-1]
        if operation not in ("CreateLogGroup", "AssociateKmsKey") or self.mode is Mode.OFF:
            return None
        try:
            params = json.loads(_body(environ, "logs") or b"{}")
        except ValueError:
            return None
        key = _key_arn(params.get("kmsKeyId"), signing.region, _key_account(params.get("kmsKeyId")))
        group = params.get("logGroupName")
        if key is None or not group:
            return None
        arn = f"arn:aws:logs:{signing.region}:{key.split(':')[4]}:log-group:{group}"
        context = {"kms:EncryptionContext:aws:logs:arn": arn}
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            if self.service_may(f"logs.{signing.region}.amazonaws.com", action, key, context):
                message = f"The specified KMS key does not exist or is not allowed to be used with Arn '{arn}'"
                body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
                return 400, [("Content-Type", "application/x-amz-json-1.1")], body
        return None

    # ------------------------------------------------------------------ the KMS calls made on a caller's behalf
    def on_behalf(self, interpreted: Interpreted, region: str, account: str) -> list[Ask]:
        """The KMS requests the service makes with the caller's credentials for this request, and the key an
        alias request acts on besides the alias."""
        return self._kms_on_behalf(interpreted, region, account) + _alias_keys(interpreted, region, account)

    def _kms_on_behalf(self, interpreted: Interpreted, region: str, account: str) -> list[Ask]:
        via = {"kms:ViaService": f"{interpreted.service}.{region}.amazonaws.com", "kms:CallerAccount": account}
        key, actions = _kms_use(interpreted, region, account)
        if key is None:
            return []
        return [Ask(action, key, via) for action in actions]

    # ------------------------------------------------------------------ the middleware
    def middleware(self, app: Callable) -> Callable:
        """The WSGI app that checks each signed request of a role session before `app` (moto) answers it."""

        def check(environ: dict, start_response: Callable) -> Iterable[bytes]:
            headers = _headers(environ)
            query = environ.get("QUERY_STRING", "")
            signing = self.reader.signing(headers, query)
            if signing is None:
                refused = self._web_identity(environ, headers, query)
                if refused is not None:
                    status, out_headers, out = refused.response()
                    start_response(f"{status} {'Forbidden' if status == 403 else 'Bad Request'}", out_headers)
                    return [out]
                return app(environ, start_response)
            session = self.session(signing.access_key_id)
            if signing.signing_name in _POLICY_SERVICES and _may_write(environ, headers, signing.signing_name):
                self.policies_changed()  # an administrator's write, or a role's (the deploy role's Terraform)
            if session is None:
                if signing.access_key_id == DEPLOYER_ACCESS_KEY and self.mode is not Mode.OFF:
                    self._record_deployer(environ, headers, query, signing)
                refused = self._log_group_key(environ, headers, signing) if signing.signing_name == "logs" else None
                if refused is not None:
                    start_response("400 Bad Request", refused[1])
                    return [refused[2]]
                return app(environ, start_response)
            body = _body(environ, signing.signing_name)
            denial = self._check(environ, headers, query, body, session, signing)
            if denial is None:
                return app(environ, start_response)
            status, out_headers, out = denial
            start_response(f"{status} {'Forbidden' if status == 403 else 'Bad Request'}", out_headers)  # 403 or 400
            return [out]

        return check

    def _web_identity(self, environ: dict, headers: Mapping[str, str], query: str):
        """STS's refusal of an AssumeRoleWithWebIdentity request (unsigned: the token is its credential), or None.
        STS's query protocol names the operation as `Action`, in the form body (POST) or the query string."""
        if self.mode is Mode.OFF:
            return None
        form = urllib.parse.parse_qs(query)
        if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in headers.get("content-type", ""):
            form = {**form, **urllib.parse.parse_qs(_body(environ, "sts").decode("utf-8", "replace"))}
        if (form.get("Action") or [""])[0] != "AssumeRoleWithWebIdentity":
            return None
        return self.web_identity.refusal({name: values[0] for name, values in form.items()})

    def _record_deployer(self, environ: dict, headers: Mapping[str, str], query: str, signing: Any) -> None:
        """Record the IAM actions and resources the deployer's request needs (as a role's would be decided), so
        that the deploy role's policy can be derived from what a deployment really calls."""
        from moto.core import DEFAULT_ACCOUNT_ID

        body = _body(environ, signing.signing_name)
        try:
            interpreted = self._read(environ, headers, query, body, DEFAULT_ACCOUNT_ID, signing)
        except UnknownOperation as exc:
            log.warning("IAM: the deployer's request is not recorded: %s", exc)
            return
        asks = self._needs(interpreted, signing, DEFAULT_ACCOUNT_ID) + service_linked_roles(
            interpreted, DEFAULT_ACCOUNT_ID
        )
        self.recorder.record_use(DEPLOYER, asks)

    def _read(
        self, environ: dict, headers: Mapping[str, str], query: str, body: bytes, account: str, signing: Any
    ) -> Interpreted:
        return self.reader.interpret(
            environ["REQUEST_METHOD"],
            _raw_path(environ),
            query,
            headers,
            body,
            account=account,
            region=signing.region,
            signing_name=signing.signing_name,
        )

    def _needs(self, interpreted: Interpreted, signing: Any, account: str) -> list[Ask]:
        """Every authorisation a request needs: its own asks, the KMS calls made on the caller's behalf, the roles
        it passes and the tags it creates with."""
        asks = list(interpreted.asks) + self.on_behalf(interpreted, signing.region, account)
        asks += passed_roles(interpreted, signing.signing_name) + tags_on_create(interpreted)
        return asks + web_acl_resources(interpreted)

    def _check(
        self, environ: dict, headers: Mapping[str, str], query: str, body: bytes, session: Session, signing: Any
    ):
        account = session.role_arn.split(":")[4]
        try:
            interpreted = self._read(environ, headers, query, body, account, signing)
        except UnknownOperation as exc:
            message = f"the local IAM check cannot tell what this request asks: {exc}"
            if self.mode is not Mode.OFF:
                log.warning("IAM: %s", message)
            if self.mode is Mode.ENFORCE:
                return self.reader.denial(signing.signing_name, message)
            return None
        if self.mode is not Mode.OFF:
            denial = self.decide(session, self._needs(interpreted, signing, account))
            if denial is not None and self.mode is Mode.ENFORCE:
                return self.reader.denial(interpreted, denial.message or "access denied")
        return self._contract(interpreted)

    def _contract(self, interpreted: Interpreted):
        """AWS's ValidationException (or SerializationException) for a JSON-protocol request that breaks the
        service's model: the aws-sdk integrations of Step Functions send what a definition says, unvalidated
        (moto's interpreter turns botocore's client-side validation off). SageMaker's API checks its own
        requests (runtime/sagemaker/validation.py), so it is not checked twice here."""
        if interpreted.protocol != "json" or interpreted.service == "sagemaker":
            return None
        try:
            self.contracts.check(interpreted.service, interpreted.operation, interpreted.params)
        except ContractError as exc:
            body = json.dumps({"__type": exc.code, "message": exc.message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", exc.code)]
            return 400, headers, body
        except Exception:  # noqa: BLE001 - an operation botocore's model lacks: the service answers it itself
            return None
        return None


#: the request members that pass a role to the service (SageMaker's RoleArn and ExecutionRoleArn, a Lambda
#: function's Role, an EventBridge target's RoleArn, a state machine's roleArn)
_ROLE_MEMBERS = frozenset({"rolearn", "executionrolearn", "role"})


def passed_roles(interpreted: Interpreted, signing_name: str) -> list[Ask]:
    """`iam:PassRole` on every role the request hands to the service, with `iam:PassedToService` (IAM User Guide,
    "Granting a user permissions to pass a role to an AWS service": "To pass a role ... to an AWS service, a user
    must have permissions to pass the role to the service"; the service is named by its principal)."""
    service = {"monitoring": "cloudwatch"}.get(signing_name, signing_name) + ".amazonaws.com"
    found: list[Ask] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if str(key).lower() in _ROLE_MEMBERS and isinstance(item, str) and ":role/" in item:
                    found.append(Ask("iam:PassRole", item, {"iam:PassedToService": service}))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(interpreted.params)
    return found


#: Application Auto Scaling's service-linked role of SageMaker endpoint variants (Application Auto Scaling User
#: Guide, "Service-linked roles for Application Auto Scaling": the role and its service principal)
_SAGEMAKER_SCALING = "sagemaker.application-autoscaling.amazonaws.com"
_SAGEMAKER_SCALING_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/"
    + _SAGEMAKER_SCALING
    + "/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def service_linked_roles(interpreted: Interpreted, account: str) -> list[Ask]:
    """ "Application Auto Scaling requires permissions to create a service-linked role the first time any user in
    your AWS account calls RegisterScalableTarget for a given service": iam:CreateServiceLinkedRole on the role,
    with iam:AWSServiceName (SageMaker Developer Guide, "Auto scaling prerequisites"). The emulator keeps no
    service-linked roles, so every deployment's first registration counts as the account's first."""
    if interpreted.service != "application-autoscaling" or interpreted.operation != "RegisterScalableTarget":
        return []
    if interpreted.params.get("ServiceNamespace") != "sagemaker":
        return []
    role = _SAGEMAKER_SCALING_ROLE.format(account=account)
    return [Ask("iam:CreateServiceLinkedRole", role, {"iam:AWSServiceName": _SAGEMAKER_SCALING})]


def web_acl_resources(interpreted: Interpreted) -> list[Ask]:
    """AWS WAF's calls about the resource a web ACL protects are authorised on that resource too: the Service
    Authorization Reference lists the protected resource's type (an API Gateway stage,
    `arn:aws:apigateway:<region>::/restapis/<id>/stages/<name>`) beside the web ACL for AssociateWebACL,
    DisassociateWebACL and GetWebACLForResource, which act on the web ACL the resource has (the web ACL type is
    required); and associating or disassociating a stage also needs `apigateway:SetWebACL` on it, "an additional
    authorization control for managing the Stage resource"."""
    if interpreted.service != "wafv2":
        return []
    operation, resource = interpreted.operation, interpreted.params.get("ResourceArn")
    if operation not in ("AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource"):
        return []
    if not isinstance(resource, str) or not resource.startswith("arn:"):
        return []
    asks = [Ask(f"wafv2:{operation}", resource)]
    if operation != "AssociateWebACL":  # the web ACL the request acts on is the one the resource has
        acl = _associated_web_acl(resource)
        if acl is not None:
            asks.append(Ask(f"wafv2:{operation}", acl))
    if operation != "GetWebACLForResource" and ":apigateway:" in resource:
        asks.append(Ask("apigateway:SetWebACL", resource))
    return asks


def _associated_web_acl(resource: str) -> str | None:
    """The ARN of the web ACL that protects `resource` (moto's record), or None."""
    from moto.wafv2.models import wafv2_backends

    from vwt_deploy.emulator.runtime import ACCOUNT_ID

    region = resource.split(":")[3]
    try:
        found = wafv2_backends[ACCOUNT_ID][region].get_web_acl_for_resource(resource)
    except Exception:  # noqa: BLE001 - an unknown region: no web ACL
        return None
    return str(found.arn) if found is not None else None


def tags_on_create(interpreted: Interpreted) -> list[Ask]:
    """SageMaker's Create* with Tags also asks `sagemaker:AddTags` on what it creates (SageMaker Developer Guide,
    "Provide permissions for tagging SageMaker AI resources": to tag a resource when creating it, the principal
    needs sagemaker:AddTags as well as the create action)."""
    if interpreted.service != "sagemaker" or not interpreted.operation.startswith("Create"):
        return []
    if not interpreted.params.get("Tags"):
        return []
    return [Ask("sagemaker:AddTags", ask.resource, ask.context) for ask in interpreted.asks if ask.resource != "*"]


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    out = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = str(environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        out["content-length"] = str(environ["CONTENT_LENGTH"])
    return out


#: writes that carry data and change no policy: what the runtime's roles do all day (SNS, SQS; Lambda's Invoke and
#: S3's object requests are told by their paths)
_DATA_WRITES = frozenset(
    {"Publish", "PublishBatch", "SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch",
     "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "ReceiveMessage"}
)  # fmt: skip


def _may_write(environ: dict, headers: Mapping[str, str], signing_name: str) -> bool:
    """Whether a request may change a policy: anything but a read (GET/HEAD, or an operation named
    Get*/List*/Describe*/Head*) or a write of data (an S3 object, a message, an invocation). The query services
    (IAM, SNS) POST every call, reads included, with the operation as the body's `Action` (the body is put back for
    moto); the JSON ones name it in X-Amz-Target. Telling reads and data apart keeps the policies read (by these
    very reads) and the decisions made cached between two checks."""
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        return False
    path = _raw_path(environ)
    if signing_name == "s3" and "/" in path.strip("/"):  # /<bucket>/<key>: an object (path-style, as used here)
        return False
    if signing_name == "lambda" and path.rstrip("/").endswith("/invocations"):
        return False
    target = headers.get("x-amz-target", "")
    operation = target.rsplit(".", 1)[-1] if target else ""
    if not operation and "x-www-form-urlencoded" in headers.get("content-type", ""):
        form = urllib.parse.parse_qs(_body(environ, signing_name).decode("utf-8", "replace"))
        operation = (form.get("Action") or [""])[0]
    return not operation.startswith(_READS) and operation not in _DATA_WRITES


def _raw_path(environ: Mapping[str, Any]) -> str:
    """The path as sent (the reader decodes its labels itself; PATH_INFO is decoded already)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    return str(raw).split("?", 1)[0] if raw else str(environ.get("PATH_INFO", "/"))


def _body(environ: dict, signing_name: str) -> bytes:
    """The request body for the reader (put back for moto); S3 bodies are object data and are not read, except
    DeleteObjects' list of keys (`POST /<bucket>?delete`)."""
    if signing_name == "s3" and not (environ.get("REQUEST_METHOD") == "POST" and "delete" in _query_keys(environ)):
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _query_keys(environ: Mapping[str, Any]) -> set[str]:
    return {part.split("=", 1)[0] for part in str(environ.get("QUERY_STRING", "")).split("&") if part}


# ---------------------------------------------------------------------------- what is encrypted with which key


def _key_arn(key_id: str | None, region: str, account: str) -> str | None:
    """The ARN of the customer managed key `key_id` (id, ARN, alias or alias ARN) names; None for none, an
    unknown key, or an AWS managed key (its key policy lets every principal of the account use it through the
    service: AWS KMS Developer Guide, "AWS managed keys")."""
    if not key_id:
        return None
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:"):
        region, account = key_id.split(":")[3], key_id.split(":")[4]
    backend = kms_backends[account][region]
    try:
        key = backend.describe_key(key_id)
    except Exception:  # noqa: BLE001 - an unknown key: the service's own error follows
        return None
    return None if getattr(key, "key_manager", "CUSTOMER") == "AWS" else str(key.arn)


def _alias_keys(interpreted: Interpreted, region: str, account: str) -> list[Ask]:
    """DeleteAlias and UpdateAlias act on the key the alias points to as well as on the alias (Service
    Authorization Reference: both need `alias` and `key`; AWS KMS Developer Guide, "Controlling access to
    aliases": "kms:DeleteAlias ... on the alias ... and on the KMS key"); the request names only the alias."""
    if interpreted.service != "kms" or interpreted.operation not in ("DeleteAlias", "UpdateAlias"):
        return []
    name = interpreted.params.get("AliasName")
    key = _key_arn(name, region, account) if isinstance(name, str) else None
    return [Ask(f"kms:{interpreted.operation}", key)] if key else []


def _key_account(key_id: Any) -> str:
    """The account of a key ARN, else the emulator's one account (moto's default)."""
    from vwt_deploy.emulator.runtime import ACCOUNT_ID

    text = str(key_id or "")
    return text.split(":")[4] if text.startswith("arn:") else ACCOUNT_ID


def _kms_use(interpreted: Interpreted, region: str, account: str) -> tuple[str | None, tuple[str, ...]]:
    """(the key, the KMS actions) the service uses with the caller's credentials for this request."""
    operation, params = interpreted.operation, interpreted.params
    if interpreted.service == "s3":
        return _s3_kms_use(operation, params, region, account)
    if interpreted.service == "sns" and operation in ("Publish", "PublishBatch"):
        from moto.sns.models import sns_backends

        arn = str(params.get("TopicArn") or params.get("TargetArn") or "")
        try:
            topic = sns_backends[arn.split(":")[4]][arn.split(":")[3]].get_topic(arn)
        except Exception:  # noqa: BLE001 - no such topic: SNS answers NotFound itself
            return None, ()
        return _key_arn(topic.kms_master_key_id, region, account), ("kms:GenerateDataKey", "kms:Decrypt")
    return None, ()


def _s3_kms_use(operation: str, params: Mapping[str, Any], region: str, account: str):
    from moto.s3.models import s3_backends

    backend = s3_backends[account]["aws"]
    bucket_name, key_name = params.get("Bucket"), params.get("Key")
    if not bucket_name:
        return None, ()
    try:
        bucket = backend.get_bucket(bucket_name)
    except Exception:  # noqa: BLE001 - no such bucket: S3 answers NoSuchBucket itself
        return None, ()
    if operation in ("GetObject", "HeadObject"):
        found = bucket.keys.get(key_name) if key_name else None
        if found is None or getattr(found, "encryption", None) != "aws:kms":
            return None, ()
        return _key_arn(found.kms_key_id, region, account), ("kms:Decrypt",)
    writes: dict[str, tuple[str, ...]] = {
        "PutObject": ("kms:GenerateDataKey",),
        "CopyObject": ("kms:GenerateDataKey",),
        "CreateMultipartUpload": ("kms:GenerateDataKey", "kms:Decrypt"),
    }
    if operation not in writes:
        return None, ()
    key_id = params.get("SSEKMSKeyId")
    rule = (bucket.encryption or {}).get("Rule", {}).get("ApplyServerSideEncryptionByDefault", {})
    if not key_id and rule.get("SSEAlgorithm") == "aws:kms":
        key_id = rule.get("KMSMasterKeyID")
    return _key_arn(key_id, region, account), writes[operation]
