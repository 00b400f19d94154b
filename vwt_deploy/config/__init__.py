"""The configuration layer: the schema (`schema`), its loading (`loader`) and the schedule grammar (`schedule`).

Everything else reads the configuration through these names."""

from vwt_deploy.config.loader import environments_dir, load, load_catalogue, parse_overrides
from vwt_deploy.config.schedule import check_schedule_expression
from vwt_deploy.config.schema import (
    ENVIRONMENTS,
    REAL_ENVIRONMENTS,
    Catalogue,
    Environment,
    Feature,
    Model,
    check_bucket_name,
)

__all__ = [
    "ENVIRONMENTS",
    "REAL_ENVIRONMENTS",
    "Catalogue",
    "Environment",
    "Feature",
    "Model",
    "check_bucket_name",
    "check_schedule_expression",
    "environments_dir",
    "load",
    "load_catalogue",
    "parse_overrides",
]
