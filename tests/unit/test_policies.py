"""The pure policy builders, checked as an IAM reviewer would, without Pulumi or AWS: by reading the
statements, and by asking IAM's evaluation order (localaws.iam_policy) what a holder may do."""

import itertools

import pytest

from components import policies
from localaws.iam_policy import Decision, Request, evaluate

ACCOUNT = "111122223333"
REGION = "eu-west-1"
BUCKET = "arn:aws:s3:::videos"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:AmazonRekognition-faces"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/faces-rekognition"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:faces-completion"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
QUEUE_KEY = KEY.replace("1234abcd", "9876fedc")
# What a reviewer tries: every S3 object action, on a video and on a result, and every queue action.
OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:AbortMultipartUpload", "s3:DeleteObject"]
QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",
    "sqs:PurgeQueue",
]
VIDEO = f"{BUCKET}/videos/clip.mp4"
ELSEWHERE = f"{BUCKET}/team/clip.mp4"
RESULT = f"{BUCKET}/results/videos/clip.mp4.faces.json"


def may(document: dict, action: str, resource: str, **context: str) -> bool:
    return evaluate([document], Request(action, resource, context=context)) is Decision.ALLOW


def launcher(**settings) -> dict:
    return policies.launcher_policy(BUCKET, ROLE, QUEUE, REGION, **settings)


def granted(document: dict, resources: list[str], actions: list[str]) -> set[tuple[str, str]]:
    return {(a, r) for a, r in itertools.product(actions, resources) if may(document, a, r)}


def statements(document: dict) -> list[dict]:
    assert document["Version"] == "2012-10-17"
    return document["Statement"]


def allowed_actions(document: dict) -> set[str]:
    actions: set[str] = set()
    for statement in statements(document):
        if statement["Effect"] == "Allow":
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    return actions


def assert_denies_insecure_transport(document: dict, resources: set[str]) -> None:
    denies = [s for s in statements(document) if s["Effect"] == "Deny"]
    assert len(denies) == 1
    deny = denies[0]
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    covered = deny["Resource"] if isinstance(deny["Resource"], list) else [deny["Resource"]]
    assert set(covered) == resources


def test_bucket_policy_denies_plain_http_on_bucket_and_objects():
    document = policies.bucket_policy(BUCKET)
    assert_denies_insecure_transport(document, {BUCKET, f"{BUCKET}/*"})
    assert allowed_actions(document) == set()


def test_trust_policy_admits_only_rekognition_for_this_account_and_region():
    (statement,) = statements(policies.rekognition_trust_policy(ACCOUNT, REGION))
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "rekognition.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rekognition:{REGION}:{ACCOUNT}:*"},
    }


