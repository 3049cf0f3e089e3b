"""What the failover API's views share: finding the VM a request names, paging and filtering a list, the answer
envelope and the roles."""
from __future__ import annotations

from typing import NamedTuple

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.detail import flag
from apps.core.api.schemas import errors
from apps.core.choices import Role
from apps.core.exceptions import InvalidInput
from apps.core.pagination import MAX_OFFSET
from apps.inventory import services as inventory_services

from ... import readiness, validation
from ...choices import FailoverType
from .. import serializers as S

TYPE_PARAM = OpenApiParameter("failover_type", str, enum=["live", "test"], description="default: live")


def who(request) -> str:
    return getattr(request.user, "username", "") or ""


def find_vm(identifier: str):
    return inventory_services.vm_context_get(identifier)


def vm_from(data: dict):
    context = find_vm(data.get("vm_id") or data["vm_name"])
    if data.get("vm_id") and data.get("vm_name") and data["vm_name"] != context.vm_name:
        raise InvalidInput(f"vm_name '{data['vm_name']}' does not match vm_id {data['vm_id']} (VM '{context.vm_name}')")
    return context


def failover_type_of(value: str | None, default: str = FailoverType.LIVE) -> str:
    value = value or default
    if value not in FailoverType.values:
        raise InvalidInput(f"failover_type must be 'live' or 'test', not '{value}'", error_code="INVALID_FAILOVER_TYPE")
    return value


def bool_param(request, name: str) -> bool | None:
    # Unlike the seed's query_flag, an empty value is not absent here: it is a 400.
    raw = request.query_params.get(name)
    return None if raw is None else flag(raw, f"{name} must be true or false")


def page_bounds(request, default: int = 50) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", default))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        raise InvalidInput("limit and offset must be integers") from None
    if not 1 <= limit <= 1000 or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"limit must be between 1 and 1000 and offset between 0 and {MAX_OFFSET}")
    return limit, offset


def filtered(filterset_class, request, queryset):
    filterset = filterset_class(request.query_params, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


class Page(NamedTuple):
    """One page of a filtered list, as the list answers render it."""

    items: list
    total: int
    limit: int
    offset: int

    @property
    def returned(self) -> int:
        return len(self.items)


def paged(rows, limit: int, offset: int) -> Page:
    return Page(items=list(rows[offset:offset + limit]), total=rows.count(), limit=limit, offset=offset)


def answer(serializer_class, instance, message: str, code: int = status.HTTP_200_OK) -> Response:
    return Response(S.answer(serializer_class, instance, message), status=code)


class ReadView(APIView):
    read_roles = (Role.VIEWER,)
    write_roles = (Role.OPERATOR,)


# -- network mappings ------------------------------------------------------------------------------


# Which of a VM's source networks are mapped: served under network-mappings and under the VM's validation paths, each
# subclass with its own schema (network_status_schema). A comment: the schema would show a docstring.
class NetworkStatusView(ReadView):
    def get(self, request, vm_id):
        context = find_vm(vm_id)
        info = readiness.network_info(context,
                                      failover_type=failover_type_of(request.query_params.get("failover_type")))
        return answer(S.NetworkMappingStatusAnswerSerializer, {"vm": context, "network_status": info},
                      "Network mapping status retrieved")


def network_status_schema(tag: str, summary: str):
    return extend_schema_view(get=extend_schema(
        parameters=[TYPE_PARAM], responses={200: S.NetworkMappingStatusAnswerSerializer, **errors(400, 404)},
        tags=[tag], summary=summary))


def vm_answer(serializer_class, vm_id: str, message: str, **facts) -> Response:
    """An answer about one VM: the VM and, under each name, what `fact(vm_context)` says of it."""
    context = find_vm(vm_id)
    return answer(serializer_class, {"vm": context, **{name: fact(context) for name, fact in facts.items()}}, message)


def readiness_answer(context, failover_type: str, **kwargs) -> Response:
    result, _ = validation.validate(context, failover_type, **kwargs)
    return answer(S.FailoverReadinessSerializer, result, "VM failover readiness validation completed")
