"""The waves API without the lab: bad input is a clear 4xx, the limit and the order hold, readiness skips a VM."""
from __future__ import annotations

from datetime import timedelta

import pytest

from apps.scheduler import services as scheduler
from apps.waves import engine
from apps.waves import tasks as wave_tasks  # noqa: F401 (registered with the app, so an eager app runs them)
from apps.waves.models import Wave, WaveVM
from tests.factories import VMContextFactory
from tests.openapi import assert_matches_schema

from .conftest import no_power, window

pytestmark = pytest.mark.django_db


def create(api, **body):
    return api.post("/api/v1/waves", {"name": "w1", **window(), **body}, format="json")


@pytest.fixture
def three(db):
    return [VMContextFactory(vm_name=name) for name in ("a-01", "b-01", "c-01")]


def documented(response, path, method="post"):
    assert_matches_schema(response, path, method)
    return response.json()


def test_create_from_a_list_orders_dependencies_first(operator_client, three):
    vms = no_power("a-01", "b-01", "c-01")
    vms[0]["depends_on"] = ["c-01"]
    response = create(operator_client, vms=vms, max_concurrent=2)
    assert response.status_code == 201, response.json()
    body = documented(response, "/api/v1/waves")
    assert body["wave"]["status"] == "scheduled" and body["wave"]["vm_count"] == 3
    detail = operator_client.get(f"/api/v1/waves/{body['wave']['id']}")
    data = documented(detail, "/api/v1/waves/{id}", "get")
    assert [vm["vm_name"] for vm in data["vms"]] == ["b-01", "c-01", "a-01"]
    assert data["vms"][2]["depends_on"] == ["c-01"] and data["vms"][0]["power_off_source"] is False


def test_create_from_a_machine_group_with_options_by_name(operator_client, three):
    group = scheduler.group_create(data={"name": "g1"})
    scheduler.group_assign_vms(group=group, vm_contexts=three)
    response = create(operator_client, group_id=group.pk, vms=[{"vm": "b-01", "test_first": True}])
    assert response.status_code == 201, response.json()
    wave = Wave.objects.get()
    assert wave.group == group
    assert [(vm.vm_name, vm.test_first) for vm in wave.vms.all()] == [("a-01", False), ("b-01", True),
                                                                        ("c-01", False)]
    listed = operator_client.get("/api/v1/waves", {"group": group.pk, "status": "scheduled"})
    assert documented(listed, "/api/v1/waves", "get")["count"] == 1
    assert operator_client.get("/api/v1/waves", {"status": "running"}).json()["count"] == 0


@pytest.mark.parametrize("body, status, text", [
    ({}, 400, "Give group_id or vms"),
    ({"vms": [{"vm": "a-01", "depends_on": ["zz"]}]}, 400, "not in this wave"),
    ({"vms": [{"vm": "a-01", "depends_on": ["b-01"]}, {"vm": "b-01", "depends_on": ["a-01"]}]}, 400, "cycle"),
    ({"vms": [{"vm": "a-01"}, {"vm": "a-01"}]}, 400, "twice"),
    ({"vms": [{"vm": "nope"}]}, 404, "nope"),
    ({"group_id": 999999}, 404, "999999"),
    ({"vms": [{"vm": "a-01"}], "max_concurrent": 0}, 400, "max_concurrent"),
    ({"vms": [{"vm": "a-01"}], "test_duration": "soon"}, 400, "test_duration"),
    ({"vms": [{"vm": "a-01"}], "hooks": [{"name": "h", "stage": "after_boot", "kind": "webhook"}]}, 400, "url"),
    ({"vms": [{"vm": "a-01"}], "hooks": [{"name": "h", "stage": "after_boot", "kind": "command"}]}, 400, "command"),
    ({"vms": [{"vm": "a-01"}], "hooks": [{"name": "h", "stage": "later", "kind": "command", "command": ["x"]}]},
     400, "stage"),
    ({"vms": "a-01"}, 400, "vms"),
])
def test_bad_input_is_a_clear_4xx(operator_client, three, body, status, text):
    response = create(operator_client, **body)
    assert response.status_code == status, response.json()
    assert text in str(documented(response, "/api/v1/waves")), response.json()


def test_window_rules(operator_client, three):
    backwards = create(operator_client, vms=[{"vm": "a-01"}], **window(length=-timedelta(minutes=5)))
    assert backwards.status_code == 400 and "deadline must be after window_start" in backwards.json()["error"]
    past = create(operator_client, vms=[{"vm": "a-01"}], **window(start_in=-timedelta(hours=3)))
    assert past.status_code == 400 and "past" in past.json()["error"]


