"""The offline deployer: this project's Pulumi program applied to the local endpoint, then audited
with boto3 as an auditor would."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from components import ConfigError
from localaws.deploy import engine
from localaws.deploy.errors import ResourceNotEmpty, UnsupportedResource
from localaws.deploy.handlers import Context, handler_for
from localaws.deploy.program import project_name
from tests.support.aws import ACCOUNT_ID, REGION, receive_all, unique, upload, wait_for_job
from tests.support.pulumi_mocks import ALARM_OUTPUTS, STACK_OUTPUTS  # the outputs' names: one contract for every suite

ROOT = Path(__file__).resolve().parents[2]
PROJECT = project_name(ROOT)


def config(**settings: str) -> dict[str, str]:
    return {"aws:region": REGION, **{f"{PROJECT}:{k}": v for k, v in settings.items()}}


@pytest.fixture(scope="module")
def ctx(endpoint) -> Context:
    return Context(endpoint.clients_in(REGION), REGION, ACCOUNT_ID)


def inventory(aws) -> dict[str, set[str]]:
    """Everything of the kinds the stack makes, to compare before and after."""
    iam = aws("iam")
    sns = aws("sns")
    return {
        "buckets": {b["Name"] for b in aws("s3").list_buckets()["Buckets"]},
        "topics": {t["TopicArn"] for t in sns.list_topics()["Topics"]},
        "subscriptions": {s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]},
        "queues": set(aws("sqs").list_queues().get("QueueUrls", [])),
        "roles": {r["RoleName"] for r in iam.list_roles()["Roles"]},
        "policies": {p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]},
        "alarms": {a["AlarmName"] for a in aws("cloudwatch").describe_alarms()["MetricAlarms"]},
        "dashboards": {d["DashboardName"] for d in aws("cloudwatch").list_dashboards()["DashboardEntries"]},
        "keys": {  # a deleted key is only scheduled for deletion, as in AWS
            k["KeyId"]
            for k in aws("kms").list_keys()["Keys"]
            if aws("kms").describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
        },
    }


@pytest.fixture(scope="module")
def deployed(ctx, aws, tmp_path_factory) -> dict[str, Any]:
    state = tmp_path_factory.mktemp("deploy") / "state.json"
    settings = config(namePrefix=unique("audit"))
    outputs, changes = engine.deploy(ctx, ROOT, "audit", state, settings)
    return {"outputs": outputs, "changes": changes, "state": state, "config": settings}


def test_every_output_is_exported(deployed):
    outputs = deployed["outputs"]
    assert set(outputs) == STACK_OUTPUTS | ALARM_OUTPUTS
    assert outputs["region"] == REGION
    assert outputs["topicName"].startswith("AmazonRekognition-audit-")
    assert {c.action for c in deployed["changes"]} == {"created"}
    assert len(deployed["changes"]) == 23  # 17, and the alarm key, topic, topic policy, 2 alarms, dashboard


def test_alarms_and_dashboard_as_an_operator_sees_them(deployed, aws):
    """Issue 21.3: the local stack is the real stack, alarms included."""
    outputs = deployed["outputs"]
    cloudwatch = aws("cloudwatch")
    dead_letter_queue = outputs["deadLetterQueueUrl"].rsplit("/", 1)[1]
    completion_queue = outputs["queueUrl"].rsplit("/", 1)[1]
    alarms = [
        a
        for a in cloudwatch.describe_alarms()["MetricAlarms"]
        if {"Name": "QueueName", "Value": dead_letter_queue} in a["Dimensions"]
        or {"Name": "QueueName", "Value": completion_queue} in a["Dimensions"]
    ]
    by_metric = {a["MetricName"]: a for a in alarms}
    assert set(by_metric) == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    dead_letter = by_metric["ApproximateNumberOfMessagesVisible"]
    assert dead_letter["Dimensions"] == [{"Name": "QueueName", "Value": dead_letter_queue}]
    assert (dead_letter["Namespace"], dead_letter["Statistic"], dead_letter["Threshold"]) == ("AWS/SQS", "Maximum", 0)
    assert dead_letter["ComparisonOperator"] == "GreaterThanThreshold"
    assert by_metric["ApproximateAgeOfOldestMessage"]["Threshold"] == 3600
    for alarm in alarms:
        assert alarm["AlarmActions"] == alarm["OKActions"] == [outputs["alarmTopicArn"]]
    body = json.loads(cloudwatch.get_dashboard(DashboardName=outputs["dashboardName"])["DashboardBody"])
    (states,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert {a["AlarmArn"] for a in alarms} == set(states["properties"]["alarms"])
    topic = aws("sns").get_topic_attributes(TopicArn=outputs["alarmTopicArn"])["Attributes"]
    key = aws("kms").describe_key(KeyId=topic["KmsMasterKeyId"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled"
    key_policy = json.loads(aws("kms").get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert {"Service": "cloudwatch.amazonaws.com"} in [s["Principal"] for s in key_policy["Statement"]]


def test_bucket_as_an_auditor_sees_it(deployed, aws):
    s3, bucket = aws("s3"), deployed["outputs"]["bucketName"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rules["expire-noncurrent-versions"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    (deny,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_topic_role_and_policies_as_an_auditor_sees_them(deployed, aws):
    outputs = deployed["outputs"]
    attributes = aws("sns").get_topic_attributes(TopicArn=outputs["topicArn"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"
    statements = json.loads(attributes["Policy"])["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"AWS": outputs["roleArn"]}]
    iam = aws("iam")
    role_name = outputs["roleArn"].rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "rekognition.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rekognition:{REGION}:{ACCOUNT_ID}:*"},
    }
    (inline,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    (publish,) = iam.get_role_policy(RoleName=role_name, PolicyName=inline)["PolicyDocument"]["Statement"]
    assert publish["Action"] == "sns:Publish" and publish["Resource"] == outputs["topicArn"]
    launcher = iam.get_policy(PolicyArn=outputs["launcherPolicyArn"])["Policy"]
    document = iam.get_policy_version(PolicyArn=outputs["launcherPolicyArn"], VersionId=launcher["DefaultVersionId"])[
        "PolicyVersion"
    ]["Document"]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["PassServiceRoleToRekognition"]["Resource"] == outputs["roleArn"]


def test_queues_and_subscription_as_an_auditor_sees_them(deployed, aws):
    outputs = deployed["outputs"]
    sqs = aws("sqs")
    queue = sqs.get_queue_attributes(QueueUrl=outputs["queueUrl"], AttributeNames=["All"])["Attributes"]
    dead_letter = sqs.get_queue_attributes(QueueUrl=outputs["deadLetterQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert queue["QueueArn"] == outputs["queueArn"] and dead_letter["QueueArn"] == outputs["deadLetterQueueArn"]
    for attributes in (queue, dead_letter):
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert int(attributes["MessageRetentionPeriod"]) == 14 * 24 * 3600
        assert any(s["Effect"] == "Deny" for s in json.loads(attributes["Policy"])["Statement"])
    assert queue["ReceiveMessageWaitTimeSeconds"] == "20"
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": outputs["deadLetterQueueArn"],
        "maxReceiveCount": 5,
    }
    (allow,) = [s for s in json.loads(queue["Policy"])["Statement"] if s["Effect"] == "Allow"]
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": outputs["topicArn"]}}
    (subscription,) = aws("sns").list_subscriptions_by_topic(TopicArn=outputs["topicArn"])["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("sqs", outputs["queueArn"])
    raw = aws("sns").get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert raw["RawMessageDelivery"] == "false"


def test_a_message_published_to_the_topic_arrives_on_the_queue(deployed, aws):
    outputs = deployed["outputs"]
    aws("sns").publish(TopicArn=outputs["topicArn"], Message="ping")
    (message,) = receive_all(aws, outputs["queueUrl"])
    assert json.loads(message["Body"])["Message"] == "ping"


def test_rekognition_accepts_the_deployed_channel_and_reports_on_the_queue(deployed, aws, videos):
    outputs = deployed["outputs"]
    s3_object = upload(aws, outputs["bucketName"], videos["no-face"].path)
    job_id = aws("rekognition").start_face_detection(
        Video={"S3Object": s3_object},
        NotificationChannel={"SNSTopicArn": outputs["topicArn"], "RoleArn": outputs["roleArn"]},
    )["JobId"]
    wait_for_job(aws, job_id)
    (message,) = receive_all(aws, outputs["queueUrl"])
    assert json.loads(json.loads(message["Body"])["Message"])["JobId"] == job_id
    aws("s3").delete_objects(
        Bucket=outputs["bucketName"],
        Delete={"Objects": [{"Key": s3_object["Name"], "VersionId": s3_object["Version"]}]},
    )


def test_deploying_again_changes_nothing(deployed, ctx, aws):
    before = inventory(aws)
    outputs, changes = engine.deploy(ctx, ROOT, "audit", deployed["state"], deployed["config"])
    assert outputs == deployed["outputs"]
    assert {c.action for c in changes} == {"unchanged"}
    assert inventory(aws) == before


@pytest.fixture
def scratch_stack(ctx, aws, tmp_path):
    """A stack of its own, destroyed at the end; yields (state path, name prefix, inventory before)."""
    before = inventory(aws)
    state = tmp_path / "state.json"
    yield state, unique("scratch"), before
    engine.destroy(ctx, state)


def test_config_changes_update_in_place_or_replace(ctx, aws, scratch_stack):
    state, prefix, _ = scratch_stack
    first, _ = engine.deploy(ctx, ROOT, "scratch", state, config(namePrefix=prefix))
    updated, changes = engine.deploy(
        ctx, ROOT, "scratch", state, config(namePrefix=prefix, maxReceiveCount="2", rawMessageDelivery="true")
    )
    actions = {(c.type.split(":")[-1], c.action) for c in changes if c.action != "unchanged"}
    assert ("Queue", "updated") in actions and ("TopicSubscription", "updated") in actions
    assert updated["queueUrl"] == first["queueUrl"], "updated in place, not replaced"
    redrive = aws("sqs").get_queue_attributes(QueueUrl=updated["queueUrl"], AttributeNames=["RedrivePolicy"])
    assert json.loads(redrive["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 2
    policy = aws("sqs").get_queue_attributes(QueueUrl=updated["queueUrl"], AttributeNames=["Policy"])["Attributes"]
    assert "Policy" in policy, "the queue keeps its policy"
    (subscription,) = aws("sns").list_subscriptions_by_topic(TopicArn=updated["topicArn"])["Subscriptions"]
    raw = aws("sns").get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert raw["RawMessageDelivery"] == "true"
    tagged, changes = engine.deploy(ctx, ROOT, "scratch", state, config(namePrefix=prefix, tags='{"team": "vision"}'))
    assert tagged == updated | {}, "tags change in place"
    assert {c.type.split(":")[-1] for c in changes if c.action == "updated"} >= {
        "Bucket",
        "Topic",
        "Queue",
        "Role",
        "Policy",
    }
    assert aws("sns").list_tags_for_resource(ResourceArn=tagged["topicArn"])["Tags"] == [
        {"Key": "team", "Value": "vision"}
    ]
    untagged, _ = engine.deploy(ctx, ROOT, "scratch", state, config(namePrefix=prefix, tags='{"env": "dev"}'))
    assert aws("sns").list_tags_for_resource(ResourceArn=untagged["topicArn"])["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    assert aws("sqs").list_queue_tags(QueueUrl=untagged["queueUrl"])["Tags"] == {"env": "dev"}
    role_name = untagged["roleArn"].rsplit("/", 1)[1]
    assert aws("iam").list_role_tags(RoleName=role_name)["Tags"] == [{"Key": "env", "Value": "dev"}]
    # A new name prefix renames every resource: the new ones are made, then the old ones deleted.
    renamed, changes = engine.deploy(ctx, ROOT, "scratch", state, config(namePrefix=prefix + "x"))
    assert sum(c.action == "created" for c in changes) == 23 and sum(c.action == "deleted" for c in changes) == 23
    topics = {t["TopicArn"] for t in aws("sns").list_topics()["Topics"]}
    assert first["topicArn"] not in topics and renamed["topicArn"] in topics
    assert first["bucketName"] not in inventory(aws)["buckets"]


def test_bad_config_is_a_clear_error_and_makes_nothing(ctx, aws, tmp_path):
    before = inventory(aws)
    state = tmp_path / "state.json"
    with pytest.raises(ConfigError, match="maxReceiveCount"):
        engine.deploy(ctx, ROOT, "bad", state, config(maxReceiveCount="0"))
    with pytest.raises(ConfigError, match="topicKmsKeyArn"):
        engine.deploy(ctx, ROOT, "bad", state, config(topicKmsKeyArn="my-key"))
    assert inventory(aws) == before
    assert not state.exists()


def test_destroy_leaves_the_endpoint_as_it_was(ctx, aws, tmp_path):
    before = inventory(aws)
    state = tmp_path / "state.json"
    engine.deploy(ctx, ROOT, "gone", state, config(namePrefix=unique("gone")))
    assert inventory(aws) != before
    changes = engine.destroy(ctx, state)
    assert len(changes) == 23 and {c.action for c in changes} == {"deleted"}
    assert inventory(aws) == before
    assert not state.exists()


def test_a_bucket_holding_videos_is_not_destroyed_without_force_destroy(ctx, aws, tmp_path, videos):
    state = tmp_path / "state.json"
    prefix = unique("kept")
    outputs, _ = engine.deploy(ctx, ROOT, "kept", state, config(namePrefix=prefix))
    upload(aws, outputs["bucketName"], videos["no-face"].path)
    made, recorded = inventory(aws), json.loads(state.read_text())["resources"]
    with pytest.raises(
        ResourceNotEmpty, match=r"nothing was deleted: bucket .* holds 1 object version.*destroy --force"
    ):
        engine.destroy(ctx, state)
    assert inventory(aws) == made, "refused before deleting anything"
    assert json.loads(state.read_text())["resources"] == recorded, "every resource still recorded"
    engine.deploy(ctx, ROOT, "kept", state, config(namePrefix=prefix, forceDestroy="true"))
    engine.destroy(ctx, state)
    assert outputs["bucketName"] not in inventory(aws)["buckets"]


def test_an_unsupported_type_in_a_program_is_named_and_what_was_made_can_be_destroyed(ctx, aws, tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: unsupported\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi_aws as aws\n"
        f"aws.sns.Topic('topic', name='{unique('made-first')}')\n"
        "aws.sqs.RedriveAllowPolicy('allow', queue_url='https://queue', redrive_allow_policy='{}')\n"
    )
    before = inventory(aws)
    state = tmp_path / "state.json"
    with pytest.raises(UnsupportedResource, match="aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"):
        engine.deploy(ctx, tmp_path, "t", state, {"aws:region": REGION})
    engine.destroy(ctx, state)  # whatever was made before the failure is recorded, so it goes
    assert inventory(aws) == before


def test_unsupported_types_are_named():
    with pytest.raises(UnsupportedResource, match="aws:ec2/instance:Instance"):
        handler_for("aws:ec2/instance:Instance")
    with pytest.raises(UnsupportedResource, match="fifoQueue"):
        handler_for("aws:sqs/queue:Queue").check_inputs({"fifoQueue": True})


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "local.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


NO_PULUMI_CLI = pytest.mark.skipif(
    shutil.which("pulumi") is None,
    reason="the Pulumi CLI is not installed (it cannot be installed offline); the in-process path is tested",
)


@pytest.mark.parametrize(
    "engine", ["in-process", pytest.param("cli", marks=[pytest.mark.needs_pulumi_cli, NO_PULUMI_CLI])]
)
def test_the_command_line_deploys_writes_outputs_and_destroys(endpoint, aws, tmp_path, engine):
    before = inventory(aws)
    stack = f"cli-test-{engine}"
    outputs_file = tmp_path / "outputs.json"
    common = [
        "--endpoint",
        endpoint.url,
        "--data-dir",
        str(tmp_path),
        "--stack",
        stack,
        "--outputs-file",
        str(outputs_file),
        "--engine",
        engine,
    ]
    try:
        deployed = run_script("deploy", *common)
        assert deployed.returncode == 0, deployed.stderr
        outputs = json.loads(outputs_file.read_text())
        assert set(outputs) == STACK_OUTPUTS | ALARM_OUTPUTS
        assert outputs_file.read_text() == json.dumps(outputs, indent=2) + "\n"  # as `pulumi stack output --json`
        assert aws("sns").get_topic_attributes(TopicArn=outputs["topicArn"])
        destroyed = run_script("destroy", *common)
        assert destroyed.returncode == 0, destroyed.stderr
        assert inventory(aws) == before and not outputs_file.exists()
    finally:  # the CLI keeps a stack's config beside Pulumi.yaml
        (ROOT / f"Pulumi.{stack}.yaml").unlink(missing_ok=True)


def test_a_damaged_state_file_is_a_clear_error(endpoint, tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "local.json").write_text("{half a file")
    result = run_script("deploy", "--endpoint", endpoint.url, "--data-dir", str(tmp_path), "--engine", "in-process")
    assert result.returncode == 1
    assert "is unreadable" in result.stderr and "delete the file and deploy again" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_line_says_when_no_endpoint_answers(tmp_path):
    result = run_script(
        "deploy", "--endpoint", "http://127.0.0.1:9", "--data-dir", str(tmp_path), "--engine", "in-process"
    )
    assert result.returncode == 1
    assert "no local endpoint answers at http://127.0.0.1:9" in result.stderr
    assert "scripts/local.py serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_replacement_makes_the_new_resource_before_deleting_the_old(ctx, aws, tmp_path):
    """A tiny program of its own, whose topic name comes from config: renaming it forces a replace."""
    (tmp_path / "Pulumi.yaml").write_text("name: replace-test\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "topic = aws.sns.Topic('topic', name=pulumi.Config().require('topicName'))\n"
        "pulumi.export('topicArn', topic.arn)\n"
    )
    state = tmp_path / "state.json"
    first_name, second_name = unique("first"), unique("second")
    first, _ = engine.deploy(ctx, tmp_path, "t", state, {"aws:region": REGION, "replace-test:topicName": first_name})
    second, changes = engine.deploy(
        ctx, tmp_path, "t", state, {"aws:region": REGION, "replace-test:topicName": second_name}
    )
    assert [(c.action, c.name) for c in changes] == [("replaced", "topic"), ("deleted", "topic")]
    topics = {t["TopicArn"] for t in aws("sns").list_topics()["Topics"]}
    assert second["topicArn"].endswith(second_name) and second["topicArn"] in topics
    assert first["topicArn"] not in topics
    engine.destroy(ctx, state)
    assert second["topicArn"] not in {t["TopicArn"] for t in aws("sns").list_topics()["Topics"]}


# scripts/local.py with a real SIGINT sent to itself right after its first file removal.
SIGINT_AFTER_FIRST_REMOVAL = """
import os, pathlib, runpy, signal, sys, time
unlink = pathlib.Path.unlink
def unlink_then_ctrl_c(self, *args, **kwargs):
    unlink(self, *args, **kwargs)
    pathlib.Path.unlink = unlink
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # the KeyboardInterrupt comes first
pathlib.Path.unlink = unlink_then_ctrl_c
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_ctrl_c_between_the_last_two_removals_of_a_destroy_leaves_the_state_to_finish_it(endpoint, aws, tmp_path):
    """Done, a destroy removes the outputs file and the state file. Ctrl-C between the two left the
    outputs (naming what is gone) and no state: the next destroy said "nothing to destroy", the
    outputs kept. The state goes last, so the next destroy finishes."""
    before = inventory(aws)
    common = ["--endpoint", endpoint.url, "--data-dir", str(tmp_path), "--engine", "in-process", "--stack", "cut"]
    assert run_script("deploy", *common).returncode == 0
    state, outputs = tmp_path / "deploy" / "cut.json", tmp_path / "outputs-cut.json"
    script = str(ROOT / "scripts" / "local.py")
    cut = subprocess.run(
        [sys.executable, "-c", SIGINT_AFTER_FIRST_REMOVAL, script, "destroy", *common],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (cut.returncode, cut.stderr) == (
        130,
        "\ninterrupted: what is left is recorded in the deploy state: run destroy again to finish\n",
    )
    assert inventory(aws) == before  # every resource was deleted
    assert state.exists() and not outputs.exists()
    again = run_script("destroy", *common)
    assert (again.returncode, again.stdout) == (0, "0 resource(s) deleted (in-process deployer)\n")
    assert not state.exists() and [path.name for path in tmp_path.rglob("*.json")] == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_a_deploy_stops_it_in_one_line_and_records_what_it_made(endpoint, aws, tmp_path, signum):
    """Raised inside Pulumi's event loop, the KeyboardInterrupt was lost: asyncio printed "Leaving task
    ... does not match the current task None" with its traceback, and the deploy went on to make every
    resource. Now the resource being made is finished and recorded, and nothing more is made."""
    before = inventory(aws)
    common = ["--endpoint", endpoint.url, "--data-dir", str(tmp_path), "--engine", "in-process", "--stack", "stopped"]
    state = tmp_path / "deploy" / "stopped.json"

    def recorded() -> int:
        try:
            return len(json.loads(state.read_text())["resources"])
        except (FileNotFoundError, ValueError):  # not yet written
            return 0

    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "local.py"), "deploy", *common],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while recorded() < 3 and process.poll() is None:
            time.sleep(0.002)
        process.send_signal(signum)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode, err) == (
        130,
        "\ninterrupted: what was made is recorded in the deploy state: run deploy again to finish, or destroy\n",
    )
    assert 3 <= recorded() <= 4, out  # the one being made when the signal came, and no more
    assert not (tmp_path / "outputs-stopped.json").exists()
    assert run_script("destroy", *common).returncode == 0
    assert inventory(aws) == before


