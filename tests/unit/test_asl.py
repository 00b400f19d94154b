"""The definition checks (moto's parser + the project's graph check) and the IAM policy derivation."""

from __future__ import annotations

import copy
import json

import pytest

from vwt_deploy.asl import check_policy, derive_policy, validate_definition
from vwt_deploy.build.statemachines import render_definition, validate_rendered
from vwt_deploy.config import load

TASK = {
    "Type": "Task",
    "Resource": "arn:aws:states:::sns:publish",
    "Parameters": {"TopicArn": "${admin_topic_arn}", "Message": "hi"},
    "Retry": [{"ErrorEquals": ["ThrottlingException"], "BackoffRate": 2}],
    "TimeoutSeconds": 60,
    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
}


def small(**states):
    base = {"Notify": {**TASK, "Next": "Done"}, "Done": {"Type": "Succeed"}, "Failed": {"Type": "Fail"}}
    base.update(states)
    return {"StartAt": "Notify", "States": {k: v for k, v in base.items() if v is not None}}


@pytest.fixture(scope="module")
def rendered(project):
    env = load("dev", project.root)
    return render_definition(env, env.catalogue.model("gb-marketing"), project.templates_dir)


def test_a_small_valid_definition_passes():
    assert validate_definition(small()) == []


@pytest.mark.parametrize(
    "broken, defect",
    [
        ({"StartAt": "Nowhere"}, "StartAt 'Nowhere' names no state"),
        ({"States": {"Notify": {**TASK, "Next": "Missing"}}}, "state 'Notify': Next 'Missing' names no state"),
        ({"States": {"Lonely": {"Type": "Pass", "End": True}}}, "state 'Lonely' is unreachable from StartAt 'Notify'"),
        (
            {"States": {"Notify": {**TASK, "Next": "Drift"}, "Drift": {"Type": "Pass"}}},
            "state 'Drift' has neither Next nor End",
        ),
        (
            {"States": {"Notify": {**TASK, "Next": "Loop"}, "Loop": {"Type": "Wait", "Seconds": 5, "Next": "Loop"}}},
            "state 'Loop' never reaches Succeed, Fail or End",
        ),
        (
            {
                "States": {
                    "Notify": {
                        **TASK,
                        "Resource": "arn:aws:states:::sagemaker:createCompilationJob.sync",
                        "Next": "Done",
                    }
                }
            },
            "state 'Notify': Resource 'arn:aws:states:::sagemaker:createCompilationJob.sync'"
            " is not a known service integration",
        ),
        (
            {
                "States": {
                    "Notify": {**TASK, "Next": "Pick"},
                    "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Done"}]},
                }
            },
            "Choice state 'Pick' has no Default",
        ),
        (
            {"States": {"Notify": {**{k: v for k, v in TASK.items() if k != "Retry"}, "Next": "Done"}}},
            "Task state 'Notify' has no Retry",
        ),
        (
            {"States": {"Notify": {**{k: v for k, v in TASK.items() if k != "TimeoutSeconds"}, "Next": "Done"}}},
            "Task state 'Notify' has no TimeoutSeconds",
        ),
        (
            {"States": {"Notify": {**{k: v for k, v in TASK.items() if k != "Catch"}, "Next": "Done"}}},
            "Task state 'Notify' has no Catch of States.ALL",
        ),
        (
            {"States": {"Notify": {**TASK, "Parameters": {"TopicArn": "${topic}", "Message": "x"}, "Next": "Done"}}},
            "unknown template variable ${topic}",
        ),
        (
            {"States": {"Notify": {**TASK, "Parameters": {"TopicArn": "%{ if x }", "Message": "x"}, "Next": "Done"}}},
            "a Terraform template directive '%{'",
        ),
        ({"States": {"Notify": {**TASK, "Type": "Tsak", "Next": "Done"}}}, "ASL parser"),
    ],
)
def test_each_defect_is_named(broken, defect):
    definition = small()
    definition.update({k: v for k, v in broken.items() if k != "States"})
    definition["States"].update(broken.get("States", {}))
    errors = validate_definition(definition)
    assert any(defect in e for e in errors), errors


