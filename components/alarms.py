"""Alarms and a dashboard (``alarms: true``, the default): nothing the stack holds waits unnoticed.

- Each dead-letter queue: ``ApproximateNumberOfMessagesVisible > 0``. A completion there is a job
  whose results nobody fetched (Rekognition keeps them 7 days); an upload event there is a video
  never processed.
- The completion queue: its oldest message older than an hour (no launcher or collector consumes).
- With autoProcess: each function's ``Errors`` and ``Throttles`` (> 0 in 5 minutes), and the intake
  queue's oldest message older than 4 hours: uploads nobody receives (the starter is not consuming).
  SQS leaves a message received three times or more out of ApproximateAgeOfOldestMessage, so an
  upload the starter keeps putting back (Rekognition's job limit saturated) shows in the intake
  dead-letter alarm instead, after intakeMaxReceiveCount tries (100: about 4 hours of jittered backoff).
- A dashboard with those metrics and the alarms' states.

Alarms go to ``alarmTopicArn`` when given, else to a topic the stack creates (with ``alarmEmail``
subscribed). That topic is encrypted with its own customer-managed key: CloudWatch cannot use the
AWS-managed alias/aws/sns, so alarms to a topic under it are silently never delivered.

Cost (us-east-1 list prices): $0.10 a month per standard alarm (2 alarms, 8 with autoProcess), the
first 3 dashboards of an account free then $3 a month, $1 a month for the alarm topic's key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from . import policies
from .documents import policy_json

PERIOD_SECONDS = 300
COMPLETION_AGE_SECONDS = 3600
INTAKE_AGE_SECONDS = 4 * 3600
SQS = "AWS/SQS"
LAMBDA = "AWS/Lambda"
VISIBLE = "ApproximateNumberOfMessagesVisible"
OLDEST = "ApproximateAgeOfOldestMessage"
KEY_DELETION_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Watched:
    """What the alarms watch: queues and functions by name (Outputs, so each alarm depends on them)."""

    dead_letter_queues: Sequence[tuple[str, pulumi.Output[str]]]  # (logical suffix, queue name)
    completion_queue: pulumi.Output[str]
    intake_queue: Optional[pulumi.Output[str]] = None
    functions: Sequence[tuple[str, pulumi.Output[str]]] = ()  # (logical suffix, function name)


@dataclass(frozen=True)
class AlarmSettings:
    topic_arn: Optional[pulumi.Input[str]]
    email: Optional[pulumi.Input[str]]
    account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    partition: pulumi.Input[str]
    tags: pulumi.Input[Any]


@dataclass(frozen=True)
class Alarm:
    """One alarm: a metric of one queue or function, compared with a threshold over one period."""

    suffix: str
    description: str
    namespace: str
    metric: str
    dimension: str
    subject: pulumi.Output[str]
    statistic: str
    threshold: float


@dataclass(frozen=True)
class AlarmOutputs:
    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    alarms: list[aws.cloudwatch.MetricAlarm]


def alarms_for(watched: Watched) -> list[Alarm]:
    """Which alarms the stack declares, in order."""
    found = [
        Alarm(
            f"{suffix}-messages",
            "A message reached this dead-letter queue: a job's completion or an upload nobody processed.",
            SQS,
            VISIBLE,
            "QueueName",
            queue,
            "Maximum",
            0,
        )
        for suffix, queue in watched.dead_letter_queues
    ]
    found.append(
        Alarm(
            "completion-age",
            "A completion waits over an hour: no launcher or collector consumes the completion queue.",
            SQS,
            OLDEST,
            "QueueName",
            watched.completion_queue,
            "Maximum",
            COMPLETION_AGE_SECONDS,
        )
    )
    if watched.intake_queue is not None:
        found.append(
            Alarm(
                "intake-age",
                "An upload has waited 4 hours without being received: is the starter consuming its queue?",
                SQS,
                OLDEST,
                "QueueName",
                watched.intake_queue,
                "Maximum",
                INTAKE_AGE_SECONDS,
            )
        )
    for suffix, function in watched.functions:
        found += [
            Alarm(f"{suffix}-errors", "The function failed.", LAMBDA, "Errors", "FunctionName", function, "Sum", 0),
            Alarm(
                f"{suffix}-throttles",
                "The function was throttled (account concurrency).",
                LAMBDA,
                "Throttles",
                "FunctionName",
                function,
                "Sum",
                0,
            ),
        ]
    return found


def add_alarms(parent: pulumi.Resource, name: str, watched: Watched, settings: AlarmSettings) -> AlarmOutputs:
    """Declare the alarm topic (unless one is given), the alarms and the dashboard under ``parent``."""
    child = pulumi.ResourceOptions(parent=parent)
    topic_arn = (
        pulumi.Output.from_input(settings.topic_arn)
        if settings.topic_arn is not None
        else _alarm_topic(name, settings, child)
    )
    alarms = [
        aws.cloudwatch.MetricAlarm(
            f"{name}-{alarm.suffix}",
            alarm_description=alarm.description,
            namespace=alarm.namespace,
            metric_name=alarm.metric,
            dimensions={alarm.dimension: alarm.subject},
            statistic=alarm.statistic,
            period=PERIOD_SECONDS,
            evaluation_periods=1,
            threshold=alarm.threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=settings.tags,
            opts=child,
        )
        for alarm in alarms_for(watched)
    ]
    body = pulumi.Output.all(
        region=settings.region,
        alarm_arns=pulumi.Output.all(*[alarm.arn for alarm in alarms]),
        dead_letter=pulumi.Output.all(*[queue for _, queue in watched.dead_letter_queues]),
        queues=pulumi.Output.all(
            *[queue for queue in (watched.completion_queue, watched.intake_queue) if queue is not None]
        ),
        functions=pulumi.Output.all(*[function for _, function in watched.functions]),
    ).apply(lambda values: dashboard_body(**values))
    dashboard = aws.cloudwatch.Dashboard(
        f"{name}-dashboard",
        dashboard_name=dashboard_name(name, pulumi.get_project(), pulumi.get_stack()),
        dashboard_body=pulumi.Output.json_dumps(body),
        opts=child,
    )
    return AlarmOutputs(topic_arn, dashboard.dashboard_name, alarms)


def _alarm_topic(name: str, settings: AlarmSettings, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
    key = aws.kms.Key(
        f"{name}-alarms",
        description="Encrypts the face-detection stack's alarm topic; CloudWatch may use it for this account's alarms.",
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        policy=policy_json(
            policies.alarm_key_policy,
            account_id=settings.account_id,
            region=settings.region,
            partition=settings.partition,
        ),
        tags=settings.tags,
        opts=child,
    )
    topic = aws.sns.Topic(
        f"{name}-alarms", name_prefix=f"{name}-alarms-", kms_master_key_id=key.arn, tags=settings.tags, opts=child
    )
    aws.sns.TopicPolicy(
        f"{name}-alarms",
        arn=topic.arn,
        policy=policy_json(
            policies.alarm_topic_policy,
            topic_arn=topic.arn,
            account_id=settings.account_id,
            region=settings.region,
            partition=settings.partition,
        ),
        opts=child,
    )
    if settings.email is not None:
        aws.sns.TopicSubscription(
            f"{name}-alarms-email", topic=topic.arn, protocol="email", endpoint=settings.email, opts=child
        )
    return topic.arn


def dashboard_name(name: str, project: str, stack: str) -> str:
    """One dashboard per stack and component in an account: CloudWatch allows A-Z a-z 0-9 - _."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{project}-{stack}-{name}")[:255]


