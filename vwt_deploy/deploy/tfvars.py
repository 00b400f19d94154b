"""The Terraform input variables of one environment, derived from its typed configuration.

This is the one place Python hands values to Terraform: names are made here
(and validated by the configuration), never re-derived in HCL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.files import write_if_changed


def tfvars(env: Environment, artifacts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every variable of the root configuration. `artifacts` adds what the tool built (packages, definitions, image)."""
    cat = env.catalogue
    return {
        "environment": env.name,
        "region": env.region,
        "allowed_account_ids": list(env.allowed_account_ids),
        "name_prefix": env.name_prefix,
        "tags": env.all_tags(),
        "admin_email": env.admin_email,
        "log_retention_days": env.log_retention_days,
        "approval": env.approval_mode,
        "log_bucket_name": env.log_bucket_name,
        "results_bucket_name": env.results_bucket_name,
        "image_repository_name": env.image_repository_name,
        "data_buckets": {key: env.data_bucket_name(key) for key in cat.data_buckets},
        "models": {
            m.name: {
                "task": m.task,
                "data_bucket": m.data_bucket,
                "data_bucket_name": env.data_bucket_name(m.data_bucket),
                "data_prefix": m.data_prefix,
                "model_bucket_name": env.model_bucket_name(m.name),
                "endpoint_name": env.endpoint_name(m.name),
                "schedule_expression": m.schedule.expression,
                "schedule_mode": m.schedule.mode,
                "schedule_enabled": m.schedule.enabled,
                "scoring_expression": m.scoring.expression,
                "scoring_enabled": m.scoring.enabled,
                "drift_expression": m.drift.expression,
                "drift_enabled": m.drift.enabled,
                "drift_threshold": m.drift.psi_threshold,
                "labeling_mode": m.labeling.mode,
                "model_package_group": env.model_package_group(m.name),
            }
            for m in cat.models
        },
        "operators": {
            o.id: {
                "name": o.name,
                "contact": o.contact,
                "throttle_rate_limit": o.throttle_rate_limit or env.api.throttle_rate_limit,
                "throttle_burst_limit": o.throttle_burst_limit or env.api.throttle_burst_limit,
                "quota_limit": o.quota_limit or env.api.quota_limit,
                "quota_period": env.api.quota_period,
            }
            for o in cat.operators
        },
        "api": {
            **env.api.model_dump(mode="json", exclude={"manage_account_logging_role"}),
            "waf": {**env.api.waf.model_dump(mode="json"), "enabled": env.waf_enabled},
        },
        "device_identities": {
            o.id: o.identity.model_dump(mode="json") for o in cat.operators if o.identity is not None
        },
        "lambda_runtime": env.lambda_runtime,
        "manage_api_gateway_account": env.api.manage_account_logging_role,
        "endpoints": env.endpoints.model_dump(mode="json"),
        "alarms": env.alarms.model_dump(mode="json"),
        # the size function's table (pipeline.size) and the training time limit
        "training": env.training.model_dump(mode="json"),
        **(artifacts or {}),
    }


def write_tfvars(env: Environment, path: Path, artifacts: Mapping[str, Any] | None = None) -> Path:
    """Write the variables as JSON (sorted, so an unchanged configuration writes the same bytes)."""
    return write_if_changed(path, json.dumps(tfvars(env, artifacts), indent=2, sort_keys=True) + "\n")
