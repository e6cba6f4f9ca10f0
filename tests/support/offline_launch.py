"""Stack outputs and an AWS environment for a launch that must be refused before it reaches AWS:
nothing answers on port 1, so a command that got that far would say so instead of the line a test
expects."""

from __future__ import annotations

OUTPUTS = {
    "bucketName": "b",
    "topicArn": "arn:aws:sns:us-east-1:123456789012:AmazonRekognition-t",
    "roleArn": "arn:aws:iam::123456789012:role/r",
    "queueUrl": "http://127.0.0.1:1/123456789012/q",
    "region": "us-east-1",
}
ENV = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
}
