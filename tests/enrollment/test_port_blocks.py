"""Each approved agent's own block of NBD ports: handed out at approval, told to the agent, written into its key's
permitopen and no other key's, freed at revocation; agents approved before the blocks existed get theirs from the
migration."""
import importlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ImproperlyConfigured

from apps.enrollment import conf
from apps.enrollment.agent_client import default_agent
from apps.enrollment.models import Appliance
from apps.enrollment.services import appliance_create

from .conftest import enroll_and_prove, new_code, new_key, public_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(admin_client_api, tunnel_files, settings):
    settings.MP_ENROLL_THROTTLE_RATE = "100/min"
    settings.MP_ENROLL_RESULT_THROTTLE_RATE = "100/min"
    return admin_client_api


def _approve(admin, anon, name):
    agent = enroll_and_prove(anon, new_code(admin), name=name)
    response = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}")
    if response.status_code != 200:
        return agent, response, None
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {agent.poll_token}")
    try:
        tunnel = anon.get("/api/v1/vma/enroll/result", {"enrollment_id": agent.enrollment_id}).json()["tunnel"]
    finally:
        anon.credentials()
    return agent, response, tunnel


def _key_line(tunnel_files, agent) -> str:
    text = Path(tunnel_files / "authorized_keys").read_text()
    return next(row for row in text.splitlines() if agent.key.get_base64() in row)


def _permitted_nbd(line: str) -> list[int]:
    return [int(part.split(":")[1].rstrip('"')) for part in line.split(" ")[0].split(",")
            if part.startswith("permitopen=") and not part.endswith(':8082"')]


def test_each_agent_gets_its_own_block_until_none_is_left(admin, anon_client, tunnel_files, settings):
    settings.MP_TUNNEL_NBD_PORTS = "10809-10813,10900"  # six ports
    settings.MP_TUNNEL_NBD_PORTS_PER_AGENT = 3
    agent_a, _, tunnel_a = _approve(admin, anon_client, "a")
    agent_b, _, tunnel_b = _approve(admin, anon_client, "b")
    # The agent is told its own block (`vma tunnel` forwards these), and its key may open those and no other.
    assert tunnel_a["nbd_ports"] == [10809, 10810, 10811] and tunnel_b["nbd_ports"] == [10812, 10813, 10900]
    assert _permitted_nbd(_key_line(tunnel_files, agent_a)) == [10809, 10810, 10811]
    assert _permitted_nbd(_key_line(tunnel_files, agent_b)) == [10812, 10813, 10900]
    assert Appliance.objects.get(appliance_id="vma-b").tunnel_nbd_ports == "10812-10813,10900"
    active = {a["appliance_id"]: a for a in admin.get("/api/v1/admin/vma/active").json()["appliances"]}
    assert active["vma-a"]["tunnel"]["nbd_ports"] == "10809-10811"

    # A third agent: a reverse port is left (9081-9090), no block of NBD ports is.
    agent_c, refused, _ = _approve(admin, anon_client, "c")
    assert refused.status_code == 409 and refused.json()["error_code"] == "NO_TUNNEL_PORT"
    assert "MP_TUNNEL_NBD_PORTS" in refused.json()["error"]

    # Revoking frees the block for the next agent.
    assert admin.delete("/api/v1/admin/vma/revoke/vma-a").status_code == 200
    assert Appliance.objects.get(appliance_id="vma-a").tunnel_nbd_ports is None
    assert admin.post(f"/api/v1/admin/vma/approve/{agent_c.enrollment_id}").status_code == 200
    assert Appliance.objects.get(appliance_id="vma-c").tunnel_nbd_ports == "10809-10811"


def test_the_default_block_shares_the_ports_among_the_reverse_ports(settings):
    settings.MP_TUNNEL_NBD_PORTS = "10809-10908"
    settings.MP_TUNNEL_REVERSE_PORTS = "9081-9090"
    tunnel = conf.tunnel_conf()
    assert tunnel.nbd_ports_per_agent == 10
    assert conf.nbd_port_blocks(tunnel)[1] == tuple(range(10819, 10829))
    # One agent only (a single reverse port): it gets every NBD port, as before the blocks.
    settings.MP_TUNNEL_REVERSE_PORTS = "9081"
    assert conf.free_nbd_block(conf.tunnel_conf(), []) == "10809-10908"
    settings.MP_TUNNEL_NBD_PORTS_PER_AGENT = "4"
    assert conf.free_nbd_block(conf.tunnel_conf(), ["10809-10812", "10814"]) == "10817-10820"
    for bad in ("many", "-1"):
        settings.MP_TUNNEL_NBD_PORTS_PER_AGENT = bad
        with pytest.raises(ImproperlyConfigured, match="MP_TUNNEL_NBD_PORTS_PER_AGENT"):
            conf.tunnel_conf()


def test_agents_approved_before_the_blocks_get_theirs_from_the_migration(settings):
    settings.MP_TUNNEL_NBD_PORTS = "10809-10812"
    settings.MP_TUNNEL_REVERSE_PORTS = "9081-9082"
    for index, name in enumerate(("vma-old-1", "vma-old-2", "vma-old-3")):
        appliance, _ = appliance_create(appliance_id=name)
        Appliance.objects.filter(pk=appliance.pk).update(ssh_public_key=public_line(new_key()),
                                                          tunnel_reverse_port=9081 + index)
    keyless, _ = appliance_create(appliance_id="vma-keyless")
    migration = importlib.import_module("apps.enrollment.migrations.0003_appliance_nbd_ports")
    migration.assign_blocks(django_apps, None)
    blocks = dict(Appliance.objects.values_list("appliance_id", "tunnel_nbd_ports"))
    # In approval order, until the blocks run out; an agent without a tunnel key needs none.
    assert blocks == {"vma-old-1": "10809-10810", "vma-old-2": "10811-10812", "vma-old-3": None,
                      "vma-keyless": None}


def test_the_serving_agent_is_known_by_its_reverse_forward(settings, monkeypatch):
    monkeypatch.delenv("MP_AGENT_API_URL", raising=False)
    settings.AGENT_API_URL = "http://localhost:9081"
    assert default_agent().appliance is None
    first, _ = appliance_create(appliance_id="vma-first")
    Appliance.objects.filter(pk=first.pk).update(tunnel_reverse_port=9082)
    assert default_agent().appliance.appliance_id == "vma-first"
    second, _ = appliance_create(appliance_id="vma-second")
    Appliance.objects.filter(pk=second.pk).update(tunnel_reverse_port=9081)
    # Two agents: the documented address, which is the reverse forward of one of them.
    assert default_agent().url == "http://localhost:9081" and default_agent().appliance.appliance_id == "vma-second"
    settings.AGENT_API_URL = "http://127.0.0.1:9082"
    assert default_agent().appliance.appliance_id == "vma-first"
    settings.AGENT_API_URL = "http://10.0.0.5:9082"  # an agent reached without a tunnel
    assert default_agent().appliance is None


def test_a_block_too_scattered_to_record_is_refused_not_truncated(admin, anon_client, settings):
    settings.MP_TUNNEL_NBD_PORTS = ",".join(str(port) for port in range(20000, 20400, 2))  # 200 lone ports
    settings.MP_TUNNEL_NBD_PORTS_PER_AGENT = 100
    _, refused, _ = _approve(admin, anon_client, "scattered")
    assert refused.status_code == 409 and "as ranges" in refused.json()["error"]
    assert not Appliance.objects.exists()