def test_a_vm_is_in_one_open_cutover_wave_and_names_are_unique(operator_client, three):
    assert create(operator_client, vms=[{"vm": "a-01"}]).status_code == 201
    taken = create(operator_client, name="w2", vms=[{"vm": "a-01"}])
    assert taken.status_code == 409 and "already in open wave 'w1'" in taken.json()["error"]
    same = create(operator_client, vms=[{"vm": "b-01"}])
    assert same.status_code == 409 and documented(same, "/api/v1/waves")["error_code"] == "WAVE_EXISTS"
    rehearsal = create(operator_client, name="w3", kind="rehearsal", vms=[{"vm": "a-01"}])
    assert rehearsal.status_code == 201


def test_limit_and_readiness(operator_client, three):
    wave_id = create(operator_client, vms=no_power("a-01", "b-01", "c-01"), max_concurrent=2).json()["wave"]["id"]
    # Before the window nothing moves.
    assert engine.advance(wave_id) == "scheduled"
    started = operator_client.post(f"/api/v1/waves/{wave_id}/start-now")
    assert started.status_code == 202, started.json()
    assert engine.advance(wave_id) == "running"
    statuses = list(WaveVM.objects.order_by("position").values_list("status", flat=True))
    assert statuses == ["starting", "starting", "queued"]  # the limit
    # The factories' VMs have no disks: failover refuses them, the wave skips them with the reason.
    first = WaveVM.objects.get(vm_name="a-01")
    engine.start_vm(first.pk)
    first.refresh_from_db()
    assert first.status == "skipped" and first.failover_job is None
    assert "Not ready for live failover" in first.reason, first.reason
    engine.advance(wave_id)
    assert WaveVM.objects.get(vm_name="c-01").status == "starting"  # a slot freed
    for vm in WaveVM.objects.filter(status="starting"):
        engine.start_vm(vm.pk)
    assert engine.advance(wave_id) == "failed"
    detail = operator_client.get(f"/api/v1/waves/{wave_id}").json()
    assert detail["vms_skipped"] == 3 and "3 skipped" in detail["summary"]


def test_a_failed_dependency_skips_its_dependants(operator_client, three):
    vms = no_power("a-01", "b-01")
    vms[1]["depends_on"] = ["a-01"]
    wave_id = create(operator_client, vms=vms, max_concurrent=5).json()["wave"]["id"]
    operator_client.post(f"/api/v1/waves/{wave_id}/start-now")
    engine.advance(wave_id)
    assert WaveVM.objects.get(vm_name="b-01").status == "queued"  # waits for a-01
    engine.start_vm(WaveVM.objects.get(vm_name="a-01").pk)
    engine.advance(wave_id)
    b = WaveVM.objects.get(vm_name="b-01")
    assert b.status == "skipped" and b.reason == "Depends on 'a-01', which is skipped"


def test_the_deadline_skips_what_did_not_start(operator_client, three):
    wave_id = create(operator_client, vms=no_power("a-01"), **window(start_in=-timedelta(hours=1),
                                                                      length=timedelta(hours=1, seconds=30))).json()
    Wave.objects.filter(pk=wave_id["wave"]["id"]).update(deadline=Wave.objects.get().window_start
                                                         + timedelta(minutes=59))
    assert engine.advance(wave_id["wave"]["id"]) == "failed"
    assert WaveVM.objects.get().reason == "The wave's deadline passed before it could start"


def test_actions_refuse_the_wrong_state(operator_client, viewer_client, three):
    wave_id = create(operator_client, vms=no_power("a-01", "b-01")).json()["wave"]["id"]
    rollback = operator_client.post(f"/api/v1/waves/{wave_id}/rollback")
    assert rollback.status_code == 409 and "nothing to roll back" in rollback.json()["error"]
    assert viewer_client.post(f"/api/v1/waves/{wave_id}/cancel").status_code == 403
    cancelled = operator_client.post(f"/api/v1/waves/{wave_id}/cancel", {}, format="json")
    assert cancelled.status_code == 200 and documented(cancelled, "/api/v1/waves/{id}/cancel")["wave"]["status"] \
        == "cancelled"
    assert set(WaveVM.objects.values_list("status", flat=True)) == {"cancelled"}
    again = operator_client.post(f"/api/v1/waves/{wave_id}/cancel", {}, format="json")
    assert again.status_code == 409
    start = operator_client.post(f"/api/v1/waves/{wave_id}/start-now")
    assert start.status_code == 409 and "not scheduled" in start.json()["error"]
    assert operator_client.get("/api/v1/waves/999999").status_code == 404
    assert operator_client.get("/api/v1/waves/abc").status_code == 404
    assert operator_client.get(f"/api/v1/waves/{wave_id}/vms", {"status": "cancelled"}).json()["count"] == 2


