"""A migration plan from the console in a real browser (Debian's chromium through Playwright, as
tests/console/test_browser.py launches it): the plans list, the assessment filtered by risk, a cohort's readiness,
the plan approved (confirmed), its draft wave given a window and cancelled. It asserts what a person sees and writes
the screenshots the operator guide shows (docs/screenshots/)."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.choices import Role
from apps.planner import services as planner_services
from apps.planner.models import SourceVM
from apps.waves.models import Wave
from tests.console.conftest import console_user
from tests.console.test_browser import browser, log_in, shot  # noqa: F401 (the chromium fixture)
from tests.factories import vm_with_disks
from tests.planner.rvtools import workbook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]


def test_a_plan_approved_into_a_wave_from_the_console(live_server, browser):  # noqa: F811
    project = planner_services.project_create(data={"name": "Acme estate", "description": "RVTools, June"})
    planner_services.upload_rvtools(project=project, stream=io.BytesIO(workbook(60, tenants=3)),
                                    file_name="RVTools.xlsx")
    planner_services.assessment_run(project=project)
    tenant = project.tenants.order_by("tenant_name").first()
    cohort = planner_services.cohort_create(project=project, data={"name": "Finance first", "cohort_order": 1})
    planner_services.cohort_assign_tenants(project=project, cohort=cohort, tenant_ids=[tenant.pk], replace=False)
    planned = list(SourceVM.objects.filter(tenant=tenant).order_by("vm_name")[:3])
    for vm in planned:
        vm_with_disks(1, vm_name=vm.vm_name)
    console_user("boss", Role.ADMIN)
    base = live_server.url

    page = log_in(browser, base, "boss")
    page.click("text=Migration plans")
    row = page.locator("#projects tr.project", has_text="Acme estate")
    red = project.vms.filter(risk_level="RED").count()
    assert re.search(rf"/ {red}$", row.locator(".risk-summary").inner_text().strip())
    row.locator("a").click()
    page.wait_for_selector("#assessment")
    assert "60 VM(s) match" in page.inner_text("#assessment-count")
    page.select_option("select[aria-label='Risk level']", "GREEN")
    page.click("#assessment-filters button")
    green = project.vms.filter(risk_level="GREEN").count()
    assert f"{green} VM(s) match" in page.inner_text("#assessment-count")
    assert page.locator("tr.assessed-vm").count() == green
    shot(page, "plan.png")

    page.click("#cohorts >> text=Finance first")
    page.wait_for_selector("#readiness")
    assert "target_mapped" in page.inner_text("#readiness")
    assert planned[0].vm_name in page.inner_text("#cohort-vms")
    assert "made when the plan is approved" in page.inner_text("#cohort-wave")
    shot(page, "cohort.png")

    # Approve: the confirmation says what will happen; going back does nothing.
    page.click("text=Acme estate")
    page.click("#project >> text=Approve the plan")
    assert "sync schedule" in page.inner_text("#confirm") and "cutover wave" in page.inner_text("#confirm")
    page.click("text=No, go back")
    page.wait_for_selector("#project")
    assert "Approved" not in page.inner_text("#project-status")
    page.click("#project >> text=Approve the plan")
    page.click("text=Yes, approve and hand it to the platform")
    assert "3 VM(s) matched" in page.inner_text(".messagelist")
    assert page.inner_text("#project-status").lower() == "approved"

    # The cohort's wave is a draft (no planned dates): give it a window.
    page.click("#cohorts tr.cohort a:has-text('wave')")
    page.wait_for_selector("#wave-panel")
    assert "not set" in page.inner_text("#wave-window") and page.locator("tr.wave-vm").count() == 3
    assert "Draft" in page.inner_text("#wave-status")
    page.click("#wave-actions >> text=Set the window")
    start = timezone.localtime() + timedelta(days=2)
    page.fill("input[name=window_start]", start.strftime("%Y-%m-%d 22:00"))
    page.fill("input[name=deadline]", (start + timedelta(days=1)).strftime("%Y-%m-%d 04:00"))
    page.click("text=Yes, schedule the wave")
    page.wait_for_selector("#wave-panel")
    assert "Waiting for its window" in page.inner_text("#wave-status")
    assert start.strftime("%Y-%m-%d 22:00") in page.inner_text("#wave-window")
    shot(page, "wave.png")

    page.click("#wave-actions >> text=Cancel")
    page.click("text=Yes, cancel the wave")
    page.wait_for_selector("#wave-panel")
    assert "Cancelled" in page.inner_text("#wave-status")
    assert page.locator(".wave-vm-status", has_text="Cancelled before it started").count() == 3
    assert Wave.objects.get().status == "cancelled"
