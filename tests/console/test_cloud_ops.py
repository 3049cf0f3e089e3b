"""The console's pages over the destination cloud's operations (seed 004: snapshots, runbooks, metering, copilot),
driven with Django's test client over a real collection of the CloudStack emulator: what an operator reads, that each
button does what it says (a run-now makes a run, a dry run reports, an approval by the trigger is refused), and that
each app's roles hold (a viewer reads but does not act, metering is an admin's)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.choices import Role
from apps.metering import sampler
from apps.metering.models import MeteringSettings
from apps.runbooks.models import Execution
from apps.snapshots import services as snapshot_services
from apps.snapshots.models import OnDemandRun, PolicySnapshot, RestoreJob, SnapshotRun
from tests.console.conftest import console_client, console_user
from tests.portal.conftest import Cloud, cloud, collected  # noqa: F401 -- the portal's emulator world

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

SNAPSHOTS = "/console/console/snapshots/"
RUNBOOKS = "/console/console/runbooks/"
METERING = "/console/console/metering/"
COPILOT = "/console/console/copilot/"


@pytest.fixture
def eager(settings):
    """Celery tasks (the pipeline, an approved run) run in the test's process."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _html(answer) -> str:
    assert answer.status_code == 200, answer.content[:800]
    return answer.content.decode()


def _messages(answer) -> str:
    return " ".join(str(m) for m in answer.context["messages"]) if answer.context else ""


