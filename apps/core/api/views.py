"""Authentication, health and debug endpoints (seed 001 "Authentication", "Health", seed 003 "Debug")."""
from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import registry, services
from apps.core.api.validation import checked
from apps.core.choices import Role
from apps.core.exceptions import InvalidInput
from apps.core.logging import RingBufferHandler
from apps.core.models import ApiToken
from apps.core.permissions import AdminOnly
from apps.core.selectors import client_ip, database_status
from apps.core.throttling import LoginRateThrottle

from .serializers import (
    DebugEndpointsSerializer,
    DebugHealthSerializer,
    DebugLogsSerializer,
    ErrorResponseSerializer,
    HealthSerializer,
    LoginResponseSerializer,
    LoginSerializer,
    SuccessMessageSerializer,
    errors,
)


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=LoginSerializer, responses={200: LoginResponseSerializer, **errors(400, 401, 429)}, tags=["auth"],
                   summary="Log in an agent (appliance_id + token) or an operator (username + password)")
    def post(self, request):
        data = checked(LoginSerializer, request.data)
        ip = client_ip(request)
        if data["kind"] == "agent":
            issued = registry.agent_login(appliance_id=data["appliance_id"], token=data["token"],
                                          version=data.get("version", ""), client_ip=ip)
        else:
            issued = services.login_operator(username=data["username"], password=data["password"], client_ip=ip,
                                             request=request)
        return Response(LoginResponseSerializer({"success": True, "message": "Authentication successful",
                                                 "session_token": issued.raw, "expires_at": issued.expires_at}).data)


class LogoutView(APIView):
    read_roles = write_roles = (Role.VIEWER,)
    agent_methods = ("post",)  # the agent logs out when it stops

    @extend_schema(request=None, responses={200: SuccessMessageSerializer, **errors(400)}, tags=["auth"],
                   summary="Revoke the bearer token")
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            services.token_revoke(token=request.auth)
            return Response(SuccessMessageSerializer({"success": True,
                                                      "message": "Logged out; the session token is revoked"}).data)
        refusal = "No bearer token to revoke (log out of the console at /console/logout/)"
        return Response(ErrorResponseSerializer({"success": False, "error": refusal, "details": None}).data,
                        status=status.HTTP_400_BAD_REQUEST)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, tags=["health"],
                   summary="Liveness with a database round trip")
    def get(self, request):
        db = database_status()
        body = {"status": "healthy" if db == "connected" else "unhealthy", "service": "migration-platform-api",
                "timestamp": timezone.now(),
                "database": db, "version": settings.VERSION}
        return Response(HealthSerializer(body).data,
                        status=status.HTTP_200_OK if db == "connected" else status.HTTP_503_SERVICE_UNAVAILABLE)


class DebugHealthView(APIView):
    @extend_schema(responses={200: DebugHealthSerializer, 503: DebugHealthSerializer}, tags=["debug"],
                   summary="Components and counts")
    def get(self, request):
        db = database_status()
        components = {"database": db, "api_server": "running"}
        metrics = {}
        if db == "connected":
            # Each app reports its own components and counts (its jobs in its active states): core names none.
            for report in registry.health_reports():
                components.update(report.components)
                metrics.update(report.metrics)
        healthy = db == "connected"
        body = {"success": healthy, "message": "System health check completed",
                "status": "healthy" if healthy else "unhealthy", "components": components, "metrics": metrics}
        return Response(DebugHealthSerializer(body).data,
                        status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE)


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            callback = entry.callback
            view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
            methods = []
            if view_class is not None:
                actions = getattr(callback, "actions", None)
                methods = sorted(m.upper() for m in (actions.keys() if actions else
                                 [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]))
            yield {"path": "/" + prefix + str(entry.pattern), "name": entry.name or "", "methods": methods,
                   "view": f"{callback.__module__}.{getattr(view_class, '__name__', callback.__name__)}"}


class DebugEndpointsView(APIView):
    # The route list maps the attack surface: operators and up.
    read_roles = (Role.OPERATOR,)

    @extend_schema(responses={200: DebugEndpointsSerializer}, tags=["debug"], summary="Every route, from the URL resolver")
    def get(self, request):
        endpoints = [e for e in _walk(get_resolver().url_patterns) if "(?P<format>" not in e["path"]]
        return Response(DebugEndpointsSerializer({"success": True, "message": "Registered endpoints",
                                                  "count": len(endpoints), "endpoints": endpoints}).data)


class DebugLogsView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(parameters=[OpenApiParameter("limit", int), OpenApiParameter("level", str)],
                   responses={200: DebugLogsSerializer, 400: ErrorResponseSerializer, 403: ErrorResponseSerializer},
                   tags=["debug"], summary="Recent log records of this process (admin)")
    def get(self, request):
        try:
            limit = max(1, min(int(request.query_params.get("limit", 200)), 1000))
        except ValueError:
            raise InvalidInput("limit must be an integer between 1 and 1000")
        records = RingBufferHandler.recent(limit=limit, level=request.query_params.get("level"))
        return Response(DebugLogsSerializer({"success": True, "message": "Recent log records", "count": len(records),
                                             "logs": records}).data)


# The API's areas, each with the list a person starts from in the browsable API.
API_AREAS = {
    "vm-contexts": "vm-contexts", "ungrouped-vms": "discovery/ungrouped-vms", "replications": "replications",
    "failover-jobs": "failover/jobs", "network-mappings": "network-mappings", "ossea-config": "ossea/config",
    "vmware-credentials": "vmware-credentials", "machine-groups": "machine-groups", "schedules": "schedules",
    "health": "health",
}


class ApiRootView(APIView):
    """The browsable API's front page: the areas of the API, the schema and its offline docs."""

    @extend_schema(exclude=True)  # a page of links for people; the schema itself lists every operation
    def get(self, request):
        base = request.build_absolute_uri("/api/v1/")
        return Response({**{name: base + path for name, path in API_AREAS.items()},
                         "schema": request.build_absolute_uri("/api/schema/"),
                         "swagger-ui": request.build_absolute_uri("/swagger/"),
                         "redoc": request.build_absolute_uri("/redoc/"),
                         "console": request.build_absolute_uri("/console/")})