@pytest.mark.parametrize(
    "source_account, source_arn, allowed",
    [
        (ACCOUNT, f"arn:aws:rekognition:{REGION}:{ACCOUNT}:*", True),
        (ACCOUNT, f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/x", True),
        (ACCOUNT, None, False),  # the confused-deputy guard needs both keys
        (ACCOUNT, f"arn:aws:rekognition:us-east-1:{ACCOUNT}:*", False),
        (ACCOUNT, f"arn:aws:rekognition:{REGION}:999999999999:*", False),
        (ACCOUNT, f"arn:aws:sns:{REGION}:{ACCOUNT}:topic", False),
        ("999999999999", f"arn:aws:rekognition:{REGION}:{ACCOUNT}:*", False),
    ],
)
def test_trust_pins_source_account_and_source_arn(source_account, source_arn, allowed):
    trust = policies.rekognition_trust_policy(ACCOUNT, REGION)
    context = {"aws:SourceAccount": source_account, **({"aws:SourceArn": source_arn} if source_arn else {})}
    request = Request("sts:AssumeRole", principal=("Service", "rekognition.amazonaws.com"), context=context)
    assert (evaluate([trust], request) is Decision.ALLOW) is allowed


def test_service_role_may_only_publish_to_its_topic():
    (statement,) = statements(policies.service_role_policy(TOPIC, REGION))
    assert statement == {"Sid": "PublishCompletion", "Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC}


def test_service_role_may_use_the_customer_managed_topic_key_only_through_sns():
    document = policies.service_role_policy(TOPIC, REGION, KEY)
    key_statement = [s for s in statements(document) if s["Resource"] == KEY]
    assert len(key_statement) == 1
    assert set(key_statement[0]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert key_statement[0]["Condition"] == {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}}
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert may(document, action, KEY, **{"kms:ViaService": f"sns.{REGION}.amazonaws.com"})
        assert not may(document, action, KEY), "used directly, not through SNS"
        assert not may(document, action, KEY, **{"kms:ViaService": f"s3.{REGION}.amazonaws.com"})


def test_topic_policy_lets_only_the_role_publish_over_tls():
    document = policies.topic_policy(TOPIC, ROLE)
    allows = [s for s in statements(document) if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "ServiceRolePublishes",
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "sns:Publish",
            "Resource": TOPIC,
        }
    ]
    assert_denies_insecure_transport(document, {TOPIC})


def test_queue_policy_accepts_only_this_topic():
    document = policies.queue_policy(QUEUE, TOPIC)
    (allow,) = [s for s in statements(document) if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == QUEUE
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}
    assert_denies_insecure_transport(document, {QUEUE})


def test_dead_letter_queue_policy_only_enforces_tls():
    document = policies.dead_letter_queue_policy(QUEUE)
    assert allowed_actions(document) == set()
    assert_denies_insecure_transport(document, {QUEUE})


def test_launcher_policy_is_least_privilege():
    document = launcher()
    by_sid = {s["Sid"]: s for s in statements(document)}
    assert all("*" not in action for action in allowed_actions(document)), "no action wildcards"
    assert set(by_sid["RunFaceDetection"]["Action"]) == {
        "rekognition:StartFaceDetection",
        "rekognition:GetFaceDetection",
    }
    pass_role = by_sid["PassServiceRoleToRekognition"]
    assert pass_role["Action"] == "iam:PassRole"
    assert pass_role["Resource"] == ROLE
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "rekognition.amazonaws.com"}}
    assert by_sid["ListVideos"] == {
        "Sid": "ListVideos",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
    }
    # Only Rekognition's own actions, which have no resource-level permissions, use "*".
    assert [s["Sid"] for s in by_sid.values() if s["Resource"] == "*"] == ["RunFaceDetection"]
    assert not any(s["Resource"].startswith("arn:aws:kms") for s in by_sid.values())


def test_launcher_consumes_completions_without_get_queue_attributes():
    """Issue 21, item 3: the launcher receives, deletes, delays and hands over (sends a fresh copy of
    another job's completion) messages; it never reads the queue's attributes
    (launcher/jobs/notifications.py)."""
    assert granted(launcher(), [QUEUE], QUEUE_ACTIONS) == {
        ("sqs:ReceiveMessage", QUEUE),
        ("sqs:DeleteMessage", QUEUE),
        ("sqs:ChangeMessageVisibility", QUEUE),
        ("sqs:SendMessage", QUEUE),
    }


def test_launcher_may_abort_its_multipart_uploads():
    """Issue 21, item 5: boto3 aborts an upload whose part failed; without the permission its parts
    stay billed until the lifecycle rule."""
    for settings in ({}, {"auto_process": True}):
        assert may(launcher(**settings), "s3:AbortMultipartUpload", VIDEO)


def test_launcher_can_never_write_results():
    """Issue 21, item 2: no launcher user may forge <resultsPrefix><key>.faces.json, on any stack
    (a stack without autoProcess may share its bucket with one that has it)."""
    for settings in ({}, {"auto_process": True}, {"results_prefix": "out/"}):
        document = launcher(**settings)
        prefix = settings.get("results_prefix", "results/")
        assert not may(document, "s3:PutObject", f"{BUCKET}/{prefix}videos/clip.mp4.faces.json"), settings
        assert not may(document, "s3:PutObject", f"{BUCKET}/{prefix}x.error.json"), settings
    assert (
        evaluate([launcher()], Request("s3:PutObject", f"{BUCKET}/results/a.faces.json")) is Decision.EXPLICIT_DENY
    ), "denied explicitly, so no other grant to the same holder reopens it"


