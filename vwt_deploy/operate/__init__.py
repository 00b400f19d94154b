"""The operate layer: what users run against a deployed environment (retrain, predict, data sample, schedules)."""

from __future__ import annotations

from vwt_deploy.config import Environment
from vwt_deploy.errors import ConfigError


def refuse_prod(env: Environment, what: str, why: str, hint: str) -> None:
    """Refuse, before anything touches the account, an operation that must never run on prod (real players)."""
    if env.name == "prod":
        raise ConfigError(f"refusing {what}: {why}", hint)
