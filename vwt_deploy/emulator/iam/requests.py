"""Read an AWS API request as AWS's front door does: which service and operation it is, which IAM actions it needs
on which resources, and how that service words an access-denied error.

Everything comes from botocore's own service models (`botocore/data/<service>/<version>/service-2.json`): the
signing name a request's SigV4 credential scope names (metadata `signingName`, else `endpointPrefix`), how each
protocol names the operation (`json`: the `X-Amz-Target: <targetPrefix>.<Operation>` header; `query` and `ec2`:
the `Action` parameter; `rest-json` and `rest-xml`: the operation's `http.method` and `http.requestUri`), and
where each input member travels (`location`: uri, querystring, header; else the body). Resource ARNs come from
the Service Authorization Reference through `Catalogue` (the action's resource types and their ARN formats).

Actions. The IAM action is `<prefix>:<Operation>`, the prefix being the signing name when the reference lists
it (it is the IAM prefix of nearly every service), else botocore's service name (CloudWatch signs `monitoring`,
its prefix is `cloudwatch`). `_ACTIONS` lists the operations AWS documents otherwise; an action the catalogue
does not know is still asked for, on `*`, so only a policy granting it by wildcard allows it.

Resources. For each of the action's resource types: a string parameter that is already an ARN of that type is
used as it is (`TopicArn`, `stateMachineArn`, `ResourceArn`); otherwise the type's ARN format is filled,
`${Partition}` `aws`, `${Region}` and `${Account}` those of the request, every other `${Name}` from the
parameter of that name (case insensitive), or of that name less a final "Name" (`${BucketName}` from `Bucket`),
or from `_variables`' short list where AWS names them differently (`${ObjectName}` from `Key`). Every required
type that can be filled is asked for; optional types only when no required one could be, the most specific that
can ("If the resource type is optional ... you can choose to use one of the optional resource types"); when
several are filled, one whose variables are a subset of another's is dropped (EventBridge's
`rule/${RuleName}` against `rule/${EventBusName}/${RuleName}`). The reference marks alternatives required too
(Step Functions' `execution` and `express`), so a required type that cannot be filled is left out when another
could be. When no type can be filled, the ask is on `*`: the evaluator then needs a `"Resource": "*"` grant,
which is stricter than AWS (AWS knows the resource), never looser.

Limits: SigV4A scopes (no region) are not read; `smithy-rpc-v2-cbor` requests (services botocore
reaches by CBOR only) are not read (`UnknownOperation`); rest-xml bodies are read only for S3's DeleteObjects.
`path` is the path as sent, percent-encoded (WSGI's `RAW_URI`/`REQUEST_URI`, not the decoded `PATH_INFO`), so
that a label holding `%2F` stays one label.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.loaders import Loader

from vwt_deploy.emulator.iam.catalogue import ActionInfo, Catalogue, UnknownAction

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LABEL = re.compile(r"\{([^}]+)\}")
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_METADATA = re.compile(r'"metadata"\s*:\s*')
_GLOBAL_VARIABLES = frozenset({"partition", "region", "account"})

# Where the IAM action is not `<prefix>:<Operation>`, from AWS's documentation:
# - S3: Amazon S3 User Guide, "Required permissions for Amazon S3 API operations" (object operations: HeadObject
#   needs s3:GetObject; CreateMultipartUpload, UploadPart, CompleteMultipartUpload and CopyObject s3:PutObject;
#   ListParts s3:ListMultipartUploadParts; DeleteObjects s3:DeleteObject on each key; bucket operations:
#   ListObjects(V2) and HeadBucket s3:ListBucket; each bucket configuration's Delete* needs its Put* permission).
#   The source object of a copy and `versionId` requests are handled in `_s3_needs`.
# - Lambda: Lambda Developer Guide, "Resources and conditions for Lambda actions" ("a special case where the
#   action identifier (lambda:InvokeFunction) differs from the API operation (Invoke)"); GetLayerVersionByArn
#   is authorised as lambda:GetLayerVersion (same guide, layers).
# - SNS PublishBatch and the SQS batch operations: SNS API Reference, PublishBatch ("requires sns:Publish");
#   SQS Developer Guide, "Amazon SQS API permissions" (a batch action needs its single action's permission).
# - KMS ReEncrypt: AWS KMS Developer Guide, "ReEncrypt" (kms:ReEncryptFrom on the source key and
#   kms:ReEncryptTo on the destination key; see `_RENAMES`).
# - STS GetCallerIdentity: STS API Reference ("No permissions are required to perform this operation").
_ACTIONS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "SelectObjectContent"): ("s3:GetObject",),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "UploadPartCopy"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "CopyObject"): ("s3:PutObject",),
    ("s3", "ListParts"): ("s3:ListMultipartUploadParts",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "ListMultipartUploads"): ("s3:ListBucketMultipartUploads",),
    ("s3", "ListBuckets"): ("s3:ListAllMyBuckets",),
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "DeleteBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetBucketLifecycle"): ("s3:GetLifecycleConfiguration",),
    ("s3", "GetBucketLifecycleConfiguration"): ("s3:GetLifecycleConfiguration",),
    ("s3", "PutBucketLifecycle"): ("s3:PutLifecycleConfiguration",),
    ("s3", "PutBucketLifecycleConfiguration"): ("s3:PutLifecycleConfiguration",),
    ("s3", "DeleteBucketLifecycle"): ("s3:PutLifecycleConfiguration",),
    ("s3", "GetBucketReplication"): ("s3:GetReplicationConfiguration",),
    ("s3", "PutBucketReplication"): ("s3:PutReplicationConfiguration",),
    ("s3", "DeleteBucketReplication"): ("s3:PutReplicationConfiguration",),
    ("s3", "GetBucketNotificationConfiguration"): ("s3:GetBucketNotification",),
    ("s3", "PutBucketNotificationConfiguration"): ("s3:PutBucketNotification",),
    ("s3", "GetBucketAccelerateConfiguration"): ("s3:GetAccelerateConfiguration",),
    ("s3", "PutBucketAccelerateConfiguration"): ("s3:PutAccelerateConfiguration",),
    ("s3", "GetObjectLockConfiguration"): ("s3:GetBucketObjectLockConfiguration",),
    ("s3", "PutObjectLockConfiguration"): ("s3:PutBucketObjectLockConfiguration",),
    ("s3", "GetPublicAccessBlock"): ("s3:GetBucketPublicAccessBlock",),
    ("s3", "PutPublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "DeletePublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "DeleteBucketCors"): ("s3:PutBucketCORS",),
    ("s3", "DeleteBucketTagging"): ("s3:PutBucketTagging",),
    ("s3", "DeleteBucketOwnershipControls"): ("s3:PutBucketOwnershipControls",),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("lambda", "InvokeWithResponseStream"): ("lambda:InvokeFunction",),
    ("lambda", "GetLayerVersionByArn"): ("lambda:GetLayerVersion",),
    ("sns", "PublishBatch"): ("sns:Publish",),
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "ChangeMessageVisibilityBatch"): ("sqs:ChangeMessageVisibility",),
    ("kms", "ReEncrypt"): ("kms:ReEncryptFrom", "kms:ReEncryptTo"),
    ("sts", "GetCallerIdentity"): (),
}

# Parameters that name an action's resource under another name (see `_ACTIONS`, KMS ReEncrypt).
_RENAMES: Mapping[str, Mapping[str, str]] = {
    "kms:ReEncryptFrom": {"KeyId": "SourceKeyId"},
    "kms:ReEncryptTo": {"KeyId": "DestinationKeyId"},
    # a version registered into a group: its ARN (model-package/<group>/<version>) is made by the call, so the
    # request is decided on the group's part of it, model-package/<group> (a grant of another group never matches)
    "sagemaker:CreateModelPackage": {"ModelPackageName": "ModelPackageGroupName"},
}

# Operations that act on each item of a list: (path to the list, the parameter a scalar item is, defaults).
# S3 DeleteObjects: each key (S3 User Guide, above). EventBridge PutEvents: each entry's bus, the default bus
# when an entry names none (EventBridge API Reference, PutEventsRequestEntry.EventBusName). CloudWatch
# DescribeAlarms: each named alarm (the reference's `alarm` type; SageMaker Developer Guide, auto-rollback:
# "permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms"). SSM GetParameters:
# each name.
_PER_ITEM: Mapping[tuple[str, str], tuple[tuple[str, ...], str, Mapping[str, str]]] = {
    ("s3", "DeleteObjects"): (("Delete", "Objects"), "", {}),
    ("events", "PutEvents"): (("Entries",), "", {"EventBusName": "default"}),
    ("cloudwatch", "DescribeAlarms"): (("AlarmNames",), "AlarmName", {}),
    ("cloudwatch", "DeleteAlarms"): (("AlarmNames",), "AlarmName", {}),
    ("cloudwatch", "DeleteDashboards"): (("DashboardNames",), "DashboardName", {}),
    ("ecr", "DescribeRepositories"): (("repositoryNames",), "repositoryName", {}),
    ("ssm", "GetParameters"): (("Names",), "Name", {}),
}

# The error code a service answers an access denial with, where it is not AccessDenied (query, rest-xml) or
# AccessDeniedException (json, rest-json): SNS API Reference, Common Errors ("AuthorizationError ... 403");
# EC2 API Reference, "Error codes" (UnauthorizedOperation).
_DENIAL_CODES: Mapping[str, str] = {"sns": "AuthorizationError", "ec2": "UnauthorizedOperation"}


@dataclass(frozen=True)
class Signing:
    """Who signed a request and for what: the SigV4 credential scope (`AKID/date/region/service/aws4_request`)."""

    access_key_id: str
    region: str
    signing_name: str


@dataclass(frozen=True)
class Ask:
    """One authorisation a request needs: `action` on `resource` (an ARN, or `*`), with the request's condition
    keys that could be read (`s3:prefix`, `cloudwatch:namespace`)."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Interpreted:
    """A request read: the botocore `service` and `operation`, the `protocol` it was sent in, its top-level
    input members as far as they could be read, and the authorisations it needs (empty: none needed)."""

    service: str
    operation: str
    protocol: str
    params: dict[str, Any]
    asks: tuple[Ask, ...]


