"""The product's client on the CloudStack emulator, tasks run in the test's process, and a second admin."""
from __future__ import annotations

import pytest

from apps.core.choices import Role
from apps.settings import cloudstack as cs
from tests.conftest import client_for, make_user


@pytest.fixture
def cloud(cs_config, cs_lab, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return cs.CloudStackClient(cs_lab.url, cs_lab.api_key, cs_lab.secret_key, poll_interval=0.05, job_timeout=30)


@pytest.fixture
def second_admin(db):
    return client_for(make_user("admin2", Role.ADMIN))
