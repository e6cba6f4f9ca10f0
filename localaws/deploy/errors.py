"""What stops the offline deployer, one class per cause under one base class.

``scripts/local.py`` reports a DeployError (and AWS's errors) in one line, without a traceback; any
other exception is a bug and shows its traceback. Every message says what went wrong and what to do.
"""

from __future__ import annotations


class DeployError(Exception):
    """The deployer cannot go on; the message says why and what to do."""


class StateFileError(DeployError):
    """The deploy state file is damaged."""


class StackConfigError(DeployError):
    """The stack's config file cannot be used."""


class UnsupportedResource(DeployError):
    """A type, input or invoke the offline deployer does not implement."""


class NameTooLong(DeployError):
    """An auto-name longer than the resource's service allows."""


class ResourceNotEmpty(DeployError):
    """A resource cannot be deleted while it holds data (a bucket with object versions)."""


class PulumiCliError(DeployError):
    """A pulumi command failed, or is missing; the message carries its output."""


class BadPath(DeployError):
    """A --data-dir or --outputs-file the deployer cannot write to."""


class EndpointUnreachable(DeployError):
    """Nothing answers at the endpoint URL."""


class StackBusy(DeployError):
    """Another deploy or destroy of the same stack, in the same data folder, is running."""
