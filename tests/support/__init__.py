"""Helpers the test packages share, one module a job, each saying what it is for in its first lines:
the AWS side of the integration tests (aws.py), Pulumi's mocks (pulumi_mocks.py) and the real policy
analyzer (policy_analyzer.py), the no-real-AWS guard (no_real_aws.py), in-process moto, a fault proxy,
the browser, bench scripts, a batch's ledger, launches refused offline, and head renders. Test
modules import from here, never from one another."""
