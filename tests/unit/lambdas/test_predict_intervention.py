"""Risk score -> risk group -> intervention level: each row of the table, and the monotonic check (Lambda and
config)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from predict.catalogue import Catalogue, CatalogueError, Intervention

from tests.helpers import REPO
from tests.helpers.lambdas import FakeEndpoint, FakeSns, answer, event, good_risk
from vwt_deploy.config import load_catalogue
from vwt_deploy.errors import ConfigError

REPO_TABLE = yaml.safe_load((REPO / "environments" / "models.yaml").read_text())["intervention"]


def _rows():
    """Each row of the repository's table, at its lower bound and just below the next row's."""
    groups = REPO_TABLE["risk_groups"]
    for i, g in enumerate(groups):
        upper = groups[i + 1]["min_score"] if i + 1 < len(groups) else 1.0
        yield pytest.param(g["min_score"], g["name"], g["level"], id=f"{g['name']}-at-bound")
        yield pytest.param(
            upper if i + 1 == len(groups) else upper - 1e-9, g["name"], g["level"], id=f"{g['name']}-at-top"
        )


@pytest.mark.parametrize("score, group, level", list(_rows()))
def test_each_row_of_the_repository_table(score, group, level):
    table = Intervention(REPO_TABLE["levels"], REPO_TABLE["risk_groups"])
    assert table.classify(score) == (group, level)


@pytest.mark.parametrize(
    "score, group, level",
    [
        (0.0, "low", "none"),
        (0.29, "low", "none"),
        (0.3, "medium", "reminder"),
        (0.59, "medium", "reminder"),
        (0.6, "high", "deposit_limit"),
        (0.849, "high", "deposit_limit"),
        (0.85, "severe", "cooling_off"),
        (1.0, "severe", "cooling_off"),
    ],
)
def test_the_handler_answers_and_publishes_group_and_level(make_service, score, group, level):
    sns = FakeSns()
    status, body = answer(
        make_service(FakeEndpoint(scores=[score]), sns).handle(event(body={"records": [good_risk()]}))
    )
    assert status == 200
    assert body["predictions"][0] == {
        "user_id": "p1",
        "prediction": score,
        "risk_group": group,
        "intervention_level": level,
    }
    ((topic, message),) = sns.messages()
    assert topic.endswith(":test-intervention")
    assert (message["score"], message["risk_group"], message["intervention_level"]) == (score, group, level)


def test_a_higher_score_never_gets_a_weaker_level():
    table = Intervention(REPO_TABLE["levels"], REPO_TABLE["risk_groups"])
    ranks = [table.levels.index(table.classify(i / 1000)[1]) for i in range(1001)]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(
    "groups, fragment",
    [
        (
            [{"name": "low", "min_score": 0, "level": "reminder"}, {"name": "high", "min_score": 0.5, "level": "none"}],
            "monotonic",
        ),
        ([{"name": "low", "min_score": 0.1, "level": "none"}], "start at min_score 0"),
        (
            [
                {"name": "low", "min_score": 0, "level": "none"},
                {"name": "mid", "min_score": 0.5, "level": "none"},
                {"name": "high", "min_score": 0.4, "level": "reminder"},
            ],
            "increasing",
        ),
        ([{"name": "low", "min_score": 0, "level": "ban"}], "not one of"),
        (
            [{"name": "low", "min_score": 0, "level": "none"}, {"name": "x", "min_score": 1.5, "level": "none"}],
            "outside",
        ),
        ([{"name": "low"}], "needs name, min_score"),
        ([], "no risk groups"),
    ],
)
def test_the_lambda_refuses_a_bad_table(groups, fragment):
    with pytest.raises(CatalogueError, match=fragment):
        Intervention(["none", "reminder"], groups)


def test_a_bad_table_in_catalogue_json_is_refused_on_load(catalogue_doc):
    catalogue_doc["intervention"]["risk_groups"][3]["level"] = "none"
    with pytest.raises(CatalogueError, match="monotonic"):
        Catalogue(catalogue_doc)


def test_the_configuration_refuses_a_non_monotonic_table(tmp_path: Path):
    data = yaml.safe_load((REPO / "environments" / "models.yaml").read_text())
    data["intervention"]["risk_groups"][-1]["level"] = "reminder"  # severe gets less than high
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="never get a weaker restriction"):
        load_catalogue(path)


def test_the_handler_with_a_broken_bundled_catalogue_answers_json_500(tmp_path, monkeypatch, catalogue_doc):
    import predict.handler as module

    catalogue_doc["intervention"]["risk_groups"][1]["min_score"] = 0.0
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(catalogue_doc))
    monkeypatch.setenv("CATALOGUE_PATH", str(path))
    monkeypatch.setattr(module, "_service", None)
    resp = module.handler(event(body={"records": [good_risk()]}), None)
    assert resp["statusCode"] == 500 and json.loads(resp["body"])["error"] == "misconfigured"
    assert "Traceback" not in resp["body"]
