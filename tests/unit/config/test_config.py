"""The configuration: every shipped environment loads, and every bad input names file, key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vwt_deploy.config import (
    ENVIRONMENTS,
    check_bucket_name,
    check_schedule_expression,
    load,
    parse_overrides,
)
from vwt_deploy.errors import ConfigError


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def model(data: dict, name: str) -> dict:
    return next(m for m in data["models"] if m["name"] == name)


def error_of(project_dir: Path, env: str = "local", **kw) -> str:
    with pytest.raises(ConfigError) as exc:
        load(env, project_dir, **kw)
    assert exc.value.exit_code == 2
    return str(exc.value)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_shipped_environment_loads(repo: Path, env: str) -> None:
    cfg = load(env, repo)
    assert cfg.name == env
    assert [m.name for m in cfg.catalogue.models] == [
        "bid-problem-gambling",
        "gb-problem-gambling",
        "gb-marketing",
        "gb-unusual-behaviour",
    ]
    assert set(cfg.catalogue.data_buckets) == {"before-initial-deposit", "gambling-behaviour"}
    # six buckets of the framework, plus access logs and state
    assert len([k for k in cfg.bucket_names() if k.startswith(("data:", "model:"))]) == 6
    if env != "local":
        assert cfg.allowed_account_ids


def test_seed_model_is_a_random_forest_with_no_trees(repo: Path) -> None:
    cfg = load("local", repo)
    first = cfg.catalogue.models[0]
    assert first.algorithm == "random_forest"
    assert first.training_hyperparameters()["no_trees"] == "10"
    assert all(isinstance(v, str) for v in first.training_hyperparameters().values())


def test_configuration_is_immutable(repo: Path) -> None:
    cfg = load("local", repo)
    with pytest.raises(ValueError):  # pydantic's ValidationError: the model is frozen
        cfg.region = "us-east-1"  # type: ignore[misc]


def test_unknown_environment(project_dir: Path) -> None:
    msg = error_of(project_dir, "qa")
    assert "unknown environment 'qa'" in msg and "local, dev, staging, prod" in msg


def test_unknown_algorithm(project_dir: Path) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: model(d, "gb-marketing").update(algorithm="xgboost"))
    msg = error_of(project_dir)
    assert "models.yaml" in msg and "models[gb-marketing]" in msg
    assert "unknown algorithm 'xgboost'" in msg and "random_forest" in msg


def test_bad_hyperparameter_type(project_dir: Path) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "bid-problem-gambling")["hyperparameters"].update(no_trees="many"),
    )
    msg = error_of(project_dir)
    assert "models[bid-problem-gambling]" in msg and "no_trees must be a int" in msg


def test_hyperparameter_out_of_range(project_dir: Path) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "bid-problem-gambling")["hyperparameters"].update(no_trees=0),
    )
    assert "no_trees must be >= 1" in error_of(project_dir)


@pytest.mark.parametrize(
    ("name", "floor", "says"),
    [
        (
            "gb-problem-gambling",
            1.2,
            "min_metric 1.2 cannot be a floor of validation:auc, whose values lie in [0.0, 1.0]",
        ),
        ("gb-marketing", -1, "min_metric -1.0 cannot be a floor of validation:rmse, whose values lie in [0.0, inf]"),
    ],
)
def test_a_floor_the_gate_metric_cannot_reach_is_refused(project_dir: Path, name: str, floor: float, says: str) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: model(d, name).update(min_metric=floor))
    msg = error_of(project_dir)
    assert f"models[{name}]" in msg and says in msg


def test_unknown_hyperparameter(project_dir: Path) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "bid-problem-gambling")["hyperparameters"].update(n_estimators=5),
    )
    msg = error_of(project_dir)
    assert "unknown hyperparameter 'n_estimators'" in msg and "no_trees" in msg


def test_bucket_name_aws_would_refuse(project_dir: Path) -> None:
    edit(project_dir / "environments/local.yaml", lambda d: d.update(state={"bucket": "Terraform_State"}))
    msg = error_of(project_dir)
    assert "local.yaml" in msg and "'Terraform_State' may hold only lowercase letters" in msg


@pytest.mark.parametrize(
    "name, reason",
    [
        ("ab", "3 to 63"),
        ("Upper-case", "lowercase"),
        ("a..b", "adjacent periods"),
        ("192.168.1.1", "IP address"),
        ("xn--bucket", "must not start"),
        ("bucket-s3alias", "must not end"),
        ("-leading", "start and end"),
    ],
)
def test_bucket_rules(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_bucket_name(name)


def test_bad_schedule_expression(project_dir: Path) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "gb-marketing")["schedule"].update(expression="every monday"),
    )
    msg = error_of(project_dir)
    assert "models[gb-marketing].schedule.expression" in msg and "rate(" in msg and "cron(" in msg


@pytest.mark.parametrize(
    "expr, reason",
    [
        ("rate(0 days)", "at least 1"),
        ("rate(1 days)", "singular"),
        ("rate(2 day)", "singular"),
        ("rate(5 weeks)", "not a schedule expression"),
        ("cron(0 3 * * *)", "6 fields"),
        ("cron(0 3 * * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(61 3 ? * MON *)", "minutes"),
        ("cron(0 25 ? * MON *)", "hours"),
    ],
)
def test_schedule_rules(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_schedule_expression(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "rate(1 day)",
        "rate(7 days)",
        "rate(30 minutes)",
        "cron(0 3 ? * MON *)",
        "cron(0/15 * * * ? *)",
        "cron(0 2 L * ? *)",
        "cron(0 8 ? * MON-FRI *)",
    ],
)
def test_valid_schedules(expr: str) -> None:
    assert check_schedule_expression(expr) == expr


def test_duplicate_model_name(project_dir: Path) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: d["models"].append(dict(d["models"][0])))
    msg = error_of(project_dir)
    assert "duplicate model name: bid-problem-gambling" in msg


def test_model_pointing_at_missing_data_bucket(project_dir: Path) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: model(d, "gb-marketing").update(data_bucket="payments"))
    msg = error_of(project_dir)
    assert "data bucket 'payments', which does not exist" in msg and "gambling-behaviour" in msg


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_real_environment_needs_account_ids(project_dir: Path, env: str) -> None:
    edit(project_dir / f"environments/{env}.yaml", lambda d: d.pop("allowed_account_ids"))
    msg = error_of(project_dir, env)
    assert f"{env}.yaml" in msg and "allowed_account_ids" in msg and "12-digit" in msg


def test_account_id_format(project_dir: Path) -> None:
    edit(project_dir / "environments/dev.yaml", lambda d: d.update(allowed_account_ids=["1234"]))
    assert "must be 12 digits" in error_of(project_dir, "dev")


def test_unknown_key_is_named(project_dir: Path) -> None:
    edit(project_dir / "environments/local.yaml", lambda d: d["api"].update(throtle=5))
    msg = error_of(project_dir)
    assert "local.yaml: api.throtle: unknown key" in msg


def test_invalid_yaml_names_the_line(project_dir: Path) -> None:
    (project_dir / "environments/local.yaml").write_text("name: local\napi: [unclosed\n")
    msg = error_of(project_dir)
    assert "local.yaml" in msg and "line" in msg and "not valid YAML" in msg


def test_a_key_given_twice_is_refused_not_dropped(project_dir: Path) -> None:
    """PyYAML keeps the last of two keys; a second `model_overrides:` appended to a file would drop the first."""
    path = project_dir / "environments/local.yaml"
    before = path.read_text()
    path.write_text(before + "\nmodel_overrides:\n  gb-marketing:\n    hyperparameters: {no_trees: 5}\n")
    msg = error_of(project_dir)
    assert "local.yaml" in msg and "not valid YAML" in msg and "duplicate key 'model_overrides'" in msg
    assert f"(first on line {before.splitlines().index('model_overrides:') + 1})" in msg


def test_intervention_must_be_monotonic(project_dir: Path) -> None:
    def weaken(d: dict) -> None:
        d["intervention"]["risk_groups"][3]["level"] = "reminder"  # severe weaker than high

    edit(project_dir / "environments/models.yaml", weaken)
    msg = error_of(project_dir)
    assert "higher risk must never get a weaker restriction" in msg


def test_tuning_without_ranges(project_dir: Path) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: model(d, "gb-marketing")["tuning"].update(ranges={}))
    assert "tuning is enabled but has no ranges" in error_of(project_dir)


def test_range_min_above_max(project_dir: Path) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "gb-marketing")["tuning"]["ranges"]["no_trees"].update(min=500, max=100),
    )
    assert "range min 500 is greater than max 100" in error_of(project_dir)


def test_objective_the_container_does_not_log(project_dir: Path) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "gb-marketing")["tuning"].update(objective_metric="validation:f1"),
    )
    msg = error_of(project_dir)
    assert "not a metric the container logs" in msg and "validation:rmse" in msg


def test_ground_truth_needs_a_work_team(project_dir: Path) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "gb-problem-gambling").update(labeling={"mode": "ground_truth"}),
    )
    assert "needs a workteam_arn" in error_of(project_dir)


@pytest.mark.parametrize("labels_prefix", ["training/labels/", "train"])
def test_the_labels_prefix_lies_apart_from_the_data(project_dir: Path, labels_prefix: str) -> None:
    edit(
        project_dir / "environments/models.yaml",
        lambda d: model(d, "gb-problem-gambling")["labeling"].update(labels_prefix=labels_prefix),
    )
    message = error_of(project_dir)
    assert ("overlap: label files would be read as training data" in message) == labels_prefix.endswith("/")
    assert "labels_prefix" in message


def test_model_overrides_per_environment(project_dir: Path) -> None:
    edit(
        project_dir / "environments/dev.yaml",
        lambda d: d.update(model_overrides={"gb-marketing": {"hyperparameters": {"no_trees": 300}}}),
    )
    cfg = load("dev", project_dir)
    assert cfg.catalogue.model("gb-marketing").hyperparameters["no_trees"] == 300
    assert cfg.catalogue.model("gb-marketing").hyperparameters["learning_rate"] == 0.1  # merged, not replaced


def test_override_of_unknown_model(project_dir: Path) -> None:
    edit(project_dir / "environments/dev.yaml", lambda d: d.update(model_overrides={"nope": {}}))
    msg = error_of(project_dir, "dev")
    assert "dev.yaml: model_overrides.nope" in msg


def test_command_line_overrides_win(repo: Path) -> None:
    cfg = load("local", repo, parse_overrides(["api.throttle_rate_limit=7", "region=us-east-1"]))
    assert cfg.api.throttle_rate_limit == 7 and cfg.region == "us-east-1"
    assert load("local", repo).api.throttle_rate_limit == 100  # the file's value otherwise


def test_bad_override_syntax() -> None:
    with pytest.raises(ConfigError, match="not key=value"):
        parse_overrides(["api.throttle_rate_limit"])


@pytest.mark.parametrize(
    "region, reason",
    [
        ("us-gov-west-1", "another AWS partition"),
        ("cn-north-1", "another AWS partition"),
        ("eu-west", "not an AWS region"),
    ],
)
def test_regions_outside_the_aws_partition_are_refused(repo: Path, region: str, reason: str) -> None:
    """The rendered definitions and policies name the aws partition (arn:aws:...): other partitions are refused."""
    with pytest.raises(ConfigError, match=reason):
        load("dev", repo, parse_overrides([f"region={region}"]))


def test_endpoints_start_with_at_least_min_capacity_instances(repo: Path) -> None:
    """Prod keeps 2 instances: every endpoint configuration (the pipeline's too) starts with 2, not 1."""
    prod = load("prod", repo)
    assert prod.endpoints.min_capacity == 2 and prod.endpoints.initial_instance_count == 2
    with pytest.raises(ConfigError, match=r"initial_instance_count \(1\) must lie between min_capacity \(2\)"):
        load("prod", repo, parse_overrides(["endpoints.initial_instance_count=1"]))


def test_the_pipeline_deploys_as_many_instances_as_auto_scaling_keeps(repo: Path) -> None:
    from vwt_deploy.build.statemachines import render_definition

    prod = load("prod", repo)
    definition = render_definition(prod, prod.catalogue.models[0], repo / "templates")
    config = next(s for s in definition["States"].values() if s.get("Resource", "").endswith("createEndpointConfig"))
    assert [v["InitialInstanceCount"] for v in config["Parameters"]["ProductionVariants"]] == [2]


@pytest.mark.parametrize("key", ["endpoints.instance_type", "training.sizing"])
@pytest.mark.parametrize("instance_type", ["ml.g4dn.xlarge", "ml.m5d.large", "ml.p4d.24xlarge"])
def test_instance_types_with_local_storage_are_refused(repo: Path, key: str, instance_type: str) -> None:
    """SageMaker refuses a KMS key for instances with local NVMe storage, and every configuration sends one."""
    value = (
        instance_type
        if key == "endpoints.instance_type"
        else f"[{{instance_type: {instance_type}, instance_count: 1, volume_gb: 30}}]"
    )
    with pytest.raises(ConfigError, match=f"{instance_type} has local NVMe instance storage"):
        load("dev", repo, parse_overrides([f"{key}={value}"]))
    load("dev", repo, parse_overrides([f"{key}={value.replace(instance_type, 'ml.m5.xlarge')}"]))


def test_training_is_sized_vertically(repo: Path) -> None:
    """scikit-learn does not share work between instances: a second one would train the same model again."""
    sizing = load("dev", repo).training.sizing
    assert all(row.instance_count == 1 for row in sizing)
    assert [row.instance_type for row in sizing] == ["ml.m5.large", "ml.m5.4xlarge", "ml.r5.12xlarge"]
    two = "training.sizing=[{instance_type: ml.m5.4xlarge, instance_count: 2, volume_gb: 200}]"
    with pytest.raises(ConfigError, match="instance_count 2: the container's algorithms .* train on one instance"):
        load("dev", repo, parse_overrides([two]))


def test_bucket_names_of_real_environments_are_unique_by_construction(repo: Path) -> None:
    """S3 bucket names are global: a real environment's end with its account and region; locally none."""
    dev = load("dev", repo)
    assert set(dev.bucket_names().values()) == {
        f"vwt-dev-{name}-111111111111-eu-west-1"
        for name in (
            "data-before-initial-deposit",
            "data-gambling-behaviour",
            "model-bid-problem-gambling",
            "model-gb-problem-gambling",
            "model-gb-marketing",
            "model-gb-unusual-behaviour",
            "results",
            "access-logs",
            "tfstate",
        )
    }
    assert all(len(name) <= 63 for name in dev.bucket_names().values())
    assert load("local", repo).data_bucket_name("gambling-behaviour") == "vwt-local-data-gambling-behaviour"
    other = load("dev", repo, parse_overrides(["region=us-east-2"]))
    assert other.model_bucket_name("gb-marketing") == "vwt-dev-model-gb-marketing-111111111111-us-east-2"
    fixed = load("dev", repo, parse_overrides(["bucket_suffix=team-a"]))
    assert fixed.log_bucket_name == "vwt-dev-access-logs-team-a"
    bare = load("dev", repo, parse_overrides(['bucket_suffix=""']))
    assert bare.state_bucket_name == "vwt-dev-tfstate"


def test_bucket_names_need_a_suffix_when_several_accounts_are_allowed_and_fit_63_characters(repo: Path) -> None:
    accounts = 'allowed_account_ids=["111111111111", "222222222222"]'
    with pytest.raises(ConfigError, match="cannot end with the account id: set bucket_suffix"):
        load("dev", repo, parse_overrides([accounts]))
    load("dev", repo, parse_overrides([accounts, "bucket_suffix=shared"]))
    with pytest.raises(ConfigError, match=r"S3 allows 3 to 63 \(shorten name_prefix or bucket_suffix\)"):
        load("dev", repo, parse_overrides(["name_prefix=vwt-development-team-42", "region=ap-southeast-2"]))


# --------------------------------------------------------------------------- an unsupervised model's gate


def test_the_unsupervised_model_is_gated_on_its_anchor(repo: Path) -> None:
    m = load("local", repo).catalogue.model("gb-unusual-behaviour")
    assert (m.task, m.anchor, m.gate_metric, m.higher_is_better) == (
        "unsupervised",
        "self_excluded",
        "validation:anchor_auc",
        True,
    )
    assert 0.5 < (m.min_metric or 0) < 1
    hp = m.training_hyperparameters()
    assert hp["anchor"] == "self_excluded" and "label" not in hp
    assert "self_excluded" not in [f.name for f in m.features]


UNUSUAL = "gb-unusual-behaviour"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda m: m.update(metric="validation:anomaly_rate"),
            "metric validation:anomaly_rate cannot decide which model is deployed: it is the share of players the "
            "isolation forest flags, which its contamination hyperparameter sets",
        ),
        (
            lambda m: m.update(
                metric=None,
                tuning={
                    "objective_metric": "validation:anomaly_rate",
                    "ranges": {"no_trees": {"type": "integer", "min": 50, "max": 200}},
                },
            ),
            "tuning objective validation:anomaly_rate cannot decide which model is deployed",
        ),
        (lambda m: m.pop("anchor"), "an unsupervised model needs an anchor"),
        (
            lambda m: m.update(features=[*m["features"], {"name": "self_excluded", "type": "bool"}]),
            "anchor 'self_excluded' is also a feature",
        ),
        (lambda m: m.update(min_metric=1.5), "min_metric 1.5 cannot be a floor of validation:anchor_auc"),
        (
            lambda m: m["hyperparameters"].update(anchor="other"),
            "unknown hyperparameter 'anchor' for isolation_forest",
        ),
    ],
    ids=["anomaly_rate gate", "anomaly_rate objective", "no anchor", "anchor a feature", "floor", "anchor as hp"],
)
def test_an_unsupervised_model_without_a_meaningful_gate_is_refused(project_dir: Path, change, says: str) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: change(model(d, UNUSUAL)))
    msg = error_of(project_dir)
    assert f"models[{UNUSUAL}]" in msg and says in msg


