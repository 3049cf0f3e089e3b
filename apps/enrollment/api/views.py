"""Agent enrollment (seed 000 "VMA Enrollment"): the administrator's endpoints and the agent's public ones."""
from __future__ import annotations

from django.http.request import split_domain_port
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.authentication import get_authorization_header
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schemas import errors
from apps.core.api.validation import checked
from apps.core.exceptions import NotFound
from apps.core.permissions import AdminOnly
from apps.core.selectors import client_ip
from apps.enrollment import selectors, services
from apps.enrollment.models import Appliance
from apps.enrollment.services import Actor
from apps.enrollment.throttling import EnrollRateThrottle, EnrollResultRateThrottle

from . import serializers as s


def _actor(request, name: str = "") -> Actor:
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    return Actor(user=user, ip=client_ip(request), name=name)


class AdminView(APIView):
    # The administrator's views. A GET whose query string a serializer checks names it in its class line, with its
    # answer, message and summary:
    #     class AuditView(AdminView, query=s.AuditQuerySerializer, answer=s.AuditEventsSerializer, message="...",
    #                     summary="...")
    # and answers `{"success": true, "message": ..., **self.facts(query)}`. (A comment: the schema would show a
    # docstring on every operation.)
    permission_classes = [AdminOnly]

    def __init_subclass__(cls, query=None, answer=None, message: str = "", summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if query is None:
            return

        @extend_schema(parameters=[query], tags=["enrollment"], summary=summary, responses={200: answer})
        def get(self, request):
            facts = self.facts(checked(query, request.query_params))
            return Response(answer({"success": True, "message": message, **facts}).data)

        cls.get = get


class PairingCodeView(AdminView):
    @extend_schema(request=s.PairingCodeCreateSerializer, tags=["enrollment"],
                   summary="Create a single-use pairing code (shown once)",
                   responses={201: s.PairingCodeCreatedSerializer})
    def post(self, request):
        data = checked(s.PairingCodeCreateSerializer, request.data)
        pairing, code = services.pairing_code_create(actor=_actor(request), label=data["label"],
                                                     ttl_minutes=data.get("ttl_minutes"))
        return Response(s.PairingCodeCreatedSerializer({
            "success": True, "message": "Pairing code created; it is shown only this once", "id": pairing.pk,
            "pairing_code": code, "label": pairing.label, "expires_at": pairing.expires_at}).data,
            status=status.HTTP_201_CREATED)


class PendingView(AdminView):
    @extend_schema(tags=["enrollment"], summary="Enrollments waiting for a decision",
                   responses={200: s.PendingEnrollmentsSerializer})
    def get(self, request):
        enrollments = list(selectors.pending_enrollments())
        return Response(s.PendingEnrollmentsSerializer({"success": True, "message": "Pending enrollments",
                                                        "count": len(enrollments), "enrollments": enrollments}).data)


class ApproveView(AdminView):
    @extend_schema(request=s.ApproveSerializer, tags=["enrollment"],
                   summary="Approve an enrollment: create the appliance and authorize its tunnel key",
                   responses={200: s.ApproveResultSerializer, **errors(409)})
    def post(self, request, enrollment_id: str):
        data = checked(s.ApproveSerializer, request.data)
        appliance = services.enrollment_approve(enrollment_id=enrollment_id, actor=_actor(request),
                                                appliance_id=data.get("appliance_id", ""), name=data.get("name", ""))
        return Response(s.ApproveResultSerializer({"success": True, "message": f"Agent approved as {appliance.appliance_id}",
                                                   "appliance": appliance}).data)


class RejectView(AdminView):
    @extend_schema(request=s.RejectSerializer, tags=["enrollment"], summary="Reject an enrollment",
                   responses={200: s.RejectResultSerializer, **errors(409)})
    def post(self, request, enrollment_id: str):
        data = checked(s.RejectSerializer, request.data)
        enrollment = services.enrollment_reject(enrollment_id=enrollment_id, actor=_actor(request),
                                                reason=data["reason"])
        return Response(s.RejectResultSerializer({"success": True, "message": "Enrollment rejected",
                                                  "enrollment": enrollment}).data)


class ActiveView(AdminView, query=s.ActiveQuerySerializer, answer=s.ActiveAgentsSerializer, message="Active agents",
                 summary="Approved agents with last-seen times and tunnel state"):
    def facts(self, query: dict) -> dict:
        appliances = list(selectors.active_appliances())
        warnings = []
        try:
            sessions = selectors.tunnel_sessions_by_fingerprint(services.tunnel_login_uid())
        except OSError as exc:
            # The agent list still answers; the operator learns why tunnel states are missing.
            sessions = {}
            warnings.append(f"cannot read the tunnel session registry: {exc}")
        connected = []
        for appliance in appliances:
            appliance.tunnel = selectors.tunnel_state(appliance, sessions.get(appliance.ssh_key_fingerprint, []))
            if appliance.tunnel["connected"]:
                connected.append(appliance)
                if query["probe"]:
                    appliance.tunnel["agent_api"] = selectors.probe_agent_api(appliance)
        services.appliances_mark_tunnel_seen(appliance_ids=[a.pk for a in connected])
        for appliance in connected:
            appliance.refresh_from_db(fields=["tunnel_last_seen_at"])
        return {"count": len(appliances), "appliances": appliances, "warnings": warnings}


class RevokeView(AdminView):
    @extend_schema(tags=["enrollment"], summary="Revoke an agent: credentials, tunnel key and live tunnel sessions",
                   responses={200: s.RevokeResultSerializer, **errors(409)})
    def delete(self, request, appliance_id: str):
        appliance = Appliance.objects.filter(appliance_id=appliance_id).first()
        if appliance is None:
            raise NotFound(f"Unknown appliance '{appliance_id}'", error_code="APPLIANCE_NOT_FOUND")
        result = services.appliance_revoke(appliance=appliance, actor=_actor(request))
        return Response(s.RevokeResultSerializer({"success": True, "message": f"Agent {appliance_id} revoked",
                                                  "appliance_id": appliance_id, "tokens_revoked": result.tokens_revoked,
                                                  "tunnel_sessions_ended": result.sessions_ended,
                                                  "warnings": result.warnings}).data)


class AuditView(AdminView, query=s.AuditQuerySerializer, answer=s.AuditEventsSerializer,
                message="Enrollment audit events", summary="Who did what to which agent, when, from where"):
    def facts(self, query: dict) -> dict:
        events = selectors.audit_events(action=query.get("action", ""), appliance_id=query.get("appliance_id", ""),
                                        enrollment_id=query.get("enrollment_id", ""), success=query["success"])
        limit, offset = query["limit"], query["offset"]
        return {"count": events.count(), "limit": limit, "offset": offset, "events": events[offset:offset + limit]}


# --- public: the agent enrolls itself ----------------------------------------------------------------------------


class PublicView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]


