"""One error family for the agent; the API renders each as seed 002's `{"error","code","timestamp"}`."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the API turns into a response."""

    code = "OPERATION_FAILED"
    http_status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequest(AgentError):
    code = "INVALID_REQUEST"
    http_status = 400


class JobNotFound(AgentError):
    code = "JOB_NOT_FOUND"
    http_status = 404


class JobConflict(AgentError):
    """A job with this id is already running."""

    code = "JOB_CONFLICT"
    http_status = 409


class OperationFailed(AgentError):
    """vCenter (or another peer the agent depends on) refused or could not be reached."""

    code = "OPERATION_FAILED"
    http_status = 502


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