def test_anomaly_rate_refusal_says_what_to_use(project_dir: Path) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: model(d, UNUSUAL).update(metric="validation:anomaly_rate"))
    assert "use validation:anchor_auc (the AUC of the anomaly score against the model's anchor column)" in error_of(
        project_dir
    )


def test_an_anchor_on_a_supervised_model_is_refused(project_dir: Path) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: model(d, "gb-marketing").update(anchor="self_excluded"))
    msg = error_of(project_dir)
    assert "models[gb-marketing]" in msg
    assert "anchor is for unsupervised models; a regression model is measured against its label" in msg


def test_prediction_alarm_thresholds_reach_terraform_and_bad_ones_are_refused(repo: Path) -> None:
    from vwt_deploy.deploy.tfvars import tfvars

    env = load("dev", repo, overrides=parse_overrides(("alarms.prediction.latency_p99_ms=1500",)))
    assert tfvars(env)["alarms"]["prediction"] == {
        "client_errors_per_5min": 25,
        "endpoint_errors_per_5min": 5,
        "publish_errors_per_5min": 1,
        "latency_p99_ms": 1500,
    }
    with pytest.raises(ConfigError) as exc:
        load("dev", repo, overrides=parse_overrides(("alarms.prediction.client_errors_per_5min=0",)))
    assert "alarms.prediction.client_errors_per_5min" in str(exc.value)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d["operators"].append(dict(d["operators"][0])), "duplicate operator id: northbet"),
        (lambda d: d["operators"][0].update(id="North_Bet"), "operators[0].id"),
        (lambda d: d["operators"][0].update(contact="nobody"), "operators[0].contact"),
        (lambda d: d["operators"][1].update(quota_limit=0), "operators[1].quota_limit"),
        (lambda d: d.update(operators=[]), "operators"),
        (lambda d: d.pop("operators"), "operators"),
    ],
)
def test_bad_operators_are_refused(project_dir: Path, change, says: str) -> None:
    edit(project_dir / "environments/models.yaml", change)
    assert says in error_of(project_dir)


