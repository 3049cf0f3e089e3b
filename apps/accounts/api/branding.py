"""Seed 004's branding (public to read, so the login page can show it; settings:admin to change), the logo
upload and its serving, and each user's own preferences."""
from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.core.exceptions import InvalidInput

from .. import selectors, services
from ..permissions import AUTHENTICATED, PUBLIC
from . import serializers as s
from .base import AccountsView

TAGS = ["portal: branding and settings"]


class BrandingView(AccountsView, tags=TAGS, answer=s.BrandingSerializer, read=selectors.branding_answer,
                   summary="The portal's branding (public: the login page shows it)",
                   body=s.BrandingWriteSerializer, write=services.branding_update,
                   write_summary="Change the branding (admin); the console shows it at once"):
    requires = {"get": PUBLIC, "put": "settings:admin"}


class LogoUploadView(AccountsView):
    requires = {"post": "settings:admin"}
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": s.LogoUploadSerializer}, responses={200: s.LogoAnswerSerializer},
                   tags=TAGS, summary="Upload the logo (admin): PNG, JPEG, GIF, SVG or WebP, at most 2 MB")
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Invalid request: file: a multipart file field named 'file' is required")
        if upload.size > services.MAX_LOGO_BYTES:
            raise InvalidInput(f"Logo too large: {upload.size} bytes, at most {services.MAX_LOGO_BYTES} (2 MB)")
        row = services.logo_store(data=upload.read())
        return Response(s.LogoAnswerSerializer({"logo_url": selectors.logo_url(row)}).data)


class LogoView(AccountsView):
    requires = {"get": PUBLIC}

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY}, tags=TAGS, auth=[],
                   summary="The uploaded logo (public)")
    def get(self, request, name):
        row = selectors.branding()
        if not row.logo or name != row.logo_name:
            raise Http404("No such logo")
        response = HttpResponse(bytes(row.logo), content_type=row.logo_content_type)
        # An SVG opened on its own must not run anything in the portal's origin, whatever slipped through.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "public, max-age=86400"  # a new upload gets a new name
        return response


class UserPreferencesView(AccountsView):
    requires = {"get": AUTHENTICATED, "put": AUTHENTICATED}

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, tags=TAGS,
                   summary="My preferences (tab_order and any setting the portal keeps for me)")
    def get(self, request):
        return Response(selectors.preferences(request.user))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: s.PreferencesSavedSerializer}, tags=TAGS,
                   summary="Merge settings into my preferences (a key set to null is removed)")
    def put(self, request):
        if not isinstance(request.data, dict) or not request.data:
            raise InvalidInput("Invalid request: the body must be a JSON object of settings")
        if "tab_order" in request.data and not (isinstance(request.data["tab_order"], list) and all(
                isinstance(t, str) for t in request.data["tab_order"])):
            raise InvalidInput("Invalid request: tab_order must be a list of tab names")
        if len(str(request.data)) > 16_000:
            raise InvalidInput("Invalid request: preferences are limited to 16 kB")
        services.preferences_update(user=request.user, values=dict(request.data))
        return Response(s.PreferencesSavedSerializer({"status": "saved", "username": request.user.username}).data)
