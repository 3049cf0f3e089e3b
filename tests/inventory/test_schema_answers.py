"""Discovery answers (relayed from the agent's POST /api/v1/discover) match the published OpenAPI schema."""
from dataclasses import asdict

import pytest

from agent.vsphere import DiskInfo, NicInfo, SnapshotInfo, VmInfo
from apps.enrollment.agent_client import AgentClient
from tests.factories import CredentialFactory
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def agent_answer(*names):
    vms = []
    for index, name in enumerate(names):
        disk = DiskInfo(key=2000, id="disk-0", label="Hard disk 1", controller_key=1000, controller_type="pvscsi",
                        bus_number=0, unit_number=0, capacity_bytes=1024 ** 3, size_gb=1.0, datastore="LocalDS_0",
                        path=f"[LocalDS_0] {name}/{name}.vmdk", thin_provisioned=True, cbt_enabled=False)
        nic = NicInfo(key=4000, label="Network adapter 1", network="VM Network", mac_address="00:50:56:aa:bb:cc",
                      adapter_type="vmxnet3", connected=None)
        snapshot = SnapshotInfo(id="snapshot-1", name="before", description="", created_at="2025-08-01T10:00:00Z",
                                power_state="poweredOn", quiesced=False)
        vm = VmInfo(id=f"vm-{index}", name=name, path=f"/DC0/vm/{name}", uuid=f"4205-{index}", bios_uuid=None,
                    power_state="poweredOff", guest_os="ubuntu64Guest", guest_os_name=None, num_cpu=2, memory_mb=2048,
                    firmware="bios", cbt_enabled=False, disks=[disk], nics=[nic], snapshots=[snapshot])
        vms.append(asdict(vm))
    return {"vcenter": {"host": "127.0.0.1", "datacenter": "DC0"}, "vms": vms, "count": len(vms),
            "discovered_at": "2025-08-05T15:00:21Z"}


@pytest.fixture
def agent(monkeypatch):
    CredentialFactory()
    monkeypatch.setattr(AgentClient, "discover", lambda self, **kwargs: agent_answer("web01", "db01"))


def test_discovery_answers_match_the_schema(operator_client, agent):
    post = operator_client.post
    response = post("/api/v1/discovery/discover-vms", {"create_context": True}, format="json")
    assert response.status_code == 200 and len(response.json()["added"]) == 2
    assert_matches_schema(response, "/api/v1/discovery/discover-vms", "post")
    response = post("/api/v1/discovery/preview", {}, format="json")
    assert response.status_code == 200 and response.json()["new_vms"] == 0
    assert_matches_schema(response, "/api/v1/discovery/preview", "post")
    response = post("/api/v1/discovery/add-vms", {"vm_names": ["web01"]}, format="json")
    assert response.status_code == 201
    assert_matches_schema(response, "/api/v1/discovery/add-vms", "post")
    response = post("/api/v1/discovery/add-vms", {"vm_names": ["nope"]}, format="json")
    assert response.status_code == 400
    assert_matches_schema(response, "/api/v1/discovery/add-vms", "post")
    response = post("/api/v1/discovery/bulk-add", {}, format="json")
    assert response.status_code == 201 and response.json()["already_present"] == 2
    assert_matches_schema(response, "/api/v1/discovery/bulk-add", "post")
    response = operator_client.get("/api/v1/vms/discover")
    assert response.status_code == 200 and response.json()["vms"][0]["already_added"] is True
    assert_matches_schema(response, "/api/v1/vms/discover", "get")
    response = operator_client.get("/api/v1/vms/discover", {"vcenter": "elsewhere"})
    assert response.status_code == 404
    assert_matches_schema(response, "/api/v1/vms/discover", "get")
