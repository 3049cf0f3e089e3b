"""Machine groups and VM assignments over the API: CRUD, assign/unassign/move, one group per VM, 409s and 404s."""
import pytest

from apps.scheduler.models import MachineGroup, VMGroupMembership
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def create_group(client, **body):
    return client.post("/api/v1/machine-groups", body, format="json")


def assign(client, group_id, **body):
    return client.post(f"/api/v1/machine-groups/{group_id}/vms", body, format="json")


def test_group_crud_linked_to_a_schedule(operator_client, viewer_client, make_schedule):
    schedule = make_schedule()
    created = create_group(operator_client, name="web tier", description="frontends", schedule_id=schedule.pk,
                           priority=10)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["schedule"] == {"id": schedule.pk, "name": schedule.name, "enabled": True}
    assert body["vm_count"] == 0 and body["priority"] == 10 and body["created_by"] == "operator1"
    assert viewer_client.get(f"/api/v1/machine-groups/{body['id']}").json()["name"] == "web tier"
    updated = operator_client.put(f"/api/v1/machine-groups/{body['id']}", {"name": "web", "schedule_id": None},
                                  format="json")
    assert updated.status_code == 200 and updated.json()["schedule"] is None and updated.json()["name"] == "web"
    assert updated.json()["description"] == "frontends"
    create_group(operator_client, name="db tier", schedule_id=schedule.pk)
    listed = viewer_client.get("/api/v1/machine-groups?has_schedule=true").json()
    assert [g["name"] for g in listed["results"]] == ["db tier"]
    assert viewer_client.get("/api/v1/machine-groups?q=WEB").json()["count"] == 1
    assert viewer_client.get(f"/api/v1/machine-groups?schedule={schedule.pk}").json()["count"] == 1
    assert operator_client.delete(f"/api/v1/machine-groups/{body['id']}").status_code == 204
    assert operator_client.get(f"/api/v1/machine-groups/{body['id']}").status_code == 404


@pytest.mark.parametrize("body, status, text", [
    ({}, 400, "name"),
    ({"name": "g", "schedule_id": 999}, 404, "Schedule 999 not found"),
    ({"name": "g", "schedule_id": "soon"}, 400, "schedule_id"),
    ({"name": "g", "priority": -5}, 400, "priority"),
])
def test_group_bad_inputs(operator_client, body, status, text):
    response = create_group(operator_client, **body)
    assert response.status_code == status and text in response.json()["error"], response.json()
    assert not MachineGroup.objects.exists()


def test_duplicate_group_name_is_409(operator_client):
    create_group(operator_client, name="dup")
    response = create_group(operator_client, name="dup")
    assert response.status_code == 409 and response.json()["error_code"] == "DUPLICATE_NAME"


def test_assign_list_and_ungrouped(operator_client, viewer_client, make_vms, make_group):
    vms = make_vms(4)
    group = make_group()
    response = assign(operator_client, group.pk, vm_context_ids=[vms[0].context_id], vm_names=[vms[1].vm_name])
    assert response.status_code == 200, response.json()
    assert_matches_schema(response, "/api/v1/machine-groups/{id}/vms", "post")
    assert [v["vm_name"] for v in response.json()["assigned"]] == [vms[0].vm_name, vms[1].vm_name]
    # Assigning again is idempotent and says so.
    again = assign(operator_client, group.pk, vm_names=[vms[0].vm_name]).json()
    assert again["assigned"] == [] and again["already_in_group"][0]["vm_name"] == vms[0].vm_name

    listed = viewer_client.get(f"/api/v1/machine-groups/{group.pk}/vms").json()
    assert listed["count"] == 2 and listed["results"][0]["assigned_by"] == "operator1"
    assert listed["results"][0]["active_job_id"] is None
    assert viewer_client.get(f"/api/v1/machine-groups/{group.pk}").json()["vm_count"] == 2
    assert viewer_client.get(f"/api/v1/machine-groups/{group.pk}/vms?q={vms[1].vm_name}").json()["count"] == 1
    # The inventory's ungrouped list now leaves them out.
    ungrouped = viewer_client.get("/api/v1/discovery/ungrouped-vms").json()
    assert {v["vm_name"] for v in ungrouped["results"]} == {vms[2].vm_name, vms[3].vm_name}


def test_a_vm_is_in_at_most_one_group(operator_client, make_vms, make_group):
    vms = make_vms(2)
    first, second = make_group(vms=[vms[0]]), make_group()
    response = assign(operator_client, second.pk, vm_names=[vms[1].vm_name, vms[0].vm_name])
    assert response.status_code == 409 and response.json()["error_code"] == "VM_ALREADY_GROUPED"
    assert_matches_schema(response, "/api/v1/machine-groups/{id}/vms", "post")
    assert response.json()["details"]["vms"] == [{"context_id": vms[0].context_id, "vm_name": vms[0].vm_name,
                                                  "group_id": first.pk, "group_name": first.name}]
    # All or nothing: the free VM was not assigned either.
    assert not VMGroupMembership.objects.filter(vm_context=vms[1]).exists()


