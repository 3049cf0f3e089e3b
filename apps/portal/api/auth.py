"""Seed 004's `POST /auth/login`: our bearer token (apps/core ApiToken) in the seed's answer."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response

from apps.core import services as core_services
from apps.core.selectors import client_ip
from apps.core.throttling import LoginRateThrottle

from .. import rbac
from .base import PortalView, errors
from .serializers import LoginSerializer, TokenSerializer


class LoginView(PortalView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer, **errors(400, 401, 429)},
                   tags=["portal: auth"], summary="Log in (username + password): a bearer token", auth=[])
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = core_services.login_operator(username=serializer.validated_data["username"],
                                              password=serializer.validated_data["password"],
                                              client_ip=client_ip(request), request=request)
        user = issued.token.user
        expires_at = issued.expires_at
        return Response(TokenSerializer({
            "access_token": issued.raw, "token_type": "bearer",
            "expires_in": max(0, int((expires_at - timezone.now()).total_seconds())), "expires_at": expires_at,
            "user": {"username": user.get_username(), "role": rbac.seed_role(user), "is_active": user.is_active,
                     "permissions": rbac.PERMISSIONS.granted(user)},
        }).data)