class UnknownOperation(Exception):
    """A request that matches no operation of the services signing with its signing name."""


@dataclass(frozen=True)
class _Operation:
    """Where an operation's input members travel: URI labels, query keys (member, is a list), lower-case
    headers, and the body (`"json"`: members at the top level, a member name: that member's JSON payload)."""

    name: str
    labels: Mapping[str, str]
    query: Mapping[str, tuple[str, bool]]
    headers: Mapping[str, str]
    body: str | None


@dataclass(frozen=True)
class _Route:
    """A REST operation's `requestUri` as a pattern, with the query keys it needs (`?uploads`, `?list-type=2`:
    value None means any) and the headers its required members travel in (`x-amz-copy-source`)."""

    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str | None], ...]
    headers: tuple[str, ...]
    rank: tuple[int, int]
    operation: _Operation


class _Service:
    """One botocore service model (its raw JSON), with its REST routes built on first use."""

    def __init__(self, name: str, model: Mapping[str, Any], prefix: str) -> None:
        metadata = model["metadata"]
        self.name = name
        self.prefix = prefix
        self.shapes: Mapping[str, Any] = model["shapes"]
        self.operations: Mapping[str, Any] = model["operations"]
        self.protocols: tuple[str, ...] = tuple(metadata.get("protocols") or (metadata["protocol"],))
        self.target_prefix: str = metadata.get("targetPrefix", "")
        self.json_version: str = metadata.get("jsonVersion", "1.0")
        self.query_compatible = "awsQueryCompatible" in metadata
        self._routes: dict[str, list[_Route]] | None = None

    @property
    def protocol(self) -> str:
        """The protocol botocore speaks to the service (its order of preference: `botocore.utils`)."""
        for protocol in ("json", "rest-json", "rest-xml", "query", "ec2"):
            if protocol in self.protocols:
                return protocol
        return self.protocols[0]

    def _read_operation(self, name: str) -> _Operation:
        spec = self.operations[name]
        shape = self.shapes[spec["input"]["shape"]] if "input" in spec else {"members": {}}
        labels, query, headers = {}, {}, {}
        for member, ref in shape.get("members", {}).items():
            where, wire = ref.get("location"), ref.get("locationName", member)
            if where == "uri":
                labels[wire] = member
            elif where == "querystring":
                query[wire] = (member, self.shapes[ref["shape"]].get("type") == "list")
            elif where == "header":
                headers[wire.lower()] = member
        payload = shape.get("payload")
        if payload is None:
            body: str | None = "json"
        else:
            body = payload if self.shapes[shape["members"][payload]["shape"]].get("type") == "structure" else None
        return _Operation(name, labels, query, headers, body)

    def routes(self, method: str) -> list[_Route]:
        """This service's REST routes for `method`, most specific first."""
        if self._routes is None:
            routes: dict[str, list[_Route]] = {}
            for name, spec in self.operations.items():
                routes.setdefault(spec["http"]["method"], []).append(self._route(name, spec))
            for listed in routes.values():
                listed.sort(key=lambda route: route.rank, reverse=True)
            self._routes = routes
        return self._routes.get(method, [])

    def _route(self, name: str, spec: Mapping[str, Any]) -> _Route:
        template, _, literal = spec["http"]["requestUri"].partition("?")
        query = tuple((k, v if sep else None) for k, sep, v in (p.partition("=") for p in literal.split("&") if p))
        template = template.rstrip("/")
        parts, labels, last = [], [], 0
        for found in _LABEL.finditer(template):
            parts.append(re.escape(template[last : found.start()]))
            greedy = found.group(1).endswith("+")
            labels.append(found.group(1).rstrip("+"))
            parts.append("(.+)" if greedy else "([^/]+)")
            last = found.end()
        parts.append(re.escape(template[last:]))
        operation = self._read_operation(name)
        shape = self.shapes[spec["input"]["shape"]] if "input" in spec else {}
        required = [shape["members"][m] for m in shape.get("required", ())]
        needed = tuple(ref["locationName"].lower() for ref in required if ref.get("location") == "header")
        needed_query = tuple((ref["locationName"], None) for ref in required if ref.get("location") == "querystring")
        literal_length = len(_LABEL.sub("", template))
        rank = (len(query) + len(needed_query) + len(needed), literal_length)
        pattern = re.compile("".join(parts) + "/?", re.DOTALL)
        return _Route(pattern, tuple(labels), query + needed_query, needed, rank, operation)


