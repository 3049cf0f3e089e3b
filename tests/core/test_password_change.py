"""A changed password ends the user's bearer sessions: a token stolen before the change stops working."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "Old-pass-4242"
NEW_PASSWORD = "New-pass-4242!"


def logged_in(username: str, password: str = PASSWORD) -> APIClient:
    """A client holding a bearer token from the real login."""
    client = APIClient()
    response = client.post("/api/v1/auth/login", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['session_token']}")
    return client


def test_password_changed_in_the_console_revokes_the_users_tokens():
    alice = make_user("alice", "operator", password=PASSWORD)
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    first, second = logged_in("alice"), logged_in("alice")
    bystander = make_user("bob", "operator", password=PASSWORD)
    other = logged_in("bob")
    assert first.get("/api/v1/vms").status_code == 200

    console = Client()
    console.force_login(root)  # the console's login form goes through django-axes, which needs a real request
    response = console.post(f"/console/auth/user/{alice.pk}/password/",
                            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content[:500]

    for client in (first, second):
        response = client.get("/api/v1/vms")
        assert response.status_code == 401
        assert response.json()["success"] is False and "revoked" in response.json()["error"]
    # Other users keep their sessions; the new password logs in.
    assert other.get("/api/v1/vms").status_code == 200 and bystander.is_active
    assert logged_in("alice", NEW_PASSWORD).get("/api/v1/vms").status_code == 200


def test_set_password_and_save_revokes_the_tokens():
    user = make_user("carol", "viewer", password=PASSWORD)
    client = logged_in("carol")
    user.set_password(NEW_PASSWORD)
    user.save()
    assert client.get("/api/v1/vms").status_code == 401


def test_changepassword_command_revokes_the_tokens(monkeypatch):
    make_user("dave", "viewer", password=PASSWORD)
    client = logged_in("dave")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", "dave")
    assert client.get("/api/v1/vms").status_code == 401


def test_saving_the_user_without_a_new_password_keeps_the_tokens():
    user = make_user("erin", "viewer", password=PASSWORD)
    client = logged_in("erin")
    user.first_name = "Erin"
    user.save()
    get_user_model().objects.get(pk=user.pk).save()
    assert client.get("/api/v1/vms").status_code == 200


def test_a_login_that_upgrades_the_password_hash_keeps_the_other_sessions(settings):
    # Django re-hashes a password at login when the preferred hasher changed; the password is the same.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    make_user("frank", "viewer", password=PASSWORD)
    earlier = logged_in("frank")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    logged_in("frank")
    assert get_user_model().objects.get(username="frank").password.startswith("pbkdf2_")
    assert earlier.get("/api/v1/vms").status_code == 200
