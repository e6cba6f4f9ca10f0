"""Alarms and the dashboard (issue 21.3): names, metrics, thresholds, actions wired to the topic, the
topic and its key as a reviewer reads them, and nothing of it with alarms: false."""

import json

import pytest

from components import ConfigError, FaceDetectionPipeline, policies
from components.alarms import COMPLETION_AGE_SECONDS, INTAKE_AGE_SECONDS, PERIOD_SECONDS
from localaws.iam_policy import Decision, Request, evaluate
from tests.support.pulumi_mocks import ACCOUNT_ID, ALARM_OUTPUTS, REGION, run_body

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ALARM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:faces-alarms-0a1b2c3"
TEAM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:team-alerts"


def alarms(declared) -> dict[str, dict]:
    return {r.name: r.inputs for r in declared.of_type(ALARM)}


def queue_name(declared, suffix: str) -> str:
    return declared.states[("aws:sqs/queue:Queue", f"faces-{suffix}")]["name"]


def test_on_by_default_with_a_dead_letter_alarm_and_a_completion_age_alarm(run_component):
    declared = run_component()
    found = alarms(declared)
    assert set(found) == {"faces-dead-letter-messages", "faces-completion-age"}
    dead_letter = found["faces-dead-letter-messages"]
    assert dead_letter["namespace"] == "AWS/SQS"
    assert dead_letter["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert dead_letter["dimensions"] == {"QueueName": queue_name(declared, "dead-letter")}
    assert (dead_letter["statistic"], dead_letter["comparisonOperator"], dead_letter["threshold"]) == (
        "Maximum",
        "GreaterThanThreshold",
        0,
    )
    age = found["faces-completion-age"]
    assert age["metricName"] == "ApproximateAgeOfOldestMessage"
    assert age["dimensions"] == {"QueueName": queue_name(declared, "completion")}
    assert age["threshold"] == COMPLETION_AGE_SECONDS == 3600
    for alarm in found.values():
        assert alarm["period"] == PERIOD_SECONDS and alarm["evaluationPeriods"] == 1
        assert alarm["treatMissingData"] == "notBreaching"
        assert alarm["alarmActions"] == alarm["okActions"] == [ALARM_TOPIC], "wired to the alarm topic"
        assert alarm["alarmDescription"]


def test_auto_process_adds_the_intake_and_the_functions(run_component):
    declared = run_component("faces", {"auto_process": True})
    found = alarms(declared)
    assert set(found) == {
        "faces-dead-letter-messages",
        "faces-intake-dead-letter-messages",
        "faces-completion-age",
        "faces-intake-age",
        "faces-starter-errors",
        "faces-starter-throttles",
        "faces-collector-errors",
        "faces-collector-throttles",
    }
    assert found["faces-intake-dead-letter-messages"]["dimensions"] == {
        "QueueName": queue_name(declared, "intake-dead-letter")
    }
    assert found["faces-intake-age"]["dimensions"] == {"QueueName": queue_name(declared, "intake")}
    assert found["faces-intake-age"]["threshold"] == INTAKE_AGE_SECONDS
    for fn in ("starter", "collector"):
        function = declared.states[("aws:lambda/function:Function", f"faces-{fn}")]["name"]
        for metric in ("Errors", "Throttles"):
            alarm = found[f"faces-{fn}-{metric.lower()}"]
            assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Lambda", metric, "Sum")
            assert alarm["dimensions"] == {"FunctionName": function}
            assert alarm["threshold"] == 0 and alarm["alarmActions"] == [ALARM_TOPIC]


def test_the_dashboard_shows_every_alarm_and_metric(run_component):
    declared = run_component("faces", {"auto_process": True})
    (dashboard,) = declared.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "rekognition-faces-test-faces"
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    (states,) = [w for w in widgets if w["type"] == "alarm"]
    arns = {declared.states[(ALARM, name)]["arn"] for name in alarms(declared)}
    assert set(states["properties"]["alarms"]) == arns and len(arns) == 8
    shown = {tuple(m) for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]}
    wanted = {
        (a["namespace"], a["metricName"], *next(iter(a["dimensions"].items()))) for a in alarms(declared).values()
    }
    assert wanted <= shown
    assert all(w["properties"]["region"] == REGION for w in widgets if w["type"] == "metric")


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(run_component):
    declared = run_component()
    topic = declared.one(TOPIC, "-alarms")
    key = declared.states[(KEY, "faces-alarms")]
    assert topic["kmsMasterKeyId"] == key["arn"], "not alias/aws/sns: CloudWatch cannot use the AWS-managed key"
    key_policy = json.loads(declared.one(KEY, "-alarms")["policy"])
    alarm_arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:faces-dead-letter-messages"
    cloudwatch = ("Service", "cloudwatch.amazonaws.com")

    def may(document, action, resource, principal, **context):
        return evaluate([document], Request(action, resource, principal, context)) is Decision.ALLOW

    context = {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": alarm_arn}
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert may(key_policy, action, key["arn"], cloudwatch, **context)
        assert not may(key_policy, action, key["arn"], cloudwatch, **{**context, "aws:SourceAccount": "999999999999"})
    assert not may(key_policy, "kms:Decrypt", key["arn"], ("Service", "sns.amazonaws.com"), **context)
    topic_policy = declared.policy("aws:sns/topicPolicy:TopicPolicy", "-alarms")
    assert may(topic_policy, "sns:Publish", ALARM_TOPIC, cloudwatch, **context, **{"aws:SecureTransport": "true"})
    assert not may(topic_policy, "sns:Publish", ALARM_TOPIC, ("Service", "events.amazonaws.com"), **context)
    plain = {**context, "aws:SecureTransport": "false"}
    assert evaluate([topic_policy], Request("sns:Publish", ALARM_TOPIC, cloudwatch, plain)) is Decision.EXPLICIT_DENY
    assert not declared.of_type(SUBSCRIPTION)[1:], "no email subscription unless asked"


def test_alarm_email_is_subscribed_to_the_created_topic(run_component):
    declared = run_component("faces", {"alarm_email": "oncall@example.com"})
    email = declared.one(SUBSCRIPTION, "-alarms-email")
    assert email == {"topic": ALARM_TOPIC, "protocol": "email", "endpoint": "oncall@example.com"}


def test_an_existing_topic_gets_the_alarms_and_nothing_is_created_for_it(run_component):
    declared = run_component("faces", {"alarm_topic_arn": TEAM_TOPIC})
    assert [r.name for r in declared.of_type(TOPIC)] == ["faces-completion"]
    assert not declared.of_type(KEY)
    assert all(a["alarmActions"] == [TEAM_TOPIC] for a in alarms(declared).values())


def test_alarms_false_declares_none_of_it(run_component, run_program):
    declared = run_component("faces", {"alarms": False})
    assert not {ALARM, DASHBOARD, KEY} & {r.typ for r in declared.resources}
    assert [r.name for r in declared.of_type(TOPIC)] == ["faces-completion"]
    outputs = run_program({"aws:region": REGION, "alarms": "false"}).outputs
    assert not ALARM_OUTPUTS & set(outputs)
    outputs = run_program({"aws:region": REGION}).outputs
    assert outputs["alarmTopicArn"] == ALARM_TOPIC
    assert outputs["dashboardName"] == "rekognition-faces-test-faces"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"alarm_topic_arn": TEAM_TOPIC, "alarm_email": "a@example.com"}, "alarmTopicArn .* or alarmEmail .* not both"),
        ({"alarms": False, "alarm_email": "a@example.com"}, "need alarms: true"),
        ({"alarm_topic_arn": "team-alerts"}, "alarmTopicArn must be an SNS topic ARN"),
        ({"alarm_email": "oncall"}, "alarmEmail must be an email address"),
        ({"alarms": "yes"}, "alarms must be true or false"),
    ],
)
def test_bad_alarm_settings_are_refused_before_anything_is_declared(settings, message):
    with pytest.raises(ConfigError, match=message):
        FaceDetectionPipeline("faces", settings)


def test_the_key_and_topic_policies_are_pure_documents():
    key = policies.alarm_key_policy(ACCOUNT_ID, REGION)
    assert [s["Sid"] for s in key["Statement"]] == ["AccountAdministersKey", "CloudWatchEncryptsAlarms"]
    assert key["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    declared = run_body(lambda: FaceDetectionPipeline("faces", {}), {"aws:region": REGION})
    assert json.loads(declared.one(KEY)["policy"]) == key