def test_rehearsal_copies_the_wave(operator_client, three):
    body = {"vms": no_power("a-01", "b-01"), "hooks": [
        {"name": "gate", "stage": "before_final_sync", "kind": "webhook", "url": "http://hooks.example/x",
         "secret": "k1"}]}
    wave_id = create(operator_client, **body).json()["wave"]["id"]
    response = operator_client.post(f"/api/v1/waves/{wave_id}/rehearsal", {}, format="json")
    assert response.status_code == 201, response.json()
    rehearsal = Wave.objects.get(pk=response.json()["wave"]["id"])
    assert rehearsal.kind == "rehearsal" and rehearsal.rehearsal_of_id == wave_id and rehearsal.name == "w1 rehearsal 1"
    assert rehearsal.hooks.get().secret == "k1"
    detail = operator_client.get(f"/api/v1/waves/{rehearsal.pk}").json()
    assert detail["hooks"][0]["has_secret"] is True and "secret" not in detail["hooks"][0]
    again = operator_client.post(f"/api/v1/waves/{rehearsal.pk}/rehearsal", {}, format="json")
    assert again.status_code == 409


def test_a_start_runs_once_and_a_lost_one_is_sent_again(operator_client, three, settings,
                                                        django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    wave_id = create(operator_client, vms=no_power("a-01"), **window(start_in=timedelta(0))).json()["wave"]["id"]
    engine.advance(wave_id)
    vm = WaveVM.objects.get()
    assert vm.status == "starting"
    WaveVM.objects.filter(pk=vm.pk).update(start_claimed_at=timezone.now())  # a worker is starting it now
    engine.start_vm(vm.pk)
    assert WaveVM.objects.get().status == "starting"  # the second start stood down
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the worker runs what the advance sends
    # That worker died: once the lease ran out the next advance sends the start again, and it runs.
    WaveVM.objects.filter(pk=vm.pk).update(start_claimed_at=timezone.now() - timedelta(hours=1),
                                           started_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        engine.advance(wave_id)
    vm.refresh_from_db()
    assert vm.status == "skipped" and "Not ready" in vm.reason


@pytest.mark.parametrize("method, path, body", [
    ("get", "/api/v1/waves/99999999999999999999999999", None),
    ("get", "/api/v1/waves/99999999999999999999999999/vms", None),
    ("post", "/api/v1/waves/99999999999999999999999999/cancel", {}),
    ("get", "/api/v1/waves?group=99999999999999999999999999", None),
    ("get", "/api/v1/waves?window_after=yesterday", None),
    ("get", "/api/v1/waves?status=nope", None),
    ("post", "/api/v1/waves", {"name": "x", "deadline": "2999-01-01T00:00:00Z", "group_id": 10**30}),
    ("post", "/api/v1/waves", {"name": "x", "deadline": "soon", "vms": [{"vm": "a-01"}]}),
    ("post", "/api/v1/waves", {"name": "x", "deadline": "2999-01-01T00:00:00Z", "vms": [{"vm": "a-01",
                                                                                          "depends_on": "b-01"}]}),
    ("post", "/api/v1/waves", {"name": "x", "deadline": "2999-01-01T00:00:00Z", "vms": [{"vm": ["a-01"]}]}),
    ("post", "/api/v1/waves", {"name": "x", "deadline": "2999-01-01T00:00:00Z", "vms": [{"vm": "a-01"}],
                               "hooks": [{"name": "h", "stage": "after_boot", "kind": "command", "command": [1, {}]}]}),
    ("post", "/api/v1/waves", ["not", "an", "object"]),
])
def test_odd_requests_are_4xx_never_500(operator_client, three, method, path, body):
    call = getattr(operator_client, method)
    response = call(path, body, format="json") if body is not None else call(path)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.json()["success"] is False


def test_the_console_lists_and_shows_waves_and_acts(admin_client, operator_client, three):
    wave_id = create(operator_client, vms=no_power("a-01", "b-01"), hooks=[
        {"name": "gate", "stage": "before_final_sync", "kind": "webhook", "url": "http://hooks.example/x",
         "secret": "never-shown"}]).json()["wave"]["id"]
    listing = admin_client.get("/console/waves/wave/")
    assert listing.status_code == 200 and b"w1" in listing.content
    page = admin_client.get(f"/console/waves/wave/{wave_id}/change/")
    assert page.status_code == 200 and b"a-01" in page.content and b"never-shown" not in page.content
    acted = admin_client.post("/console/waves/wave/", {"action": "cancel", "_selected_action": [wave_id]}, follow=True)
    assert acted.status_code == 200 and Wave.objects.get().status == "cancelled"
