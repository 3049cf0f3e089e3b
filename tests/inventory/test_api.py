import pytest

from apps.inventory.models import VMContext
from tests.factories import vm_with_disks
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def agent_vm(name="web01", uuid="4205a841-0265-f4bd-39a6-39fd92196f53", disks=2):
    return {"id": "vm-42", "name": name, "path": f"/DC0/vm/{name}", "uuid": uuid, "bios_uuid": "bios-1",
            "power_state": "poweredOn", "guest_os": "ubuntu64Guest", "guest_os_name": "Ubuntu", "num_cpu": 2,
            "memory_mb": 4096, "firmware": "bios", "cbt_enabled": False,
            "disks": [{"key": 2000 + i, "id": f"disk-{i}", "label": f"Hard disk {i + 1}", "controller_key": 1000,
                       "unit_number": i, "capacity_bytes": (i + 1) * 1024 ** 3, "datastore": "LocalDS_0",
                       "path": f"[LocalDS_0] {name}/{name}_{i}.vmdk", "cbt_enabled": False} for i in range(disks)],
            "nics": [{"key": 4000, "label": "Network adapter 1", "network": "VM Network",
                      "mac_address": "00:50:56:aa:bb:cc", "adapter_type": "VirtualVmxnet3"}],
            "snapshots": []}


def push(client, vms):
    return client.post("/api/v1/vms/inventory", {"vcenter": {"host": "vc.lab", "datacenter": "DC0"}, "vms": vms},
                       format="json")


def test_inventory_push_is_idempotent(operator_client):
    first = push(operator_client, [agent_vm()])
    assert_matches_schema(first, "/api/v1/vms/inventory", "post")
    assert first.json()["created"] == 1
    second = push(operator_client, [agent_vm(disks=3)]).json()
    assert second["created"] == 0 and second["updated"] == 1
    context = VMContext.objects.get()
    assert context.disks.count() == 3 and context.nics.count() == 1
    assert context.context_id.startswith("ctx-web01-")


def test_inventory_bad_input(operator_client):
    assert push(operator_client, [{"name": "x"}]).status_code == 400
    assert operator_client.post("/api/v1/vms/inventory", {"vms": []}, format="json").status_code == 400
    bad_disk = agent_vm()
    bad_disk["disks"][0]["capacity_bytes"] = "lots"
    response = push(operator_client, [bad_disk])
    assert response.status_code == 400 and "capacity_bytes" in response.json()["error"]
    assert_matches_schema(response, "/api/v1/vms/inventory", "post")
    assert not VMContext.objects.exists()


def test_vm_context_detail_shape(operator_client):
    push(operator_client, [agent_vm()])
    response = operator_client.get("/api/v1/vm-contexts/web01")
    assert_matches_schema(response, "/api/v1/vm-contexts/{vm_name}", "get")
    body = response.json()
    assert set(body) == {"context", "current_job", "job_history", "disks", "nics", "cbt_history"}
    assert body["context"]["vm_name"] == "web01" and body["context"]["current_status"] == "discovered"
    assert body["current_job"] is None and body["job_history"] == [] and len(body["disks"]) == 2
    assert body["disks"][1]["capacity_bytes"] == 2 * 1024 ** 3
    context_id = body["context"]["context_id"]
    recent = operator_client.get(f"/api/v1/vm-contexts/{context_id}/recent-jobs")
    assert recent.json()["jobs"] == []
    assert_matches_schema(recent, "/api/v1/vm-contexts/{context_id}/recent-jobs", "get")
    missing = operator_client.get("/api/v1/vm-contexts/nope")
    assert missing.status_code == 404
    assert_matches_schema(missing, "/api/v1/vm-contexts/{vm_name}", "get")
    vm = operator_client.get(f"/api/v1/vms/{body['context']['vm_id']}")
    assert vm.json()["vm_name"] == "web01"
    assert_matches_schema(vm, "/api/v1/vms/{vm_id}", "get")


def test_lists_are_paginated_filtered_and_constant_in_queries(operator_client, django_assert_max_num_queries):
    for i in range(3):
        vm_with_disks(2, vm_name=f"app{i}")
    with django_assert_max_num_queries(6):
        small = operator_client.get("/api/v1/vm-contexts").json()  # no limit/offset: a plain array
    for i in range(3, 30):
        vm_with_disks(2, vm_name=f"app{i}")
    with django_assert_max_num_queries(6):
        big = operator_client.get("/api/v1/vm-contexts?limit=100").json()
    assert len(small) == 3 and big["count"] == 30 and big["results"][0]["disk_count"] == 2
    assert len(operator_client.get("/api/v1/vm-contexts?q=app1").json()) == 11
    assert operator_client.get("/api/v1/vm-contexts?q=app1&offset=0").json()["count"] == 11
    assert operator_client.get("/api/v1/vms?limit=5").json()["next"]
    assert operator_client.get("/api/v1/vm-contexts/ungrouped").json()["count"] == 30
    assert operator_client.get("/api/v1/discovery/ungrouped-vms").json()["count"] == 30


def test_discovery_without_agent_is_503_and_without_credentials_404(operator_client, settings):
    settings.AGENT_API_URL = "http://127.0.0.1:1"
    response = operator_client.post("/api/v1/discovery/discover-vms", {}, format="json")
    assert response.status_code == 404 and "No default VMware credentials" in response.json()["error"]
    assert_matches_schema(response, "/api/v1/discovery/discover-vms", "post")
    operator_client.post("/api/v1/vmware-credentials", {"name": "vc", "vcenter_host": "h", "username": "u",
                                                       "password": "p", "datacenter": "DC0"}, format="json")
    response = operator_client.post("/api/v1/discovery/discover-vms", {}, format="json")
    assert response.status_code == 503 and "No agent is connected" in response.json()["error"]
    assert_matches_schema(response, "/api/v1/discovery/discover-vms", "post")
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": []}, format="json").status_code == 400
    assert operator_client.post("/api/v1/discovery/discover-vms", {"credential_id": 99}, format="json").status_code == 404


def test_agent_address_follows_the_enrolled_agents_tunnel(settings, monkeypatch):
    from apps.enrollment.agent_client import AgentClient
    from apps.enrollment.models import Appliance
    from apps.enrollment.services import appliance_create

    monkeypatch.delenv("MP_AGENT_API_URL", raising=False)
    settings.AGENT_API_URL = "http://localhost:9081"
    assert AgentClient().base_url == "http://localhost:9081"  # no enrolled agent: the documented default
    appliance, _ = appliance_create(appliance_id="vma-tunnel")
    Appliance.objects.filter(pk=appliance.pk).update(tunnel_reverse_port=9093)
    assert AgentClient().base_url == "http://127.0.0.1:9093"
    settings.AGENT_API_URL = "http://10.0.0.5:8081"  # an explicit setting wins
    assert AgentClient().base_url == "http://10.0.0.5:8081"
