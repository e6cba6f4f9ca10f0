"""An IAM policy evaluator for the permissions the local endpoint checks, as AWS evaluates them.

moto stores policies but does not enforce them, so the emulator evaluates those that decide whether a
job can report back (the role's trust policy, its permission policies and permissions boundary, the
topic policy) and moto's bucket policies (``moto_fixes.py``). Pure: policy documents (dicts) and a
request in, a decision out.

Elements: Effect, Action/NotAction, Resource/NotResource, Principal/NotPrincipal, Condition. The
Condition element as the IAM reference ("IAM JSON policy elements: Condition operators") defines it:

- every operator of its families: String (Equals, NotEquals, EqualsIgnoreCase, NotEqualsIgnoreCase,
  Like, NotLike), Numeric (Equals, NotEquals, LessThan[Equals], GreaterThan[Equals]), Date (the same
  six), Bool, BinaryEquals, IpAddress/NotIpAddress (IPv4 and IPv6 CIDR), Arn (Equals, Like, NotEquals,
  NotLike: the six colon-separated parts matched one by one, wildcards in each), Null;
- ``...IfExists`` on any of them but Null, and the set operators ``ForAllValues:`` and
  ``ForAnyValue:`` for multivalued keys;
- condition keys are case-insensitive; several values of one key are ORed, several keys and several
  operators are ANDed; a key missing from the request matches only negated operators (``...Not...``,
  ``NotIpAddress``), ``...IfExists``, ``ForAllValues:`` and ``Null: true``.

What it cannot evaluate is refused with ``UnsupportedCondition``, which names it: an operator not in
the reference (a typo, ``BinaryNotEquals``), ``NullIfExists`` or a set operator on Null, and policy
variables (``${aws:username}``) in condition values. The callers turn that into a denial that says so,
never into a silent allow or a silent non-match.

Permission boundaries: ``within_boundary`` combines an identity's decision with its boundary's, as AWS
does: allowed only if both allow, and an explicit deny in either wins.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any


class Decision(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "Deny"
    IMPLICIT_DENY = "ImplicitDeny"


class UnsupportedCondition(ValueError):
    """A condition this evaluator cannot evaluate; the message names it."""


ContextValue = str | Sequence[str]


@dataclass(frozen=True)
class Request:
    """Who does what to which resource, with the request's context keys (``aws:SourceAccount`` …).

    ``principal`` is how the caller appears in a resource policy's Principal element:
    ``("Service", "rekognition.amazonaws.com")`` or ``("AWS", "arn:aws:iam::…:role/…")``. A context
    value is a string, or a list of strings for a multivalued key (``aws:TagKeys``).
    """

    action: str
    resource: str | None = None
    principal: tuple[str, str] | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """Explicit deny wins, then any allow, else implicit deny: IAM's evaluation order.
    Raises UnsupportedCondition for a condition of an applicable statement it cannot evaluate."""
    allowed = False
    context = {key.lower(): value for key, value in request.context.items()}
    for document in documents:
        for statement in _statements(document):
            if not _applies(statement, request, context):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def within_boundary(identity: Decision, boundary: Decision | None) -> Decision:
    """An identity's decision under a permissions boundary (None: it has none)."""
    if boundary is None or identity is Decision.EXPLICIT_DENY:
        return identity
    if boundary is Decision.EXPLICIT_DENY:
        return Decision.EXPLICIT_DENY
    return Decision.ALLOW if identity is Decision.ALLOW and boundary is Decision.ALLOW else Decision.IMPLICIT_DENY


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


@lru_cache(maxsize=1024)
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def _matches(patterns: Any, value: str, case_sensitive: bool = True) -> bool:
    return any(_glob(str(p), case_sensitive).fullmatch(value) for p in _as_list(patterns))


def _applies(statement: Mapping[str, Any], request: Request, context: Mapping[str, ContextValue]) -> bool:
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
    return conditions_hold(statement.get("Condition", {}), context)


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


