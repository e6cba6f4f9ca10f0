"""Request bodies in the endpoint's own WSGI apps: a JSON object, or the service's parameter error."""

import io

import pytest

from localaws.wsgi_body import json_object_body, read_body


class InvalidParameter(Exception):
    pass


def environ(body: bytes) -> dict:
    return {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}


def test_a_json_object_is_read_and_an_empty_body_is_an_empty_object():
    assert json_object_body(environ(b'{"JobId": "j"}'), InvalidParameter) == {"JobId": "j"}
    assert json_object_body({"wsgi.input": io.BytesIO(b"ignored")}, InvalidParameter) == {}
    assert read_body(environ(b"raw bytes")) == b"raw bytes"


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object"), (b'"text"', "must be a JSON object")],
)
def test_anything_else_is_the_services_parameter_error(body, message):
    with pytest.raises(InvalidParameter, match=message):
        json_object_body(environ(body), InvalidParameter)


def test_json_nested_too_deep_is_the_services_parameter_error_not_an_internal_one():
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InvalidParameter, match="nests JSON 100000 levels deep"):
        json_object_body(environ(deep), InvalidParameter)
