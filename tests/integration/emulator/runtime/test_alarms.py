"""CloudWatch alarms on the emulator: evaluated when their metric receives data, notifying their SNS topic."""

from __future__ import annotations

import json
import uuid

import pytest


@pytest.fixture
def watched(emulator_client):
    """An alarm on a drift metric (Maximum over a day, >= 0.25, missing data not breaching) to a topic with a queue."""
    name = f"drift-{uuid.uuid4().hex[:8]}"
    sns, sqs, cloudwatch = emulator_client("sns"), emulator_client("sqs"), emulator_client("cloudwatch")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    dims = [{"Name": "Model", "Value": name}]
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="VWT/Drift",
        MetricName="MaxFeaturePSI",
        Dimensions=dims,
        Statistic="Maximum",
        Period=86400,
        EvaluationPeriods=1,
        Threshold=0.25,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
        OKActions=[topic],
    )

    def put(value, model=name):
        cloudwatch.put_metric_data(
            Namespace="VWT/Drift",
            MetricData=[
                {"MetricName": "MaxFeaturePSI", "Dimensions": [{"Name": "Model", "Value": model}], "Value": value}
            ],
        )

    def state():
        return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]

    def messages():
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    return {"name": name, "put": put, "state": state, "messages": messages}


def test_a_breaching_datapoint_raises_the_alarm_and_tells_its_topic(watched):
    watched["put"](0.1)
    assert watched["state"]()["StateValue"] == "OK"
    watched["put"](0.4)
    alarm = watched["state"]()
    assert (
        alarm["StateValue"] == "ALARM" and "GreaterThanOrEqualToThreshold the threshold (0.25)" in alarm["StateReason"]
    )
    (notice,) = watched["messages"]()
    assert notice["AlarmName"] == watched["name"] and notice["NewStateValue"] == "ALARM"
    assert notice["Trigger"]["MetricName"] == "MaxFeaturePSI"


def test_data_of_another_dimension_or_below_the_threshold_never_alarms(watched):
    watched["put"](0.9, model="another-model")
    watched["put"](0.2)
    assert watched["state"]()["StateValue"] == "OK" and watched["messages"]() == []
