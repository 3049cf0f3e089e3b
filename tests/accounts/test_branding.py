"""Seed 004's branding (public read, admin write, the logo upload) and user preferences; the console shows the
branding."""
from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.choices import Role
from tests.conftest import client_for, make_user
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db
# A real 1x1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def test_branding_is_public_and_admins_change_it(anon_client, admin_client_api):
    response = anon_client.get("/settings/branding")
    assert response.status_code == 200
    assert_matches_schema(response, "/settings/branding", "get")
    assert response.json()["company_logo_url"] is None
    response = admin_client_api.put("/settings/branding", {
        "company_name": "CCC", "company_subtitle": "Infrastructure Management", "primary_color": "#667eea",
        "secondary_color": "#764ba2", "login_hero_title": "Welcome", "login_hero_features": ["Feature 1", "Feature 2"]},
        format="json")
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/settings/branding", "put")
    body = anon_client.get("/settings/branding").json()
    assert (body["company_name"], body["primary_color"], body["login_hero_features"]) == \
        ("CCC", "#667eea", ["Feature 1", "Feature 2"])


@pytest.mark.parametrize("body, field", [({"primary_color": "red"}, "primary_color"),
                                         ({"primary_color": "#12345"}, "primary_color"),
                                         ({"secondary_color": "#1234567"}, "secondary_color"),
                                         ({"company_name": "x" * 101}, "company_name"),
                                         ({"login_hero_features": "one"}, "login_hero_features")])
def test_bad_branding_is_400(admin_client_api, body, field):
    response = admin_client_api.put("/settings/branding", body, format="json")
    assert response.status_code == 400 and field in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_branding_writes_are_admin_only(role):
    client = client_for(make_user(f"b-{role}", role))
    for response in (client.put("/settings/branding", {"company_name": "Evil"}, format="json"),
                     client.post("/settings/branding/logo", {"file": SimpleUploadedFile("l.png", PNG)},
                                 format="multipart")):
        assert response.status_code == 403
        assert response.json() == {"detail": "Permission denied: requires settings:admin"}


def test_logo_upload_is_served_and_shown_in_the_branding(admin_client_api, anon_client):
    response = admin_client_api.post("/settings/branding/logo", {"file": SimpleUploadedFile("logo.png", PNG)},
                                     format="multipart")
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/settings/branding/logo", "post")
    url = response.json()["logo_url"]
    assert url.startswith("/settings/branding/logo/company_logo_") and url.endswith(".png")
    assert anon_client.get("/settings/branding").json()["company_logo_url"] == url
    image = anon_client.get(url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png" and image.content == PNG
    assert anon_client.get("/settings/branding/logo/other.png").status_code == 404


@pytest.mark.parametrize("name, data, message", [
    ("logo.png", b"not an image at all", "must be a PNG, JPEG, GIF, SVG or WebP"),
    ("logo.exe", b"MZ\x90\x00" + b"\x00" * 100, "must be a PNG, JPEG, GIF, SVG or WebP"),
    ("logo.png", PNG + b"\x00" * (2 * 1024 * 1024), "Logo too large"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "scripts"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', "scripts"),
])
def test_bad_logos_are_400(admin_client_api, name, data, message):
    response = admin_client_api.post("/settings/branding/logo", {"file": SimpleUploadedFile(name, data)},
                                     format="multipart")
    assert response.status_code == 400 and message in response.json()["detail"]


def test_logo_without_a_file_is_400(admin_client_api):
    response = admin_client_api.post("/settings/branding/logo", {}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["detail"]


def test_an_svg_logo_is_accepted_and_served_sandboxed(admin_client_api, anon_client):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    url = admin_client_api.post("/settings/branding/logo", {"file": SimpleUploadedFile("l.svg", svg)},
                                format="multipart").json()["logo_url"]
    image = anon_client.get(url)
    assert image["Content-Type"] == "image/svg+xml" and "sandbox" in image["Content-Security-Policy"]


def test_the_console_shows_the_branding(admin_client_api, client):
    admin = make_user("console-admin", Role.ADMIN)
    admin.is_staff = True
    admin.save()
    admin_client_api.put("/settings/branding", {"company_name": "Acme Cloud Moves", "primary_color": "#123456",
                                                "company_subtitle": "VMware exit"}, format="json")
    url = admin_client_api.post("/settings/branding/logo", {"file": SimpleUploadedFile("logo.png", PNG)},
                                format="multipart").json()["logo_url"]
    client.force_login(admin)
    page = client.get("/console/").content.decode()
    assert "Acme Cloud Moves" in page and "VMware exit" in page
    assert "--header-bg: #123456" in page and f'src="{url}"' in page
    admin_client_api.put("/settings/branding", {"login_hero_title": "Welcome aboard",
                                                "login_hero_features": ["Replicate <b>safely</b>"]}, format="json")
    login = client.__class__().get("/console/login/").content.decode()
    assert "Acme Cloud Moves" in login and "Welcome aboard" in login  # before anyone logs in, too
    assert "Replicate &lt;b&gt;safely&lt;/b&gt;" in login  # the branding is text, never markup


def test_user_preferences_are_each_users_own(viewer_client, admin_client_api, anon_client):
    assert viewer_client.get("/user-preferences").json() == {}
    response = viewer_client.put("/user-preferences", {"tab_order": ["dashboard", "volumes", "servers"],
                                                       "custom_setting": "value"}, format="json")
    assert response.status_code == 200
    assert_matches_schema(response, "/user-preferences", "put")
    assert response.json() == {"status": "saved", "username": "viewer1"}
    viewer_client.put("/user-preferences", {"custom_setting": None, "theme": "dark"}, format="json")
    assert viewer_client.get("/user-preferences").json() == {"tab_order": ["dashboard", "volumes", "servers"],
                                                             "theme": "dark"}
    assert admin_client_api.get("/user-preferences").json() == {}
    assert anon_client.get("/user-preferences").status_code == 401
    for bad in ([1, 2], {}, {"tab_order": "dashboard"}, {"tab_order": [1]}):
        response = viewer_client.put("/user-preferences", bad, format="json")
        assert response.status_code == 400 and set(response.json()) == {"detail"}


def test_the_console_lists_departments_and_emails_for_admins_only(client):
    admin = make_user("staff-admin", Role.ADMIN)
    viewer = make_user("staff-viewer", Role.VIEWER)
    for user in (admin, viewer):
        user.is_staff = True
        user.save()
    client.force_login(admin)
    assert client.get("/console/accounts/department/").status_code == 200
    assert client.get("/console/accounts/notification/").status_code == 200
    client.force_login(viewer)
    assert client.get("/console/accounts/department/").status_code == 403
