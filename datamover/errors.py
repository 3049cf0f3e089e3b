"""Errors a caller of ``datamover`` handles."""

from __future__ import annotations


class CopyError(Exception):
    """A copy or verification could not complete.

    ``offset``/``length`` locate the request that failed (None when the failure is not
    about one range, e.g. a refused connection); ``server_message`` is what the server
    or libnbd said; ``operation`` is "read", "write", "zero", "flush", "block status" or
    "connect".
    """

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        length: int | None = None,
        server_message: str | None = None,
        operation: str | None = None,
        uri: str | None = None,
        attempts: int | None = None,
    ):
        super().__init__(message)
        self.offset = offset
        self.length = length
        self.server_message = server_message
        self.operation = operation
        self.uri = uri
        self.attempts = attempts

    def to_dict(self) -> dict:
        return {
            "error": str(self),
            "offset": self.offset,
            "length": self.length,
            "server_message": self.server_message,
            "operation": self.operation,
            "uri": self.uri,
            "attempts": self.attempts,
        }


class VerificationError(CopyError):
    """``copy(verify=True)`` found the target different from the source.

    ``offset``/``length`` give the first mismatching range; ``result`` is the
    :class:`datamover.VerifyResult`.
    """

    def __init__(self, message: str, *, result, **kwargs):
        super().__init__(message, **kwargs)
        self.result = result
