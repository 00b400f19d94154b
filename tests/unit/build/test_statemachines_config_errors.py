"""Configuration the pipeline cannot run is refused when it is loaded: before anything renders."""

from __future__ import annotations

import pytest

from tests.helpers import model_entry
from vwt_deploy.build.statemachines import render
from vwt_deploy.config import load
from vwt_deploy.errors import ConfigError


def _refused(project, tmp_path, env="local") -> str:
    with pytest.raises(ConfigError) as err:
        render(project, load(env, project.root), out_dir=tmp_path / "out")
    assert err.value.exit_code == 2
    assert not (tmp_path / "out").exists()  # nothing rendered
    return str(err.value)


def _model(name, change):
    def apply(data):
        change(model_entry(data, name))

    return apply


def test_tuning_with_no_ranges(project_copy, tmp_path):
    project = project_copy(models=_model("gb-marketing", lambda m: m["tuning"].update(ranges={})))
    message = _refused(project, tmp_path)
    assert "models.yaml" in message and "models[gb-marketing].tuning" in message
    assert "tuning is enabled but has no ranges" in message


def test_range_min_greater_than_max(project_copy, tmp_path):
    project = project_copy(
        models=_model(
            "gb-problem-gambling",
            lambda m: m["tuning"]["ranges"].update(max_depth={"type": "integer", "min": 20, "max": 3}),
        )
    )
    message = _refused(project, tmp_path)
    assert "models[gb-problem-gambling].tuning.ranges.max_depth" in message
    assert "range min 20 is greater than max 3" in message


def test_objective_metric_the_container_does_not_log(project_copy, tmp_path):
    project = project_copy(
        models=_model("bid-problem-gambling", lambda m: m["tuning"].update(objective_metric="validation:rmse"))
    )
    message = _refused(project, tmp_path)
    assert "tuning objective 'validation:rmse' is not a metric the container logs for classification" in message
    assert "validation:auc" in message  # says what is allowed


def test_objective_type_against_the_metric_direction(project_copy, tmp_path):
    project = project_copy(models=_model("gb-marketing", lambda m: m["tuning"].update(objective_type="Maximize")))
    message = _refused(project, tmp_path)
    assert "objective_type Maximize contradicts validation:rmse" in message and "use Minimize" in message


def test_grid_search_needs_categorical_ranges(project_copy, tmp_path):
    project = project_copy(models=_model("gb-marketing", lambda m: m["tuning"].update(strategy="Grid")))
    assert "the Grid strategy searches categorical ranges only" in _refused(project, tmp_path)


def test_ground_truth_labeling_without_a_work_team(project_copy, tmp_path):
    project = project_copy(models=_model("gb-problem-gambling", lambda m: m.update(labeling={"mode": "ground_truth"})))
    message = _refused(project, tmp_path)
    assert "models[gb-problem-gambling].labeling" in message
    assert "labeling mode ground_truth needs a workteam_arn" in message


def test_ground_truth_in_a_region_without_its_labeling_functions(project_copy, tmp_path):
    gt = {"mode": "ground_truth", "workteam_arn": "arn:aws:sagemaker:sa-east-1:111111111111:workteam/private-crowd/t"}
    project = project_copy(
        models=_model("gb-problem-gambling", lambda m: m.update(labeling=gt)),
        env=("local", lambda e: e.update(region="sa-east-1")),
    )
    message = _refused(project, tmp_path)
    assert "ground_truth is not available in sa-east-1" in message


def test_self_exclusion_without_its_source_column(project_copy, tmp_path):
    project = project_copy(
        models=_model("gb-problem-gambling", lambda m: m.update(labeling={"mode": "self_exclusion"}))
    )
    assert "labeling mode self_exclusion needs source_column" in _refused(project, tmp_path)


def test_tune_schedule_without_tuning(project_copy, tmp_path):
    project = project_copy(models=_model("gb-marketing", lambda m: m.pop("tuning")))
    assert "the schedule's mode is tune but the model has no tuning section" in _refused(project, tmp_path)


def test_vpc_security_group_must_be_a_security_group_id(project_copy, tmp_path):
    # the seed put an IAM role ARN where the security group belongs
    role = "arn:aws:iam::386431343404:role/service-role/AmazonSageMaker-ExecutionRole-20181217T160105"
    vpc = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": [role]}
    project = project_copy(env=("local", lambda e: e.update(training={"vpc": vpc})))
    message = _refused(project, tmp_path)
    assert "training.vpc.security_group_ids" in message
    assert "is not a security group id (sg-0123456789abcdef0) (that is an ARN, not a security group id)" in message
