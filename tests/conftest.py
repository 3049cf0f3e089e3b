"""Shared fixtures: API clients per role, and the lab peers (started lazily, skipped only when a binary is missing)."""
from __future__ import annotations

import os

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.core.choices import Role, TokenKind
from apps.core.services import token_issue

# Seed 004's per-user rate limit (100 a minute) would cut the tests that sweep every path as one user, and the live
# servers they start (the fuzzer's, the e2e stack's): lifted for them; tests/core/test_seed_rate_limit.py sets it low.
# (pytest-django configured the settings before this file: this process's are set here, the servers' by the env.)
os.environ["SEED_API_RATE"] = "1000000/min"
django_settings.MP_SEED_API_RATE = os.environ["SEED_API_RATE"]


def pytest_unconfigure(config):
    # The per-process embedded broker of this test run (config/settings.py) goes with it.
    from django.conf import settings

    url = getattr(settings, "CELERY_BROKER_URL", "")
    if "celery-broker-test-" in url:
        from pathlib import Path

        Path(url.split("sqlite:///", 1)[1]).unlink(missing_ok=True)


# Tests that drive peers (browsers, emulators, guests, the fuzzer) and whose use of the database is incidental: CI runs
# them once, in its first (SQLite) pass. Its second pass, on MariaDB + Redis, sets MP_TEST_DATABASE_PASS=1 and leaves
# them out, keeping everything the database matters to: models, services, APIs, row locks and the e2e drills of
# leases and port locks (tests/e2e/test_replication_e2e.py, test_faults_provisioning.py, test_faults_many.py).
# The agent's and the data mover's tests import no Django at all (those packages never do): a second pass would run
# the very same code against the very same peers.
RUN_ONCE = (
    "tests/agent/", "tests/datamover/",
    "tests/fuzz/", "tests/lab/", "tests/planner/test_fuzz.py", "tests/console/test_browser",
    "tests/e2e/test_discovery_e2e.py", "tests/e2e/test_https_e2e.py", "tests/e2e/test_identity_failover_e2e.py",
    "tests/e2e/test_waves_e2e.py", "tests/e2e/test_guest_failover_e2e.py", "tests/e2e/test_replication_tunnel_e2e.py",
    "tests/e2e/test_faults_outages.py", "tests/e2e/test_faults_platform.py", "tests/e2e/test_faults_resume.py",
    "tests/enrollment/test_tunnel_e2e.py", "tests/snapshots/test_restore_boot.py", "tests/devlab/test_lab_guests.py",
)


def pytest_xdist_setupnodes(config, specs):
    # Each pytest-xdist worker after the first gets its own Redis databases for the broker and the cache (two below
    # the given ones per worker): the tests clear the cache, and the e2e stacks' Celery workers consume the broker.
    for index, spec in enumerate(specs):
        for name in ("CELERY_BROKER_URL", "CACHE_URL"):
            url = os.environ.get(name, "")
            prefix, _, number = url.rpartition("/")
            if index and url.startswith(("redis://", "rediss://")) and number.isdigit():
                if int(number) - 2 * index < 0:
                    raise pytest.UsageError(f"{name} {url}: too few Redis databases below it for {len(specs)} "
                                            "xdist workers (two each); use fewer workers or a higher database")
                spec.env[name] = f"{prefix}/{int(number) - 2 * index}"


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MP_TEST_DATABASE_PASS") != "1":
        return
    keep, left_out = [], []
    for item in items:
        (left_out if item.nodeid.startswith(RUN_ONCE) else keep).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = keep


@pytest.fixture(autouse=True)
def _failovers_move_marker_disks(settings):
    # Most failover tests move disks holding markers, not guests: no guest to convert, none to answer. The tests of
    # real guests (tests/failover/test_guest_failover.py) turn both on.
    settings.MP_FAILOVER_CONVERT = False
    settings.MP_FAILOVER_BOOT_CHECK_TIMEOUT = 0
    # Keeping NIC names inspects the guest with libguestfs (a minute under TCG): the quick conversion tests'
    # marker disks hold no guest. The e2e's worker keeps them (its own settings).
    settings.MP_FAILOVER_KEEP_NIC_NAMES = False


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    """More environment for the e2e stack's worker (tests/e2e/conftest.py `stack`, which the console and planner
    tests reuse); a test module overrides it, e.g. to convert guests."""
    return {}


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; each test starts with a clean slate.
    cache.clear()
    yield
    cache.clear()


def make_user(username: str, *roles: str, password: str = "S3cure-pass-123"):
    user = get_user_model().objects.create_user(username=username, password=password)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(user) -> APIClient:
    from datetime import timedelta

    issued = token_issue(user=user, kind=TokenKind.OPERATOR, ttl=timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    client.raw_token = issued.raw
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def viewer_client(db):
    return client_for(make_user("viewer1", Role.VIEWER))


@pytest.fixture
def operator_client(db):
    return client_for(make_user("operator1", Role.OPERATOR))


@pytest.fixture
def admin_client_api(db):
    return client_for(make_user("admin1", Role.ADMIN))


# --- the CloudStack emulator, as a separate process speaking the real wire protocol ---

@pytest.fixture
def cs_lab(tmp_path, settings, cs_lab_options):
    from apps.settings.cloudstack import local_macs
    from lab.cloudstack import launch

    # The emulator listens on 127.0.0.1: the lab (and so the tests) let the setup endpoints call loopback.
    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = True

    # The control-plane VM carries this host's MACs, so detection by MAC works as on a real OMA.
    with launch(tmp_path / "cloudstack", job_delay=0.05, oma_vm_macs=",".join(sorted(local_macs())),
                **cs_lab_options) as lab:
        yield lab


@pytest.fixture
def cs_lab_options() -> dict:
    """Override in a test module to start `cs_lab` differently (e.g. a CloudStack version that has storageid)."""
    return {}


@pytest.fixture
def cs_config(db, cs_lab, settings):
    """An OSSEA configuration pointing at the emulator; devices appear under the emulator's lab root."""
    from apps.settings.models import OsseaConfig

    settings.MP_DEVICE_ROOT = str(cs_lab.dev_root)
    settings.MP_DEVICE_TIMEOUT = 10
    settings.MP_CLOUDSTACK_JOB_TIMEOUT = 30
    settings.MP_CLOUDSTACK_POLL_INTERVAL = 0.05
    return OsseaConfig.objects.create(name="lab", api_url=cs_lab.url, api_key=cs_lab.api_key,
                                      secret_key=cs_lab.secret_key, zone="OSSEA-Zone", oma_vm_id="")