@pytest.mark.parametrize("body, status, text", [
    ({}, 400, "vm_context_ids"),
    ({"vm_names": []}, 400, "vm_context_ids"),
    ({"vm_names": "vm-000"}, 400, "vm_names"),
    ({"vm_names": ["nope", "vm-000"], "vm_context_ids": ["ctx-ghost"]}, 404, "2 VM(s) not found"),
])
def test_assign_bad_inputs(operator_client, make_vms, make_group, body, status, text):
    make_vms(1)
    group = make_group()
    response = assign(operator_client, group.pk, **body)
    assert response.status_code == status and text in response.json()["error"], response.json()
    assert not VMGroupMembership.objects.exists()


def test_assign_to_unknown_group_is_404(operator_client, make_vms):
    vms = make_vms(1)
    response = assign(operator_client, 999, vm_names=[vms[0].vm_name])
    assert response.status_code == 404 and "Machine group 999 not found" in response.json()["error"]
    response = operator_client.post("/api/v1/vm-assignments", {"group_id": 999, "vm_names": [vms[0].vm_name]},
                                    format="json")
    assert response.status_code == 404


def test_unassign(operator_client, make_vms, make_group):
    vms = make_vms(2)
    group = make_group(vms=vms)
    response = operator_client.delete(f"/api/v1/machine-groups/{group.pk}/vms/{vms[0].context_id}")
    assert response.status_code == 200 and response.json()["vm_name"] == vms[0].vm_name
    assert_matches_schema(response, "/api/v1/machine-groups/{id}/vms/{vm}", "delete")
    assert not VMGroupMembership.objects.filter(vm_context=vms[0]).exists()
    # By name too; and a VM not in this group is a 404.
    assert operator_client.delete(f"/api/v1/machine-groups/{group.pk}/vms/{vms[1].vm_name}").status_code == 200
    again = operator_client.delete(f"/api/v1/machine-groups/{group.pk}/vms/{vms[1].vm_name}")
    assert again.status_code == 404 and "is not in machine group" in again.json()["error"]
    assert_matches_schema(again, "/api/v1/machine-groups/{id}/vms/{vm}", "delete")
    unknown = operator_client.delete(f"/api/v1/machine-groups/{group.pk}/vms/ghost")
    assert unknown.status_code == 404 and "not found in the inventory" in unknown.json()["error"]


def test_move_between_groups(operator_client, make_vms, make_group):
    vms = make_vms(3)
    source, target = make_group(vms=vms[:2]), make_group(vms=[vms[2]])
    loose = make_vms(1, prefix="loose")[0]
    response = operator_client.post("/api/v1/vm-assignments/move", {
        "target_group_id": target.pk, "vm_names": [vms[0].vm_name, vms[2].vm_name, loose.vm_name]}, format="json")
    assert response.status_code == 200, response.json()
    assert_matches_schema(response, "/api/v1/vm-assignments/move", "post")
    body = response.json()
    assert body["moved"] == [{"context_id": vms[0].context_id, "vm_name": vms[0].vm_name, "from_group_id": source.pk,
                              "from_group_name": source.name}]
    assert [v["vm_name"] for v in body["unchanged"]] == [vms[2].vm_name]
    assert [v["vm_name"] for v in body["assigned"]] == [loose.vm_name]
    assert VMGroupMembership.objects.get(vm_context=vms[0]).group == target
    assert VMGroupMembership.objects.get(vm_context=vms[1]).group == source
    assert VMGroupMembership.objects.filter(group=target).count() == 3


@pytest.mark.parametrize("body, status, text", [
    ({"vm_names": ["vm-000"]}, 400, "target_group_id"),
    ({"target_group_id": 999, "vm_names": ["vm-000"]}, 404, "Machine group 999 not found"),
    ({"target_group_id": "x", "vm_names": ["vm-000"]}, 400, "target_group_id"),
    ({"target_group_id": 1}, 400, "vm_context_ids"),
])
def test_move_bad_inputs(operator_client, make_vms, body, status, text):
    make_vms(1)
    response = operator_client.post("/api/v1/vm-assignments/move", body, format="json")
    assert response.status_code == status and text in response.json()["error"], response.json()
    assert_matches_schema(response, "/api/v1/vm-assignments/move", "post")


