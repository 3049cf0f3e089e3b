"""The OpenAPI schema's platform parts: the bearer scheme, and the 403 every role-checked operation can answer."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from .api.serializers import ErrorResponseSerializer
from .permissions import RolePermission


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Session token from POST /api/v1/auth/login"}


class PlatformAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the 403 of every operation behind a role check (a role without access, an
    agent outside its allow-list), in the project's error shape, so no view has to remember to list it."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None or "403" in operation.get("responses", {}):
            return operation
        if any(isinstance(permission, RolePermission) for permission in self.view.get_permissions()):
            # The same builder drf-spectacular uses for the declared answers, so the 403 looks like errors(403).
            operation["responses"]["403"] = self._get_response_for_code(ErrorResponseSerializer, "403")
        return operation
