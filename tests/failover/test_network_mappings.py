"""Network mappings (seed 003 "Network Management"): destinations are checked against CloudStack (the emulator)."""
import pytest

from apps.failover.models import NetworkMapping
from tests.factories import OsseaConfigFactory, VMNicFactory, vm_with_disks
from tests.openapi import assert_matches_schema

LIST, VM, SOURCE = "/api/v1/network-mappings", "/api/v1/network-mappings/{vm_id}", \
    "/api/v1/network-mappings/{vm_id}/{source_network_name}"

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def vm(db):
    context = vm_with_disks(1, vm_name="PGWINTESTBIOS", vm_id="4205a841-0265-f4bd-39a6-39fd92196f53")
    VMNicFactory(vm_context=context, label="Network adapter 2", network_name="DMZ/Web")
    return context


def create(api, **body):
    return api.post("/api/v1/network-mappings", body, format="json")


@pytest.mark.integration
def test_create_list_update_delete(operator_client, viewer_client, vm, cloud_config, networks):
    test_net, prod_net = networks["test-failover-net"], networks["migration-net"]
    response = create(operator_client, vm_id=vm.vm_id, source_network_name="VM Network",
                      destination_network_id=prod_net["id"], destination_network_name="Production Network",
                      is_test_network=False)
    assert response.status_code == 201, response.json()
    assert_matches_schema(response, LIST, "post")
    body = response.json()
    assert body["success"] and body["message"] == "Network mapping created successfully"
    mapping = body["mapping"]
    assert mapping["vm_id"] == vm.vm_id and mapping["destination_network_id"] == prod_net["id"]
    assert mapping["destination_network_name"] == "migration-net"  # CloudStack's own name wins
    assert mapping["created_at"].endswith("Z") and isinstance(mapping["id"], int)
    # By name, for the test side, on a source network whose name has a slash.
    assert create(operator_client, vm_id=vm.vm_name, source_network_name="DMZ/Web",
                  destination_network_id="test-failover-net", is_test_network=True).status_code == 201
    duplicate = create(operator_client, vm_id=vm.vm_id, source_network_name="VM Network",
                       destination_network_id=prod_net["id"])
    assert duplicate.status_code == 409 and duplicate.json()["error_code"] == "MAPPING_EXISTS"
    assert_matches_schema(duplicate, LIST, "post")

    listed = viewer_client.get("/api/v1/network-mappings")
    assert_matches_schema(listed, LIST, "get")
    listed = listed.json()
    assert listed["total_mappings"] == 2 and listed["returned_mappings"] == 2
    assert viewer_client.get("/api/v1/network-mappings", {"is_test_network": "true"}).json()["total_mappings"] == 1
    assert viewer_client.get("/api/v1/network-mappings", {"vm_id": "other"}).json()["total_mappings"] == 0
    assert viewer_client.get("/api/v1/network-mappings", {"limit": 1, "offset": 1}).json()["returned_mappings"] == 1
    per_vm = viewer_client.get(f"/api/v1/network-mappings/{vm.vm_id}")
    assert_matches_schema(per_vm, VM, "get")
    per_vm = per_vm.json()
    assert per_vm["total_mappings"] == 2 and per_vm["vm_id"] == vm.vm_id
    assert {m["source_network_name"] for m in per_vm["mappings"]} == {"VM Network", "DMZ/Web"}

    status = viewer_client.get(f"/api/v1/network-mappings/{vm.vm_id}/status")
    assert_matches_schema(status, "/api/v1/network-mappings/{vm_id}/status", "get")
    status = status.json()["network_status"]
    assert status["unmapped"] == ["DMZ/Web"] and status["test_networks_available"]  # live needs a production one
    status = viewer_client.get(f"/api/v1/network-mappings/{vm.vm_id}/status", {"failover_type": "test"}).json()
    assert status["network_status"]["unmapped"] == ["VM Network"]

    put = operator_client.put(f"/api/v1/network-mappings/{vm.vm_id}", {"mappings": [
        {"source_network_name": "VM Network", "destination_network_id": test_net["id"], "is_test_network": True},
        {"source_network_name": "DMZ/Web", "destination_network_id": "oma-net"}]}, format="json")
    assert put.status_code == 200, put.json()
    assert_matches_schema(put, VM, "put")
    assert put.json()["updated"] == 2 and put.json()["total_mappings"] == 4
    single = operator_client.put(f"/api/v1/network-mappings/{vm.vm_id}",
                                 {"source_network_name": "VM Network", "destination_network_id": "oma-net"},
                                 format="json")
    assert single.status_code == 200 and single.json()["total_mappings"] == 4
    assert NetworkMapping.objects.get(source_network_name="VM Network", is_test_network=False).destination_network_name \
        == "oma-net"
    source = viewer_client.get(f"/api/v1/network-mappings/{vm.vm_id}/DMZ/Web")
    assert_matches_schema(source, SOURCE, "get")
    assert source.json()["mappings"][0]["source_network_name"] == "DMZ/Web"

    deleted = operator_client.delete(f"/api/v1/network-mappings/{vm.vm_id}/DMZ/Web?is_test_network=true")
    assert deleted.status_code == 200 and deleted.json()["deleted"] == 1
    assert_matches_schema(deleted, SOURCE, "delete")
    gone = operator_client.delete(f"/api/v1/network-mappings/{vm.vm_id}/DMZ/Web?is_test_network=true")
    assert gone.status_code == 404
    assert_matches_schema(gone, SOURCE, "delete")
    spaced = operator_client.delete(f"/api/v1/network-mappings/{vm.vm_id}/VM%20Network")
    assert spaced.status_code == 200 and spaced.json()["deleted"] == 2
    everything = operator_client.delete(f"/api/v1/network-mappings/{vm.vm_id}")
    assert everything.status_code == 200 and everything.json()["deleted"] == 1
    assert_matches_schema(everything, VM, "delete")
    nothing = operator_client.delete(f"/api/v1/network-mappings/{vm.vm_id}")
    assert nothing.status_code == 404
    assert_matches_schema(nothing, VM, "delete")


