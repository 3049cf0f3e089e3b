"""One error family for the agent; the API renders each as seed 002's `{"error","code","timestamp"}`."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the API turns into a response.

    A member of the family declares its answer in its class line:
    ``class JobNotFound(AgentError, code="JOB_NOT_FOUND", http_status=404)``.
    """

    code = "OPERATION_FAILED"
    http_status = 500

    def __init_subclass__(cls, *, code: str | None = None, http_status: int | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if http_status is not None:
            cls.http_status = http_status

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequest(AgentError, code="INVALID_REQUEST", http_status=400):
    """The request is malformed or names something impossible."""


class JobNotFound(AgentError, code="JOB_NOT_FOUND", http_status=404):
    """No job has this id."""


class JobConflict(AgentError, code="JOB_CONFLICT", http_status=409):
    """A job with this id is already running."""


class OperationFailed(AgentError, code="OPERATION_FAILED", http_status=502):
    """vCenter (or another peer the agent depends on) refused or could not be reached."""


class VCenterError(OperationFailed):
    """A vCenter call failed; the message is safe to show (it never holds the password)."""


class VCenterNotFound(InvalidRequest):
    """A datacenter, VM or disk named in the request does not exist in vCenter."""


class ControlPlaneError(OperationFailed):
    """The control plane answered with an error or stayed unreachable through every retry."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class JobCancelled(Exception):
    """Raised inside a replication runner when its cancel flag is seen."""
