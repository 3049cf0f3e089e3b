"""The console's migration plan and wave pages through Django's test client: projects with their risk summary, the
assessment with its filters, a cohort's readiness and VMs, the plan's approval (admin, confirmed), waves and a wave
with its VMs, hook output and buttons (confirmed). URLs come from reverse(): the console may move."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.planner import services as planner_services
from apps.planner.models import Project, SourceVM
from apps.waves import services as wave_services
from apps.waves.models import Wave, WaveVM
from tests.factories import vm_with_disks
from tests.planner.rvtools import workbook

pytestmark = pytest.mark.django_db
ACTION = re.compile(r'class="[^"]*console-action')


def op_url(target: str, key, name: str) -> str:
    return reverse("admin:console-operation", args=[target, str(key), name])


@pytest.fixture
def plan() -> dict:
    """A 40-VM assessed project with two cohorts, one with a future date, and three of its VMs discovered."""
    project = planner_services.project_create(data={"name": "Acme estate", "description": "from RVTools"})
    planner_services.upload_rvtools(project=project, stream=io.BytesIO(workbook(40, tenants=3)),
                                    file_name="RVTools.xlsx")
    planner_services.assessment_run(project=project)
    tenants = list(project.tenants.order_by("tenant_name"))
    start = timezone.localdate() + timedelta(days=5)
    first = planner_services.cohort_create(project=project, data={"name": "First", "cohort_order": 1,
                                                                  "scheduled_start": start})
    second = planner_services.cohort_create(project=project, data={"name": "Second", "cohort_order": 2})
    planner_services.cohort_assign_tenants(project=project, cohort=first, tenant_ids=[tenants[0].pk], replace=False)
    planner_services.cohort_assign_tenants(project=project, cohort=second, tenant_ids=[tenants[1].pk], replace=False)
    matched = list(SourceVM.objects.filter(tenant=tenants[0]).order_by("vm_name")[:2])
    matched += list(SourceVM.objects.filter(tenant=tenants[1]).order_by("vm_name")[:1])
    for vm in matched:
        vm_with_disks(1, vm_name=vm.vm_name)
    return {"project": project, "first": first, "second": second, "matched": matched}


def test_projects_list_and_assessment_with_filters(viewer, plan, django_assert_max_num_queries):
    project = plan["project"]
    with django_assert_max_num_queries(15):
        listed = viewer.get(reverse("admin:console-projects")).content.decode()
    assert "Acme estate" in listed and reverse("admin:console-project", args=[project.pk]) in listed
    red = project.vms.filter(risk_level="RED").count()
    assert re.search(rf'<span class="risk-RED">{red}</span>', listed)
    page = viewer.get(reverse("admin:console-project", args=[project.pk])).content.decode()
    assert "40 VM(s) match" in page and "First" in page and "Second" in page
    assert not ACTION.search(page)  # a viewer approves nothing
    vm = project.vms.exclude(risk_reasons=[]).first()
    assert vm.risk_reasons[0] in page.replace("&#x27;", "'").replace("&quot;", '"')
    risky = viewer.get(reverse("admin:console-project", args=[project.pk]), {"risk_level": "GREEN"}).content.decode()
    green = project.vms.filter(risk_level="GREEN").count()
    assert f"{green} VM(s) match" in risky and risky.count('class="assessed-vm"') == green
    tenant = project.tenants.order_by("tenant_name").first().tenant_name
    by_tenant = viewer.get(reverse("admin:console-project", args=[project.pk]), {"tenant": tenant}).content.decode()
    assert f"{project.vms.filter(tenant__tenant_name=tenant).count()} VM(s) match" in by_tenant
    assert viewer.get(reverse("admin:console-project", args=["0" * 8 + "-0000-0000-0000-" + "0" * 12])
                      ).status_code == 404


def test_a_cohort_shows_readiness_and_its_vms(viewer, plan):
    project, cohort = plan["project"], plan["first"]
    page = viewer.get(reverse("admin:console-cohort", args=[project.pk, cohort.pk])).content.decode()
    assert 'id="readiness"' in page and "target_mapped" in page and "network_mapped" in page
    assert page.count('class="cohort-vm"') == project.vms.filter(tenant__cohort=cohort).count()
    assert plan["matched"][0].vm_name in page and "not matched" in page
    assert "made when the plan is approved" in page


def test_approving_the_plan_is_an_admins_confirmed_action(operator, admin, plan):
    project = plan["project"]
    url = op_url("project", project.pk, "approve")
    assert operator.get(url).status_code == 403
    assert not ACTION.search(operator.get(reverse("admin:console-project", args=[project.pk])).content.decode())
    confirm = admin.get(url).content.decode()
    assert "sync schedule" in confirm and "cutover wave" in confirm and "Yes, approve" in confirm
    admin.post(url)  # not confirmed: nothing happens
    assert Project.objects.get(pk=project.pk).status != "approved"
    done = admin.post(url, {"confirm": "yes"}, follow=True).content.decode()
    assert "approved: 3 VM(s) matched, 2 machine group(s) with sync schedules, 2 wave(s)" in done
    assert Project.objects.get(pk=project.pk).status == "approved"
    cohort = admin.get(reverse("admin:console-cohort", args=[project.pk, plan["first"].pk]))
    viewer_page = cohort.content.decode()
    assert "Waiting for the window, a slot or its dependencies" in viewer_page  # the VMs' wave outcome
    waves = admin.get(reverse("admin:console-waves")).content.decode()
    assert waves.count('class="wave"') == 2 and "not set" in waves


def test_a_wave_page_shows_its_vms_hooks_and_buttons(operator, viewer, plan):
    contexts = [vm_with_disks(1, vm_name=name) for name in ("db-9", "app-9")]
    wave = wave_services.wave_create(data={
        "name": "erp", "vms": [{"vm": contexts[0].context_id}, {"vm": contexts[1].context_id, "depends_on": ["db-9"]}],
        "hooks": [{"name": "smoke", "stage": "after_boot", "kind": "command", "command": ["/bin/true"]}]},
        draft=True)
    WaveVM.objects.filter(wave=wave, vm_name="db-9").update(
        status="skipped", reason="pre-hook change-board failed",
        hook_log=[{"hook": "change-board", "stage": "before_final_sync", "kind": "webhook", "ok": False,
                   "attempts": 2, "output": {"status": 503, "body": "board closed"}}])
    url = reverse("admin:console-wave", args=[wave.pk])
    seen = viewer.get(url).content.decode()
    assert "db-9" in seen and "app-9" in seen and "board closed" in seen and "pre-hook change-board failed" in seen
    assert "not set: nothing starts" in seen and not ACTION.search(seen)
    page = operator.get(url).content.decode()
    for name in ("schedule", "rehearsal", "cancel"):
        assert op_url("wave", wave.pk, name) in page
    assert op_url("wave", wave.pk, "start_now") not in page  # a draft has no window to open
    # Set the window: a form, confirmed.
    start, deadline = timezone.localtime() + timedelta(hours=1), timezone.localtime() + timedelta(hours=3)
    form = {"window_start": start.strftime("%Y-%m-%d %H:%M"), "deadline": deadline.strftime("%Y-%m-%d %H:%M")}
    operator.post(op_url("wave", wave.pk, "schedule"), form)
    assert Wave.objects.get(pk=wave.pk).status == "draft"
    bad = operator.post(op_url("wave", wave.pk, "schedule"), {**form, "deadline": "yesterday", "confirm": "yes"})
    assert bad.status_code == 200 and Wave.objects.get(pk=wave.pk).status == "draft"
    operator.post(op_url("wave", wave.pk, "schedule"), {**form, "confirm": "yes"})
    assert Wave.objects.get(pk=wave.pk).status == "scheduled"
    assert op_url("wave", wave.pk, "start_now") in operator.get(url).content.decode()
    cancelled = operator.post(op_url("wave", wave.pk, "cancel"), {"confirm": "yes"}, follow=True).content.decode()
    assert "Wave &#x27;erp&#x27;: cancelled" in cancelled and Wave.objects.get(pk=wave.pk).status == "cancelled"
    assert viewer.get(op_url("wave", wave.pk, "rollback")).status_code == 403
    # htmx gets the panel alone, and a closed wave stops polling.
    panel = operator.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert panel.lstrip().startswith('<div id="wave-live"') and "<html" not in panel
