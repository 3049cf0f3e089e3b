"""One readiness check's record: its name, type, status, message, details and the actions that fix it."""
from __future__ import annotations

from dataclasses import dataclass, field

from .choices import CheckStatus, CheckType

WEIGHTS = {CheckType.CRITICAL: 2.0, CheckType.WARNING: 1.0}


@dataclass
class Check:
    check_name: str
    check_type: str
    status: str = CheckStatus.PASS
    message: str = ""
    details: dict | None = None
    actions: list[str] = field(default_factory=list)
    execution_time: int = 0
    # How a failed critical check refuses a failover request (seed 003 error codes and HTTP statuses).
    error_code: str = "VALIDATION_FAILED"
    http_status: int = 409

    def fail(self, message: str, *actions: str, details: dict | None = None, error_code: str | None = None,
             http_status: int | None = None) -> None:
        self.status, self.message = CheckStatus.FAIL, message
        self.actions.extend(actions)
        if details is not None:
            self.details = details
        if error_code:
            self.error_code = error_code
        if http_status:
            self.http_status = http_status

    def as_dict(self) -> dict:
        body = {"check_name": self.check_name, "check_type": self.check_type, "status": self.status,
                "message": self.message, "execution_time": self.execution_time}
        if self.details is not None:
            body["details"] = self.details
        if self.actions:
            body["required_actions"] = self.actions
        return body