class RequestReader:
    """Reads requests for the emulator's IAM enforcement: `signing`, `interpret`, `denial`.

    Service models are loaded on first use, only those of the signing names asked about, and kept on this
    instance with the routes built from them (no module state). The first request of a service pays for its
    model (tens of milliseconds for SageMaker); later ones are matched against prepared routes. Concurrent
    first uses may build the same entry twice, with the same result.
    """

    def __init__(self, catalogue: Catalogue | None = None, loader: Loader | None = None) -> None:
        self._catalogue = catalogue or Catalogue()
        self._loader = loader or Loader()
        self._by_signing: dict[str, tuple[str, ...]] | None = None
        self._services: dict[str, _Service] = {}
        self._actions: dict[str, ActionInfo | None] = {}

    # -- signing ---------------------------------------------------------------------------------------------

    def signing(self, headers: Mapping[str, str], query: str) -> Signing | None:
        """Who signed the request, or None when it is unsigned.

        SigV4 (IAM User Guide, "Elements of an AWS API request signature"): the credential scope
        `AKID/date/region/service/aws4_request` of the `Authorization` header or of a presigned URL's
        `X-Amz-Credential`. S3's legacy SigV2 (S3 User Guide, "Authenticating requests (AWS signature version
        2)"), `Authorization: AWS AKID:signature` or a URL's `AWSAccessKeyId` and `Signature`, names no region
        (region ""); botocore still presigns S3 URLs so unless configured with `signature_version="s3v4"`.
        SigV4A scopes (no region) are not read.
        """
        authorization = _header(headers, "authorization") or ""
        if authorization.startswith("AWS "):
            return Signing(authorization[4:].rpartition(":")[0], "", "s3")
        if authorization.startswith("AWS4-"):
            found = _CREDENTIAL.search(authorization)
            scope = found.group(1) if found else ""
        else:
            fields = dict(parse_qsl(query))
            if "AWSAccessKeyId" in fields and "Signature" in fields:
                return Signing(fields["AWSAccessKeyId"], "", "s3")
            scope = fields.get("X-Amz-Credential", "")
        parts = scope.split("/")
        return Signing(parts[0], parts[2], parts[3]) if len(parts) == 5 else None

    # -- interpret -------------------------------------------------------------------------------------------

    def interpret(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        account: str,
        region: str,
        signing_name: str,
    ) -> Interpreted:
        """Which operation of the services signing as `signing_name` this request is, and what it needs."""
        lowered = {key.lower(): value for key, value in headers.items()}
        pairs = parse_qsl(query, keep_blank_values=True)
        services = [self._service(name) for name in self._signing_index().get(signing_name, ())]
        if "x-amz-target" in lowered:
            found = self._match_json(services, lowered["x-amz-target"], body)
        else:
            form = _form(lowered, body)
            action = dict(pairs).get("Action") or dict(form).get("Action")
            if action:
                found = self._match_query(services, action, pairs + form)
            else:
                found = self._match_rest(services, method.upper(), path, pairs, lowered, body)
        if found is None:
            raise UnknownOperation(
                f"no operation of {signing_name!r} ({', '.join(s.name for s in services) or 'no such service'}) "
                f"matches {method} {path}{'?' + query if query else ''}"
                f"{' with X-Amz-Target ' + lowered['x-amz-target'] if 'x-amz-target' in lowered else ''}"
            )
        service, operation, protocol, params = found
        if service.name == "apigateway":
            asks: tuple[Ask, ...] = (Ask(f"apigateway:{method.upper()}", _apigateway_resource(path, region)),)
        else:
            asks = self._asks(service, operation, params, lowered, account, region)
        return Interpreted(service.name, operation, protocol, params, asks)

    def _match_json(self, services: list[_Service], target: str, body: bytes) -> tuple | None:
        prefix, _, name = target.rpartition(".")
        for service in services:
            if "json" in service.protocols and service.target_prefix == prefix and name in service.operations:
                params = _json(body)
                return service, name, "json", params if isinstance(params, dict) else {}
        return None

    def _match_query(self, services: list[_Service], action: str, pairs: list[tuple[str, str]]) -> tuple | None:
        for service in services:
            protocol = next((p for p in ("query", "ec2") if p in service.protocols), None)
            if protocol and action in service.operations:
                params = {k: v for k, v in pairs if k not in ("Action", "Version")}
                return service, action, protocol, params
        return None

    def _match_rest(
        self,
        services: list[_Service],
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple | None:
        """The most specific REST route of any candidate service (the first service wins a tie: the one named
        as its signing name); its members read from labels, query, headers and a JSON body."""
        keys: dict[str, str] = {}
        for key, value in pairs:
            keys.setdefault(key, value)
        best: tuple[_Service, _Route, re.Match[str]] | None = None
        for service in services:
            protocol = service.protocol
            if protocol not in ("rest-json", "rest-xml"):
                continue
            for route in service.routes(method):
                if best is not None and route.rank <= best[1].rank:
                    break
                found = route.pattern.fullmatch(path)
                if found and _route_applies(route, keys, headers):
                    best = (service, route, found)
                    break
        if best is None:
            return None
        service, route, found = best
        params = _rest_params(route, found, pairs, headers, body, service.protocol)
        return service, route.operation.name, service.protocol, params

    # -- asks ------------------------------------------------------------------------------------------------

    def _asks(
        self,
        service: _Service,
        operation: str,
        params: Mapping[str, Any],
        headers: Mapping[str, str],
        account: str,
        region: str,
    ) -> tuple[Ask, ...]:
        actions = _ACTIONS.get((service.name, operation), (f"{service.prefix}:{operation}",))
        items = _items(service.name, operation, params)
        needs = [(action, item) for action in actions for item in items]
        if service.name == "s3":
            needs = self._s3_needs(needs, params)
        asks: dict[tuple[str, str], Ask] = {}
        for action, item in needs:
            renamed = {**item, **{k: item[v] for k, v in _RENAMES.get(action, {}).items() if v in item}}
            for ask in self._resolve(action, renamed, headers, account, region):
                asks.setdefault((ask.action, ask.resource), ask)
        return tuple(asks.values())

    def _s3_needs(self, needs: list[tuple[str, Mapping[str, Any]]], params: Mapping[str, Any]) -> list:
        """S3's request-dependent actions (S3 User Guide, "Required permissions for Amazon S3 API operations"):
        a copy also reads its source object (CopyObject, UploadPartCopy: "s3:GetObject on the source object");
        a request for a version of an object needs the `...ObjectVersion...` action (GetObject with `versionId`:
        s3:GetObjectVersion; DeleteObject: s3:DeleteObjectVersion; tagging and ACLs alike)."""
        source = params.get("CopySource")
        if isinstance(source, str):
            needs = [*needs, ("s3:GetObject", _copy_source(source))]
        out = []
        for action, item in needs:
            if item.get("VersionId") and "Object" in action:
                versioned = action.replace("Object", "ObjectVersion", 1)
                action = versioned if self._catalogue.action_exists(versioned) else action
            out.append((action, item))
        return out

    def _action(self, action: str) -> ActionInfo | None:
        if action not in self._actions:
            try:
                self._actions[action] = self._catalogue.action(action)
            except UnknownAction:
                self._actions[action] = None
        return self._actions[action]

    def _resolve(
        self, action: str, params: Mapping[str, Any], headers: Mapping[str, str], account: str, region: str
    ) -> list[Ask]:
        info = self._action(action)
        if info is None:
            return [Ask(action, "*")]
        context = _context(info, params, headers)
        if not info.resource_types:
            return [Ask(info.name, "*", context)]
        prefix = info.name.split(":", 1)[0]
        values = _variables(prefix, params, account, region)
        arns = [value for value in params.values() if isinstance(value, str) and value.startswith("arn:")]
        required: list[tuple[str, frozenset[str]]] = []
        optional: list[tuple[str, frozenset[str]]] = []
        for ref in info.resource_types:
            filled = self._fill(prefix, ref.name, ref.arn_format, arns, values)
            if filled is not None:
                (required if ref.required else optional).append(filled)
        chosen = _most_specific(required) if required else _most_specific(optional)[:1]
        if not chosen:
            alias = _kms_alias(params, region, account) if prefix == "kms" else None
            chosen = [alias or "*"]
        return [Ask(info.name, arn, context) for arn in chosen]

    def _fill(
        self, prefix: str, type_name: str, template: str | None, arns: list[str], values: Mapping[str, str]
    ) -> tuple[str, frozenset[str]] | None:
        """An ARN of this resource type: a parameter that is one, else the format filled; with the variables it
        names (all of them for a given ARN)."""
        if template is None:
            return None
        names = frozenset(v.lower() for v in _VARIABLE.findall(template)) - _GLOBAL_VARIABLES
        for arn in arns:
            if self._catalogue.arn_matches_type(arn, prefix, type_name):
                return arn, names
        out, last = [], 0
        for found in _VARIABLE.finditer(template):
            value = _lookup(values, found.group(1))
            if value is None:
                return None
            out += [template[last : found.start()], value]
            last = found.end()
        return "".join(out) + template[last:], names

    # -- services --------------------------------------------------------------------------------------------

    def _signing_index(self) -> dict[str, tuple[str, ...]]:
        """Service names by signing name, the service named as its signing name first."""
        if self._by_signing is None:
            index: dict[str, list[str]] = {}
            for name in self._loader.list_available_services("service-2"):
                metadata = self._metadata(name)
                index.setdefault(metadata.get("signingName") or metadata["endpointPrefix"], []).append(name)
            self._by_signing = {k: tuple(sorted(v, key=lambda n: (n != k, n))) for k, v in index.items()}
        return self._by_signing

    def _metadata(self, name: str) -> Mapping[str, Any]:
        """A model's `metadata`, read from the head of its file (it comes first in botocore's files), so that the
        index need not parse 400 models (0.15 s instead of 3 s); from the whole model if the head will not do."""
        version = self._loader.determine_latest_version(name, "service-2")
        for base in self._loader.search_paths:
            stem = os.path.join(base, name, version, "service-2.json")
            for path, opener in ((stem + ".gz", gzip.open), (stem, open)):
                if os.path.isfile(path):
                    with opener(path, "rt", encoding="utf-8") as file:
                        found = _head_metadata(file.read(8192))
                    if found is not None:
                        return found
        return dict(self._loader.load_service_model(name, "service-2")["metadata"])

    def _service(self, name: str) -> _Service:
        if name not in self._services:
            model = self._loader.load_service_model(name, "service-2")
            metadata = model["metadata"]
            known = self._catalogue.services()
            prefix = next(
                (p for p in (metadata.get("signingName"), name, metadata.get("endpointPrefix")) if p in known),
                metadata.get("signingName") or name,
            )
            self._services[name] = _Service(name, model, prefix)
        return self._services[name]

    def _named(self, name: str) -> _Service | None:
        if name in self._loader.list_available_services("service-2"):
            return self._service(name)
        candidates = self._signing_index().get(name)
        return self._service(candidates[0]) if candidates else None

    # -- denial ----------------------------------------------------------------------------------------------

    def denial(
        self, interpreted_or_service: Interpreted | str, message: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """AWS's access-denied answer in the service's own protocol: status, headers and body.

        Shapes: json, AWS's JSON 1.x error (`__type`, `message`; 400), with `x-amzn-query-error` for services
        that were query services (botocore reads the code from it); rest-json, the `x-amzn-ErrorType` header and
        `{"Message": ...}` (403; Lambda's bodies also carry `"Type": "User"`); rest-xml (S3 API Reference, "Error
        responses"): `<Error>` with Code, Message, RequestId (403); query: `<ErrorResponse>` (403); ec2:
        `<Response><Errors>` (403). The caller sends no body for a HEAD request (S3 sends none: botocore then
        reports code "403").

        A string is a botocore service name or, for a request that could not be read, a signing name (its first
        service: the one of that name); one that names neither gets the rest-json shape.
        """
        if isinstance(interpreted_or_service, Interpreted):
            service: _Service | None = self._service(interpreted_or_service.service)
            protocol = interpreted_or_service.protocol
        else:
            service = self._named(interpreted_or_service)
            protocol = service.protocol if service else "rest-json"
        request_id = str(uuid.uuid4())
        code = _DENIAL_CODES.get(service.name if service else "", "AccessDenied")
        if protocol in ("json", "rest-json"):
            return _json_denial(service, protocol, message, request_id)
        text = escape(message)
        if protocol == "rest-xml":
            xml = f"<Error><Code>{code}</Code><Message>{text}</Message><RequestId>{request_id}</RequestId></Error>"
        elif protocol == "ec2":
            xml = (
                f"<Response><Errors><Error><Code>{code}</Code><Message>{text}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>"
            )
        else:
            xml = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{text}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode()
        if protocol == "rest-xml":
            headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        else:
            headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        return 403, [*headers, ("Content-Length", str(len(body)))], body


def _json_denial(service: _Service | None, protocol: str, message: str, request_id: str) -> tuple:
    if service and protocol == "json":
        status, content_type = 400, f"application/x-amz-json-{service.json_version}"
        document: dict[str, str] = {"__type": "AccessDeniedException", "message": message}
    else:
        status, content_type = 403, "application/json"
        lambda_ = service is not None and service.name == "lambda"
        document = {"Type": "User", "Message": message} if lambda_ else {"Message": message}
    headers = [("Content-Type", content_type), ("x-amzn-ErrorType", "AccessDeniedException")]
    if service and service.query_compatible:
        headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
    body = json.dumps(document).encode()
    return status, [*headers, ("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))], body


def _head_metadata(head: str) -> dict[str, Any] | None:
    found = _METADATA.search(head)
    try:
        return dict(json.JSONDecoder().raw_decode(head, found.end())[0]) if found else None
    except ValueError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else {}
    except ValueError:
        return {}


def _form(headers: Mapping[str, str], body: bytes) -> list[tuple[str, str]]:
    if body and "x-www-form-urlencoded" in headers.get("content-type", ""):
        return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return []


def _route_applies(route: _Route, keys: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """The query keys (and values) the route names, and the headers of its required members, are present."""
    for key, value in route.query:
        if key not in keys or (value is not None and keys[key] != value):
            return False
    return all(name in headers for name in route.headers)


def _rest_params(
    route: _Route,
    found: re.Match[str],
    pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    protocol: str,
) -> dict[str, Any]:
    operation = route.operation
    params: dict[str, Any] = {}
    for label, value in zip(route.labels, found.groups(), strict=True):
        params[operation.labels.get(label, label)] = unquote(value)
    for key, value in pairs:
        if key in operation.query:
            member, is_list = operation.query[key]
            if is_list:
                params.setdefault(member, []).append(value)
            else:
                params.setdefault(member, value)
    for name, member in operation.headers.items():
        if name in headers:
            params[member] = headers[name]
    if protocol == "rest-json" and operation.body and body:
        document = _json(body)
        if operation.body == "json" and isinstance(document, dict):
            params = {**document, **params}
        elif operation.body != "json":
            params[operation.body] = document
    elif protocol == "rest-xml" and operation.name == "DeleteObjects" and body:
        params["Delete"] = {"Objects": _delete_objects(body)}
    return params


def _delete_objects(body: bytes) -> list[dict[str, str]]:
    """The keys (and versions) of an S3 `<Delete>` document (S3 API Reference, DeleteObjects)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    objects = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Object":
            fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in element}
            objects.append({k: v for k, v in fields.items() if k in ("Key", "VersionId")})
    return objects


def _items(service: str, operation: str, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The parameters of each item an operation acts on (`_PER_ITEM`), else the request's own."""
    spec = _PER_ITEM.get((service, operation))
    if spec is None:
        return [params]
    path, scalar, defaults = spec
    found: Any = params
    for step in path:
        found = found.get(step) if isinstance(found, Mapping) else None
    if found is None and len(path) == 1:
        found = _query_list(params, path[0])
    if not isinstance(found, list) or not found:
        return [params]
    items: list[Mapping[str, Any]] = []
    for item in found:
        named = {scalar: item} if scalar else dict(item) if isinstance(item, Mapping) else {}
        items.append({**params, **defaults, **named})
    return items


def _query_list(params: Mapping[str, Any], name: str) -> list[str] | None:
    """A list of scalars as the query protocol sends it, flat (`AlarmNames.member.1=a`; ec2: `Names.1=a`)."""
    numbered = re.compile(rf"^{re.escape(name)}\.(?:member\.)?(\d+)$")
    found = sorted((int(m.group(1)), v) for k, v in params.items() if (m := numbered.match(k)))
    return [v for _, v in found] or None


def _copy_source(source: str) -> dict[str, str]:
    """The bucket, key and version of `x-amz-copy-source` (`bucket/key[?versionId=v]`, URL-encoded, or an
    access point ARN: S3 API Reference, CopyObject)."""
    path, _, query = source.partition("?")
    path = unquote(path).lstrip("/")
    version = dict(parse_qsl(query)).get("versionId", "")
    if path.startswith("arn:"):
        return {"Source": path, "VersionId": version}
    bucket, _, key = path.partition("/")
    return {"Bucket": bucket, "Key": key, "VersionId": version}


def _variables(prefix: str, params: Mapping[str, Any], account: str, region: str) -> dict[str, str]:
    """The values of ARN format variables (lower-case names): every scalar parameter under its own name, then
    the request's partition, region and account, then where AWS's names differ from the parameters':

    * S3 `${ObjectName}` is the `Key` (`${BucketName}` is `Bucket`, by the dropped "Name").
    * SSM `${ParameterNameWithoutLeadingSlash}` is `Name` less one leading "/".
    * Lambda `FunctionName` is a name, a partial ARN (`123456789012:function:f`) or an ARN, with an optional
      `:qualifier`, or the `Qualifier` parameter; a qualified request acts on the version or alias ARN
      (Lambda Developer Guide, "Resources and conditions for Lambda actions": functions may be restricted "by
      function, version, or alias ARN"), so the qualifier stays part of the name.
    * SQS `${QueueName}` and `${Account}` come from the `QueueUrl` (`.../<account>/<name>`).
    * EventBridge `${RuleName}` is `Name` (PutRule, DescribeRule); `Rule` elsewhere, by the dropped "Name".
    * ECR's `registryId` is the repository's account (ECR API Reference, "registryId").
    * Application Auto Scaling's `${ResourceId}` is, in the reference, the target's generated id, which no
      request carries; the request's `ResourceId` (`endpoint/ep/variant/AllTraffic`) stands in for it, so a
      `scalable-target/*` grant matches as in AWS and one naming a single target id never does.
    * KMS `KeyId` names a key by id or ARN; an alias (`alias/...`) is no `${KeyId}` (see `_kms_alias`).
    """
    values = {k.lower(): s for k, v in params.items() if (s := _scalar(v)) is not None}
    values.update(partition="aws", region=region, account=account)
    if "Key" in params:
        values["objectname"] = str(params["Key"])
    if prefix == "lambda" and isinstance(params.get("FunctionName"), str):
        values.update(_lambda_function(params["FunctionName"], params.get("Qualifier"), values))
    if prefix == "sqs" and isinstance(params.get("QueueUrl"), str):
        owner, _, name = urlsplit(params["QueueUrl"]).path.strip("/").rpartition("/")
        values["queuename"] = name
        if owner.isdigit():
            values["account"] = owner
    if prefix == "ecr" and isinstance(params.get("registryId"), str):
        values["account"] = params["registryId"]
    if prefix == "kms" and str(params.get("KeyId", "")).startswith("alias/"):
        values.pop("keyid", None)
    values.update(_names(prefix, params))
    values.update(_ids(prefix, params))
    if prefix == "ssm" and params.get("ResourceType") == "Parameter":  # tagging a parameter: it, no other type
        values.pop("resourceid", None)
    return values


def _names(prefix: str, params: Mapping[str, Any]) -> dict[str, str]:
    """Names a request gives under another parameter than the ARN format's variable: EventBridge `${RuleName}`
    is `Name`; SNS CreateTopic's `${TopicName}` is `Name`; Step Functions' `${StateMachineName}` (and
    `${ActivityName}`) is `name`; KMS alias requests name `${Alias}` as `AliasName` (`alias/<Alias>`) and the key
    as `TargetKeyId`; SSM's `${ParameterNameWithoutLeadingSlash}` is `Name`, or the `ResourceId` of a tagging
    request on a parameter (`ResourceType` Parameter)."""
    name = params.get("Name")
    if prefix == "ssm":
        named = name if isinstance(name, str) else params.get("ResourceId")
        if isinstance(named, str) and (named is name or params.get("ResourceType") == "Parameter"):
            return {"parameternamewithoutleadingslash": named.removeprefix("/")}
        return {}
    if prefix == "events" and isinstance(name, str):
        return {"rulename": name}
    if prefix == "sns" and isinstance(name, str):
        return {"topicname": name}
    if prefix == "states" and isinstance(params.get("name"), str):
        return {"statemachinename": params["name"], "activityname": params["name"]}
    out: dict[str, str] = {}
    if prefix == "kms" and isinstance(params.get("AliasName"), str):
        out["alias"] = params["AliasName"].removeprefix("alias/")
        target = params.get("TargetKeyId")
        if isinstance(target, str) and not target.startswith("alias/"):
            out["keyid"] = target.rsplit("/", 1)[-1]
    return out


def _ids(prefix: str, params: Mapping[str, Any]) -> dict[str, str]:
    """IDs a request gives under another name than the ARN format's `${Id}`, or not at all:

    * Route 53's record-set requests name the zone as `HostedZoneId` (`hostedzone/${Id}`), which may carry the
      `/hostedzone/` prefix the API accepts;
    * AWS WAF's ARNs name the scope in lower case (`regional/webacl/...`), the request in upper case; a web ACL
      being created has no id yet, so the request names `<scope>/webacl/<name>/*`, which a grant on the name's
      pattern matches (`regional/webacl/<prefix>-*`) and a grant on another web ACL never does."""
    out: dict[str, str] = {}
    zone = params.get("HostedZoneId")
    if prefix == "route53" and isinstance(zone, str):
        out["id"] = zone.rsplit("/", 1)[-1]
    if prefix == "wafv2" and isinstance(params.get("Scope"), str):
        out["scope"] = params["Scope"].lower()
        if isinstance(params.get("Name"), str) and "Id" not in params:
            out["id"] = "*"
    return out


def _apigateway_resource(path: str, region: str) -> str:
    """API Gateway's management API is authorised by HTTP method on the path it names: actions `apigateway:GET`,
    `POST`, `PUT`, `PATCH`, `DELETE` on `arn:aws:apigateway:<region>::<path>` (API Gateway Developer Guide,
    "Control access for managing an API with IAM permissions": "Resource ARN ... resource-path-specifier")."""
    return f"arn:aws:apigateway:{region}::{unquote(path.split('?', 1)[0]) or '/'}"


def _lambda_function(value: str, qualifier: Any, values: Mapping[str, str]) -> dict[str, str]:
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) >= 7:
        region, account, name, rest = parts[3], parts[4], parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":
        region, account, name, rest = values["region"], parts[0], parts[2], parts[3:]
    else:
        region, account, name, rest = values["region"], values["account"], parts[0], parts[1:]
    qualified = rest[0] if rest else qualifier if isinstance(qualifier, str) else None
    return {"region": region, "account": account, "functionname": f"{name}:{qualified}" if qualified else name}


def _kms_alias(params: Mapping[str, Any], region: str, account: str) -> str | None:
    """An alias named as the key (`alias/name` or its ARN), as the alias ARN, for the caller to resolve to the
    key it points to (AWS KMS Developer Guide, "Using aliases": KeyId may be "an alias name or alias ARN")."""
    key = params.get("KeyId")
    if isinstance(key, str) and key.startswith("alias/"):
        return f"arn:aws:kms:{region}:{account}:{key}"
    if isinstance(key, str) and key.startswith("arn:") and ":alias/" in key:
        return key
    return None


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _lookup(values: Mapping[str, str], variable: str) -> str | None:
    """A variable's value under its own name, or less a final "Name" (`${BucketName}`: `Bucket`), or less a
    final "WithPath" (IAM `${RoleNameWithPath}`: `RoleName`, the request does not say the path; the default
    path is `/`)."""
    key = variable.lower()
    for name in (key, key.removesuffix("withpath"), key.removesuffix("name")):
        if name and name in values:
            return values[name]
    return None


def _most_specific(filled: Iterable[tuple[str, frozenset[str]]]) -> list[str]:
    """The ARNs whose variables are not a strict subset of another filled type's, most variables first."""
    listed = sorted(filled, key=lambda pair: len(pair[1]), reverse=True)
    kept = [arn for arn, names in listed if not any(names < other for _, other in listed)]
    return list(dict.fromkeys(kept))


def _context(info: ActionInfo, params: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, str]:
    """The action's service condition keys the request states outright: `s3:x-amz-*` from the header of that
    name, and `<prefix>:<key>` from the top-level parameter of the same name without dashes (`s3:prefix` from
    `Prefix`, `s3:max-keys` from `MaxKeys`, `cloudwatch:namespace` from `Namespace`,
    `application-autoscaling:service-namespace` from `ServiceNamespace`)."""
    context: dict[str, str] = {}
    by_name: dict[str, str] | None = None
    for key in info.condition_keys:
        prefix, _, name = key.partition(":")
        if prefix == "aws" or "/" in name or "$" in name:
            continue
        if name.startswith("x-amz-"):
            if name in headers:
                context[key] = headers[name]
            continue
        if by_name is None:
            by_name = {k.lower(): s for k, v in params.items() if (s := _scalar(v)) is not None}
        value = by_name.get(name.replace("-", "").lower())
        if value is not None:
            context[key] = value
    return context
