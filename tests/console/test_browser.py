"""A whole lab migration driven from the console in a real browser (Playwright for Python driving Debian's chromium;
no browser is downloaded), against the real platform: vcsim, the agent, the CloudStack emulator, a Celery worker
and the live server (tests/e2e/conftest.py). It asserts what a person sees, and writes the screenshots the operator
guide shows (docs/screenshots/)."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from apps.core.choices import Role
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from tests.console.conftest import PASSWORD, console_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MiB = 1024 * 1024


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/system-deps.sh installs it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def log_in(browser, base: str, username: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{base}/console/login/?next=/console/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")
    return page


def wait_text(page, selector: str, pattern: str, timeout: float = 180):
    """The selector's text once it matches `pattern` (the page refreshes itself; no reload here)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        locator = page.locator(selector)
        text = locator.first.inner_text() if locator.count() else ""
        if re.search(pattern, text):
            return text
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector} never read /{pattern}/; last: {text!r}")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_a_whole_lab_migration_from_the_console(stack, live_server, browser):
    from lab.vcsim import create_vm, flat_file_path, write_random

    vm = create_vm(stack.si, "console-web", disks_mb=(1024,), networks=("VM Network",), power_on=True)
    flat = flat_file_path(stack.sim, vm, 0)
    for n, offset in enumerate((0, 64 * MiB, 512 * MiB)):
        write_random(flat, offset, 24 * MiB, seed=70 + n)
    console_user("ops", Role.OPERATOR)
    console_user("watcher", Role.VIEWER)
    base = live_server.url

    page = log_in(browser, base, "ops")
    assert "VMs by state" in page.inner_text("#vm-states")
    assert "online" in page.inner_text("#agents") or "vma-e2e" in page.inner_text("#agents")

    # Add the VM from vCenter (discovered through the agent).
    page.click("text=Add VMs from vCenter")
    page.check("input[aria-label='Add console-web']")
    page.click("text=Add the ticked VMs")
    page.wait_for_selector("#vm-panel")
    assert "console-web" in page.inner_text("#vm-panel h2") and "Discovered" in page.inner_text("#vm-state")
    assert "1 GiB" in page.inner_text("#disks") and "VM Network" in page.inner_text("#nics")

    # Initial sync, capped so that a person can watch it move.
    page.fill("input[name=bandwidth_limit_mbps]", "8")
    page.click("#vm-actions button:has-text('Initial sync')")
    page.wait_for_selector("#job-panel")
    seen = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        seen.append(float(page.get_attribute("#job-panel progress.job-progress", "value") or 0))
        status = page.inner_text("#job-status")
        if 0 < seen[-1] < 100 and not any(0 < v < 100 for v in seen[:-1]):
            assert "MiB" in page.inner_text("#job-panel") and "MB/s" in page.inner_text("#job-panel")
            shot(page, "sync.png")
        if status in ("Completed", "Failed", "Cancelled"):
            break
        page.wait_for_timeout(300)
    assert status == "Completed", page.inner_text("#job-panel")
    moving = [v for v in seen if 0 < v < 100]
    assert moving and moving == sorted(moving), seen  # the bar moved forward on its own, no reload
    assert seen[-1] == 100.0
    assert "disk-2000" in page.inner_text("#job-panel") or page.locator(".disk-row").count() == 1

    # The VM page: in sync, change ids, mappings, readiness.
    page.click("#job-panel h2 a")
    wait_text(page, "#vm-state", "Ready for failover")
    assert page.locator("#change-ids code").count() == 1
    for kind, network in (("live", "migration-net"), ("test", "test-failover-net")):
        page.select_option(f"select[aria-label='{kind} network for VM Network']", label=network)
        page.click(f"tr.mapping-{kind} button")
        assert f"VM Network now goes to {network}" in page.inner_text(".messagelist")
    page.click("text=Check for a test failover")
    assert "Ready for a test failover" in wait_text(page, "#readiness-result", "Ready for|Not ready")
    shot(page, "vm.png")

    # Test failover: the options, then confirmation.
    page.click("#vm-actions >> text=Test failover")
    assert "What will happen" in page.inner_text("#confirm")
    page.fill("input[name=test_duration]", "30m")
    page.click("text=Yes, start the test failover")
    wait_text(page, "#job-status", "Test VM running|Failed")
    assert "Test VM running" in page.inner_text("#job-status"), page.inner_text("#job-panel")
    assert "30m" in page.inner_text("#job-panel") and "test-failover-net" in page.inner_text("#plan")
    shot(page, "failover.png")

    # End it.
    page.click("#job-panel >> text=End the test")
    page.click("text=Yes, end the test")
    wait_text(page, "#job-status", "Test ended|Failed")
    assert "Test ended" in page.inner_text("#job-status"), page.inner_text("#job-panel")

    # A destructive action without confirmation does nothing.
    page.click("#job-panel h2 a")
    wait_text(page, "#vm-state", "Ready for failover")
    page.click("#vm-actions >> text=Live failover")
    assert "shuts the source VM console-web down" in page.inner_text("#confirm")
    page.click("text=No, go back")
    page.wait_for_selector("#vm-panel")
    assert not FailoverJob.objects.filter(job_type="live").exists()

    # Live failover, with its defaults (power the source off, final sync).
    page.click("#vm-actions >> text=Live failover")
    assert page.is_checked("input[name=power_off_source]") and page.is_checked("input[name=final_sync]")
    page.click("text=Yes, run the live failover")
    wait_text(page, "#job-status", "^Completed|Failed", timeout=300)
    assert page.inner_text("#job-status") == "Completed", page.inner_text("#job-panel")
    page.click("#job-panel h2 a")
    wait_text(page, "#vm-state", "Failed over")
    context = VMContext.objects.get(vm_name="console-web")
    assert context.current_status == "failed_over"
    assert set(FailoverJob.objects.values_list("requested_by", flat=True)) == {"ops"}

    page.goto(f"{base}/console/")
    assert re.search(r"1\s+Failed over", page.inner_text("#vm-states"))
    shot(page, "dashboard.png")

    # A viewer sees it all and no action.
    viewer = log_in(browser, base, "watcher")
    assert viewer.locator(".console-action").count() == 0
    viewer.goto(f"{base}/console/console/vm/{context.pk}/")
    assert "Failed over" in viewer.inner_text("#vm-state")
    assert viewer.locator(".console-action").count() == 0 and viewer.locator("#vm-actions").count() == 0
    viewer.goto(f"{base}/console/console/vm/{context.pk}/live_failover/")
    assert "403" in viewer.content() or "Forbidden" in viewer.content()
