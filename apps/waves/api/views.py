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

    def _act(self, request, pk, service, body=None) -> tuple:
        """The wave `pk` and what `service` makes of it, run as the requesting user with the body's options (the
        fields `body` validates, named as the service's keywords)."""
        wave = services.wave_get(pk)
        options = checked(body, request.data) if body else {}
        return wave, service(wave=wave, requested_by=request.user.username, **options)

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

    @extend_schema(request=None, responses={202: WaveAnswerSerializer, **errors(404, 409)}, tags=["waves"],
                   summary="Open a scheduled wave's window now")
    @action(detail=True, methods=["post"], url_path="start-now")
    def start_now(self, request, pk=None):
        _, wave = self._act(request, pk, services.wave_start_now)
        return self._answer(wave, f"Wave '{wave.name}' starts now", status.HTTP_202_ACCEPTED)

    @extend_schema(request=CancelWaveSerializer, responses={200: WaveAnswerSerializer, **errors(404, 409)},
                   tags=["waves"], summary="Cancel a wave: queued VMs never start; running failovers end unless "
                                           "stop_running")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        _, wave = self._act(request, pk, services.wave_cancel, CancelWaveSerializer)
        return self._answer(wave, f"Wave '{wave.name}' cancelled")

    @extend_schema(request=None, responses={202: WaveAnswerSerializer, **errors(404, 409)}, tags=["waves"],
                   summary="Roll back every VM of the wave that is still reversible, last first")
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        _, wave = self._act(request, pk, services.wave_rollback)
        return self._answer(wave, f"Wave '{wave.name}' is being rolled back", status.HTTP_202_ACCEPTED)

    @extend_schema(request=RehearsalSerializer, responses={201: WaveAnswerSerializer, **errors(404, 409)},
                   tags=["waves"], summary="Rehearse a cutover wave now: the same VMs, order and hooks as test "
                                           "failovers, ended together (a new rehearsal wave)")
    @action(detail=True, methods=["post"])
    def rehearsal(self, request, pk=None):
        # An absent name is the service's default ("<wave> rehearsal <n>"), as a blank one is.
        wave, rehearsal = self._act(request, pk, services.wave_rehearse, RehearsalSerializer)
        return self._answer(rehearsal, f"Rehearsal '{rehearsal.name}' of wave '{wave.name}' started",
                            status.HTTP_201_CREATED)
