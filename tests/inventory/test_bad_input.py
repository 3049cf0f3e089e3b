"""Bad input on the inventory's way in (issue #13, item 5 and the vm_id part of item 7): a 400 in the project's
error shape, nothing stored, and no VM id or name that could become a path reaches a file name."""
import pytest

from apps.core.exceptions import InvalidInput
from apps.inventory import services
from apps.inventory.models import VMContext
from apps.replication.exports import ExportError, export_name_for
from tests.openapi import assert_matches_schema

from .test_api import agent_vm, push

pytestmark = pytest.mark.django_db


def _with(**changes):
    vm = agent_vm()
    vm.update(changes)
    return vm


def assert_error_shape(response, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and isinstance(body["error"], str) and body["error"].startswith("Invalid request")


@pytest.mark.parametrize("vm, field", [
    (_with(num_cpu="abc"), "num_cpu"),
    (_with(name=["a"]), "name"),
    (_with(disks=["x"]), "disks"),
    (_with(nics="abc"), "nics"),
    (_with(memory_mb=99999999999999999999999), "memory_mb"),
    (_with(uuid={"a": 1}), "uuid"),
    (_with(name="web\x0001"), "name"),
    (_with(name="../../etc/passwd"), "name"),
    (_with(uuid="../../etc/passwd"), "uuid"),
    (_with(uuid=None, id="../x"), "id"),
    (_with(snapshots="many"), "snapshots"),
], ids=["num_cpu-text", "name-list", "disks-strings", "nics-text", "memory-huge", "uuid-dict", "name-nul",
        "name-path", "uuid-path", "moref-path", "snapshots-text"])
def test_a_bad_pushed_vm_is_a_400_and_stores_nothing(operator_client, vm, field):
    response = push(operator_client, [vm])
    assert_error_shape(response)
    assert field in response.json()["error"]
    assert_matches_schema(response, "/api/v1/vms/inventory", "post")
    assert not VMContext.objects.exists()


@pytest.mark.parametrize("vcenter", [{"host": ["vc"], "datacenter": "DC0"}, {"host": "vc.lab", "datacenter": {"x": 1}}])
def test_a_bad_vcenter_is_a_400(operator_client, vcenter):
    response = operator_client.post("/api/v1/vms/inventory", {"vcenter": vcenter, "vms": [agent_vm()]}, format="json")
    assert_error_shape(response)
    assert "vcenter" in response.json()["error"]


@pytest.mark.parametrize("source_vm, field", [
    ({"id": "../../etc/passwd", "name": "new", "path": "/DC0/vm/new", "disks": [{"id": "disk-0", "size_gb": 1}]},
     "source_vm.id"),
    ({"id": "vm-9", "name": "../../etc/passwd", "path": "/DC0/vm/new", "disks": [{"id": "disk-0", "size_gb": 1}]},
     "source_vm.name"),
])
def test_a_replication_request_with_an_unsafe_vm_id_or_name_is_a_400(operator_client, source_vm, field):
    response = operator_client.post("/api/v1/replications", {"source_vm": source_vm}, format="json")
    assert_error_shape(response)
    assert field in response.json()["error"]
    assert not VMContext.objects.exists()


@pytest.mark.parametrize("vm_id", ["../../tmp/x", "vm 1", ".hidden", "a/b", "x\x00"])
def test_discovery_cannot_store_an_unsafe_vm_id(vm_id):
    # What add-vms and bulk-add store comes from the agent's discover answer, not a serializer: the service refuses.
    with pytest.raises(InvalidInput, match="VM id"):
        services.vm_context_upsert(vm=_with(uuid=vm_id), vcenter_host="vc.lab", datacenter="DC0")
    assert not VMContext.objects.exists()


@pytest.mark.parametrize("vm_id", ["../../tmp/x", "a/b", "", ".x"])
def test_an_unsafe_vm_id_never_becomes_an_export_file_name(vm_id):
    with pytest.raises(ExportError):
        export_name_for(vm_id, 0)
    assert export_name_for("4205a841-0265-f4bd-39a6-39fd92196f53", 1) == \
        "migration-vm-4205a841-0265-f4bd-39a6-39fd92196f53-disk1"


def test_a_500_never_shows_the_exception(operator_client, monkeypatch):
    # A fault of ours (stood in for by a service that crashes) is a 500 in the error shape, naming nothing inside.
    def crash(**kwargs):
        raise KeyError("internal detail")

    monkeypatch.setattr(services, "vm_context_upsert", crash)
    operator_client.raise_request_exception = False
    response = push(operator_client, [agent_vm()])
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal server error", "details": None}
    assert "KeyError" not in response.content.decode() and "internal detail" not in response.content.decode()
