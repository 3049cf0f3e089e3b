"""Fixtures for the vcsim lab tests: one simulator per test module, a pyVmomi session per test."""

from __future__ import annotations

import pytest

from lab.vcsim import Vcsim, cache_dir, ensure_built, toolchain_available


@pytest.fixture(scope="session")
def vcsim_binary():
    # Only a missing toolchain is a reason to skip; a failing build must fail the tests.
    if not toolchain_available() and not (cache_dir() / "vcsim").exists():
        pytest.skip("vcsim needs the Go toolchain to build (Debian package golang-go): `go` not found")
    return ensure_built()


@pytest.fixture(scope="module")
def sim(vcsim_binary):
    # One distributed port group so NIC backings of both kinds can be exercised.
    with Vcsim(vms=0, hosts=1, dvportgroups=1) as s:
        yield s


@pytest.fixture
def si(sim):
    return sim.connect()