def _metric_widget(title: str, region: str, stat: str, metrics: list[list[str]], y: int, x: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": PERIOD_SECONDS,
            "view": "timeSeries",
            "metrics": metrics,
        },
    }


def dashboard_body(
    region: str, alarm_arns: list[str], dead_letter: list[str], queues: list[str], functions: list[str]
) -> dict[str, Any]:
    """The dashboard: the alarms' states, the dead-letter queues' messages, the queues' oldest
    message, and (with autoProcess) the functions' errors and throttles."""
    widgets: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 3,
            "properties": {"title": "Alarms", "alarms": alarm_arns},
        },
        _metric_widget(
            "Dead-letter queues: messages",
            region,
            "Maximum",
            [[SQS, VISIBLE, "QueueName", q] for q in dead_letter],
            3,
            0,
        ),
        _metric_widget(
            "Queues: oldest message (seconds)",
            region,
            "Maximum",
            [[SQS, OLDEST, "QueueName", q] for q in queues],
            3,
            12,
        ),
    ]
    if functions:
        widgets.append(
            _metric_widget(
                "Functions: errors and throttles",
                region,
                "Sum",
                [[LAMBDA, metric, "FunctionName", f] for f in functions for metric in ("Errors", "Throttles")],
                9,
                0,
            )
        )
    return {"widgets": widgets}
