"""The in-process deployer's physical names, as Pulumi's AWS provider makes them."""

import re

import pytest

from localaws.deploy.errors import NameTooLong
from localaws.deploy.handlers import handler_for
from localaws.deploy.handlers.base import physical_name


def test_an_auto_name_is_the_logical_name_a_dash_and_7_random_hex_characters():
    assert re.fullmatch(r"faces-rekognition-[0-9a-f]{7}", physical_name("faces-rekognition", 64))
    assert len(physical_name("r" * 56, 64)) == 64  # the longest that fits


def test_an_auto_name_longer_than_the_service_allows_is_refused_as_pulumi_refuses_it():
    """It was cut short, so a program whose names AWS refuses deployed locally."""
    with pytest.raises(
        NameTooLong, match=r"^'r{57}' plus a dash and 7 random characters is longer than 64, the longest"
    ):
        physical_name("r" * 57, 64)


# The longest auto-name Pulumi's AWS provider makes for each type (its provider/resources.go: the
# AutoName options of aws_s3_bucket, aws_iam_role, aws_lambda_function, aws_sqs_queue, aws_sns_topic and
# aws_cloudwatch_metric_alarm; setAutonaming's default 255 for any other resource with a name, such as
# aws_cloudwatch_log_group). IAM policies are refused beyond IAM's 128 (the provider's 255 would fail there).
AUTO_NAME_LIMITS = {
    "aws:s3/bucket:Bucket": 63,
    "aws:iam/role:Role": 64,
    "aws:lambda/function:Function": 64,
    "aws:sqs/queue:Queue": 80,
    "aws:sns/topic:Topic": 80,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 255,
    "aws:cloudwatch/logGroup:LogGroup": 255,
    "aws:iam/policy:Policy": 128,
    "aws:iam/rolePolicy:RolePolicy": 128,
}


@pytest.mark.parametrize("type_token, limit", AUTO_NAME_LIMITS.items())
def test_each_handler_refuses_a_logical_name_one_character_too_long_for_the_providers_auto_name(type_token, limit):
    """SNS topics (256) and log groups (512) took the service's limit, longer than the provider's: a
    program Pulumi refuses deployed locally. Refused before any call (no endpoint is needed)."""
    with pytest.raises(NameTooLong, match=f"longer than {limit}, the longest"):
        handler_for(type_token).create(None, "n" * (limit - 7), {})  # type: ignore[arg-type]
