"""The pure policy builders, checked as an IAM reviewer would, without Pulumi or AWS."""

from components import policies

BUCKET = "arn:aws:s3:::videos"
TOPIC = "arn:aws:sns:eu-west-1:111122223333:AmazonRekognition-faces"
ROLE = "arn:aws:iam::111122223333:role/faces-rekognition"
QUEUE = "arn:aws:sqs:eu-west-1:111122223333:faces-completion"
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


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


def test_trust_policy_admits_only_rekognition_for_this_account():
    (statement,) = statements(policies.rekognition_trust_policy("111122223333"))
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "rekognition.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_service_role_may_only_publish_to_its_topic():
    (statement,) = statements(policies.service_role_policy(TOPIC))
    assert statement == {"Sid": "PublishCompletion", "Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC}


def test_service_role_gets_the_customer_managed_topic_key():
    document = policies.service_role_policy(TOPIC, KEY)
    key_statement = [s for s in statements(document) if s["Resource"] == KEY]
    assert len(key_statement) == 1
    assert set(key_statement[0]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}


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
    document = policies.launcher_policy(BUCKET, ROLE, QUEUE)
    by_sid = {s["Sid"]: s for s in statements(document)}
    assert all(s["Effect"] == "Allow" for s in by_sid.values())
    assert all("*" not in action for action in allowed_actions(document)), "no action wildcards"
    assert set(by_sid["RunFaceDetection"]["Action"]) == {
        "rekognition:StartFaceDetection",
        "rekognition:GetFaceDetection",
    }
    pass_role = by_sid["PassServiceRoleToRekognition"]
    assert pass_role["Action"] == "iam:PassRole"
    assert pass_role["Resource"] == ROLE
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "rekognition.amazonaws.com"}}
    assert set(by_sid["ReadWriteVideos"]["Action"]) == {"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"}
    assert by_sid["ReadWriteVideos"]["Resource"] == f"{BUCKET}/*"
    assert by_sid["ListVideos"] == {
        "Sid": "ListVideos",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
    }
    assert set(by_sid["ConsumeCompletions"]["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
    }
    assert by_sid["ConsumeCompletions"]["Resource"] == QUEUE
    # Only Rekognition's own actions, which have no resource-level permissions, use "*".
    assert [s["Sid"] for s in by_sid.values() if s["Resource"] == "*"] == ["RunFaceDetection"]
    assert not any(s["Resource"].startswith("arn:aws:kms") for s in by_sid.values())


def test_launcher_policy_adds_kms_only_for_customer_keys():
    bucket_key = KEY
    queue_key = KEY.replace("1234abcd", "9876fedc")
    document = policies.launcher_policy(BUCKET, ROLE, QUEUE, bucket_kms_key_arn=bucket_key, queue_kms_key_arn=queue_key)
    by_sid = {s["Sid"]: s for s in statements(document)}
    assert by_sid["UseBucketKey"]["Resource"] == bucket_key
    assert set(by_sid["UseBucketKey"]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert by_sid["UseQueueKey"]["Resource"] == queue_key
    assert by_sid["UseQueueKey"]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"], "handing a completion over sends"
