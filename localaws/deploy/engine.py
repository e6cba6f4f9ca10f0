"""The in-process deployer: the project's own program, run under Pulumi's mocks, whose mocks create
each declared resource in the local endpoint with boto3.

Pulumi registers a resource only once its inputs (and ``depends_on``) have resolved, so resources
are created in dependency order, from exactly the inputs the program declared: there is no second
copy of the resource definitions. A state file remembers what was made, so a second deploy changes
nothing that is already right, a changed input updates in place or replaces (create the new, then
delete the old, as Pulumi does), and ``destroy`` removes everything in reverse order.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from ..signals import STOP_SIGNALS, handlers_replaced
from . import archives
from .errors import ResourceNotEmpty, StateFileError, UnsupportedResource
from .handlers import Context, handler_for
from .program import run_main


@dataclass
class ResourceState:
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.type}::{self.name}"


@dataclass
class StackState:
    """What a deploy made, in creation order, and the stack outputs."""

    resources: list[ResourceState] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> StackState:
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text())
            return cls([ResourceState(**r) for r in raw["resources"]], raw.get("outputs", {}))
        except (ValueError, KeyError, TypeError) as error:
            raise StateFileError(
                f"deploy state {path} is unreadable ({error!r}). If the endpoint was restarted, nothing it "
                "records exists any more: delete the file and deploy again"
            ) from None

    def save(self, path: Path) -> None:
        write_atomically(path, json.dumps(asdict(self), indent=2))


def write_atomically(path: Path, text: str) -> None:
    """Write beside, then rename: readers see the old file or the new one, never half of one; nor,
    once Ctrl-C has stopped the write, the half-written one beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _normalise(value: Any) -> Any:
    """The engine sends every number as a float; keep whole numbers whole, for AWS and for diffs. An
    asset or archive becomes its JSON description (with its content's hash)."""
    if archives.is_asset(value):
        return archives.describe(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


@dataclass
class Change:
    action: str  # created, recreated, updated, replaced, unchanged, deleted
    type: str
    name: str


class ProvisioningMocks(pulumi.runtime.Mocks):
    """Pulumi mocks that make each custom resource real in the endpoint."""

    def __init__(self, ctx: Context, previous: StackState, save: Callable[[StackState], None]) -> None:
        self.ctx = ctx
        self._previous = {r.key: r for r in previous.resources}
        self._previous_order = [r.key for r in previous.resources]
        self.current: list[ResourceState] = []
        self.superseded: list[ResourceState] = []  # replaced: deleted once the new ones exist
        self.changes: list[Change] = []
        self.failure: BaseException | None = None
        self._save = save
        self._lock = threading.Lock()
        self._in_flight: str | None = None  # "<type> <name>" while the endpoint is making it
        self._flight_lock = threading.Lock()

    def stop(self) -> None:
        """Make nothing more (Ctrl-C): the resource being made is finished and recorded; deploy() then
        raises KeyboardInterrupt. A second Ctrl-C while the endpoint is still making it (an endpoint
        that does not answer: the wait would last the client's timeouts and retries, minutes) ends the
        process at once, in one line naming that resource, which may then exist with no record."""
        if self.failure is None:
            self.failure = KeyboardInterrupt()
        elif isinstance(self.failure, KeyboardInterrupt) and self._flight_lock.acquire(timeout=1):
            # Held to the end: the call cannot finish and its record start being written meanwhile.
            if self._in_flight is None:
                self._flight_lock.release()  # between two resources: the program ends by itself
                return
            sys.stdout.flush()
            print(
                f"\ninterrupted again: stopped at once while making {self._in_flight}, which may exist in the "
                "endpoint without a record in the deploy state: run deploy again, then delete it by hand if it is "
                "left over",
                file=sys.stderr,
                flush=True,
            )
            os._exit(130)

    def pending_state(self) -> StackState:
        """Everything that exists right now: safe to save at any moment."""
        matched = {r.key for r in self.current}
        left = [self._previous[k] for k in self._previous_order if k not in matched]
        return StackState(left + self.superseded + self.current)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if not args.custom:
            return "", {}  # a component: nothing to make
        with self._lock:
            if self.failure is None:
                with self._flight_lock:
                    self._in_flight = f"{args.typ} {args.name}"
                state: ResourceState | None = None
                try:
                    state = self._provision(args.typ, args.name, _normalise(args.inputs))
                except Exception as error:
                    self.failure = error
                finally:
                    with self._flight_lock:  # (a second Ctrl-C ending the process holds it: no record half-written)
                        self._in_flight = None
                if state is not None:
                    self._save(self.pending_state())
                    return state.id, state.outputs
        # After a failure nothing more is made. The error is not raised into Pulumi's own futures
        # (which would print it again, unretrieved, at exit): deploy() raises it when the program ends.
        return "", {}

    def _provision(self, type_token: str, name: str, inputs: dict[str, Any]) -> ResourceState:
        handler = handler_for(type_token)
        handler.check_inputs(inputs)
        old = self._previous.get(f"{type_token}::{name}")
        if old is not None and handler.exists(self.ctx, old.id, old.outputs):
            if old.inputs == inputs:
                action, state = "unchanged", old
            elif any(old.inputs.get(k) != inputs.get(k) for k in handler.replace_on):
                resource_id, outputs = handler.create(self.ctx, name, inputs)
                self.superseded.append(old)
                action, state = "replaced", ResourceState(type_token, name, resource_id, inputs, outputs)
            else:
                outputs = handler.update(self.ctx, old.id, old.inputs, inputs, old.outputs)
                action, state = "updated", ResourceState(type_token, name, old.id, inputs, outputs)
        else:  # new, or recorded but gone from the endpoint (restarted, or deleted by hand)
            resource_id, outputs = handler.create(self.ctx, name, inputs)
            action = "created" if old is None else "recreated"
            state = ResourceState(type_token, name, resource_id, inputs, outputs)
        self.current.append(state)
        self.changes.append(Change(action, type_token, name))
        return state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        """An invoke's result, and no failures (Pulumi's mocks take the pair)."""
        return self._invoke(args), []

    def _invoke(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = self.ctx.client("sts").get_caller_identity()
            return {
                "accountId": identity["Account"],
                "arn": identity["Arn"],
                "userId": identity["UserId"],
                "id": identity["Account"],
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}
        if args.token == "aws:index/getRegion:getRegion":
            region = self.ctx.region
            return {
                "region": region,
                "name": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
                "id": region,
            }
        raise UnsupportedResource(f"invoke {args.token} is not supported by the offline deployer")


def delete_all(
    ctx: Context,
    resources: list[ResourceState],
    changes: list[Change],
    after_each: Callable[[list[ResourceState]], None] = lambda remaining: None,
) -> None:
    """Delete in reverse creation order (dependents before what they depend on); ``after_each``
    gets what is left, to record it."""
    remaining = list(resources)
    while remaining:
        resource = remaining[-1]
        handler_for(resource.type).delete(ctx, resource.id, resource.outputs)
        remaining.pop()
        changes.append(Change("deleted", resource.type, resource.name))
        after_each(remaining)


def _interrupts_stop(mocks: ProvisioningMocks) -> AbstractContextManager[None]:
    """Ctrl-C (or SIGTERM) while the program runs stops the mocks instead of raising KeyboardInterrupt
    there. Raised inside Pulumi's event loop, it was lost: Pulumi runs the loop within one of its tasks
    (``_sync_await``), which it leaves half-entered, so asyncio logged "Leaving task ... does not match
    the current task None" with a traceback, and the deploy went on to make every resource. The
    previous handlers are back afterwards (``signals.handlers_replaced``: off the main thread, or for
    a signal whose handler was not set from Python, nothing changes)."""
    return handlers_replaced(STOP_SIGNALS, lambda *_: mocks.stop())


def deploy(
    ctx: Context, project_dir: Path, stack: str, state_path: Path, config: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[Change]]:
    """Bring the endpoint in line with the program; return the stack outputs and what changed. Ctrl-C
    (or SIGTERM) while the program runs: what is being made is finished and recorded, nothing more is
    made, and KeyboardInterrupt is raised."""
    previous = StackState.load(state_path)
    mocks = ProvisioningMocks(ctx, previous, lambda state: state.save(state_path))
    try:
        with _interrupts_stop(mocks):
            outputs = run_main(mocks, project_dir, stack, config)
    except Exception as error:
        if mocks.failure is not None:  # the SDK's own error says less than ours
            raise mocks.failure from error
        raise
    if mocks.failure is not None:
        raise mocks.failure
    declared = {r.key for r in mocks.current}
    removed = [r for r in previous.resources if r.key not in declared]
    changes = mocks.changes
    delete_all(
        ctx,
        mocks.superseded + removed,
        changes,
        lambda remaining: StackState(remaining + mocks.current).save(state_path),
    )
    StackState(mocks.current, outputs).save(state_path)
    return outputs, changes


def destroy(ctx: Context, state_path: Path, force: bool = False, outputs_path: Path | None = None) -> list[Change]:
    """Delete everything the state file records, then the stack's ``outputs_path`` (if given) and last the
    state file: stopped in between, the state is left for the next destroy to finish, never the outputs
    alone (naming what is gone, with nothing that says so). ``force`` deletes buckets with what they
    hold, as if the stack had set forceDestroy."""
    state = StackState.load(state_path)
    if force:
        for resource in state.resources:
            resource.outputs = {**resource.outputs, "forceDestroy": True}
    # Refused before anything is deleted: a half-destroyed stack is worse than an untouched one.
    holding = [
        reason
        for resource in state.resources
        if (reason := handler_for(resource.type).holds_data(ctx, resource.id, resource.outputs))
    ]
    if holding:
        raise ResourceNotEmpty(
            f"nothing was deleted: {'; '.join(holding)}. Empty it, or run destroy --force to delete what it holds too"
        )
    changes: list[Change] = []
    delete_all(ctx, state.resources, changes, lambda remaining: StackState(remaining, state.outputs).save(state_path))
    if outputs_path is not None:
        outputs_path.unlink(missing_ok=True)
    state_path.unlink(missing_ok=True)
    return changes
