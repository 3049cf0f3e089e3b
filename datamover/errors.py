"""Errors a caller of ``datamover`` handles."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field, fields


@dataclass(eq=False, repr=False)  # an exception: compared by identity, shown as Exception shows it
class CopyError(Exception):
    """A copy or verification could not complete.

    ``offset``/``length`` locate the request that failed (None when the failure is not
    about one range, e.g. a refused connection); ``server_message`` is what the server
    or libnbd said; ``operation`` is "read", "write", "zero", "flush", "block status" or
    "connect".
    """

    message: str
    _: KW_ONLY
    offset: int | None = None
    length: int | None = None
    server_message: str | None = None
    operation: str | None = None
    uri: str | None = None
    attempts: int | None = None

    def __post_init__(self):
        super().__init__(self.message)

    def to_dict(self) -> dict:
        """The error and where it happened, as the agent reports it (a subclass's own fields stay out)."""
        return {"error": str(self), **{f.name: getattr(self, f.name) for f in fields(CopyError) if f.name != "message"}}


@dataclass(eq=False, repr=False)
class VerificationError(CopyError):
    """``copy(verify=True)`` found the target different from the source.

    ``offset``/``length`` give the first mismatching range; ``result`` is the
    :class:`datamover.VerifyResult`.
    """

    result: object = field(kw_only=True)
