"""One error family and one DRF exception handler that renders the seeds' error shape.

Every API error looks like ``{"success": false, "error": "<what is wrong>", "details": ...}`` (details null when
there are none: seed 001 documents the key); errors
that carry a documented code add seed 003's ``"message"``, ``"error_code"``, ``"timestamp"`` and ``"request_id"``.
"""
from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure the caller can act on; ``status_code`` decides the HTTP answer.

    A member of the family declares its answer in its class line: ``class NotFound(ApplicationError,
    status_code=404, error_code="NOT_FOUND")``."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_error_code = ""

    def __init_subclass__(cls, *, status_code: int | None = None, error_code: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if error_code is not None:
            cls.default_error_code = error_code

    def __init__(self, message: str, *, details: Any = None, error_code: str = "", status_code: int | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.error_code = error_code or self.default_error_code
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


class InvalidInput(ApplicationError, status_code=status.HTTP_400_BAD_REQUEST, error_code="INVALID_REQUEST"):
    """The request's input is wrong."""


class NotFound(ApplicationError, status_code=status.HTTP_404_NOT_FOUND, error_code="NOT_FOUND"):
    """What the request names does not exist."""


class Conflict(ApplicationError, status_code=status.HTTP_409_CONFLICT, error_code="CONFLICT"):
    """The state of what the request names does not allow it."""


class Forbidden(ApplicationError, status_code=status.HTTP_403_FORBIDDEN, error_code="FORBIDDEN"):
    """The caller may not do this."""


class UpstreamError(ApplicationError, status_code=status.HTTP_502_BAD_GATEWAY, error_code="UPSTREAM_ERROR"):
    """A peer (agent, vCenter, CloudStack) answered badly or not at all."""


class ServiceUnavailable(ApplicationError, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                         error_code="SERVICE_UNAVAILABLE"):
    """A peer the request needs is missing (no agent connected, CloudStack not configured)."""


def error_body(message: str, details: Any = None, error_code: str = "", /, **extra: Any) -> dict:
    """The common error; with a code, seed 003's standard error: also ``message`` (what was refused, by default the
    status's reason), ``timestamp`` and ``request_id`` (also logged, to find the request in the logs)."""
    body: dict[str, Any] = {"success": False, "error": message, "details": details}
    if error_code:
        body["error_code"] = error_code
        body["timestamp"] = timezone.now().isoformat().replace("+00:00", "Z")
        body["request_id"] = f"req-{uuid.uuid4().hex[:20]}"
    body.update(extra)
    return body


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested error detail into 'field: message' lines an operator can read."""
    if isinstance(detail, dict):
        lines: list[str] = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            lines.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
        return lines
    if isinstance(detail, list):
        lines = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                lines.extend(_flatten(value, f"{prefix}[{index}]"))
            else:
                lines.extend(_flatten(value, prefix))
        return lines
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        extra = exc.extra
        if exc.error_code and "message" not in extra:
            extra = {"message": HTTPStatus(exc.status_code).phrase, **extra}
        body = error_body(exc.message, exc.details, exc.error_code, **extra)
        if exc.error_code:
            logger.info("request refused request_id=%s status=%s error_code=%s", body["request_id"],
                        exc.status_code, exc.error_code)
        return Response(body, status=exc.status_code)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return Response(error_body("The object is still in use and cannot be deleted", str(exc.args[0])),
                        status=status.HTTP_409_CONFLICT)
    if isinstance(exc, SuspiciousOperation):
        # Raised while DRF reads the body: over DATA_UPLOAD_MAX_MEMORY_SIZE, more fields than
        # DATA_UPLOAD_MAX_NUMBER_FIELDS, a bad multipart body... The client's fault (Django answers 400), not a 500.
        logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
        if isinstance(exc, RequestDataTooBig):
            return Response(error_body("Request body too large",
                                       f"at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"),
                            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if isinstance(exc, TooManyFieldsSent):
            return Response(error_body("Malformed request body: too many fields",
                                       f"at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}"),
                            status=status.HTTP_400_BAD_REQUEST)
        return Response(error_body("Bad request", str(exc)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        return Response(error_body("Not found", str(exc) or None), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    if isinstance(exc, drf_exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, drf_exceptions.ValidationError):
            lines = _flatten(exc.detail)
            message = "Invalid request: " + "; ".join(lines) if lines else "Invalid request"
            body = error_body(message, exc.detail)
        elif isinstance(exc, drf_exceptions.ParseError):
            body = error_body(f"Malformed request body: {exc.detail}")
        elif isinstance(exc, drf_exceptions.Throttled):
            body = error_body("Too many requests", str(exc.detail))
        else:
            body = error_body(str(exc.detail))
        return Response(body, status=exc.status_code, headers=headers)

    logger.exception("unhandled API error view=%s", context.get("view").__class__.__name__)
    # The log has the traceback; the caller learns nothing of the code (not even the exception's class).
    return Response(error_body("Internal server error"), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
