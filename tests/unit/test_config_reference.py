"""docs/configuration.md against the configuration's schema: its tables name every key an environment file and a
catalogue entry take, and no key that does not exist."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO
from vwt_deploy.config.schema import Environment, Model

REFERENCE = REPO / "docs" / "configuration.md"
# keys of an environment file the loader takes itself (vwt_deploy/config/loader.py), rather than the schema
FILE_ONLY = {"catalogue_file", "model_overrides"}
LOADED = {"catalogue"}  # the schema's field the loader fills from the catalogue file


def _table_keys(heading: str) -> set[str]:
    """The backticked keys of the first column of the table under `## <heading>` (`a`, `b` rows give both)."""
    text = REFERENCE.read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    keys: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            keys.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return keys


def _field(model, dotted: str):
    """The schema's field a dotted key names (`api.waf`), or None."""
    head, _, rest = dotted.partition(".")
    field = model.model_fields.get(head)
    if field is None or not rest:
        return field
    inner = field.annotation
    return _field(inner, rest) if hasattr(inner, "model_fields") else None


@pytest.mark.parametrize(
    ("heading", "model", "extra", "ignored"),
    [("Environment file", Environment, FILE_ONLY, LOADED), ("The model catalogue", Model, set(), set())],
    ids=["environment file", "catalogue entry"],
)
def test_the_reference_names_every_key_and_only_real_ones(heading, model, extra, ignored):
    documented = _table_keys(heading)
    assert len(documented) > 10, documented
    unknown = {key for key in documented - extra if _field(model, key) is None}
    assert unknown == set(), f"docs/configuration.md ({heading}) names keys the schema does not have: {unknown}"
    top = {key.split(".")[0] for key in documented}
    missing = set(model.model_fields) - ignored - top
    assert missing == set(), f"docs/configuration.md ({heading}) does not describe: {missing}"
    assert extra <= documented
