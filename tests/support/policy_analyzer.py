"""The policy pack as Pulumi's engine runs it, for tests: the program's resources captured as the engine
receives them, and pulumi-policy's own analyzer server fed over gRPC.

- ``capture`` runs a program under Pulumi's mocks with a monitor that keeps each RegisterResource
  request as the SDK sent it (inputs serialised by pulumi's rpc module, unknowns as the engine's
  sentinel during a preview, property dependencies by URN) and the state the provider answered.
- ``PolicyAnalyzer`` starts the pack the way the CLI does (``python -u -m pulumi.policy <engine>
  <pack dir>``: the pack's ``__main__.py`` builds a PolicyPack, which serves the Analyzer service and
  prints its port), then sends ``Analyze`` for each resource (its inputs, as before it is created) and
  ``AnalyzeStack`` for the whole stack (every resource's state with its property dependencies).

What the engine would add and this does not: provider-side defaults from ``Check`` (such as
auto-names) and the default provider resource, which no rule of this pack reads.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from localaws.deploy import program as pulumi_program
from tests.support.pulumi_mocks import PROJECT, RecordingMocks

STACK_TYPE = "pulumi:pulumi:Stack"
ENFORCEMENT = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory"}
PREVIEW_NOTICE = "during preview"  # pulumi-policy's "can't run policy ... during preview: ..."


@dataclass
class Registration:
    """One resource as the engine knows it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: struct_pb2.Struct
    outputs: struct_pb2.Struct

    def input_values(self) -> dict[str, Any]:
        return json_format.MessageToDict(self.inputs)

    def with_inputs(self, change: Callable[[dict[str, Any]], None]) -> Registration:
        """A copy whose inputs (and state) ``change`` has edited in place."""
        return self._edited(change, both=True)

    def with_outputs(self, change: Callable[[dict[str, Any]], None]) -> Registration:
        return self._edited(change, both=False)

    def _edited(self, change: Callable[[dict[str, Any]], None], both: bool) -> Registration:
        def edit(struct: struct_pb2.Struct) -> struct_pb2.Struct:
            values = json_format.MessageToDict(struct)
            change(values)
            edited = struct_pb2.Struct()
            edited.update(values)
            return edited

        inputs = edit(self.inputs) if both else self.inputs
        return Registration(**{**self.__dict__, "inputs": inputs, "outputs": edit(self.outputs)})


class RegistrationRecorder(MockMonitor):
    """Pulumi's mock monitor, keeping every registration as it arrived."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != STACK_TYPE:
            inputs, outputs = struct_pb2.Struct(), struct_pb2.Struct()
            inputs.CopyFrom(request.object)
            outputs.CopyFrom(response.object)
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=request.custom,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    inputs=inputs,
                    outputs=outputs,
                )
            )
        return response


class PreviewMocks(RecordingMocks):
    """``pulumi preview``: nothing is created, so nothing a provider computes (ARN, URL, ID) is known."""

    def _answer(self, args: Any) -> tuple[str, dict]:
        return "", dict(args.inputs)


def capture(body: Callable[[], Any], config: dict[str, str], preview: bool = False) -> list[Registration]:
    """Run ``body`` as a program of this project under mocks; every resource as the engine got it."""
    mocks = PreviewMocks() if preview else RecordingMocks()
    monitor = RegistrationRecorder(mocks)
    namespaced = {k if ":" in k else f"{PROJECT}:{k}": v for k, v in config.items()}
    pulumi_program.run_program(mocks, PROJECT, "test", namespaced, body, monitor=monitor, preview=preview)
    return monitor.registrations


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    urn: str
    message: str
    level: str  # "mandatory" or "advisory"


def _diagnostics(response: Any) -> list[Diagnostic]:
    return [
        Diagnostic(d.policyName, d.urn, d.message, ENFORCEMENT.get(d.enforcementLevel, str(d.enforcementLevel)))
        for d in response.diagnostics
    ]


def _options(registration: Registration) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(parent=registration.parent)


class PolicyAnalyzer:
    """The policy pack in ``pack_dir`` served by pulumi-policy in its own process, as the CLI runs it."""

    def __init__(self, pack_dir: Path) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), with the server)
        self._process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(pack_dir)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=pack_dir,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the server prints its port once it listens
        if not line.strip().isdigit():
            self.close()
            self._stderr.seek(0)
            raise RuntimeError(f"the policy pack did not start: {line!r} {self._stderr.read().decode()[-2000:]}")
        self._channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def info(self) -> Any:
        return self._stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)

    def analyze(self, registration: Registration) -> list[Diagnostic]:
        """What the engine asks before creating one resource: its inputs."""
        request = analyzer_pb2.AnalyzeRequest(
            type=registration.type,
            properties=registration.inputs,
            urn=registration.urn,
            name=registration.name,
            options=_options(registration),
        )
        return _diagnostics(self._stub.Analyze(request, timeout=30))

    def analyze_each(self, registrations: Iterable[Registration]) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        for registration in registrations:
            found += [
                Diagnostic(d.policy, d.urn or registration.urn, d.message, d.level) for d in self.analyze(registration)
            ]
        return found

    def analyze_stack(self, registrations: Iterable[Registration]) -> list[Diagnostic]:
        """What the engine asks once the stack is done: every resource's state and its dependencies."""
        resources = [
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=r.outputs,
                urn=r.urn,
                name=r.name,
                options=_options(r),
                parent=r.parent,
                dependencies=r.dependencies,
                propertyDependencies={
                    key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                    for key, urns in r.property_dependencies.items()
                },
            )
            for r in registrations
        ]
        return _diagnostics(self._stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), timeout=30))

    def close(self) -> None:
        if getattr(self, "_channel", None) is not None:
            self._channel.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()