# -- conditions ---------------------------------------------------------------------------------------


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> datetime:
    """ISO 8601 (date, date and time, with Z or an offset) or epoch seconds, as the reference allows."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _in_network(actual: str, network: str) -> bool:
    address = ipaddress.ip_address(actual.strip())
    block = ipaddress.ip_network(network.strip(), strict=False)
    return address.version == block.version and address in block


def _arn_matches(actual: str, pattern: str) -> bool:
    """Each of the six colon-separated parts on its own, wildcards allowed in each."""
    pattern_parts, actual_parts = pattern.split(":", 5), actual.split(":", 5)
    if len(pattern_parts) != 6 or len(actual_parts) != 6:
        return False
    return all(_glob(p, True).fullmatch(a) for p, a in zip(pattern_parts, actual_parts, strict=True))


def _ordered(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[str, str], bool]:
    def compare(actual: str, expected: str) -> bool:
        try:
            return test(parse(actual), parse(expected))
        except (ValueError, TypeError, OverflowError):  # a value of the wrong type never matches
            return False

    return compare


_COMPARISONS: dict[str, tuple[Callable[[Any, Any], bool], ...]] = {
    "Equals": (lambda a, e: a == e,),
    "LessThan": (lambda a, e: a < e,),
    "LessThanEquals": (lambda a, e: a <= e,),
    "GreaterThan": (lambda a, e: a > e,),
    "GreaterThanEquals": (lambda a, e: a >= e,),
}


@dataclass(frozen=True)
class _Operator:
    """A base operator: how one request value compares with one policy value, and whether negated
    (the condition holds when no policy value matches, and when the key is missing)."""

    compare: Callable[[str, str], bool]
    negated: bool = False
    variables: bool = False  # policy variables are allowed in its values (we refuse them)


def _operators() -> dict[str, _Operator]:
    table: dict[str, _Operator] = {
        "StringEquals": _Operator(lambda a, e: a == e, variables=True),
        "StringNotEquals": _Operator(lambda a, e: a == e, negated=True, variables=True),
        "StringEqualsIgnoreCase": _Operator(lambda a, e: a.casefold() == e.casefold(), variables=True),
        "StringNotEqualsIgnoreCase": _Operator(lambda a, e: a.casefold() == e.casefold(), True, True),
        "StringLike": _Operator(lambda a, e: bool(_glob(e, True).fullmatch(a)), variables=True),
        "StringNotLike": _Operator(lambda a, e: bool(_glob(e, True).fullmatch(a)), negated=True, variables=True),
        "Bool": _Operator(lambda a, e: a.strip().lower() == e.strip().lower()),
        "BinaryEquals": _Operator(lambda a, e: _bytes(a) == _bytes(e)),
        "IpAddress": _Operator(_ordered(str, lambda a, e: _in_network(a, e))),
        "NotIpAddress": _Operator(_ordered(str, lambda a, e: _in_network(a, e)), negated=True),
        "ArnEquals": _Operator(_arn_matches, variables=True),
        "ArnLike": _Operator(_arn_matches, variables=True),
        "ArnNotEquals": _Operator(_arn_matches, negated=True, variables=True),
        "ArnNotLike": _Operator(_arn_matches, negated=True, variables=True),
    }
    for family, parse in (("Numeric", _number), ("Date", _date)):
        for name, (test,) in _COMPARISONS.items():
            table[f"{family}{name}"] = _Operator(_ordered(parse, test))
        table[f"{family}NotEquals"] = _Operator(_ordered(parse, lambda a, e: a == e), negated=True)
    return table


OPERATORS = _operators()
SET_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")
IF_EXISTS = "IfExists"
NULL = "Null"


@dataclass(frozen=True)
class _Parsed:
    base: str
    qualifier: str | None
    if_exists: bool


@lru_cache(maxsize=256)
def parse_operator(name: str) -> _Parsed:
    """``ForAnyValue:StringLikeIfExists`` -> its parts; UnsupportedCondition for anything else."""
    qualifier = next((q for q in SET_QUALIFIERS if name.startswith(q)), None)
    rest = name[len(qualifier) :] if qualifier else name
    if_exists = rest.endswith(IF_EXISTS) and rest != IF_EXISTS
    base = rest[: -len(IF_EXISTS)] if if_exists else rest
    if base == NULL and not (qualifier or if_exists):
        return _Parsed(base, None, False)
    if base == NULL:
        raise UnsupportedCondition(f"the condition operator {name!r} (Null takes neither IfExists nor a set operator)")
    if base not in OPERATORS:
        raise UnsupportedCondition(f"the condition operator {name!r}, which is not in the IAM reference")
    return _Parsed(base, qualifier, if_exists)


def conditions_hold(conditions: Any, context: Mapping[str, ContextValue]) -> bool:
    """Whether a statement's Condition element holds; ``context`` keys in lower case."""
    if not isinstance(conditions, Mapping):
        raise UnsupportedCondition(f"a Condition element that is not an object: {conditions!r}")
    for name, tests in conditions.items():
        operator = parse_operator(str(name))
        if not isinstance(tests, Mapping):
            raise UnsupportedCondition(f"the condition {name!r}: its value is not an object of keys")
        for key, expected in tests.items():
            if not _holds(operator, str(name), context.get(str(key).lower()), [_text(e) for e in _as_list(expected)]):
                return False
    return True


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _holds(operator: _Parsed, name: str, actual: ContextValue | None, expected: list[str]) -> bool:
    values = None if actual is None else _as_list(actual)
    if operator.base == NULL:
        wanted_missing = [e.strip().lower() == "true" for e in expected]
        missing = not values
        return any(wanted == missing for wanted in wanted_missing)
    base = OPERATORS[operator.base]
    if base.variables:
        for value in expected:
            if "${" in value:
                raise UnsupportedCondition(f"the policy variable in {value!r} ({name}): not evaluated locally")
    if operator.qualifier == "ForAllValues:":
        return all(_one(base, str(v), expected) for v in values or [])  # an empty or missing set: true
    if operator.qualifier == "ForAnyValue:":
        if not values:
            return operator.if_exists
        return any(_one(base, str(v), expected) for v in values)
    if values is None:
        return operator.if_exists or base.negated
    return any(_one(base, str(v), expected) for v in values)


def _one(operator: _Operator, actual: str, expected: list[str]) -> bool:
    found = any(operator.compare(actual, value) for value in expected)
    return not found if operator.negated else found
