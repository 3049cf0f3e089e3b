"""Login throttles and lockouts, counted per client address as ``selectors.client_ip`` reads it.

The counters live in the default cache (shared by every web worker: Redis or the database, ``config/settings.py``);
console and browsable-API logins are locked out by django-axes, whose answer is shaped here.
"""
from __future__ import annotations

import math

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from rest_framework.throttling import SimpleRateThrottle

from apps.core.exceptions import error_body
from apps.core.selectors import client_ip


class ClientAddressThrottle(SimpleRateThrottle):
    """Per client address, whoever the request claims to be; X-Forwarded-For counts only from trusted proxies."""

    def get_ident(self, request):
        return client_ip(request) or ""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginRateThrottle(ClientAddressThrottle):
    """10 login attempts a minute by default (LOGIN_THROTTLE_RATE)."""

    scope = "login"


def lockout_exempt(request, credentials=None) -> bool:
    """django-axes leaves the API logins alone: LoginRateThrottle counts them, and answers 429 in the error shape.

    The API logins are ours and the ones settings name in MP_API_LOGIN_PATHS (seed 004's `/auth/login`)."""
    return request.path == reverse("auth-login") or request.path in settings.MP_API_LOGIN_PATHS


def lockout_response(request, original_response=None, credentials=None) -> JsonResponse:
    """The answer to a locked-out login (django-axes' AXES_LOCKOUT_CALLABLE): 429 in the error shape."""
    wait = settings.AXES_COOLOFF_TIME.total_seconds()
    response = JsonResponse(error_body("Too many failed logins from this address",
                                       f"Try again in {math.ceil(wait / 60)} minutes"), status=429)
    response["Retry-After"] = str(math.ceil(wait))
    return response