def test_the_seed_sketch_is_rejected():
    # the seed's JSON has bare `number` placeholders: not JSON at all
    assert validate_definition('{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": number, "End": true}}}')[
        0
    ].startswith("not JSON")


def test_defects_inside_the_rendered_pipeline_are_found(rendered):
    broken = copy.deepcopy(rendered)
    broken["States"]["UpdateEndpoint"]["Next"] = "Deployed"  # skips the polling loop
    errors = validate_definition(broken)
    assert "state 'StartPolling' is unreachable from StartAt 'CheckInput'" in errors
    broken = copy.deepcopy(rendered)
    del broken["States"]["ReportFailure"]
    errors = validate_definition(broken)
    assert any("Catch[0].Next 'ReportFailure' names no state" in e for e in errors)


def test_policy_has_one_statement_per_integration_and_the_sync_rules(rendered):
    policy = derive_policy(rendered)
    sids = {s["Sid"]: s for s in policy["Statement"]}
    integrations = {st["Resource"] for st in rendered["States"].values() if st["Type"] == "Task"}
    assert len([s for s in sids if not s.startswith(("SyncRule", "PassSageMakerRole", "Kms", "AutoScaling"))]) == len(
        integrations
    )
    scaling = sids["AwsSdkApplicationautoscalingRegisterScalableTarget"]
    assert scaling["Resource"] == ["arn:aws:application-autoscaling:${region}:${account_id}:scalable-target/*"]
    assert scaling["Condition"]["StringEquals"]["application-autoscaling:service-namespace"] == "sagemaker"
    assert sids["SyncRuleForTrainingJobs"]["Resource"] == [
        "arn:aws:events:${region}:${account_id}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    ]
    assert sids["SyncRuleForTrainingJobs"]["Action"] == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert "SyncRuleForTuningJobs" in sids and "SyncRuleForLabelingJobs" not in sids
    passrole = sids["PassSageMakerRole"]
    assert passrole["Resource"] == ["${sagemaker_role_arn}"]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # narrow resources: the run's own jobs, the model's endpoint, its parameter; never a bare "*". Scalable
    # targets are one "/*": Application Auto Scaling assigns their ids, so the condition keys hold the
    # statement to SageMaker variants (Service Authorization Reference). The model's versions are the other: the
    # registry numbers them, within the model's own group.
    group = "arn:aws:sagemaker:${region}:${account_id}:model-package/vwt-dev-gb-marketing"
    assert sids["AwsSdkSagemakerCreateModelPackage"]["Resource"] == [group, group + "/*"]
    assert sids["AwsSdkSagemakerDescribeModelPackage"]["Resource"] == [group + "/*"]
    for s in policy["Statement"]:
        for r in s["Resource"]:
            if r == group + "/*":
                continue
            if r.endswith(":scalable-target/*"):
                assert s["Condition"]["StringEquals"]["application-autoscaling:scalable-dimension"] == (
                    "sagemaker:variant:DesiredInstanceCount"
                ), s
                continue
            assert r != "*" and not r.endswith(":*/*") and not r.endswith("/*"), (s["Sid"], r)
    train = sids["SagemakerCreateTrainingJobSync"]["Resource"]
    assert len(train) == 1 and train[0].startswith("arn:aws:sagemaker:${region}:${account_id}:training-job/vwt-dev-")
    assert sorted(sids["SagemakerUpdateEndpoint"]["Resource"]) == [  # the endpoint and the configurations it serves
        "arn:aws:sagemaker:${region}:${account_id}:endpoint-config/vwt-dev-gb-marketi-3250-*",
        "arn:aws:sagemaker:${region}:${account_id}:endpoint-config/vwt-dev-gb-marketing-baseline",
        "arn:aws:sagemaker:${region}:${account_id}:endpoint/vwt-dev-gb-marketing",
    ]
    assert sids["AwsSdkSsmPutParameter"]["Resource"] == [
        "arn:aws:ssm:${region}:${account_id}:parameter${current_model_parameter_prefix}/gb-marketing"
    ]
    assert all(
        a.split(":")[0]
        in {
            "application-autoscaling", "cloudwatch", "dynamodb", "events", "iam", "kms", "lambda", "sagemaker", "sns",
            "ssm", "states",
        }
        for s in policy["Statement"]
        for a in s["Action"]
    )  # fmt: skip
    # one run at a time: the runs table, and this machine's own executions (whether the last run has ended)
    assert sids["DynamodbGetItem"]["Resource"] == ["arn:aws:dynamodb:${region}:${account_id}:table/vwt-dev-runs"]
    assert sids["DynamodbUpdateItem"]["Resource"] == ["arn:aws:dynamodb:${region}:${account_id}:table/vwt-dev-runs"]
    assert sids["AwsSdkSfnDescribeExecution"]["Resource"] == [
        "arn:aws:states:${region}:${account_id}:execution:vwt-dev-gb-marketing-retraining:*"
    ]
    assert sids["KmsForTheEncryptedTable"] == {
        "Sid": "KmsForTheEncryptedTable",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": ["${kms_key_arn}"],
        "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.${region}.amazonaws.com"}},
    }


