"""The destination cloud's operations from the console in a real browser (Debian's chromium through Playwright, as
tests/console/test_browser.py launches it), over a collection of the CloudStack emulator: a runbook's dry run from its
form, the copilot asked a question and a suggestion, the snapshot and metering pages. It asserts what a person sees
and writes the screenshots the operator guide shows (docs/screenshots/)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.choices import Role
from apps.metering import sampler
from apps.runbooks.models import Execution
from apps.snapshots import services as snapshot_services
from tests.console.conftest import console_user
from tests.console.test_browser import browser, log_in, shot  # noqa: F401 (the chromium fixture)
from tests.portal.conftest import Cloud, cloud, collected  # noqa: F401 -- the portal's emulator world

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]


def test_a_runbook_dry_run_and_the_copilot_from_the_console(live_server, browser, collected, settings):  # noqa: F811
    settings.CELERY_TASK_ALWAYS_EAGER = True
    stopped = collected.vms["acme-db-1"]
    policy = snapshot_services.policy_save(None, {"name": "daily_7", "interval_minutes": 1440, "retention_count": 7})
    snapshot_services.assignments_create(policy=policy, target_type="vm", volume_ids=[],
                                         target_id=collected.vms["acme-web-1"]["id"], domain_id="", user="boss")
    now = timezone.now()
    sampler.sample(now=now - timedelta(minutes=15), force=True)
    sampler.sample(now=now, force=True)
    console_user("boss", Role.ADMIN)

    page = log_in(browser, live_server.url, "boss")
    page.click(".console-tools >> text=Runbooks")
    page.wait_for_selector("#catalog")
    assert "Nothing is waiting." in page.inner_text("#pending-approvals")
    page.click("#catalog >> text=VM Health Quick Fix")
    page.wait_for_selector("#trigger")
    assert page.is_checked("#dry_run")  # a dry run unless unticked
    page.fill("#p_server_id", stopped["id"])
    page.check("#p_auto_restart")
    page.click("#run")
    page.wait_for_selector("#execution")
    assert page.inner_text("#execution-status") == "Completed"
    assert "dry run" in page.inner_text("#execution h2")
    assert "acme-db-1" in page.inner_text("#result")
    assert "triggered by boss" in page.inner_text("#audit")
    execution = Execution.objects.get()
    assert execution.dry_run and execution.triggered_by == "boss"
    assert collected.client.get_vm(stopped["id"])["state"] == "Stopped"  # a dry run changes nothing
    shot(page, "runbook-dry-run.png")

    page.click("text=Dashboard")
    page.click(".console-tools >> text=Ops copilot")
    page.wait_for_selector("#ask-form")
    page.fill("#question", "How many VMs?")
    page.click("#ask-button")
    page.wait_for_selector("#answer")
    assert "7" in page.inner_text("#answer .copilot-answer")
    page.click("#suggestions >> text=Busiest hosts")
    page.wait_for_selector("#answer")
    assert page.input_value("#question") == "Which hosts are busiest?"
    history = page.inner_text("#history")
    assert "How many VMs?" in history and "Which hosts are busiest?" in history
    shot(page, "copilot.png")

    page.click("text=Dashboard")
    page.click(".console-tools >> text=Snapshots")
    page.wait_for_selector("#policies")
    assert "daily_7" in page.inner_text("#policies") and "acme-web-1" in page.inner_text("#policies")
    page.click("#run-now")
    page.wait_for_selector("#confirm")
    page.click("text=Yes, snapshot now")
    page.wait_for_selector("#pipeline-status")
    assert "Completed" in page.inner_text("#pipeline-status")
    assert "100.0 %" in page.inner_text("#policies")
    shot(page, "snapshots.png")

    page.click("text=Dashboard")
    page.click(".console-tools >> text=Metering")
    page.wait_for_selector("#chargeback-table")
    assert "acme" in page.inner_text("#chargeback-table") and page.locator("#exports a").count() == 6
    shot(page, "metering.png")