@pytest.mark.integration
@pytest.mark.parametrize("body, status, code, text", [
    ({"source_network_name": "VM Network", "destination_network_id": "no-such-net"}, 400, "NETWORK_NOT_FOUND",
     "does not exist"),
    ({"source_network_name": "Storage", "destination_network_id": "oma-net"}, 400, "INVALID_SOURCE_NETWORK",
     "is not a network of VM"),
    ({"source_network_name": "VM Network"}, 400, None, "destination_network_id"),
    ({"destination_network_id": "oma-net"}, 400, None, "source_network_name"),
    ({"source_network_name": "VM Network", "destination_network_id": "oma-net", "is_test_network": "maybe"}, 400, None,
     "is_test_network"),
    ({"source_network_name": ["VM Network"], "destination_network_id": "oma-net"}, 400, None, "source_network_name"),
])
def test_create_refusals(operator_client, vm, cloud_config, body, status, code, text):
    response = create(operator_client, vm_id=vm.vm_id, **body)
    assert response.status_code == status, response.json()
    assert response.json()["success"] is False and text in response.json()["error"]
    if code:
        assert response.json()["error_code"] == code and response.json()["timestamp"]
    assert_matches_schema(response, LIST, "post")
    assert not NetworkMapping.objects.exists()


@pytest.mark.integration
def test_put_refusals(operator_client, vm, cloud_config):
    url = f"/api/v1/network-mappings/{vm.vm_id}"
    assert operator_client.put(url, {"mappings": []}, format="json").status_code == 400
    assert operator_client.put(url, [1, 2], format="json").status_code == 400
    twice = {"source_network_name": "VM Network", "destination_network_id": "oma-net"}
    response = operator_client.put(url, {"mappings": [twice, twice]}, format="json")
    assert response.status_code == 400 and "appear twice" in response.json()["error"]
    response = operator_client.put(url, {"mappings": [{**twice, "destination_network_id": "nope"}]}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "NETWORK_NOT_FOUND"
    assert_matches_schema(response, VM, "put")
    assert not NetworkMapping.objects.exists()


def test_unknown_vm_no_cloudstack_bad_params_and_roles(operator_client, viewer_client, vm):
    unknown = create(operator_client, vm_id="nope", source_network_name="VM Network", destination_network_id="x")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "VM_NOT_FOUND"
    # No CloudStack configuration: the destination cannot be checked.
    response = create(operator_client, vm_id=vm.vm_id, source_network_name="VM Network", destination_network_id="x")
    assert response.status_code == 503 and response.json()["error_code"] == "OSSEA_NOT_CONFIGURED"
    assert_matches_schema(response, LIST, "post")
    # CloudStack configured but unreachable.
    OsseaConfigFactory(api_url="http://127.0.0.1:1/client/api")
    response = create(operator_client, vm_id=vm.vm_id, source_network_name="VM Network", destination_network_id="x")
    assert response.status_code == 502 and response.json()["error_code"] == "OSSEA_API_ERROR"
    assert_matches_schema(response, LIST, "post")
    bad_filter = viewer_client.get("/api/v1/network-mappings", {"is_test_network": "maybe"})
    assert bad_filter.status_code == 400
    assert_matches_schema(bad_filter, LIST, "get")
    assert viewer_client.get("/api/v1/network-mappings", {"limit": "x"}).status_code == 400
    assert viewer_client.get("/api/v1/network-mappings", {"limit": 0}).status_code == 400
    assert viewer_client.get("/api/v1/network-mappings/nope").status_code == 404
    assert viewer_client.get("/api/v1/network-mappings/nope/status").status_code == 404
    assert viewer_client.get(f"/api/v1/network-mappings/{vm.vm_id}/status", {"failover_type": "x"}).status_code == 400
    assert viewer_client.get(f"/api/v1/network-mappings/{vm.vm_id}/VM Network").status_code == 404
    assert operator_client.delete(f"/api/v1/network-mappings/{vm.vm_id}/VM Network?is_test_network=x").status_code == 400
    assert viewer_client.post("/api/v1/network-mappings", {}, format="json").status_code == 403
    assert viewer_client.delete(f"/api/v1/network-mappings/{vm.vm_id}").status_code == 403