def test_each_operator_gets_its_usage_plan_with_the_environments_limits_as_defaults(repo: Path) -> None:
    from vwt_deploy.deploy.tfvars import tfvars

    env = load("prod", repo)
    operators = tfvars(env)["operators"]
    assert list(operators) == [o.id for o in env.catalogue.operators] == ["northbet", "lucky-lane"]
    assert operators["northbet"] == {
        "name": "NorthBet B.V.",
        "contact": "risk@northbet.example",
        "throttle_rate_limit": env.api.throttle_rate_limit,
        "throttle_burst_limit": env.api.throttle_burst_limit,
        "quota_limit": env.api.quota_limit,
        "quota_period": env.api.quota_period,
    }
    assert operators["lucky-lane"]["quota_limit"] == 500000  # its own, from the catalogue
    with pytest.raises(ConfigError, match="unknown operator 'nobody'"):
        env.catalogue.operator("nobody")


def test_a_training_prefix_that_holds_the_scoring_prefix_is_refused(project_dir: Path) -> None:
    edit(project_dir / "environments/models.yaml", lambda d: model(d, "gb-marketing").update(data_prefix=""))
    assert "the players to score would be read as training data" in error_of(project_dir)


def test_batch_scoring_is_nightly_unless_the_catalogue_says_otherwise(repo: Path) -> None:
    from vwt_deploy.deploy.tfvars import tfvars

    env = load("dev", repo)
    models = tfvars(env)["models"]
    assert {m["scoring_expression"] for m in models.values()} == {"cron(0 2 * * ? *)"}
    assert all(m["scoring_enabled"] for m in models.values())
    assert env.catalogue.model("gb-marketing").scoring_prefix == "scoring/gb-marketing/"
    assert tfvars(env)["results_bucket_name"] == "vwt-dev-results-111111111111-eu-west-1"
