"""A small IAM policy evaluator, enough to check the permissions Rekognition relies on.

moto stores policies but does not enforce them, so the emulator evaluates the few that decide whether
a job can report back: the role's trust policy, its permission policies and the topic policy. Pure:
policy documents (dicts) and a request in, a decision out.

Supported: Allow/Deny, Action/NotAction, Resource/NotResource, Principal/NotPrincipal, and the
condition operators StringEquals, StringNotEquals, StringLike, StringNotLike, ArnEquals, ArnLike,
ArnNotEquals, ArnNotLike and Bool, each with ``...IfExists``. A statement with any other operator
is treated as not matching (so it never grants anything).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any


class Decision(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "Deny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Request:
    """Who does what to which resource, with the request's context keys (``aws:SourceAccount`` …).

    ``principal`` is how the caller appears in a resource policy's Principal element:
    ``("Service", "rekognition.amazonaws.com")`` or ``("AWS", "arn:aws:iam::…:role/…")``.
    """

    action: str
    resource: str | None = None
    principal: tuple[str, str] | None = None
    context: Mapping[str, str] = field(default_factory=dict)


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """Explicit deny wins, then any allow, else implicit deny: IAM's evaluation order."""
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if not _applies(statement, request):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=1024)
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def _matches(patterns: Any, value: str, case_sensitive: bool = True) -> bool:
    return any(_glob(str(p), case_sensitive).fullmatch(value) for p in _as_list(patterns))


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement and not _matches(statement["Action"], request.action, case_sensitive=False):
        return False
    if "NotAction" in statement and _matches(statement["NotAction"], request.action, case_sensitive=False):
        return False
    if request.resource is not None:
        if "Resource" in statement and not _matches(statement["Resource"], request.resource):
            return False
        if "NotResource" in statement and _matches(statement["NotResource"], request.resource):
            return False
    if "Principal" in statement and not _principal_matches(statement["Principal"], request.principal):
        return False
    if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], request.principal):
        return False
    return _conditions_hold(statement.get("Condition", {}), request.context)


def _principal_matches(principal: Any, caller: tuple[str, str] | None) -> bool:
    if principal == "*":
        return True
    if caller is None or not isinstance(principal, Mapping):
        return False
    kind, name = caller
    for candidate in _as_list(principal.get(kind, [])):
        if candidate in ("*", name):
            return True
        # An account (its ID or root ARN) as principal stands for every principal in that account.
        if kind == "AWS" and name.startswith("arn:"):
            account = name.split(":")[4]
            if candidate in (account, f"arn:aws:iam::{account}:root"):
                return True
    return False


_STRING_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}
_ARN_OPERATORS = {"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, tests in conditions.items():
        base = operator[: -len("IfExists")] if operator.endswith("IfExists") else operator
        if base not in _STRING_OPERATORS | _ARN_OPERATORS | {"Bool"}:
            return False
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            if not _condition_holds(base, _as_list(expected), actual):
                return False
    return True


def _condition_holds(operator: str, expected: list[Any], actual: str) -> bool:
    if operator == "Bool":
        return any(str(e).lower() == actual.lower() for e in expected)
    negated = "Not" in operator
    if operator in ("StringEquals", "StringNotEquals"):
        found = actual in [str(e) for e in expected]
    else:  # the Like and Arn operators: wildcards allowed
        found = _matches(expected, actual)
    return not found if negated else found