def test_snapshots_page_run_now_makes_a_run_shown_per_volume(collected, eager):  # noqa: F811
    policy = snapshot_services.policy_save(None, {"name": "hourly_2", "description": "web tier", "interval_minutes": 60,
                                                  "retention_count": 2}, user="boss")
    web = collected.vms["acme-web-1"]
    snapshot_services.assignments_create(policy=policy, target_type="vm", volume_ids=[], target_id=web["id"],
                                         domain_id="", user="boss")
    RestoreJob.objects.create(project_id="p", vm_id=web["id"], vm_name="acme-web-1", restore_point_id="s",
                              status="RUNNING", progress_pct=42.0, current_step="CREATE_VOLUMES", created_by="boss")
    admin = console_client(console_user("boss", Role.ADMIN))
    viewer = console_client(console_user("watcher", Role.VIEWER))

    html = _html(viewer.get(SNAPSHOTS))
    row = re.search(r'<tr class="policy" data-policy="hourly_2">(.*?)</tr>', html, re.S).group(1)
    assert "every 60 min" in row and "2 snapshots" in row and "acme-web-1" in row
    assert "no volume covered yet" in row
    assert "No run yet." in html and "No on-demand pipeline has run yet." in html
    restore = re.search(r'<tr class="restore".*?</tr>', html, re.S).group(0)
    assert "acme-web-1" in restore and "Running" in restore and 'value="42' in restore and "CREATE_VOLUMES" in restore
    # A viewer sees, without the button; posting anyway is refused and starts nothing.
    assert 'id="run-now"' not in html and "Only an admin starts the pipeline." in html
    assert viewer.post(SNAPSHOTS + "run-now/", {"confirm": "yes"}).status_code == 403
    assert not OnDemandRun.objects.exists()

    # The admin's button asks first; only "yes" starts the pipeline, which runs and makes a run.
    assert 'id="run-now"' in _html(admin.get(SNAPSHOTS))
    asked = admin.post(SNAPSHOTS + "run-now/")
    assert "What will happen" in _html(asked) and 'name="confirm" value="yes"' in asked.content.decode()
    assert not OnDemandRun.objects.exists()
    done = admin.post(SNAPSHOTS + "run-now/", {"confirm": "yes"}, follow=True)
    assert "queued" in _messages(done)
    job = OnDemandRun.objects.get()
    run = SnapshotRun.objects.get()
    assert (job.status, job.triggered_by, job.snapshot_run_id) == ("completed", "boss", run.pk)
    assert run.status == "completed" and run.snapshots_created >= 1

    html = _html(admin.get(SNAPSHOTS))
    assert re.search(r'id="pipeline-status">.*?Completed', html, re.S)
    row = re.search(rf'<tr class="run" data-run="{run.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "On demand (boss)" in row and f"{run.total_volumes} / {run.total_volumes}" in row
    compliance = re.search(r'data-policy="hourly_2">.*?<td class="compliance">(.*?)</td>', html, re.S).group(1)
    assert f"{run.total_volumes} / {run.total_volumes} volume" in compliance and "100.0 %" in compliance

    # Older than the policy's interval, its snapshots no longer make the volumes compliant.
    PolicySnapshot.objects.filter(policy=policy).update(created_at=timezone.now() - timedelta(minutes=61))
    compliance = re.search(r'data-policy="hourly_2">.*?<td class="compliance">(.*?)</td>', _html(viewer.get(SNAPSHOTS)),
                           re.S).group(1)
    assert f"0 / {run.total_volumes} volume" in compliance

    page = _html(viewer.get(f"{SNAPSHOTS}run/{run.pk}/"))
    outcomes = re.findall(r'<tr class="volume" data-outcome="(\w+)">', page)
    assert outcomes == ["created"] * run.total_volumes
    assert "acme-web-1" in page and "Snapshot created" in page
    assert viewer.get(f"{SNAPSHOTS}run/99999/").status_code == 404


def test_runbook_dry_run_approval_by_another_admin_and_the_audit(collected, eager):  # noqa: F811
    operator = console_client(console_user("op", Role.OPERATOR))
    boss = console_client(console_user("boss", Role.ADMIN))
    other = console_client(console_user("boss2", Role.ADMIN))
    viewer = console_client(console_user("watcher", Role.VIEWER))
    stopped = collected.vms["acme-db-1"]["id"]

    html = _html(viewer.get(RUNBOOKS))
    assert 'data-runbook="vm_health_quickfix"' in html and "Nothing is waiting." in html
    form = _html(viewer.get(RUNBOOKS + "vm_health_quickfix/"))
    assert 'id="trigger"' not in form and "an operator runs them" in form
    assert viewer.post(RUNBOOKS + "vm_health_quickfix/", {"dry_run": "on", "p_server_id": stopped}).status_code == 403

    # The operator's form: the parameters with their defaults, a dry run unless unticked.
    form = _html(operator.get(RUNBOOKS + "vm_health_quickfix/"))
    assert 'name="p_server_id"' in form and '<input type="checkbox" id="dry_run" name="dry_run" checked>' in form
    assert "<option selected>soft</option>" in form
    refused = operator.post(RUNBOOKS + "vm_health_quickfix/", {"dry_run": "on"})
    assert "Not run: parameters.server_id is required" in _messages(refused) and not Execution.objects.exists()

    dry = operator.post(RUNBOOKS + "vm_health_quickfix/", {"dry_run": "on", "p_server_id": stopped,
                                                            "p_auto_restart": "on"}, follow=True)
    execution = Execution.objects.get()
    assert (execution.dry_run, execution.status, execution.triggered_by) == (True, "completed", "op")
    page = _html(dry)
    assert 'id="execution-status">Completed' in page and "acme-db-1" in page and "dry run" in page
    assert "triggered by <strong>op</strong>" in page

    # A real run asks for the confirmation first, then waits for an admin (medium risk).
    real = {"p_server_id": stopped, "p_auto_restart": "on"}
    unconfirmed = operator.post(RUNBOOKS + "vm_health_quickfix/", real)
    assert "Nothing was done" in _messages(unconfirmed) and 'id="confirm-row"' in _html(unconfirmed)
    assert Execution.objects.count() == 1
    operator.post(RUNBOOKS + "vm_health_quickfix/", {**real, "confirm": "yes"})
    pending = Execution.objects.get(dry_run=False)
    assert pending.status == "pending_approval"
    listing = _html(boss.get(RUNBOOKS))
    assert f'<tr class="pending" data-execution="{pending.execution_id}">' in listing
    url = f"{RUNBOOKS}execution/{pending.execution_id}/"
    assert 'id="approve"' not in _html(operator.get(url))  # an operator does not decide
    assert operator.post(url + "decide/", {"decision": "approved", "confirm": "yes"}).status_code == 403

    # An admin approving their own trigger is refused, saying why.
    boss.post(RUNBOOKS + "vm_health_quickfix/", {**real, "confirm": "yes"})
    own = Execution.objects.get(dry_run=False, triggered_by="boss")
    own_url = f"{RUNBOOKS}execution/{own.execution_id}/"
    said = boss.post(own_url + "decide/", {"decision": "approved", "confirm": "yes"}, follow=True)
    assert "another user than the one who triggered it" in _messages(said)
    own.refresh_from_db()
    assert own.status == "pending_approval"

    # Another admin: the confirmation says what will happen, then the run goes and the audit names everyone.
    asked = other.post(url + "decide/", {"decision": "approved", "comment": "go ahead"})
    assert "runs for real at once" in _html(asked) and 'value="go ahead"' in asked.content.decode()
    pending.refresh_from_db()
    assert pending.status == "pending_approval"
    done = other.post(url + "decide/", {"decision": "approved", "comment": "go ahead", "confirm": "yes"}, follow=True)
    pending.refresh_from_db()
    assert pending.status == "completed" and pending.approved_by == "boss2"
    page = _html(done)
    assert "triggered by <strong>op</strong>" in page
    assert re.search(r"<li>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: <strong>approved</strong> by <strong>boss2</strong>", page)
    assert "go ahead" in page and 'id="execution-status">Completed' in page
    assert collected.client.get_vm(stopped)["state"] == "Running"

    # Rejecting the admin's own pending one, by the other admin; then the trigger cancels nothing left.
    other.post(own_url + "decide/", {"decision": "rejected", "comment": "not now", "confirm": "yes"})
    own.refresh_from_db()
    assert own.status == "rejected"
    assert "only a pending or executing run" in _messages(boss.post(own_url + "cancel/", follow=True))


def test_the_password_reset_shows_its_password_once_and_never_the_one_given(collected, eager):  # noqa: F811
    boss = console_client(console_user("boss", Role.ADMIN))
    other = console_client(console_user("boss2", Role.ADMIN))
    web = collected.vms["acme-web-1"]["id"]
    collected.client.call("updateTemplate", id=collected.vms["acme-web-1"]["templateid"], passwordenabled=True)
    boss.post(RUNBOOKS + "password_reset_console/", {"p_server_id": web, "p_new_password": "Chosen-Pass-99",
                                                     "p_console_expiry_minutes": "30", "confirm": "yes"})
    execution = Execution.objects.get()
    url = f"{RUNBOOKS}execution/{execution.execution_id}/"
    page = _html(other.get(url))
    assert "Chosen-Pass-99" not in page and "new_password</code> = ********" in page.replace("*" * 12, "********")
    other.post(url + "decide/", {"decision": "approved", "confirm": "yes"})
    first = _html(other.get(url))
    assert "<strong>password</strong>: Chosen-Pass-99" in first  # the result shows the password set, this once
    assert "<strong>password_reset</strong>: done" in first
    assert "Chosen-Pass-99" not in _html(other.get(url)) and "Chosen-Pass-99" not in _html(boss.get(url))


def test_metering_chargeback_per_tenant_with_the_exports_for_admins_only(collected):  # noqa: F811
    config = MeteringSettings.load()
    config.cost_per_vcpu_hour, config.cost_per_gb_ram_hour = 0.1, 0.02
    config.save()
    now = timezone.now()
    sampler.sample(now=now - timedelta(minutes=15), force=True)
    sampler.sample(now=now, force=True)
    admin = console_client(console_user("boss", Role.ADMIN))
    html = _html(admin.get(METERING, {"hours": "24"}))
    tenants = re.findall(r'<tr class="tenant-cost" data-tenant="([^"]+)">', html)
    assert {"acme", "globex", "payroll"} <= set(tenants)
    from apps.metering import reports
    rows = {r["project_name"]: r for r in reports.chargeback(hours=24)}
    acme = re.search(r'data-tenant="acme">(.*?)</tr>', html, re.S).group(1)
    assert f"<strong>{rows['acme']['total_cost']:.2f}</strong>" in acme and rows["acme"]["total_cost"] > 0
    cells = re.findall(r"<td>([^<]*)</td>", acme)  # tenant, domain, 6 usages, compute, storage, snapshots, other
    assert cells[8] == f"{rows['acme']['compute_cost'] + rows['acme']['flavor_cost']:.2f}" != "0.00"
    total = sum(r["total_cost"] for r in rows.values())
    assert f"{total:.2f} USD" in re.search(r'id="grand-total">(.*?)</td>', html).group(1)
    assert re.search(r'id="vms-metered">(\d+)<', html).group(1) == "7"
    # The CSV links are the metering API's, for the period shown; they download with the console's session.
    link = re.search(r'href="(/api/metering/export/chargeback\?[^"]+)"', html).group(1)
    assert link == "/api/metering/export/chargeback?hours=24"
    csv = admin.get(link)
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv") and b"acme" in csv.content
    # One tenant; a period not offered falls back to 30 days.
    one = _html(admin.get(METERING, {"project": "globex", "hours": "nonsense"}))
    assert re.findall(r'data-tenant="([^"]+)"', one) == ["globex"] and '<option value="720" selected>' in one
    assert "export/resources?hours=720&amp;project=globex" in one
    # Costs are an admin's (metering:read): an operator neither gets the page nor the dashboard's link.
    operator = console_client(console_user("op", Role.OPERATOR))
    assert operator.get(METERING).status_code == 403
    dashboard = _html(operator.get("/console/"))
    assert METERING not in dashboard and RUNBOOKS in dashboard and SNAPSHOTS in dashboard and COPILOT in dashboard
    assert METERING in _html(admin.get("/console/"))


def test_copilot_answers_keeps_history_and_takes_feedback(collected):  # noqa: F811
    viewer = console_client(console_user("watcher", Role.VIEWER))
    html = _html(viewer.get(COPILOT))
    assert "No question yet." in html and 'value="How many VMs?"' in html and "Busiest hosts" in html
    asked = _html(viewer.post(COPILOT, {"question": "How many VMs?"}))
    answer = re.search(r'<div class="copilot-answer">(.*?)</div>', asked, re.S).group(1)
    assert "<strong>7</strong> VMs" in answer  # the collected cloud's seven VMs, the answer's markdown drawn
    assert "How many VMs?" in re.search(r'id="history">(.*)', asked, re.S).group(1)
    from apps.copilot.models import Exchange
    exchange = Exchange.objects.get()
    assert exchange.user.username == "watcher"
    viewer.post(f"{COPILOT}{exchange.pk}/feedback/", {"feedback": "up"})
    exchange.refresh_from_db()
    assert exchange.feedback == "up" and "Helpful" in _html(viewer.get(COPILOT))
    # Someone else's history is theirs: another user neither sees it nor rates it.
    other = console_client(console_user("op", Role.OPERATOR))
    assert "How many VMs?</td>" not in _html(other.get(COPILOT))
    assert "not found" in _messages(other.post(f"{COPILOT}{exchange.pk}/feedback/", {"feedback": "down"}, follow=True))
    assert "1 to 1000 characters" in _messages(viewer.post(COPILOT, {"question": " "}))
    stranger = console_client(console_user("nobody"))
    assert stranger.get(COPILOT).status_code in (302, 403)


def test_an_answers_markdown_is_drawn_and_anything_else_escaped():
    from apps.console.templatetags.console import answer_html

    assert answer_html("**7** VMs on `acme_web` <b>x</b> _collected 7 s ago_") == \
        "<strong>7</strong> VMs on <code>acme_web</code> &lt;b&gt;x&lt;/b&gt; <em>collected 7 s ago</em>"


PAGES = (SNAPSHOTS, RUNBOOKS, RUNBOOKS + "cost_leakage_report/", METERING, COPILOT)


@pytest.mark.parametrize(("role", "statuses"), [
    (Role.VIEWER, (200, 200, 200, 403, 200)),
    (Role.OPERATOR, (200, 200, 200, 403, 200)),
    (Role.ADMIN, (200, 200, 200, 200, 200)),
    (None, (403, 403, 403, 403, 403)),
])
def test_each_page_opens_to_the_roles_its_app_names(role, statuses):
    client = console_client(console_user(f"u-{role}", *([role] if role else [])))
    assert tuple(client.get(page).status_code for page in PAGES) == statuses
    dashboard = client.get("/console/")
    if role:
        links = [page for page in (SNAPSHOTS, RUNBOOKS, METERING, COPILOT) if page in dashboard.content.decode()]
        assert links == [page for page, status in zip(PAGES[:2] + PAGES[3:], statuses[:2] + statuses[3:],
                                                     strict=True) if status == 200]


def test_what_names_nothing_is_404_and_a_viewer_acts_on_nothing():
    viewer = console_client(console_user("watcher", Role.VIEWER))
    for path in (f"{SNAPSHOTS}run/99999999999999999999/", f"{SNAPSHOTS}run/5/", f"{RUNBOOKS}no_such_runbook/",
                 f"{RUNBOOKS}execution/not-a-uuid/", f"{RUNBOOKS}execution/00000000-0000-0000-0000-000000000000/"):
        assert viewer.get(path).status_code == 404, path
    for path in (f"{SNAPSHOTS}run-now/", f"{RUNBOOKS}cost_leakage_report/"):
        assert viewer.post(path, {"confirm": "yes", "dry_run": "on"}).status_code == 403, path
    assert not Execution.objects.exists() and not OnDemandRun.objects.exists()
    assert "No snapshot policy yet." in _html(viewer.get(SNAPSHOTS))
    operator = console_client(console_user("op", Role.OPERATOR))
    # A number the form cannot hold is refused by the runbook's own check, naming the parameter.
    refused = operator.post(RUNBOOKS + "cost_leakage_report/", {"dry_run": "on", "p_price_per_vcpu_month": "nan"})
    assert "parameters.price_per_vcpu_month must be a number" in _messages(refused)
    refused = operator.post(RUNBOOKS + "cost_leakage_report/", {"dry_run": "on", "p_shutoff_days_threshold": "99999"})
    assert "parameters.shutoff_days_threshold must be from 0 to 3650" in _messages(refused)
    assert 'value="99999"' in refused.content.decode()  # what was typed stays in the form
    assert not Execution.objects.exists()
