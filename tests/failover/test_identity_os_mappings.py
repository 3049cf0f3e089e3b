"""Guest OS mappings: VMware guestId -> CloudStack OS type, seeded, editable by an operator, read by failover."""
import pytest

from apps.settings.models import GuestOsMapping
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

URL = "/api/v1/guest-os-mappings"


def test_defaults_are_seeded_and_listed(viewer_client):
    response = viewer_client.get(URL, {"vmware_guest_id": "windows2019srv_64Guest"})
    assert_matches_schema(response, URL, "get")
    [row] = response.json()["results"]
    assert row["os_type_description"] == "Windows Server 2019 (64-bit)"
    assert GuestOsMapping.objects.filter(vmware_guest_id="otherLinux64Guest").exists()


def test_operator_adds_edits_and_removes_a_mapping(operator_client, viewer_client):
    created = operator_client.post(URL, {"vmware_guest_id": "rockylinux_64Guest",
                                         "os_type_description": "Rocky Linux 9"}, format="json")
    assert created.status_code == 201
    assert_matches_schema(created, URL, "post")
    mapping_id = created.json()["id"]
    again = operator_client.post(URL, {"vmware_guest_id": "rockylinux_64Guest", "os_type_id": "x"}, format="json")
    assert again.status_code == 409 and "already mapped" in again.json()["error"]
    empty = operator_client.post(URL, {"vmware_guest_id": "sles15_64Guest"}, format="json")
    assert empty.status_code == 400 and "os_type_description or os_type_id" in empty.json()["error"]
    pinned = operator_client.patch(f"{URL}/{mapping_id}", {"os_type_id": "5f0e-os"}, format="json")
    assert pinned.status_code == 200 and pinned.json()["os_type_id"] == "5f0e-os"
    assert pinned.json()["os_type_description"] == "Rocky Linux 9"
    assert viewer_client.delete(f"{URL}/{mapping_id}").status_code == 403
    assert operator_client.delete(f"{URL}/{mapping_id}").status_code == 204
    assert not GuestOsMapping.objects.filter(vmware_guest_id="rockylinux_64Guest").exists()
