"""Lambda's rules for a ReportBatchItemFailures response, and the SQS record it is given."""

import pytest

from localaws.awslambda.event_sources import failed_message_ids, sqs_record

BATCH = {"m1", "m2", "m3"}


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}])
def test_empty_responses_are_full_success(response):
    assert failed_message_ids(response, BATCH) == set()


def test_named_items_are_kept():
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert failed_message_ids(response, BATCH) == {"m2", "m3"}


@pytest.mark.parametrize(
    "response",
    [
        "not an object",
        {"batchItemFailures": "m1"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemId": "m1"}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
    ],
)
def test_an_invalid_response_fails_the_whole_batch(response):
    assert failed_message_ids(response, BATCH) == BATCH


def test_sqs_record_has_lambdas_shape():
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}},
    }
    record = sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    assert record["messageId"] == "m1" and record["receiptHandle"] == "rh" and record["body"] == "{}"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":q")
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "x"
