"""The OpenAPI schema's platform pieces: the bearer scheme, and the error answers every operation can give.

``PlatformAutoSchema`` documents, beside what a view's ``@extend_schema`` names, the answers the shared machinery
gives on its own: 400 where there is a body or a query to validate, 401 and 403 where a role is needed, 404 where a
path names an object, 429 where a throttle counts. All of them in the common error shape (``ErrorResponse``).
"""
from __future__ import annotations

import inspect

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from rest_framework import permissions

from .api.serializers import ErrorResponseSerializer
from .pagination import PagedOnRequestPagination


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Session token from POST /api/v1/auth/login"}


SHARED_MACHINERY = ("rest_framework", "django", "drf_spectacular", "django_filters", "builtins")


class PlatformAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the error answers the authentication, roles, parsers, filters, lookups
    and throttles give without the view saying so."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self.shared_error_codes(operation):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(ErrorResponseSerializer, str(code))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def get_description(self) -> str:
        """The action's docstring, else the first docstring of the view's own classes. drf-spectacular would fall
        back to any ancestor's, so every view built on a shared mixin of `apps.core` (rate limits, error shapes)
        described its operations by that mixin's docstring, which tells how the code works, not what the call does."""
        action = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        action_doc = get_doc(action)
        if action_doc:
            return action_doc
        for cls in type(self.view).__mro__:
            if cls.__module__.split(".")[0] in SHARED_MACHINERY or cls.__module__.startswith("apps.core."):
                continue
            own = cls.__dict__.get("__doc__")
            if own:
                return "\n".join(line.rstrip() for line in inspect.cleandoc(own).split("\n"))
        return ""

    def get_paginated_name(self, serializer_name: str) -> str:
        # A list that pages only on request answers its own schema (an array or a page): its component must not share
        # the name of the always-paged list of the same rows.
        if issubclass(getattr(self.view, "pagination_class", None) or object, PagedOnRequestPagination):
            return f"{serializer_name}ListOrPage"
        return super().get_paginated_name(serializer_name)

    def shared_error_codes(self, operation: dict) -> list[int]:
        places = {parameter.get("in") for parameter in operation.get("parameters", [])}
        codes = []
        if "requestBody" in operation or "query" in places:
            codes.append(400)  # the body or the query does not validate
        if not all(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()):
            codes += [401, 403]  # no valid session; a role that may not do this
        if "path" in places:
            codes.append(404)  # the path names nothing
        if self.view.get_throttles():
            codes.append(429)
        return codes
