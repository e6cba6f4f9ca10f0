"""autoProcess: the policies as pure functions, and every new resource under Pulumi's mocks."""

import json
import logging
import warnings

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from components import ConfigError, FaceDetectionPipeline, FaceDetectionPipelineArgs, policies
from components.auto_processing import (
    COLLECTOR_TIMEOUT_SECONDS,
    REDACTOR_EPHEMERAL_STORAGE_MB,
    REDACTOR_EVENT_AGE_SECONDS,
    REDACTOR_MEMORY_MB,
    REDACTOR_RETRY_ATTEMPTS,
    REDACTOR_TIMEOUT_SECONDS,
    RUNTIME,
    STARTER_TIMEOUT_SECONDS,
)
from launcher.functions.redactor import RedactionKeys
from rekognition_limits import suffix_variants
from tests.support.pulumi_mocks import ACCOUNT_ID, AUTO_PROCESS_OUTPUTS, REGION, RecordingMocks, run_body

BUCKET = "arn:aws:s3:::videos"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:intake"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rekognition"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/starter"
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
AUTO_TYPES = {
    "aws:lambda/function:Function",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:s3/bucketNotification:BucketNotification",
}


def statements(document):
    return {s["Sid"]: s for s in document["Statement"]}


def test_lambda_trust_admits_only_lambda():
    (statement,) = policies.lambda_trust_policy()["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"


def test_intake_queue_admits_only_this_bucket_of_this_account_over_tls():
    found = statements(policies.intake_queue_policy(QUEUE, BUCKET, ACCOUNT_ID))
    delivers = found["BucketDelivers"]
    assert delivers["Principal"] == {"Service": "s3.amazonaws.com"} and delivers["Action"] == "sqs:SendMessage"
    assert delivers["Condition"] == {
        "ArnEquals": {"aws:SourceArn": BUCKET},
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
    }
    assert found["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_starter_policy_is_least_privilege():
    found = statements(policies.starter_policy(QUEUE, BUCKET, "videos/", "results/", ROLE, LOGS, REGION))
    assert found["StartFaceDetection"]["Action"] == "rekognition:StartFaceDetection"
    assert found["PassServiceRoleToRekognition"]["Resource"] == ROLE
    assert found["PassServiceRoleToRekognition"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "rekognition.amazonaws.com"}
    }
    assert found["ReadIncomingVideos"]["Resource"] == f"{BUCKET}/videos/*"
    assert found["ReadIncomingVideos"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert found["WriteErrorResults"]["Resource"] == f"{BUCKET}/results/*"
    assert found["ConsumeItsQueue"]["Resource"] == QUEUE
    assert found["WriteItsLogs"]["Resource"] == f"{LOGS}:*"
    assert not {"UseBucketKey", "UseQueueKey"} & set(found)
    for statement in found.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any("*" in action for action in actions), statement
        assert statement["Resource"] != "*" or statement["Sid"] == "StartFaceDetection"


def test_collector_policy_cannot_start_jobs_or_read_videos():
    found = statements(policies.collector_policy(QUEUE, BUCKET, "results/", LOGS, REGION, KEY, KEY))
    actions = {a for s in found.values() for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert "rekognition:StartFaceDetection" not in actions and "iam:PassRole" not in actions
    assert "s3:GetObject" not in actions
    assert found["WriteResults"]["Resource"] == f"{BUCKET}/results/*"
    assert found["UseBucketKey"]["Resource"] == found["UseQueueKey"]["Resource"] == KEY
    assert found["UseQueueKey"]["Action"] == ["kms:Decrypt"]


def test_off_by_default_and_the_stack_is_as_before(run_component):
    declared = run_component("faces", FaceDetectionPipelineArgs())
    assert not AUTO_TYPES & {r.typ for r in declared.resources}
    assert len(declared.of_type("aws:sqs/queue:Queue")) == 2
    assert len(declared.of_type("aws:iam/role:Role")) == 1
    assert "visibilityTimeoutSeconds" not in declared.one("aws:sqs/queue:Queue", "-completion")


def test_on_only_adds_resources_beside_the_completion_queues_visibility(run_component):
    def by_name(declared):
        return {(r.typ, r.name): r.inputs for r in declared.resources}

    off, on = by_name(run_component("faces")), by_name(run_component("faces", {"auto_process": True}))
    assert set(off) < set(on)
    completion = ("aws:sqs/queue:Queue", "faces-completion")
    launcher = ("aws:iam/policy:Policy", "faces-launcher")  # narrowed: see the next test
    dashboard = ("aws:cloudwatch/dashboard:Dashboard", "faces-dashboard")  # shows the new queues and functions too
    changed = (completion, launcher, dashboard)
    assert {key: inputs for key, inputs in on.items() if key in off and key not in changed} == {
        key: inputs for key, inputs in off.items() if key not in changed
    }
    assert {k: v for k, v in on[completion].items() if k != "visibilityTimeoutSeconds"} == off[completion]


def test_the_launcher_policy_grants_only_what_the_launcher_does_there(run_component):
    """Upload under incomingPrefix (and read it back: Rekognition reads with the caller's rights), read
    results under resultsPrefix, start and follow the job; never the collector's completion queue."""
    declared = run_component("faces", {"auto_process": True, "incoming_prefix": "in/", "results_prefix": "out/"})
    bucket = "arn:aws:s3:::faces-videos-0a1b2c3"
    grants = {
        (action, s["Resource"])
        for s in declared.policy("aws:iam/policy:Policy")["Statement"]
        if s["Effect"] == "Allow"
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert grants == {
        ("rekognition:StartFaceDetection", "*"),
        ("rekognition:GetFaceDetection", "*"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT_ID}:role/faces-rekognition-0a1b2c3"),
        ("s3:PutObject", f"{bucket}/in/*"),
        ("s3:AbortMultipartUpload", f"{bucket}/in/*"),
        ("s3:GetObject", f"{bucket}/in/*"),
        ("s3:GetObjectVersion", f"{bucket}/in/*"),
        ("s3:ListBucket", bucket),  # HeadObject answers 404, not 403, for a result not written yet
        ("s3:GetObject", f"{bucket}/out/*"),
    }


@pytest.fixture
def auto(run_component):
    return run_component("faces", FaceDetectionPipelineArgs(auto_process=True, tags={"team": "vision"}))


def test_uploads_under_the_prefix_notify_an_encrypted_intake_queue(auto):
    intake = auto.one("aws:sqs/queue:Queue", "-intake")
    assert intake["sqsManagedSseEnabled"] is True
    assert intake["visibilityTimeoutSeconds"] == 6 * STARTER_TIMEOUT_SECONDS
    redrive = json.loads(intake["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 100 and redrive["deadLetterTargetArn"].endswith(
        "faces-intake-dead-letter-0a1b2c3"
    )
    assert auto.one("aws:sqs/queue:Queue", "-intake-dead-letter")["sqsManagedSseEnabled"] is True
    intake_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:faces-intake-0a1b2c3"
    expected = policies.intake_queue_policy(intake_arn, "arn:aws:s3:::faces-videos-0a1b2c3", ACCOUNT_ID)
    assert auto.policy("aws:sqs/queuePolicy:QueuePolicy", "-intake") == expected
    notification = auto.one("aws:s3/bucketNotification:BucketNotification")
    assert notification["bucket"] == "faces-videos-0a1b2c3"
    assert {q["filterSuffix"] for q in notification["queues"]} == set(suffix_variants())
    for target in notification["queues"]:
        assert target["queueArn"] == intake_arn
        assert target["filterPrefix"] == "videos/" and target["events"] == ["s3:ObjectCreated:*"]


@pytest.mark.parametrize(
    "fn, handler, timeout, batch",
    [
        ("starter", "launcher.functions.starter.handler", STARTER_TIMEOUT_SECONDS, 10),
        ("collector", "launcher.functions.collector.handler", COLLECTOR_TIMEOUT_SECONDS, 1),
    ],
)
def test_each_function_has_its_role_log_group_and_queue(auto, fn, handler, timeout, batch):
    function = auto.one("aws:lambda/function:Function", f"-{fn}")
    assert function["handler"] == handler and function["runtime"].startswith("python3")
    assert function["timeout"] == timeout and function["tags"] == {"team": "vision"}
    assert function["role"] == f"arn:aws:iam::{ACCOUNT_ID}:role/faces-{fn}-0a1b2c3"
    variables = function["environment"]["variables"]
    assert variables["INCOMING_PREFIX"] == "videos/" and variables["RESULTS_PREFIX"] == "results/"
    assert variables["TOPIC_ARN"].startswith(f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:AmazonRekognition-faces-")
    assert variables["ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT_ID}:role/faces-rekognition-0a1b2c3"
    assert f"launcher/functions/{fn}.py" in function["code"].assets
    assert "launcher/jobs/detection.py" in function["code"].assets
    group = auto.one("aws:cloudwatch/logGroup:LogGroup", f"-{fn}")
    assert group["retentionInDays"] == 30 and group["namePrefix"] == f"/aws/lambda/faces-{fn}-"
    assert function["loggingConfig"]["logGroup"] == f"/aws/lambda/faces-{fn}-0a1b2c3"
    trust = auto.policy("aws:iam/role:Role", f"-{fn}", key="assumeRolePolicy")
    assert trust == policies.lambda_trust_policy()
    mapping = auto.one("aws:lambda/eventSourceMapping:EventSourceMapping", f"-{fn}")
    assert mapping["batchSize"] == batch and mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["functionName"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:faces-{fn}-0a1b2c3"
    queue = "faces-intake-0a1b2c3" if fn == "starter" else "faces-completion-0a1b2c3"
    assert mapping["eventSourceArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}"
    assert auto.one("aws:iam/rolePolicy:RolePolicy", f"-{fn}")["role"] == f"faces-{fn}-0a1b2c3"  # its own role
    policy = auto.policy("aws:iam/rolePolicy:RolePolicy", f"-{fn}")
    assert statements(policy)["ConsumeItsQueue"]["Resource"] == mapping["eventSourceArn"]
    log_group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/faces-{fn}-0a1b2c3"
    assert statements(policy)["WriteItsLogs"]["Resource"] == f"{log_group_arn}:*"


def test_the_collector_owns_the_completion_queue_long_enough(auto):
    completion = auto.one("aws:sqs/queue:Queue", "-completion")
    assert completion["visibilityTimeoutSeconds"] == 6 * COLLECTOR_TIMEOUT_SECONDS


def test_keys_reach_the_function_policies(run_component):
    declared = run_component(
        "faces", FaceDetectionPipelineArgs(auto_process=True, bucket_kms_key_arn=KEY, queue_kms_key_arn=KEY)
    )
    for fn in ("starter", "collector"):
        found = statements(declared.policy("aws:iam/rolePolicy:RolePolicy", f"-{fn}"))
        assert found["UseBucketKey"]["Resource"] == KEY and found["UseQueueKey"]["Resource"] == KEY
    assert declared.one("aws:sqs/queue:Queue", "-intake")["kmsMasterKeyId"] == KEY


def test_program_exports_the_new_outputs_only_when_on(run_program):
    new = AUTO_PROCESS_OUTPUTS
    assert not new & set(run_program({"aws:region": REGION}).outputs)
    outputs = run_program({"aws:region": REGION, "autoProcess": "true", "incomingPrefix": "in/"}).outputs
    assert new <= set(outputs)
    assert outputs["incomingPrefix"] == "in/" and outputs["resultsPrefix"] == "results/"
    assert outputs["starterFunctionName"] == "faces-starter-0a1b2c3"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"incoming_prefix": "/videos/"}, "incomingPrefix"),
        ({"results_prefix": "videos/"}, "must differ"),
        ({"intake_max_receive_count": 0}, "intakeMaxReceiveCount"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_declared(changes, message):
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=message):
        run_body(
            lambda: FaceDetectionPipeline("faces", FaceDetectionPipelineArgs(auto_process=True, **changes)),
            {"aws:region": REGION},
            mocks=mocks,
        )
    assert mocks.resources == []


def test_auto_process_must_be_known_when_resources_are_declared():
    with pytest.raises(ConfigError, match="autoProcess decides which resources"):
        run_body(
            lambda: FaceDetectionPipeline("faces", {"auto_process": pulumi.Output.from_input(True)}),
            {"aws:region": REGION},
        )


def test_prefixes_may_come_from_another_stack():
    def body():
        keys = pulumi.StackReference("org/keys/prod")
        settings = FaceDetectionPipelineArgs(auto_process=True, incoming_prefix=keys.require_output("incoming"))
        FaceDetectionPipeline("faces", settings)

    declared = run_body(body, {"aws:region": REGION}, mocks=RecordingMocks({"org/keys/prod": {"incoming": "in/"}}))
    notification = declared.one("aws:s3/bucketNotification:BucketNotification")
    assert {q["filterPrefix"] for q in notification["queues"]} == {"in/"}
    policy = statements(declared.policy("aws:iam/rolePolicy:RolePolicy", "-starter"))
    assert policy["ReadIncomingVideos"]["Resource"] == "arn:aws:s3:::faces-videos-0a1b2c3/in/*"


def test_no_deprecated_pulumi_aws_classes_or_fields_when_on(run_component, caplog):
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        run_component("faces", FaceDetectionPipelineArgs(auto_process=True))
    module_warnings = ("V2 has been deprecated", "MicrovmsImage has been deprecated")  # on import, unused
    deprecations = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning) and not any(m in str(w.message) for m in module_warnings)
    ]
    deprecations += [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert not deprecations, deprecations


# -- redact: true (the redactor function) ---------------------------------------------------------

LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:redactor:3"
REDACTOR_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:faces-redactor-0a1b2c3"


def test_redactor_policy_reads_videos_and_results_and_writes_results_only():
    found = statements(policies.redactor_policy(BUCKET, "videos/", "results/", LOGS, REGION, KEY))
    assert set(found) == {
        "ReadIncomingVideos",
        "ReadResults",
        "WriteRedactions",
        "RemoveEarlierRedactions",
        "WriteItsLogs",
        "UseBucketKey",
    }
    assert found["ReadIncomingVideos"]["Resource"] == f"{BUCKET}/videos/*"
    assert found["ReadIncomingVideos"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert found["ReadResults"] == {
        "Sid": "ReadResults",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET}/results/*",
    }
    assert found["WriteRedactions"]["Resource"] == f"{BUCKET}/results/*"
    assert found["WriteRedactions"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert found["UseBucketKey"]["Resource"] == KEY
    for statement in found.values():
        assert statement["Resource"] != "*", statement


def test_the_redactor_may_delete_its_own_three_objects_and_nothing_else():
    """A later version's run removes what an earlier one left (a copy after an error, an error after a
    copy): DeleteObject on exactly the keys the redactor writes, never on the results or videos."""
    found = statements(policies.redactor_policy(BUCKET, "videos/", "results/", LOGS, REGION, KEY))
    keys = RedactionKeys.of("results/", "videos/a.mp4")
    assert found["RemoveEarlierRedactions"]["Action"] == "s3:DeleteObject"
    assert sorted(found["RemoveEarlierRedactions"]["Resource"]) == sorted(
        f"{BUCKET}/results/*{key.removeprefix('results/videos/a.mp4')}" for key in (keys.copy, keys.audit, keys.error)
    )
    deleting = [s for s in found.values() if "Delete" in str(s["Action"])]
    assert deleting == [found["RemoveEarlierRedactions"]]


def test_the_collector_may_invoke_the_redactor_and_nothing_else():
    plain = statements(policies.collector_policy(QUEUE, BUCKET, "results/", LOGS, REGION))
    assert "InvokeRedactor" not in plain
    found = statements(policies.collector_policy(QUEUE, BUCKET, "results/", LOGS, REGION, redactor_function_arn="F"))
    assert found["InvokeRedactor"] == {
        "Sid": "InvokeRedactor",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": "F",
    }
    assert {k: v for k, v in found.items() if k != "InvokeRedactor"} == plain


@pytest.fixture
def redacting(run_component):
    return run_component("faces", FaceDetectionPipelineArgs(auto_process=True, redact=True, redact_layer_arn=LAYER))


def test_redact_adds_a_function_with_its_layer_and_lambdas_largest_limits(redacting):
    function = redacting.one("aws:lambda/function:Function", "-redactor")
    assert function["handler"] == "launcher.functions.redactor.handler"
    assert function["layers"] == [LAYER] and function["architectures"] == ["x86_64"]
    assert function["runtime"] == RUNTIME
    assert (
        (function["timeout"], function["memorySize"])
        == (REDACTOR_TIMEOUT_SECONDS, REDACTOR_MEMORY_MB)
        == (
            900,
            10240,
        )
    )
    assert function["ephemeralStorage"] == {"size": REDACTOR_EPHEMERAL_STORAGE_MB}
    assert function["environment"]["variables"] == {"BUCKET_NAME": "faces-videos-0a1b2c3", "RESULTS_PREFIX": "results/"}
    assets = set(function["code"].assets)
    assert {"launcher/functions/redactor.py", "launcher/redact/writer.py", "launcher/report/thumbnails.py"} <= assets
    assert not {name for name in assets if name.startswith(("launcher/report/html", "launcher/batch", "launcher/cli"))}
    # Invoked by the collector, not fed by a queue.
    mappings = redacting.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert {m.name for m in mappings} == {"faces-starter", "faces-collector"}
    policy = statements(redacting.policy("aws:iam/rolePolicy:RolePolicy", "-redactor"))
    assert "ConsumeItsQueue" not in policy
    assert policy["ReadIncomingVideos"]["Resource"] == "arn:aws:s3:::faces-videos-0a1b2c3/videos/*"
    group = redacting.one("aws:cloudwatch/logGroup:LogGroup", "-redactor")
    assert function["loggingConfig"]["logGroup"] == group["namePrefix"].rstrip("-") + "-0a1b2c3"
    alarms = {r.name for r in redacting.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {"faces-redactor-errors", "faces-redactor-throttles"} <= alarms


INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


def test_a_failed_redaction_is_not_run_again(redacting):
    """Lambda retries a failed asynchronous invocation twice unless told: up to 3 x 15 minutes at 10 GB
    for an exception that recurs (known failures are written as .redacted.error.json, not raised)."""
    config = redacting.one(INVOKE_CONFIG, "-redactor")
    assert config["functionName"] == "faces-redactor-0a1b2c3"
    assert config["maximumRetryAttempts"] == REDACTOR_RETRY_ATTEMPTS == 0
    assert config["maximumEventAgeInSeconds"] == REDACTOR_EVENT_AGE_SECONDS == 21600  # the most Lambda allows
    assert "qualifier" not in config and "destinationConfig" not in config  # $LATEST, what the collector invokes


def test_the_collector_is_made_after_the_redactors_invoke_config(run_component, monkeypatch):
    """The collector invokes the redactor: its first invocation must find the config in place."""
    dependencies: dict[tuple[str, str], list[str]] = {}
    register = MockMonitor.RegisterResource

    def recording(self, request):
        dependencies[(request.type, request.name)] = list(request.dependencies)
        return register(self, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", recording)
    run_component("faces", FaceDetectionPipelineArgs(auto_process=True, redact=True, redact_layer_arn=LAYER))
    collector = dependencies[("aws:lambda/function:Function", "faces-collector")]
    assert any(urn.endswith(f"{INVOKE_CONFIG}::faces-redactor") for urn in collector), collector


def test_functions_fed_by_queues_have_no_invoke_config(auto, redacting):
    """The starter and collector are invoked synchronously by their event source mappings: a failed
    batch goes back to its queue (and on to the dead-letter queue), not to Lambda's retries."""
    assert not auto.of_type(INVOKE_CONFIG)
    assert [r.name for r in redacting.of_type(INVOKE_CONFIG)] == ["faces-redactor"]


def test_the_collector_hands_each_video_to_the_redactor(redacting, auto):
    collector = redacting.one("aws:lambda/function:Function", "-collector")
    assert collector["environment"]["variables"]["REDACTOR_FUNCTION"] == REDACTOR_ARN
    policy = statements(redacting.policy("aws:iam/rolePolicy:RolePolicy", "-collector"))
    assert policy["InvokeRedactor"]["Resource"] == REDACTOR_ARN
    light = auto.one("aws:lambda/function:Function", "-collector")
    assert "REDACTOR_FUNCTION" not in light["environment"]["variables"]
    assert "launcher/functions/redactor.py" not in light["code"].assets  # it needs the layer
    assert "layers" not in light or not light["layers"]
    assert not [r for r in auto.of_type("aws:lambda/function:Function") if r.name.endswith("-redactor")]


def test_program_exports_the_redactor_only_with_redact(run_program):
    config = {"aws:region": REGION, "autoProcess": "true"}
    assert "redactorFunctionName" not in run_program(config).outputs
    outputs = run_program({**config, "redact": "true", "redactLayerArn": LAYER}).outputs
    assert outputs["redactorFunctionName"] == "faces-redactor-0a1b2c3"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"redact": True, "redact_layer_arn": LAYER}, "redact: true needs autoProcess: true"),
        ({"auto_process": True, "redact": True}, "redact: true needs redactLayerArn: build the layer"),
        ({"auto_process": True, "redact_layer_arn": LAYER}, "redactLayerArn is only used with redact: true"),
        ({"auto_process": True, "redact": True, "redact_layer_arn": "redactor:3"}, "Lambda layer version ARN"),
        ({"auto_process": True, "redact": "yes", "redact_layer_arn": LAYER}, "redact must be true or false"),
        (
            {
                "auto_process": True,
                "redact": True,
                "redact_layer_arn": LAYER,
                "incoming_prefix": "media/",
                "results_prefix": "media/results/",
            },
            "resultsPrefix 'media/results/' must not lie under incomingPrefix 'media/'",
        ),
    ],
)
def test_bad_redact_settings_are_refused_in_one_line_before_anything_is_declared(changes, message):
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=message) as refused:
        run_body(
            lambda: FaceDetectionPipeline("faces", FaceDetectionPipelineArgs(**changes)),
            {"aws:region": REGION},
            mocks=mocks,
        )
    assert "\n" not in str(refused.value)
    assert mocks.resources == []


def test_redact_must_be_known_when_resources_are_declared():
    with pytest.raises(ConfigError, match="redact decides which resources"):
        run_body(
            lambda: FaceDetectionPipeline(
                "faces", {"auto_process": True, "redact": pulumi.Output.from_input(True), "redact_layer_arn": LAYER}
            ),
            {"aws:region": REGION},
        )
