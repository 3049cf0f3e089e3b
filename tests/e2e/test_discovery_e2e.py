"""Discovery and credential checks through the real agent and vcsim (seed 000 "Discovery", issue 4)."""
import pytest

from apps.inventory.models import VMContext
from apps.settings.models import VMwareCredential

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_discover_preview_add_and_credential_checks(stack, operator_client):
    from lab.vcsim import create_vm

    for name, disks in (("disc-web1", 2), ("disc-web2", 1), ("disc-db1", 3)):
        create_vm(stack.si, name, disks_mb=(64,) * disks, networks=("VM Network", "Backup Net")[: 1 + (disks > 1)])

    found = operator_client.post("/api/v1/discovery/discover-vms", {"filter": "disc-"}, format="json").json()
    assert found["count"] == 3 and {vm["name"] for vm in found["discovered_vms"]} == {"disc-web1", "disc-web2", "disc-db1"}
    assert not VMContext.objects.exists()  # discovering adds nothing

    preview = operator_client.post("/api/v1/discovery/preview", {"filter": "disc-web"}, format="json").json()
    assert preview["count"] == 2 and preview["new_vms"] == 2
    web1 = next(vm for vm in preview["preview"] if vm["name"] == "disc-web1")
    assert web1["disk_count"] == 2 and web1["total_capacity_bytes"] == 2 * 64 * 1024 * 1024

    added = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["disc-web1"]}, format="json").json()
    assert added["vm_contexts"][0]["created"] is True
    bulk = operator_client.post("/api/v1/discovery/bulk-add", {"filter": "disc-"}, format="json").json()
    assert bulk["added"] == 2 and bulk["already_present"] == 1  # adding the same VM twice is idempotent
    context = VMContext.objects.get(vm_name="disc-web1")
    assert context.disks.count() == 2 and {n.network_name for n in context.nics.all()} == {"VM Network", "Backup Net"}
    assert context.vm_path == "/DC0/vm/disc-web1" and context.vm_id and context.moref.startswith("vm-")
    assert operator_client.get("/api/v1/vm-contexts/ungrouped").json()["count"] == 3
    missing = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["nope"]}, format="json")
    assert missing.status_code == 400 and "nope" in missing.json()["error"]

    # Credentials are checked through the agent: good, wrong password, unreachable vCenter.
    good = VMwareCredential.objects.get(is_default=True)
    assert operator_client.post(f"/api/v1/vmware-credentials/{good.id}/test").json()["details"]["vm_count"] >= 3
    wrong = VMwareCredential.objects.create(name="wrong", vcenter_host=good.vcenter_host, username=good.username,
                                           password="not-the-password", datacenter="DC0")
    response = operator_client.post(f"/api/v1/vmware-credentials/{wrong.id}/test")
    assert response.status_code == 502 and "credentials" in response.json()["error"].lower()
    assert "not-the-password" not in response.content.decode()
    dead = VMwareCredential.objects.create(name="dead", vcenter_host="127.0.0.1:1", username="u", password="p",
                                          datacenter="DC0")
    response = operator_client.post(f"/api/v1/vmware-credentials/{dead.id}/test")
    assert response.status_code == 502 and "unreachable" in response.json()["error"].lower()
