"""The `vma` command line as a process: discover (with --push) and a config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.agent.vmlab import REPO, FakeControlPlane

pytestmark = pytest.mark.integration


def run_vma(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VMA_")}
    clean.update(env, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=REPO, env=clean, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture()
def config_file(sim: Any, tmp_path: Path, control_plane: FakeControlPlane) -> Path:
    secret = tmp_path / "vc-password"
    secret.write_text(sim.password)
    path = tmp_path / "vma.toml"
    path.write_text(f"""
[vcenter]
host = "{sim.host}:{sim.port}"
username = "{sim.username}"
password_file = "{secret}"
thumbprint = "{sim.thumbprint}"
datacenter = "DC0"

[oma]
url = "{control_plane.url}"
appliance_id = "{control_plane.appliance_id}"
token = "{control_plane.appliance_token}"
""")
    return path


def test_discover_json_from_config(config_file: Path, lab_vms: dict) -> None:
    result = run_vma(["--config", str(config_file), "discover", "--filter", "db-*"], {})
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert [vm["name"] for vm in body["vms"]] == ["db-01"]
    assert body["vms"][0]["firmware"] == "efi"


def test_discover_table_and_push(config_file: Path, lab_vms: dict, control_plane: FakeControlPlane) -> None:
    before = len(control_plane.inventory)
    result = run_vma(["-c", str(config_file), "discover", "--filter", "web", "--table", "--push"], {})
    assert result.returncode == 0, result.stderr
    assert "/DC0/vm/web-01" in result.stdout and "1 VM(s) in DC0" in result.stdout
    assert "pushed 1 VM(s)" in result.stderr
    pushed = control_plane.inventory[before:]
    assert len(pushed) == 1 and pushed[0]["vms"][0]["name"] == "web-01"


def test_discover_password_from_env_and_bad_password(sim: Any, lab_vms: dict) -> None:
    env = {"VMA_VCENTER_HOST": f"{sim.host}:{sim.port}", "VMA_VCENTER_THUMBPRINT": sim.thumbprint,
           "MY_PW": sim.password, "BAD_PW": "nope-123"}
    ok = run_vma(["discover", "--username", sim.username, "--password-env", "MY_PW", "--filter", "app"], env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["vms"][0]["path"] == "/DC0/vm/Prod/app-01"
    bad = run_vma(["discover", "--username", sim.username, "--password-env", "BAD_PW"], env)
    assert bad.returncode == 1
    assert "OPERATION_FAILED" in bad.stderr and "invalid credentials" in bad.stderr
    assert "nope-123" not in bad.stderr + bad.stdout


def test_config_errors_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[server]\nport = 'x'\n")
    result = run_vma(["--config", str(path), "discover"], {})
    assert result.returncode == 2 and "server.port" in result.stderr
    assert run_vma(["nonsense"], {}).returncode == 2
