"""The Terraform state bucket of an environment: versioned, encrypted, private, TLS-only.

The same code serves every environment: `vwt-deploy bootstrap --env dev` on AWS,
and the local target on the emulator before each `up`. It is idempotent: an
existing bucket is brought to the same settings, nothing is deleted.
"""

from __future__ import annotations

import json
from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.errors import VwtError


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def bootstrap_state_bucket(env: Environment, s3: Any) -> str:
    """Create (or bring to settings) the state bucket with the given boto3 S3 client; return its name."""
    from botocore.exceptions import ClientError

    bucket = env.state_bucket_name
    region = env.state.region or env.region
    try:
        s3.head_bucket(Bucket=bucket)
        exists = True
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("403", "AccessDenied"):
            raise VwtError(
                f"the state bucket {bucket} exists but belongs to someone else or is not readable",
                "set state.bucket in the environment file to a name of your own",
            ) from None
        exists = False
    try:
        if not exists:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]
            },
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
    except ClientError as exc:
        raise VwtError(
            f"cannot prepare the state bucket {bucket}: {exc}",
            "check that the credentials may create and configure S3 buckets",
        ) from None
    return bucket
