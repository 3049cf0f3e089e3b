"""Every button of the console: what it says it will do, who may press it, and the service it calls (the same one
the API calls, with the user as `requested_by`, so the job's events record who did it).

A destructive operation runs only on a POST carrying ``confirm=yes`` from its confirmation page; anything else
shows that page again and changes nothing.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

from django import forms as django_forms
from django.urls import reverse

from apps.core.choices import Role
from apps.core.exceptions import Conflict, NotFound
from apps.enrollment import services as enrollment_services
from apps.enrollment.models import Appliance, Enrollment
from apps.failover import selectors as failover_selectors
from apps.failover import services as failover_services
from apps.failover.choices import FailoverType
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.planner import services as planner_services
from apps.planner.models import Project
from apps.replication import selectors as replication_selectors
from apps.replication import services as replication_services
from apps.replication.models import ReplicationJob
from apps.waves import services as wave_services
from apps.waves.models import Wave

from . import forms


@dataclass(frozen=True)
class Outcome:
    message: str
    url: str


@dataclass(frozen=True)
class Operation:
    """One button. ``explain(target)`` says what will happen; ``run(target, options, actor)`` does it."""

    name: str
    label: str
    target: str  # vm | replication | failover | enrollment | appliance | project | wave
    explain: Callable[[object], list[str]]
    run: Callable
    destructive: bool = True
    role: str = Role.OPERATOR
    form: type[django_forms.Form] | None = None
    confirm_label: str = ""


def _vm_url(vm: VMContext) -> str:
    return reverse("admin:console-vm", args=[vm.pk])


def _replication_url(job: ReplicationJob) -> str:
    return reverse("admin:console-replication", args=[job.job_id])


def _failover_url(job: FailoverJob) -> str:
    return reverse("admin:console-failover", args=[job.job_id])


def _sync(kind: str):
    def run(vm, options, actor):
        job = replication_services.replication_start(vm_context=vm, replication_type=kind, requested_by=actor.label,
                                                     bandwidth_limit=options.get("bandwidth_limit"))
        return Outcome(f"{kind.capitalize()} sync {job.job_id} of {vm.vm_name} started", _replication_url(job))
    return run


def _explain_sync(kind: str):
    def explain(vm):
        if kind == "initial":
            return [f"Creates (or reuses) one CloudStack volume per disk of {vm.vm_name} and copies every allocated "
                    "block of each disk to it.", "The source VM keeps running; a VMware snapshot is taken during "
                    "the copy and removed after."]
        return [f"Copies only the blocks of {vm.vm_name} that changed since the last sync (VMware Changed Block "
                "Tracking).", "The source VM keeps running."]
    return explain


def _cancel_sync(vm, options, actor):
    job = replication_selectors.current_job(vm)
    if job is None:
        raise Conflict(f"{vm.vm_name} has no running sync to cancel", error_code="INVALID_STATE")
    job = replication_services.replication_cancel(job=job, requested_by=actor.label)
    return Outcome(f"Cancel requested for sync {job.job_id}", _replication_url(job))


def _explain_cancel_sync(vm):
    job = replication_selectors.current_job(vm)
    if job is None:
        return [f"{vm.vm_name} has no running sync: nothing would be cancelled."]
    return [f"Stops sync {job.job_id} ({job.get_status_display()}, {job.progress_percent:.0f}%) after its current "
            "step.", "Nothing copied so far is lost; the next sync resumes from the last stored change id."]


def _test_failover(vm, options, actor):
    job = failover_services.failover_start(vm_context=vm, failover_type=FailoverType.TEST, options=options,
                                           requested_by=actor.label)
    return Outcome(f"Test failover {job.job_id} of {vm.vm_name} started", _failover_url(job))


def _explain_test(vm):
    return [f"Checks readiness, then snapshots the replica volumes of {vm.vm_name}, detaches them from the control "
            "plane and boots a test VM from them on the test networks of the network mappings.",
            "Syncs of this VM pause until the test is ended; the source VM is not touched.",
            "Ending the test destroys the test VM and reverts the volumes to their snapshots."]


def _live_failover(vm, options, actor):
    job = failover_services.failover_start(vm_context=vm, failover_type=FailoverType.LIVE, options=options,
                                           requested_by=actor.label)
    return Outcome(f"Live failover {job.job_id} of {vm.vm_name} started", _failover_url(job))


def _explain_live(vm):
    return [f"By default shuts the source VM {vm.vm_name} down in vCenter first, then runs a last incremental sync.",
            "Creates the VM in CloudStack from the replica volumes on the live networks of the network mappings and "
            "starts it.",
            "Once it completes the migration is final: the VM is no longer replicated and cannot be rolled back; "
            "the source VM stays powered off.",
            "If it fails, everything it did is rolled back and a source it powered off is powered on again."]


def _end_test(vm, options, actor):
    job = failover_services.test_end_for_vm(vm_context=vm, requested_by=actor.label)
    return Outcome(f"Ending test failover {job.job_id}", _failover_url(job))


def _explain_end_test(vm):
    return [f"Stops and destroys the test VM of {vm.vm_name}.",
            "Reverts each replica volume to the snapshot taken before the test (whatever the test VM wrote is "
            "discarded) and gives the volumes back to the control plane, so syncs resume."]


def _latest_failover(vm) -> FailoverJob | None:
    return failover_services.latest_job(vm)


def _rollback(vm, options, actor):
    job = _latest_failover(vm)
    if job is None:
        raise NotFound(f"{vm.vm_name} has no failover job to roll back", error_code="JOB_NOT_FOUND")
    job, what = failover_services.rollback(job=job, requested_by=actor.label)
    return Outcome(f"Rollback of {job.job_id} started: {what}", _failover_url(job))


def _explain_rollback(vm):
    job = _latest_failover(vm)
    if job is None:
        return [f"{vm.vm_name} has no failover job: nothing would be rolled back."]
    decision = failover_selectors.rollback_decision(job, job.job_type, vm.vm_name)
    return [f"{decision.reason}."] + [f"Will {action}." for action in decision.actions]


def _cancel_job(job, options, actor):
    job = replication_services.replication_cancel(job=job, requested_by=actor.label)
    return Outcome(f"Cancel requested for sync {job.job_id}", _replication_url(job))


def _retry_job(job, options, actor):
    job = replication_services.replication_retry(job=job, requested_by=actor.label)
    return Outcome(f"Retry {job.attempt} of sync {job.job_id} queued", _replication_url(job))


def _rollback_job(job, options, actor):
    job, what = failover_services.rollback(job=job, requested_by=actor.label)
    return Outcome(f"Rollback of {job.job_id} started: {what}", _failover_url(job))


def _explain_rollback_job(job):
    decision = failover_selectors.rollback_decision(job, job.job_type, job.vm_context.vm_name)
    return [f"{decision.reason}."] + [f"Will {action}." for action in decision.actions]


def _approve(enrollment, options, actor):
    appliance = enrollment_services.enrollment_approve(enrollment_id=enrollment.enrollment_id, actor=actor)
    return Outcome(f"Enrollment {enrollment.name} approved as agent {appliance.appliance_id}",
                   reverse("admin:console-agents"))


def _reject(enrollment, options, actor):
    enrollment_services.enrollment_reject(enrollment_id=enrollment.enrollment_id, actor=actor,
                                          reason=options.get("reason") or "rejected in the console")
    return Outcome(f"Enrollment {enrollment.name} rejected", reverse("admin:console-agents"))


def _explain_enrollment(verb: str):
    def explain(enrollment):
        lines = [f"{verb} the agent '{enrollment.name}' (version {enrollment.version or 'unknown'}) that asked to "
                 f"join from {enrollment.client_ip or 'an unknown address'}.",
                 f"Its SSH key: {enrollment.ssh_key_type} {enrollment.ssh_key_fingerprint}. Compare it with the "
                 "fingerprint `vma enroll` printed on the agent."]
        if verb == "Approves":
            lines.append("Its key is then allowed to open the tunnel (API and its NBD ports only) and it gets "
                         "its credentials at its next poll.")
        return lines
    return explain


def _revoke(appliance, options, actor):
    result = enrollment_services.appliance_revoke(appliance=appliance, actor=actor)
    return Outcome(f"Agent {appliance.appliance_id} revoked, {result.sessions_ended} tunnel session(s) ended. "
                   + " ".join(result.warnings), reverse("admin:console-agents"))


def _explain_revoke(appliance):
    return [f"Cuts the agent {appliance.appliance_id} off: its token stops working, its key leaves the tunnel's "
            "authorized keys and its live tunnel sessions end.", "Syncs running through it fail."]


def _project_url(project: Project) -> str:
    return reverse("admin:console-project", args=[project.pk])


def _wave_url(wave: Wave) -> str:
    return reverse("admin:console-wave", args=[wave.pk])


def _approve_plan(project, options, actor):
    project = planner_services.project_approve(project=project, approved_by=actor.label)
    report = project.approval_report
    waves = [w for w in report.get("waves", []) if w.get("wave_id")]
    return Outcome(f"Plan '{project.name}' approved: {report['matched_count']} VM(s) matched, "
                   f"{len(report['machine_groups'])} machine group(s) with sync schedules, {len(waves)} wave(s); "
                   f"{report['unmatched_count']} planned VM(s) not discovered", _project_url(project))


def _explain_approve_plan(project):
    cohorts = project.cohorts.count()
    return [f"Matches the planned VMs of '{project.name}' to the discovered VMs (instance UUID, else name).",
            f"Makes each of its {cohorts} cohort(s) a machine group with its own sync schedule ("
            + (f"cron '{project.sync_cron_expression}'" if project.sync_cron_expression
               else f"every {project.sync_interval_seconds // 60} minutes") + "): syncs start from then on.",
            "Makes each cohort a cutover wave: its window from the cohort's planned dates, else a draft that starts "
            "nothing until you set its window.",
            "Turns the confirmed network mappings into the VMs' failover mappings. The project becomes approved; "
            "this cannot be undone here."]


def _wave_action(verb: str, call):
    def run(wave, options, actor):
        wave = call(wave=wave, requested_by=actor.label, **options)
        return Outcome(f"Wave '{wave.name}': {verb}", _wave_url(wave))
    return run


def _rehearse(wave, options, actor):
    rehearsal = wave_services.wave_rehearse(wave=wave, requested_by=actor.label, name=options.get("name") or "")
    return Outcome(f"Rehearsal '{rehearsal.name}' of '{wave.name}' started", _wave_url(rehearsal))


def _count(wave) -> str:
    return f"{wave.vms.count()} VM(s), {wave.max_concurrent} at a time"


WAVE_EXPLAIN = {
    "schedule": lambda w: [f"Sets the window of '{w.name}' ({_count(w)}). From its start the wave's VMs are cut over "
                           "by live failovers (the source powered off, a final sync) in their order; none starts "
                           "after the deadline."],
    "start_now": lambda w: [f"Opens the window of '{w.name}' now: live failovers of its {_count(w)} start, in "
                            "their order.", "Each failover powers its source VM off; a completed one is final."],
    "cancel": lambda w: [f"Queued VMs of '{w.name}' never start.",
                         "Running failovers go on unless you tick below (a rehearsal's tests are always ended)."],
    "rollback": lambda w: [f"Rolls back every VM of '{w.name}' whose failover is still reversible, one at a time, "
                           "last first.", "A completed live failover is final: it is reported, not rolled back. "
                           "VMs not started are cancelled."],
    "rehearsal": lambda w: [f"Starts a rehearsal of '{w.name}' now: test failovers of its {_count(w)}, the same "
                            "order and hooks, ended together once every test VM is up.",
                            "The source VMs keep running; the cutover wave is untouched."],
}


ALL = (
    Operation("initial_sync", "Initial sync", "vm", _explain_sync("initial"), _sync("initial"), destructive=False,
              form=forms.SyncForm),
    Operation("incremental_sync", "Incremental sync", "vm", _explain_sync("incremental"), _sync("incremental"),
              destructive=False, form=forms.SyncForm),
    Operation("cancel_sync", "Cancel the sync", "vm", _explain_cancel_sync, _cancel_sync,
              confirm_label="Yes, cancel the sync"),
    Operation("test_failover", "Test failover", "vm", _explain_test, _test_failover, form=forms.TestFailoverForm,
              confirm_label="Yes, start the test failover"),
    Operation("end_test", "End the test", "vm", _explain_end_test, _end_test, confirm_label="Yes, end the test"),
    Operation("live_failover", "Live failover", "vm", _explain_live, _live_failover, form=forms.LiveFailoverForm,
              confirm_label="Yes, run the live failover"),
    Operation("rollback", "Roll back", "vm", _explain_rollback, _rollback, confirm_label="Yes, roll back"),
    Operation("cancel", "Cancel", "replication", lambda job: _explain_cancel_sync(job.vm_context), _cancel_job,
              confirm_label="Yes, cancel the sync"),
    Operation("retry", "Retry", "replication",
              lambda job: ["Queues the failed sync again; each disk resumes from its last checkpoint."], _retry_job,
              destructive=False),
    Operation("rollback", "Roll back", "failover", _explain_rollback_job, _rollback_job,
              confirm_label="Yes, roll back"),
    Operation("approve", "Approve", "enrollment", _explain_enrollment("Approves"), _approve, role=Role.ADMIN,
              confirm_label="Yes, approve this agent"),
    Operation("reject", "Reject", "enrollment", _explain_enrollment("Rejects"), _reject, role=Role.ADMIN,
              form=forms.RejectForm, confirm_label="Yes, reject"),
    Operation("revoke", "Revoke", "appliance", _explain_revoke, _revoke, role=Role.ADMIN,
              confirm_label="Yes, revoke this agent"),
    Operation("approve", "Approve the plan", "project", _explain_approve_plan, _approve_plan, role=Role.ADMIN,
              confirm_label="Yes, approve and hand it to the platform"),
    Operation("schedule", "Set the window", "wave", WAVE_EXPLAIN["schedule"],
              _wave_action("window set", wave_services.wave_schedule), form=forms.WaveWindowForm,
              confirm_label="Yes, schedule the wave"),
    Operation("start_now", "Start now", "wave", WAVE_EXPLAIN["start_now"],
              _wave_action("starts now", wave_services.wave_start_now), confirm_label="Yes, start the cutovers now"),
    Operation("cancel", "Cancel", "wave", WAVE_EXPLAIN["cancel"], _wave_action("cancelled", wave_services.wave_cancel),
              form=forms.CancelWaveForm, confirm_label="Yes, cancel the wave"),
    Operation("rollback", "Roll back", "wave", WAVE_EXPLAIN["rollback"],
              _wave_action("rolling back", wave_services.wave_rollback), confirm_label="Yes, roll the wave back"),
    Operation("rehearsal", "Rehearse", "wave", WAVE_EXPLAIN["rehearsal"], _rehearse, form=forms.RehearsalForm,
              confirm_label="Yes, start the rehearsal"),
)
BY_TARGET: dict[tuple[str, str], Operation] = {(op.target, op.name): op for op in ALL}


def page_of(target: str, obj) -> str:
    """Where "go back" leads from an operation on this object: its own page."""
    if target == "vm":
        return _vm_url(obj)
    if target == "replication":
        return _replication_url(obj)
    if target == "failover":
        return _failover_url(obj)
    if target == "project":
        return _project_url(obj)
    if target == "wave":
        return _wave_url(obj)
    return reverse("admin:console-agents")


def _by_uuid(queryset, key):
    try:
        return queryset.filter(pk=uuid.UUID(str(key))).first()
    except ValueError:
        return None


def lookup(target: str, name: str) -> Operation | None:
    return BY_TARGET.get((target, name))


TARGETS = {
    "vm": lambda key: VMContext.objects.get(pk=int(key)) if str(key).isdigit() else None,
    "replication": lambda key: ReplicationJob.objects.select_related("vm_context").filter(job_id=key).first(),
    "failover": lambda key: FailoverJob.objects.select_related("vm_context").filter(job_id=key).first(),
    "enrollment": lambda key: Enrollment.objects.filter(enrollment_id=key).first(),
    "appliance": lambda key: Appliance.objects.filter(appliance_id=key).first(),
    "project": lambda key: _by_uuid(Project.objects, key),
    "wave": lambda key: Wave.objects.filter(pk=int(key)).first() if str(key).isdigit() else None,
}
