"""Fixtures for the agent's tests: a real vcsim, VMs made through the vSphere API, the agent
running as a process, and a stand-in control plane (a small real HTTP server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.agent.vmlab import (
    AgentProcess,
    FakeControlPlane,
    NicSpec,
    VmSpec,
    connect,
    create_vm,
    datastore_map,
)

try:
    from lab.vcsim.simulator import Vcsim, VcsimUnavailable
except ImportError:  # pragma: no cover - the lab package is part of the repo
    Vcsim = None  # type: ignore[assignment]
    VcsimUnavailable = RuntimeError  # type: ignore[assignment,misc]


@pytest.fixture(scope="session")
def sim() -> Iterator[Any]:
    if Vcsim is None:
        pytest.skip("lab/vcsim is not available")
    try:
        simulator = Vcsim(vms=0, hosts=1, dvportgroups=1)
        simulator.start()
    except VcsimUnavailable as exc:
        pytest.skip(f"vcsim cannot be built here: {exc}")
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def si(sim: Any) -> Any:
    return connect(sim)


@pytest.fixture(scope="session")
def lab_vms(si: Any) -> dict[str, Any]:
    """The VMs discovery tests look at (replication tests make their own)."""
    specs = [
        VmSpec("web-01", disks_mb=[8, 16, 4], disks_on_first_controller=2, cpus=2, memory_mb=2048,
               nics=[NicSpec("VM Network", "vmxnet3"), NicSpec("DC0_DVPG0", "e1000e")]),
        VmSpec("db-01", disks_mb=[32], firmware="efi", guest_id="windows2019srv_64Guest", cpus=4,
               memory_mb=8192, nics=[NicSpec("DC0_DVPG0", "e1000")]),
        VmSpec("app-01", disks_mb=[8], folder="Prod", nics=[NicSpec("VM Network"), NicSpec("VM Network", "e1000")]),
    ]
    return {spec.name: create_vm(si, spec) for spec in specs}


@pytest.fixture(scope="session")
def control_plane() -> Iterator[FakeControlPlane]:
    with FakeControlPlane() as cp:
        yield cp


def agent_env(sim: Any, si: Any, state_dir: Path, control_plane: FakeControlPlane) -> dict[str, str]:
    return {
        "VMA_STATE_DIR": str(state_dir),
        "VMA_VCENTER_THUMBPRINT": sim.thumbprint,
        "VMA_DATASTORE_MAP": json.dumps(datastore_map(si)),
        "VMA_OMA_URL": control_plane.url,
        "VMA_OMA_APPLIANCE_ID": control_plane.appliance_id,
        "VMA_OMA_TOKEN": control_plane.appliance_token,
        "VMA_OMA_BACKOFF_INITIAL": "0.05",
        "VMA_OMA_MAX_ATTEMPTS": "3",
        "VMA_PROGRESS_INTERVAL": "0.2",
        "VMA_LOG_LEVEL": "DEBUG",
        "VMA_VCENTER_TIMEOUT": "5",
        "VMA_CHECKPOINT_INTERVAL": "0.5",
    }


@pytest.fixture(scope="session")
def agent(sim: Any, si: Any, lab_vms: dict[str, Any], control_plane: FakeControlPlane,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("agent")
    proc = AgentProcess(agent_env(sim, si, root / "state", control_plane), root / "agent.log").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def vcenter(sim: Any) -> dict[str, str]:
    """The vCenter part of a discover/replicate/cleanup request body."""
    return {"vcenter": f"{sim.host}:{sim.port}", "username": sim.username, "password": sim.password}


@pytest.fixture()
def api(agent: AgentProcess) -> requests.Session:
    session = requests.Session()
    session.base = agent.url  # type: ignore[attr-defined]
    return session


@pytest.fixture(scope="module")
def configured_agent(sim: Any, si: Any, control_plane: FakeControlPlane,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent with a default vCenter account, as installed next to a vCenter in production (one per test module:
    a module may change its runtime state)."""
    root = tmp_path_factory.mktemp("configured-agent")
    password_file = root / "vcenter-password"
    password_file.write_text(sim.password + "\n")
    password_file.chmod(0o600)
    env = agent_env(sim, si, root / "state", control_plane)
    env.update({"VMA_VCENTER_HOST": f"{sim.host}:{sim.port}", "VMA_VCENTER_USERNAME": sim.username,
                "VMA_VCENTER_PASSWORD_FILE": str(password_file)})
    proc = AgentProcess(env, root / "agent.log").start()
    proc.state_dir = root / "state"  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.stop()