def test_policy_fits_the_inline_role_policy_size_limit(rendered):
    """The derived policy is the state machine role's inline policy "pipeline"; IAM's quota is 10,240 characters
    for all of a role's inline policies together ("IAM and AWS STS quotas": role policy size, whitespace not
    counted), and the role's other inline policy (logs-and-traces) stays under 1,024."""
    text = json.dumps(derive_policy(rendered), separators=(",", ":"))
    filled = text.replace("${current_model_parameter_prefix}", "/vwt-prod/current-model")
    for var in (
        "sagemaker_role_arn",
        "kms_key_arn",
        "size_function_arn",
        "label_function_arn",
        "scoring_check_function_arn",
        "scoring_publish_function_arn",
        "drift_function_arn",
        "admin_topic_arn",
    ):
        filled = filled.replace("${" + var + "}", "arn:aws:service:eu-west-1:123456789012:" + "x" * 40)
    filled = filled.replace("${region}", "eu-west-1").replace("${account_id}", "123456789012")
    assert len(filled) < 10_240 - 1_024


def test_a_call_the_policy_does_not_allow_fails(rendered):
    policy = derive_policy(rendered)
    more = copy.deepcopy(rendered)
    more["States"]["Notify"] = {
        **TASK,
        "Resource": "arn:aws:states:::aws-sdk:ssm:getParameter",
        "Parameters": {"Name": "/other/secret"},
        "Next": "Deployed",
    }
    more["States"]["Deployed"] = {"Type": "Succeed"}
    problems = check_policy(more, policy)
    assert problems == [
        "the definition needs ssm:GetParameter on arn:aws:ssm:${region}:${account_id}:parameter/other/secret, "
        "which the policy does not allow"
    ]
    stale = copy.deepcopy(policy)
    stale["Statement"] = [s for s in stale["Statement"] if s["Sid"] != "PassSageMakerRole"]
    assert any("needs iam:PassRole on ${sagemaker_role_arn}" in p for p in check_policy(rendered, stale))


def test_a_policy_allowing_more_than_is_called_fails(rendered):
    policy = derive_policy(rendered)
    wide = copy.deepcopy(policy)
    wide["Statement"].append(
        {"Sid": "Extra", "Effect": "Allow", "Action": ["sagemaker:CreateTransformJob"], "Resource": ["*"]}
    )
    assert check_policy(rendered, wide) == [
        "the policy allows sagemaker:CreateTransformJob on *, which the definition never calls"
    ]
    loose = copy.deepcopy(policy)
    for s in loose["Statement"]:
        if s["Sid"] == "PassSageMakerRole":
            del s["Condition"]
    problems = check_policy(rendered, loose)
    assert "the policy allows iam:PassRole on ${sagemaker_role_arn} with a different condition" in problems
    assert check_policy(rendered, policy) == []


def test_validate_rendered_for_the_validate_command(project_copy):
    project = project_copy()
    env = load("local", project.root)
    assert validate_rendered(project, env) == []
    deploy = project.templates_dir / "steps" / "deploy.j2"
    deploy.write_text(deploy.read_text().replace('"Next": "StartPolling"', '"Next": "Deployed"'))
    problems = validate_rendered(project, env)
    assert "state machine of gb-marketing: state 'StartPolling' is unreachable from StartAt 'CheckInput'" in problems
