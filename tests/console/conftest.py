"""Console users: staff accounts (the admin's login) in the platform's role groups."""
from __future__ import annotations

import pytest
from django.test import Client

from apps.core.choices import Role
from tests.conftest import make_user
from tests.e2e import conftest as e2e

# The lab stack the browser test drives (vcsim, the agent, the CloudStack emulator, a worker, the live server).
vcsim = e2e.vcsim
stack = e2e.stack

PASSWORD = "S3cure-pass-123"


def console_user(username: str, *roles: str):
    user = make_user(username, *roles, password=PASSWORD)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def console_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _role_client(username: str, role: str):
    @pytest.fixture
    def logged_in(db) -> Client:
        return console_client(console_user(username, role))
    return logged_in


viewer = _role_client("viewer-c", Role.VIEWER)
operator = _role_client("operator-c", Role.OPERATOR)
admin = _role_client("admin-c", Role.ADMIN)
