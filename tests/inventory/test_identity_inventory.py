"""The inventory keeps what the VM arrives as in CloudStack: firmware, secure boot, each NIC's guest addresses."""
import pytest

from apps.inventory.models import VMContext
from tests.inventory.test_api import agent_vm, push
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def test_push_keeps_secure_boot_and_guest_addresses(operator_client):
    vm = agent_vm()
    vm.update(firmware="efi", secure_boot=True)
    vm["nics"][0]["ip_addresses"] = ["10.1.4.140", "fe80::250:56ff:feaa:bbcc"]
    assert push(operator_client, [vm]).status_code == 200
    context = VMContext.objects.get()
    assert (context.firmware, context.secure_boot) == ("efi", True)
    assert context.nics.get().ip_addresses == ["10.1.4.140", "fe80::250:56ff:feaa:bbcc"]
    detail = operator_client.get(f"/api/v1/vms/{context.vm_id}")
    assert_matches_schema(detail, "/api/v1/vms/{vm_id}", "get")
    body = detail.json()
    assert body["secure_boot"] is True and body["nics"][0]["ip_addresses"][0] == "10.1.4.140"
    # A push without the richer fields (an older agent) leaves secure boot off.
    assert push(operator_client, [agent_vm()]).status_code == 200
    assert VMContext.objects.get().secure_boot is False


def test_push_refuses_what_is_not_an_address(operator_client):
    vm = agent_vm()
    vm["nics"][0]["ip_addresses"] = ["10.1.4.999"]
    response = push(operator_client, [vm])
    assert response.status_code == 400 and "ip_addresses" in str(response.json()["details"])
    assert not VMContext.objects.exists()
