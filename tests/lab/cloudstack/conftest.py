"""Emulator tests talk to it over HTTP with the `cs` package (a real CloudStack client) or raw requests."""

from __future__ import annotations

import pytest
from cs import CloudStack

from lab.cloudstack import launch
from tests.lab.cloudstack.helpers import World, make_api


@pytest.fixture
def cloudstack_lab_options() -> dict:
    """Override in a test module (or parametrize indirectly) to start the emulator differently."""
    return {}


@pytest.fixture
def cloudstack_lab(tmp_path, cloudstack_lab_options):
    # Fast jobs keep tests quick; a test that needs a pending job injects a delay.
    with launch(tmp_path / "cloudstack", job_delay=0.05, **cloudstack_lab_options) as lab:
        yield lab


@pytest.fixture
def api(cloudstack_lab) -> CloudStack:
    """Calls wait for async jobs and return their jobresult."""
    return make_api(cloudstack_lab)


@pytest.fixture
def raw_api(cloudstack_lab) -> CloudStack:
    """Calls return CloudStack's immediate answer (jobid) without polling."""
    return make_api(cloudstack_lab, fetch_result=False)


@pytest.fixture
def world(api, cloudstack_lab) -> World:
    return World(api, cloudstack_lab)