SCRIPT = str(ROOT / "scripts" / "local.py")
SCRIPT_DEPLOY = (sys.executable, SCRIPT, "deploy", "--endpoint")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_second_ctrl_c_stops_a_deploy_at_once_while_the_endpoint_does_not_answer(tmp_path, signum):
    """The first Ctrl-C waits for the resource being made; an endpoint that does not answer (suspended
    with Ctrl-Z, stopped in a debugger) made that wait last the client's timeouts and retries, about 3
    minutes, and every further Ctrl-C was ignored. The second one stops at once, naming the resource
    that may exist unrecorded. A real endpoint process, suspended with SIGSTOP."""
    server = subprocess.Popen(
        [sys.executable, SCRIPT, "serve", "--port", "0", "--ephemeral", "--data-dir", str(tmp_path / "endpoint")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deploy = None
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" at ")[1].split()[0]
        state = tmp_path / "deploy" / "hung.json"
        deploy = subprocess.Popen(
            [*SCRIPT_DEPLOY, url, "--data-dir", str(tmp_path), "--engine", "in-process", "--stack", "hung"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while not state.exists() and deploy.poll() is None:
            time.sleep(0.002)
        server.send_signal(signal.SIGSTOP)
        time.sleep(1)  # the next resource's call is sent, and waits
        deploy.send_signal(signum)
        with pytest.raises(subprocess.TimeoutExpired):  # the first waits for the resource being made
            deploy.wait(timeout=1)
        deploy.send_signal(signum)
        out, err = deploy.communicate(timeout=20)
        assert (deploy.returncode, out) == (130, ""), err
        assert re.fullmatch(
            r"\ninterrupted again: stopped at once while making (\S+) (\S+), which may exist in the endpoint "
            r"without a record in the deploy state: run deploy again, then delete it by hand if it is left over\n",
            err,
        ), err
        assert not list(tmp_path.rglob("*.partial"))
    finally:
        server.send_signal(signal.SIGCONT)
        for process in (deploy, server):
            if process is not None:
                process.kill()
                process.wait()