def test_vm_assignments_from_the_vm_side(operator_client, viewer_client, make_vms, make_group, make_schedule):
    vms = make_vms(3)
    schedule = make_schedule()
    group = make_group(schedule=schedule)
    created = operator_client.post("/api/v1/vm-assignments", {"group_id": group.pk,
                                                              "vm_context_ids": [v.context_id for v in vms[:2]]},
                                   format="json")
    assert created.status_code == 200 and len(created.json()["assigned"]) == 2
    assert_matches_schema(created, "/api/v1/vm-assignments", "post")
    listed = viewer_client.get(f"/api/v1/vm-assignments?schedule={schedule.pk}").json()
    assert listed["count"] == 2 and listed["results"][0]["group_name"] == group.name
    assert listed["results"][0]["schedule_id"] == schedule.pk
    one = viewer_client.get(f"/api/v1/vm-assignments/{vms[0].vm_name}")
    assert one.status_code == 200 and one.json()["group_id"] == group.pk
    assert viewer_client.get(f"/api/v1/vm-assignments/{vms[2].vm_name}").status_code == 404
    removed = operator_client.delete(f"/api/v1/vm-assignments/{vms[0].context_id}")
    assert removed.status_code == 200
    assert_matches_schema(removed, "/api/v1/vm-assignments/{vm}", "delete")
    assert operator_client.delete(f"/api/v1/vm-assignments/{vms[0].context_id}").status_code == 404
    assert viewer_client.post("/api/v1/vm-assignments/move", {"target_group_id": group.pk,
                                                              "vm_names": [vms[2].vm_name]},
                              format="json").status_code == 403


def test_deleting_a_group_ungroups_its_vms(operator_client, make_vms, make_group):
    vms = make_vms(2)
    group = make_group(vms=vms)
    assert operator_client.delete(f"/api/v1/machine-groups/{group.pk}").status_code == 204
    assert not VMGroupMembership.objects.exists()
    assert operator_client.get("/api/v1/discovery/ungrouped-vms").json()["count"] == 2


def test_deleting_a_group_with_a_running_execution_is_409(operator_client, make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=1)
    group = make_group(schedule, make_vms(2))
    execution_id = operator_client.post(f"/api/v1/schedules/{schedule.pk}/trigger", {},
                                        format="json").json()["execution"]["execution_id"]
    response = operator_client.delete(f"/api/v1/machine-groups/{group.pk}")
    assert response.status_code == 409 and response.json()["error_code"] == "EXECUTION_ACTIVE"
    assert response.json()["details"]["executions"] == [{"execution_id": execution_id, "status": "running"}]
    assert MachineGroup.objects.filter(pk=group.pk).exists() and group.memberships.count() == 2


def test_deleting_a_group_whose_schedule_waits_for_its_window_is_409(operator_client, make_vms, make_schedule,
                                                                     make_group):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    schedule = make_schedule(window_start=(now + timedelta(hours=2)).time(), window_end=(now + timedelta(hours=3)).time())
    group = make_group(schedule, make_vms(1))
    assert operator_client.post(f"/api/v1/schedules/{schedule.pk}/trigger", {}, format="json").json()[
        "execution"]["status"] == "deferred"
    assert operator_client.delete(f"/api/v1/machine-groups/{group.pk}").status_code == 409


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/machine-groups/999"), ("put", "/api/v1/machine-groups/999"),
    ("delete", "/api/v1/machine-groups/999"), ("get", "/api/v1/machine-groups/999/vms"),
    ("delete", "/api/v1/machine-groups/999/vms/vm-000"), ("get", "/api/v1/machine-groups/abc"),
])
def test_unknown_group_is_404(operator_client, method, path):
    response = getattr(operator_client, method)(path, {}, format="json")
    assert response.status_code == 404 and response.json()["success"] is False


@pytest.mark.parametrize("query", ["schedule=abc", "schedule=99999999999999999999999", "schedule=1.5",
                                   "has_schedule=maybe"])
def test_bad_group_filters_are_400(viewer_client, query):
    response = viewer_client.get(f"/api/v1/machine-groups?{query}")
    assert response.status_code == 400 and response.json()["success"] is False


@pytest.mark.parametrize("path", ["/api/v1/vm-assignments?group=99999999999999999999999",
                                  "/api/v1/schedule-executions?schedule=-1",
                                  "/api/v1/schedule-executions?created_after=yesterday",
                                  "/api/v1/schedules?schedule_type=hourly"])
def test_bad_list_filters_are_400(viewer_client, path):
    assert viewer_client.get(path).status_code == 400


def test_a_group_without_a_schedule_matches_the_schema(operator_client, make_schedule):
    # schedule_id and schedule are null until a schedule is attached: the schema must say they may be.
    created = create_group(operator_client, name="no schedule yet")
    assert created.status_code == 201 and created.json()["schedule_id"] is None and created.json()["schedule"] is None
    assert_matches_schema(created, "/api/v1/machine-groups", "post")
    listed = operator_client.get("/api/v1/machine-groups")
    assert_matches_schema(listed, "/api/v1/machine-groups", "get")
    detail = operator_client.get(f"/api/v1/machine-groups/{created.json()['id']}")
    assert_matches_schema(detail, "/api/v1/machine-groups/{id}", "get")
