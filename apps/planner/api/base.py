"""What every /api/migration view shares: the seed's access levels, its error shape and their schema.

Seed 004 guards the planner with one resource, ``migration``, at three levels: ``read`` (our viewers and up),
``write`` (operators and up) and ``admin`` (admins). Its errors are ``{"detail": "..."}``, which these paths
answer (clients of seed 004 read ``detail``); the status codes are the platform's own (apps/core/exceptions.py).
"""
from __future__ import annotations

import math

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response

from apps.core.api.detail import SeedView
from apps.core.api.detail import errors as errors  # the planner's views document their errors with it
from apps.core.api.validation import validated
from apps.core.permissions import LEVEL_ROLE, RolePermission, holds

from .. import services

READ, WRITE, ADMIN = "read", "write", "admin"
TAGS = ["migration planner"]


class MigrationPermission(RolePermission):
    """The view's ``access`` names the level per HTTP method; reads default to read, writes to write."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        method = "get" if request.method in permissions.SAFE_METHODS else request.method.lower()
        level = getattr(view, "access", {}).get(method, READ if method == "get" else WRITE)
        self.message = f"Permission denied: requires migration:{level}"
        return holds(request.user, LEVEL_ROLE[level])


class PlannerView(SeedView, component_prefix="Migration"):
    permission_classes = [MigrationPermission]
    access: dict[str, str] = {}


def ok(body: dict, status: int = 200) -> Response:
    return Response(body, status=status)


class ProjectCommand(PlannerView):
    # A POST that runs one service on the project, with the body's fields when it takes a body, and answers what the
    # service returns (under `key` where the answer names it). A view names them in its class line:
    #     class AssessView(ProjectCommand, run=services.assessment_run, answer=s.AssessAnswer, summary="...")
    # (A comment, not a docstring: the schema would describe every such operation by it.)

    def __init_subclass__(cls, run=None, answer=None, summary: str = "", body=None, key: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if run is None:
            return

        @extend_schema(request=body, responses={200: answer}, tags=TAGS, summary=summary)
        def post(self, request, project_id):
            project = services.project_get(project_id)
            data = validated(body, request.data) if body else {}
            result = run(project=project, **data)
            return ok({key: result} if key else result)

        cls.post = post


class FiniteFloatField(serializers.FloatField):
    """A float that is a number: NaN and infinities would pass min/max checks (every comparison is false)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value
