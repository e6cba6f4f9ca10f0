"""Helpers the test packages share: the AWS side of the integration tests (aws.py) and Pulumi's mocks
(pulumi_mocks.py). Test modules import from here, never from one another."""
