"""One class per Rekognition error code, carrying it. The protocol layer renders them as AWS JSON 1.1
errors (``{"__type": code, "Message": ...}``), which botocore turns back into the modeled exceptions."""

from __future__ import annotations


class RekognitionError(Exception):
    """An error the service answers with; ``code`` is the modeled exception name."""

    code = "InternalServerError"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AccessDeniedException(RekognitionError):
    code = "AccessDeniedException"


class IdempotentParameterMismatchException(RekognitionError):
    code = "IdempotentParameterMismatchException"


class InvalidParameterException(RekognitionError):
    code = "InvalidParameterException"


class InvalidS3ObjectException(RekognitionError):
    code = "InvalidS3ObjectException"


class InvalidPaginationTokenException(RekognitionError):
    code = "InvalidPaginationTokenException"


class VideoTooLargeException(RekognitionError):
    code = "VideoTooLargeException"


class LimitExceededException(RekognitionError):
    code = "LimitExceededException"


class ResourceNotFoundException(RekognitionError):
    code = "ResourceNotFoundException"


class ThrottlingException(RekognitionError):
    code = "ThrottlingException"


class ProvisionedThroughputExceededException(RekognitionError):
    code = "ProvisionedThroughputExceededException"


class InternalServerError(RekognitionError):
    code = "InternalServerError"
    status = 500


ERRORS_BY_CODE: dict[str, type[RekognitionError]] = {cls.code: cls for cls in RekognitionError.__subclasses__()}
