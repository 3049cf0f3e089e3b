"""Login throttles and lockouts through the real API, console and browsable-API logins (issue 13, item 2)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client

from apps.core.checks import check_trusted_proxies
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "S3cure-pass-123"


def _api_login(client, password="wrong", **extra):
    return client.post("/api/v1/auth/login", {"username": "op", "password": password}, format="json", **extra)


def test_varying_x_forwarded_for_does_not_escape_the_login_throttle(anon_client):
    codes = [_api_login(anon_client, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(60)]
    assert codes[:10] == [401] * 10
    assert set(codes[10:]) == {429}
    answer = _api_login(anon_client, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert answer.status_code == 429
    assert answer.json()["success"] is False and answer.json()["error"] == "Too many requests"


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(anon_client, settings):
    settings.MP_TRUSTED_PROXIES = ["127.0.0.2"]
    via_proxy = {"REMOTE_ADDR": "127.0.0.2"}
    first = [_api_login(anon_client, HTTP_X_FORWARDED_FOR="203.0.113.1", **via_proxy).status_code for _ in range(11)]
    assert first == [401] * 10 + [429]
    # Another client behind the same proxy has its own count.
    assert _api_login(anon_client, HTTP_X_FORWARDED_FOR="203.0.113.2", **via_proxy).status_code == 401
    # What the first client writes left of the proxy's hop is not believed.
    spoofed = _api_login(anon_client, HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.1", **via_proxy)
    assert spoofed.status_code == 429


def _form_login(path: str, password: str, **extra):
    return Client().post(path, {"username": "console-admin", "password": password}, **extra)


@pytest.mark.parametrize("path", ["/console/login/", "/api-auth/login/"])
def test_console_and_browsable_api_logins_lock_out_after_repeated_failures(path, settings):
    user = make_user("console-admin", "admin", password=PASSWORD)
    user.is_staff = user.is_superuser = True
    user.save()
    limit = settings.AXES_FAILURE_LIMIT
    codes = [_form_login(path, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(limit)]
    assert codes[:-1] == [200] * (limit - 1)  # the form again, with its error
    assert codes[-1] == 429
    refused = _form_login(path, PASSWORD)
    assert refused.status_code == 429
    body = refused.json()
    assert body["success"] is False and body["error"] == "Too many failed logins from this address"
    assert int(refused["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    # Once the lockout has run its time, the right password works again.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.first().attempt_time
                                 - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert _form_login(path, PASSWORD).status_code == 302


def test_the_api_login_is_left_to_its_throttle(anon_client, settings):
    make_user("op", "operator", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        assert _api_login(anon_client).status_code == 401
    assert _api_login(anon_client, password=PASSWORD).status_code == 200
    assert not AccessAttempt.objects.exists()


@pytest.mark.parametrize(("behind_proxy", "trusted", "expected"), [
    (True, [], {"core.W010"}),
    (True, ["127.0.0.1"], {"core.W011"}),
    (True, ["127.0.0.0/8"], {"core.W011"}),
    (True, ["127.0.0.2"], set()),
    (False, [], set()),
])
def test_the_deploy_check_names_a_missing_or_loopback_trusted_proxy(settings, behind_proxy, trusted, expected):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if behind_proxy else None
    settings.MP_TRUSTED_PROXIES = trusted
    assert {warning.id for warning in check_trusted_proxies(None)} == expected
