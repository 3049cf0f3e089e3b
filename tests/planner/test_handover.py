"""Approval hands each cohort to the platform as a synced machine group and a cutover wave (apps/scheduler and
apps/waves through their own services), and the plan shows each VM's wave outcome beside its estimate."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.planner.models import SourceVM
from apps.scheduler.models import MachineGroup, SyncSchedule
from apps.waves.models import Wave
from tests.factories import vm_with_disks
from tests.openapi import assert_matches_schema
from tests.planner.conftest import BASE

pytestmark = pytest.mark.django_db
P = "/api/migration/projects/{project_id}"


def _two_tenants(pid) -> tuple[list[SourceVM], SourceVM]:
    """Two planned VMs of one tenant and one VM of another."""
    by_tenant: dict[int, list[SourceVM]] = {}
    for vm in SourceVM.objects.filter(project_id=pid).order_by("pk"):
        by_tenant.setdefault(vm.tenant_id, []).append(vm)
    pairs = [vms for vms in by_tenant.values() if len(vms) >= 2]
    first = pairs[0]
    other = next(vms for tenant, vms in by_tenant.items() if tenant != first[0].tenant_id)
    return first[:2], other[0]


def test_approval_makes_a_sync_schedule_and_a_wave_per_cohort(operator_client, admin_client_api, viewer_client,
                                                               assessed):
    pid = assessed["project_id"]
    bad = operator_client.patch(f"{BASE}/{pid}", {"sync_cron_expression": "61 * * * *"}, format="json")
    assert bad.status_code == 400 and "sync_cron_expression" in str(bad.json())
    patched = operator_client.patch(f"{BASE}/{pid}", {"sync_cron_expression": "0 2 * * *"}, format="json")
    assert patched.status_code == 200 and patched.json()["project"]["sync_cron_expression"] == "0 2 * * *"
    (db, app), lone = _two_tenants(pid)
    for vm in (db, app, lone):
        vm_with_disks(1, vm_name=vm.vm_name)
    # db must complete before app starts (the seed's naming: vm_id before depends_on_vm_id).
    dependency = operator_client.post(f"{BASE}/{pid}/vms/{db.pk}/dependencies", {"depends_on_vm_id": app.pk},
                                      format="json")
    assert dependency.status_code == 201, dependency.content
    start = (timezone.localdate() + timedelta(days=10))
    dated = operator_client.post(f"{BASE}/{pid}/cohorts", {
        "name": "Dated", "cohort_order": 1, "scheduled_start": start.isoformat(),
        "scheduled_end": (start + timedelta(days=2)).isoformat()}, format="json").json()["cohort"]["id"]
    undated = operator_client.post(f"{BASE}/{pid}/cohorts", {"name": "Undated", "cohort_order": 2},
                                   format="json").json()["cohort"]["id"]
    for cohort, tenant in ((dated, db.tenant_id), (undated, lone.tenant_id)):
        assigned = operator_client.post(f"{BASE}/{pid}/cohorts/{cohort}/assign-tenants", {"tenant_ids": [tenant]},
                                        format="json")
        assert assigned.status_code == 200, assigned.content

    response = admin_client_api.post(f"{BASE}/{pid}/approve", format="json")
    assert_matches_schema(response, P + "/approve", "post")
    report = response.json()["approval"]
    groups = {g["cohort_id"]: g for g in report["machine_groups"]}
    waves = {w["cohort_id"]: w for w in report["waves"]}

    # Each cohort's group syncs on its own schedule, on the project's cron, as many at once as the agents copy.
    for cohort in (dated, undated):
        group = MachineGroup.objects.select_related("schedule__periodic_task__crontab").get(
            pk=groups[cohort]["group_id"])
        schedule = group.schedule
        assert schedule.pk == groups[cohort]["schedule_id"] and schedule.cron_expression == "0 2 * * *"
        assert schedule.max_concurrent_jobs == 2 * 5 and schedule.enabled
        assert schedule.periodic_task.crontab.hour == "2" and schedule.periodic_task.enabled
    assert SyncSchedule.objects.count() == 2

    # The dated cohort is a scheduled wave over its dates, the dependency first; the undated one a draft.
    scheduled = Wave.objects.get(pk=waves[dated]["wave_id"])
    assert scheduled.status == "scheduled" and waves[dated]["status"] == "scheduled"
    assert timezone.localtime(scheduled.window_start).date() == start
    assert timezone.localtime(scheduled.deadline).date() == start + timedelta(days=3)
    assert scheduled.group_id == groups[dated]["group_id"] and scheduled.max_concurrent == 10
    order = list(scheduled.vms.order_by("position").values_list("vm_name", "depends_on"))
    assert order == [(db.vm_name, []), (app.vm_name, [db.vm_name])]
    draft = Wave.objects.get(pk=waves[undated]["wave_id"])
    assert draft.status == "draft" and draft.window_start is None and draft.deadline is None
    assert waves[undated]["window_start"] is None and waves[undated]["error"] == ""
    cohorts = viewer_client.get(f"{BASE}/{pid}/cohorts").json()["cohorts"]
    assert {c["id"]: c["wave_id"] for c in cohorts if c["id"] in waves} == {dated: scheduled.pk,
                                                                           undated: draft.pk}

    # The plan shows the wave outcome beside each estimate.
    plan = viewer_client.get(f"{BASE}/{pid}/export-plan")
    assert_matches_schema(plan, P + "/export-plan", "get")
    rows = {vm["vm_name"]: vm for t in plan.json()["tenant_plans"] for vm in t["vms"]}
    assert rows[app.vm_name]["wave_id"] == scheduled.pk and rows[app.vm_name]["wave_status"] == "queued"
    assert rows[lone.vm_name]["wave_id"] == draft.pk
    unmatched = SourceVM.objects.filter(project_id=pid, vm_context_id="").first()
    assert rows[unmatched.vm_name]["wave_id"] is None and rows[unmatched.vm_name]["wave_status"] is None
    csv_text = viewer_client.get(f"{BASE}/{pid}/export-plan", {"download": "csv"}).content.decode()
    assert csv_text.splitlines()[0].endswith(",wave_status")

    # A draft holds its VMs until an operator gives it a window.
    refused = operator_client.post(f"/api/v1/waves/{draft.pk}/start-now", format="json")
    assert refused.status_code == 409 and "window" in refused.json()["error"]
    rehearsal = operator_client.post(f"/api/v1/waves/{draft.pk}/rehearsal", {}, format="json")
    assert rehearsal.status_code == 201, rehearsal.content  # a draft can be rehearsed before it has a window
    rehearsed = Wave.objects.get(pk=rehearsal.json()["wave"]["id"])
    assert rehearsed.kind == "rehearsal" and rehearsed.deadline - rehearsed.window_start == timedelta(hours=4)
    window = {"window_start": (timezone.now() + timedelta(hours=2)).isoformat(),
              "deadline": (timezone.now() + timedelta(hours=6)).isoformat()}
    assert viewer_client.post(f"/api/v1/waves/{draft.pk}/schedule", window, format="json").status_code == 403
    scheduled_now = operator_client.post(f"/api/v1/waves/{draft.pk}/schedule", window, format="json")
    assert scheduled_now.status_code == 200, scheduled_now.content
    assert scheduled_now.json()["wave"]["status"] == "scheduled"
    late = operator_client.post(f"/api/v1/waves/{draft.pk}/schedule",
                                {"deadline": (timezone.now() - timedelta(hours=1)).isoformat()}, format="json")
    assert late.status_code == 400


def test_a_cohort_whose_vm_is_in_another_open_wave_is_reported(operator_client, admin_client_api, assessed):
    pid = assessed["project_id"]
    (db, _), _ = _two_tenants(pid)
    context = vm_with_disks(1, vm_name=db.vm_name)
    taken = operator_client.post("/api/v1/waves", {"name": "operators-own", "vms": [{"vm": context.context_id}],
                                                   "window_start": (timezone.now() + timedelta(days=1)).isoformat(),
                                                   "deadline": (timezone.now() + timedelta(days=2)).isoformat()},
                                 format="json")
    assert taken.status_code == 201, taken.content
    cohort = operator_client.post(f"{BASE}/{pid}/cohorts", {"name": "Only"}, format="json").json()["cohort"]["id"]
    operator_client.post(f"{BASE}/{pid}/cohorts/{cohort}/assign-tenants", {"tenant_ids": [db.tenant_id]},
                         format="json")
    report = admin_client_api.post(f"{BASE}/{pid}/approve", format="json").json()["approval"]
    wave = report["waves"][0]
    assert wave["wave_id"] is None and "operators-own" in wave["error"]
    assert report["machine_groups"][0]["vm_count"] == 1  # the group and its schedule stand; only the wave is missing
