"""Waves: list, create, detail, their VMs, and the actions (start now, cancel, rollback, rehearsal)."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.core.api.schemas import errors
from apps.core.api.serializers import answer
from apps.core.api.validation import checked

from .. import selectors, services
from ..filtersets import WaveFilterSet, WaveVMFilterSet
from .serializers import (
    CancelWaveSerializer,
    RehearsalSerializer,
    ScheduleWaveSerializer,
    WaveAnswerSerializer,
    WaveDetailSerializer,
    WaveInputSerializer,
    WaveSerializer,
    WaveVMSerializer,
)


def wave_action(name: str, service, *, message, summary: str, body=None, code: int = status.HTTP_200_OK,
                url_path: str | None = None):
    """The POST action `name` on one wave: runs `service` on it as the requesting user, with the fields `body`
    validates as the service's keywords, and answers the wave the service returns with `code` and the message
    `message(wave, result)` says."""
    def run(self, request, pk=None):
        wave = services.wave_get(pk)
        options = checked(body, request.data) if body else {}
        result = service(wave=wave, requested_by=request.user.username, **options)
        return self._answer(result, message(wave, result), code)

    # Named before @action reads the name: the route's name (and, without url_path, its path) come from it.
    run.__name__ = run.__qualname__ = name
    schema = extend_schema(request=body, responses={code: WaveAnswerSerializer, **errors(404, 409)}, tags=["waves"],
                           summary=summary)
    return schema(action(detail=True, methods=["post"], url_path=url_path)(run))


class WaveViewSet(viewsets.GenericViewSet, mixins.ListModelMixin):
    """Viewers read, operators (and admins) create and act; the appliance agent has no business here."""

    read_roles = ("viewer",)
    write_roles = ("operator",)
    serializer_class = WaveSerializer
    filterset_class = WaveFilterSet

    def get_queryset(self):
        return selectors.waves()

    def _answer(self, wave, message: str, code=status.HTTP_200_OK) -> Response:
        return Response(answer(WaveAnswerSerializer, selectors.waves().get(pk=wave.pk), message), status=code)

    @extend_schema(request=WaveInputSerializer, responses={201: WaveAnswerSerializer, **errors(404, 409)},
                   tags=["waves"], summary="Create a wave from a machine group or a list of VMs, with its window, "
                                           "limit, order, per-VM options and hooks")
    def create(self, request):
        wave = services.wave_create(data=checked(WaveInputSerializer, request.data), created_by=request.user.username)
        return self._answer(wave, f"Wave '{wave.name}' created: {wave.vms.count()} VM(s), opens "
                                  f"{wave.window_start.isoformat()}", status.HTTP_201_CREATED)

    @extend_schema(responses={200: WaveDetailSerializer}, tags=["waves"],
                   summary="A wave with every VM's status, reason, failover jobs and hook output")
    def retrieve(self, request, pk=None):
        wave = services.wave_get(pk)
        return Response(WaveDetailSerializer(selectors.wave_detail().get(pk=wave.pk)).data)

    @extend_schema(responses={200: WaveVMSerializer(many=True)}, tags=["waves"], summary="The VMs of a wave")
    @action(detail=True, methods=["get"])
    def vms(self, request, pk=None):
        wave = services.wave_get(pk)
        filterset = WaveVMFilterSet(request.query_params, queryset=selectors.wave_vms(wave), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(WaveVMSerializer(page, many=True).data)

    @extend_schema(request=ScheduleWaveSerializer, responses={200: WaveAnswerSerializer, **errors(400, 404, 409)},
                   tags=["waves"], summary="Set the window of a draft (it becomes scheduled) or move a scheduled "
                                           "wave's window")
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        wave = services.wave_get(pk)
        window = checked(ScheduleWaveSerializer, request.data)
        wave = services.wave_schedule(wave=wave, window_start=window.get("window_start") or timezone.now(),
                                      deadline=window["deadline"], requested_by=request.user.username)
        return self._answer(wave, f"Wave '{wave.name}' opens {wave.window_start.isoformat()}")

    start_now = wave_action("start_now", services.wave_start_now, code=status.HTTP_202_ACCEPTED,
                            url_path="start-now", summary="Open a scheduled wave's window now",
                            message=lambda wave, started: f"Wave '{started.name}' starts now")

    cancel = wave_action("cancel", services.wave_cancel, body=CancelWaveSerializer,
                         summary="Cancel a wave: queued VMs never start; running failovers end unless stop_running",
                         message=lambda wave, cancelled: f"Wave '{cancelled.name}' cancelled")

    rollback = wave_action("rollback", services.wave_rollback, code=status.HTTP_202_ACCEPTED,
                           summary="Roll back every VM of the wave that is still reversible, last first",
                           message=lambda wave, rolling_back: f"Wave '{rolling_back.name}' is being rolled back")

    # An absent name is the service's default ("<wave> rehearsal <n>"), as a blank one is.
    rehearsal = wave_action("rehearsal", services.wave_rehearse, body=RehearsalSerializer, code=status.HTTP_201_CREATED,
                            summary="Rehearse a cutover wave now: the same VMs, order and hooks as test failovers, "
                                    "ended together (a new rehearsal wave)",
                            message=lambda wave, rehearsal: f"Rehearsal '{rehearsal.name}' of wave '{wave.name}' started")
