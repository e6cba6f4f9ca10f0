"""One class per Lambda error code the emulated operations answer with (names from botocore's model).
The protocol layer renders them as REST-JSON errors, which botocore turns back into modeled exceptions."""

from __future__ import annotations


class LambdaError(Exception):
    code = "ServiceException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameterValueException(LambdaError):
    code = "InvalidParameterValueException"
    status = 400


class ResourceNotFoundException(LambdaError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceConflictException(LambdaError):
    code = "ResourceConflictException"
    status = 409


class ResourceInUseException(LambdaError):
    code = "ResourceInUseException"
    status = 400


class TooManyRequestsException(LambdaError):
    code = "TooManyRequestsException"
    status = 429


class ValidationException(LambdaError):
    """What the service answers for a member out of its model's range (botocore checks only the
    minimum of a number before sending), e.g. MaximumRetryAttempts 3."""

    code = "ValidationException"
    status = 400