def test_launcher_without_auto_process_uploads_and_reads_anywhere_but_results():
    document = launcher()
    assert granted(document, [VIDEO, ELSEWHERE], OBJECT_ACTIONS) == {
        (action, video)
        for action in ("s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:AbortMultipartUpload")
        for video in (VIDEO, ELSEWHERE)
    }


def test_auto_process_launcher_uploads_under_incoming_and_reads_results_only():
    """Issue 21, item 1 and the autoProcess launcher: upload (and read back, as Rekognition reads the
    video with the caller's rights) under incomingPrefix; read results under resultsPrefix; nothing on
    the completion queue, which is the collector's."""
    document = launcher(auto_process=True, incoming_prefix="in/", results_prefix="out/")
    upload = f"{BUCKET}/in/clip.mp4"
    result = f"{BUCKET}/out/in/clip.mp4.faces.json"
    assert granted(document, [upload, result, ELSEWHERE, VIDEO], OBJECT_ACTIONS) == {
        ("s3:PutObject", upload),
        ("s3:AbortMultipartUpload", upload),
        ("s3:GetObject", upload),
        ("s3:GetObjectVersion", upload),
        ("s3:GetObject", result),
    }
    assert granted(document, [QUEUE], QUEUE_ACTIONS) == set(), "the collector's completions are not ours"
    assert not any(a.startswith("sqs:") for a in allowed_actions(document))


def test_auto_process_launcher_gets_no_queue_key():
    document = launcher(auto_process=True, bucket_kms_key_arn=KEY, queue_kms_key_arn=QUEUE_KEY)
    assert not any(s["Resource"] == QUEUE_KEY for s in statements(document))
    assert may(document, "kms:GenerateDataKey", KEY, **{"kms:ViaService": f"s3.{REGION}.amazonaws.com"})


def test_launcher_policy_adds_kms_only_for_customer_keys_and_only_through_their_service():
    """Issue 21, item 4: a key granted without kms:ViaService could be used directly."""
    document = launcher(bucket_kms_key_arn=KEY, queue_kms_key_arn=QUEUE_KEY)
    by_sid = {s["Sid"]: s for s in statements(document)}
    assert by_sid["UseBucketKey"]["Resource"] == KEY
    assert set(by_sid["UseBucketKey"]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert by_sid["UseQueueKey"]["Resource"] == QUEUE_KEY
    assert by_sid["UseQueueKey"]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"], "handing a completion over sends"
    s3, sqs = f"s3.{REGION}.amazonaws.com", f"sqs.{REGION}.amazonaws.com"
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert may(document, action, KEY, **{"kms:ViaService": s3})
        assert not may(document, action, KEY), "directly"
        assert not may(document, action, KEY, **{"kms:ViaService": sqs})
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert may(document, action, QUEUE_KEY, **{"kms:ViaService": sqs})
        assert not may(document, action, QUEUE_KEY)
        assert not may(document, action, QUEUE_KEY, **{"kms:ViaService": s3})


def test_every_kms_grant_of_every_document_names_its_service():
    """Issue 21, item 4, for the functions' keys too: each KMS statement of each identity policy the
    stack renders is conditioned on kms:ViaService of the service that key protects."""
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x"
    documents = {
        "service role": policies.service_role_policy(TOPIC, REGION, KEY),
        "launcher": launcher(bucket_kms_key_arn=KEY, queue_kms_key_arn=QUEUE_KEY),
        "starter": policies.starter_policy(QUEUE, BUCKET, "videos/", "results/", ROLE, logs, REGION, KEY, QUEUE_KEY),
        "collector": policies.collector_policy(QUEUE, BUCKET, "results/", logs, REGION, KEY, QUEUE_KEY),
    }
    expected = {KEY: "s3", QUEUE_KEY: "sqs"}
    for name, document in documents.items():
        kms = [s for s in statements(document) if any(a.startswith("kms:") for a in s["Action"])]
        assert kms, name
        for statement in kms:
            service = "sns" if name == "service role" else expected[statement["Resource"]]
            assert statement["Condition"] == {
                "StringEquals": {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}
            }, (name, statement["Sid"])