class EnrollView(PublicView):
    throttle_classes = [EnrollRateThrottle]

    @extend_schema(request=s.EnrollSerializer, tags=["enrollment"], auth=[],
                   summary="Agent: redeem a pairing code with its SSH public key; answers a challenge to sign",
                   responses={201: s.EnrollStartedSerializer, **errors(409, 410)})
    def post(self, request):
        data = checked(s.EnrollSerializer, request.data)
        enrollment = services.enrollment_start(
            pairing_code=data["pairing_code"], name=data["name"], version=data["version"],
            ssh_public_key=data["ssh_public_key"], actor=_actor(request, name=f"agent:{data['name']}"))
        return Response(s.EnrollStartedSerializer({
            "success": True, "message": "Enrolled; sign the challenge with the private key and POST it to verify",
            "enrollment_id": enrollment.enrollment_id, "challenge": enrollment.challenge,
            "challenge_expires_at": enrollment.challenge_expires_at,
            "ssh_key_fingerprint": enrollment.ssh_key_fingerprint,
            "signing": {"message": "mp-vma-enroll-v1\\n{enrollment_id}\\n{challenge}\\n",
                        "signature": "base64 of the SSH signature blob (string algorithm, string signature)"},
        }).data, status=status.HTTP_201_CREATED)


class VerifyView(PublicView):
    throttle_classes = [EnrollRateThrottle]

    @extend_schema(request=s.VerifySerializer, tags=["enrollment"], auth=[],
                   summary="Agent: prove possession of the private key; answers the poll token (shown once)",
                   responses={200: s.EnrollVerifiedSerializer, **errors(403, 404, 409, 410)})
    def post(self, request):
        data = checked(s.VerifySerializer, request.data)
        enrollment, poll_token = services.enrollment_verify(enrollment_id=data["enrollment_id"],
                                                            signature=data["signature"], actor=_actor(request))
        return Response(s.EnrollVerifiedSerializer({"success": True,
                                                    "message": "Key proven; poll the result with the poll token",
                                                    "enrollment_id": enrollment.enrollment_id,
                                                    "status": enrollment.status, "poll_token": poll_token}).data)


class ResultView(PublicView):
    throttle_classes = [EnrollResultRateThrottle]

    @extend_schema(parameters=[s.ResultQuerySerializer,
                               OpenApiParameter("Authorization", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                                required=True, description="Bearer <poll_token from verify>")],
                   tags=["enrollment"], auth=[],
                   summary="Agent: pending, rejected, or approved with credentials and tunnel settings (once)",
                   responses={200: s.EnrollResultSerializer, **errors(401, 410)})
    def get(self, request):
        query = checked(s.ResultQuerySerializer, request.query_params)
        header = get_authorization_header(request).split()
        poll_token = ""
        if len(header) == 2 and header[0].lower() == b"bearer":
            poll_token = header[1].decode("latin-1")
        host, _port = split_domain_port(request.get_host())
        body = services.enrollment_result(enrollment_id=query["enrollment_id"], poll_token=poll_token,
                                          actor=_actor(request), request_host=host.strip("[]"))
        return Response(s.EnrollResultSerializer({"success": True, **body}).data)
