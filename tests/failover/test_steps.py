"""The failover's step tables are well-formed, and a rollback walks a job's steps backwards (CloudStack emulator)."""
from __future__ import annotations

import pytest

from apps.core.models import JobEvent
from apps.failover import steps
from apps.failover.choices import RUN_STEPS as RUN_STATUSES
from apps.failover.models import FailoverJob
from apps.failover.steps import Step
from tests.failover.conftest import HttpPeer, assert_documented, inject_nth

TABLES = {"test": steps.TEST_STEPS, "live": steps.LIVE_STEPS}


@pytest.mark.parametrize("kind", TABLES)
def test_each_step_needs_only_what_the_request_or_an_earlier_step_recorded(kind):
    table = TABLES[kind]
    known = set(steps.JOB_INPUTS)
    for step in table:
        missing = [need for need in step.requires if need not in known]
        assert not missing, f"{step.name} requires {missing}, which no earlier step records"
        known.update(step.records)
    assert len({step.name for step in table}) == len(table)


@pytest.mark.parametrize("kind", TABLES)
def test_each_step_can_be_undone_and_the_statuses_come_in_order(kind):
    table = TABLES[kind]
    for step in table:
        assert step.name and step.undoes, f"{step.name} does not say what its undo does"
        overrides_undo = type(step).undo is not Step.undo
        assert overrides_undo or step.undoes.startswith("nothing"), f"{step.name} has no undo"
        if step.in_cloudstack:
            # The rollback decides from the records whether CloudStack has anything to undo.
            assert overrides_undo and type(step).recorded is not Step.recorded, step.name
    statuses = [step.status for step in table if step.status]
    assert statuses == [s for s in RUN_STATUSES if s != "pending"]


# Which step's undo wrote a rollback or cleanup line.
UNDO_LINES = (("stopped VM", "power_on"), ("detached volume", "switch_volumes"), ("destroyed VM", "create_vm"),
              ("deleted the template's root volume", "create_vm"), ("reverted volume", "snapshot"),
              ("deleted snapshot", "snapshot"), ("reattached volume", "snapshot"), ("powered the source VM", "power_off_source"))


def walked(job: FailoverJob, step: str) -> list[str]:
    """The steps whose undo reported under `step`, in the order they did (each once per stretch; other lines skipped)."""
    order: list[str] = []
    for line in JobEvent.objects.filter(job_kind="failover", job_id=job.job_id, step=step).order_by("id").values_list(
            "message", flat=True):
        name = next((name for prefix, name in UNDO_LINES if line.startswith(prefix)), None)
        if name and (not order or order[-1] != name):
            order.append(name)
    return order


def backwards(table, names: list[str]) -> list[str]:
    return [step.name for step in reversed(table) if step.name in names]


@pytest.fixture
def power_agent(cloud, settings):  # after `cloud`, which points the agent URL at nothing
    vm = {"vm_id": "vm-42", "vm_path": "/DC0/vm/pgtest1"}
    with HttpPeer({"/api/v1/power-off": (200, {**vm, "result": "guest_shutdown", "power_state": "poweredOff"}),
                   "/api/v1/power-on": (200, {**vm, "result": "powered_on", "power_state": "poweredOn"})}) as peer:
        settings.AGENT_API_URL = peer.url
        yield peer


@pytest.mark.django_db
@pytest.mark.integration
def test_a_failed_live_failover_is_undone_step_by_step_backwards(operator_client, cloud, lab_vm, power_agent,
                                                                   django_capture_on_commit_callbacks):
    inject_nth(cloud, "startVirtualMachine", errortext="host went away")
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/live", {"vm_id": lab_vm.context.vm_id,
                                                                  "power_off_source": True, "final_sync": False},
                                        format="json")
    job = FailoverJob.objects.get(job_id=assert_documented(response)["job_id"])
    assert job.status == "failed" and not job.needs_cleanup, job.error_message
    order = walked(job, "rollback")
    # The VM never ran (its start failed), so power_on had nothing to stop; the source's power comes back last.
    assert order == ["switch_volumes", "create_vm", "snapshot", "power_off_source"]
    assert order == backwards(steps.LIVE_STEPS, order)


@pytest.mark.django_db
@pytest.mark.integration
def test_ending_a_test_undoes_its_steps_backwards(operator_client, lab_vm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/test", {"vm_id": lab_vm.context.vm_id, "test_duration": "1h"},
                                        format="json")
    job = FailoverJob.objects.get(job_id=assert_documented(response)["job_id"])
    assert job.status == "completed", job.error_message
    with django_capture_on_commit_callbacks(execute=True):
        assert operator_client.delete(f"/api/v1/failover/test/{job.job_id}").status_code == 200
    order = walked(job, "cleanup")
    assert order == ["power_on", "switch_volumes", "create_vm", "snapshot"]
    assert order == backwards(steps.TEST_STEPS, order)
