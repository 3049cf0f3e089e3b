"""Reads worth a name: what the job, preflight and rollback-decision answers are rendered from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone

from apps.core.jobs import job_events
from apps.core.registry import Health
from apps.replication.models import ReplicaVolume
from apps.settings.models import CloudResource

from . import cloud, readiness, validation
from .choices import ACTIVE, CANCELLABLE, FailoverStatus, FailoverType, SnapshotState, VolumePlace
from .models import FailoverJob, FailoverVolume, NetworkMapping

if TYPE_CHECKING:
    from apps.inventory.models import VMContext

JOB_KIND = "failover"


def duration_ns(job: FailoverJob) -> int:
    """Go's time.Duration (nanoseconds), as seed 003 shows durations."""
    start = job.started_at or job.created_at
    end = job.ended_at or job.completed_at or timezone.now()
    return max(0, int((end - start).total_seconds() * 1_000_000_000))


def job_volumes(job: FailoverJob) -> QuerySet[FailoverVolume]:
    """The replica volumes as the job moved them, boot disk first."""
    return job.volumes.all().order_by("disk_unit_number")


def snapshot_ids(job: FailoverJob) -> list[str]:
    return [volume.snapshot_id for volume in job_volumes(job) if volume.snapshot_id]


def custom_config(job: FailoverJob) -> dict:
    """The request's custom_config with the networks the job used (and a test's duration and cleanup)."""
    custom = {**job.custom_config, "network_mappings": {n["source_network_name"]: n["destination_network_id"]
                                                        for n in job.plan.get("networks", [])} or job.network_overrides}
    if job.job_type == FailoverType.TEST:
        custom.update(test_duration=job.test_duration, auto_cleanup=job.auto_cleanup)
    return custom


def events(job: FailoverJob, limit: int = 100) -> list[dict]:
    return job_events(JOB_KIND, job.job_id, limit)


def cloud_resources(job: FailoverJob) -> QuerySet[CloudResource]:
    """The CloudStack resources the job created, in the order it created them."""
    return CloudResource.objects.filter(owner=job.job_id).order_by("id")


@dataclass(frozen=True)
class RollbackDecision:
    """What POST /failover/rollback would do for a VM's latest job of one type; the source power keys are None
    (absent from the answer) when the VM has no such job."""

    vm_name: str
    failover_type: str
    job_id: str | None
    job_status: str | None
    rollback_possible: bool
    recommended: bool
    reason: str
    actions: list[str]
    source_vm_powered_off: bool | None = None
    source_power_uncertain: bool | None = None


def rollback_decision(job: FailoverJob | None, failover_type: str, vm_name: str) -> RollbackDecision:
    """What POST /failover/rollback would do for the VM's latest job of that type, and whether it should."""
    if job is None:
        return RollbackDecision(vm_name=vm_name, failover_type=failover_type, job_id=None, job_status=None,
                                rollback_possible=False, recommended=False,
                                reason=f"VM '{vm_name}' has no {failover_type} failover job", actions=[])
    actions = []
    if job.destination_vm_id:
        actions.append(f"stop and destroy {job.job_type} VM {job.destination_vm_id} after detaching the replica volumes")
    for volume in job_volumes(job):
        if volume.snapshot_state == SnapshotState.CREATED:
            actions.append(f"revert volume {volume.volume_id} ({volume.disk_id}) to snapshot {volume.snapshot_id}, "
                           "then delete the snapshot")
        elif volume.snapshot_state in (SnapshotState.REVERTED, SnapshotState.FAILED):
            actions.append(f"delete snapshot {volume.snapshot_id}")
        if volume.place != VolumePlace.ON_OMA:
            actions.append(f"reattach volume {volume.volume_id} ({volume.disk_id}) to the control plane")
    power_on = f"power the source VM '{job.vm_context.vm_name}' on again " + (
        "(this failover powered it off)" if job.source_powered_off_by_platform else
        "(the answer to this failover's power-off was lost and the VM was on before)")
    if job.source_power_on_owed:
        actions.append(power_on)
    possible, recommended = False, False
    if job.test_running:
        possible, reason = True, "The test failover is running; rollback ends it and puts the volumes back"
        recommended = bool(job.cleanup_due_at and job.cleanup_due_at <= timezone.now())
    elif job.status in CANCELLABLE:
        possible, reason = True, f"The job is running ('{job.status}'); rollback stops it after the current step"
    elif job.status in ACTIVE:
        reason = f"The job is already being cleaned up ('{job.status}')"
    elif job.status == FailoverStatus.FAILED and job.needs_cleanup:
        possible = recommended = True
        reason = "The job failed and its rollback left resources behind"
    elif job.status == FailoverStatus.FAILED and job.source_power_on_owed:
        possible = recommended = True
        reason = ("The job failed and was rolled back, but the source VM it powered off could not be powered on "
                  f"again: {job.source_power_on_error or 'not tried yet'}")
        actions = [power_on]
    elif job.status == FailoverStatus.FAILED and job.source_power_left_to_operator:
        reason, actions = ("The job failed and was rolled back; the answer to its power-off was lost and the source VM "
                           "was not known to be on before, so whether to power it on is the operator's call"), []
    elif job.status == FailoverStatus.FAILED:
        reason, actions = "The job failed and was rolled back completely; nothing is left to undo", []
    elif job.job_type == FailoverType.LIVE:
        reason, actions = "A completed live failover is final: the VM runs in CloudStack and owns the data", []
    else:
        reason, actions = "The test failover already ended", []
    return RollbackDecision(
        vm_name=vm_name, failover_type=failover_type, job_id=job.job_id, job_status=job.status,
        rollback_possible=possible, recommended=recommended, reason=reason, actions=actions if possible else [],
        source_vm_powered_off=job.source_powered_off_at is not None and job.source_powered_on_at is None,
        source_power_uncertain=job.source_power_uncertain and job.source_powered_on_at is None)


@dataclass(frozen=True)
class PlannedVolume:
    disk_id: str
    role: str
    volume_id: str | None


@dataclass(frozen=True)
class PreflightConfiguration:
    """What a failover of one type would use; the options of the other type are None (absent from the answer)."""

    cloudstack_config: str | None
    networks: list[dict]
    unmapped_networks: list[str]
    compute: dict | None
    template: dict | None
    destination_vm_name: str
    volumes: list[PlannedVolume]
    snapshots: str = "one CloudStack volume snapshot per replica volume, taken after detaching it"
    power_off_source: bool | None = None
    final_sync: bool | None = None
    shutdown_timeout: int | None = None
    auto_cleanup: bool | None = None


def preflight_configuration(vm_context: VMContext, failover_type: str,
                            validator: validation.Validator) -> PreflightConfiguration:
    """The networks, offering, template, VM name and volumes a failover of this type would use, as validated."""
    disks = list(vm_context.disks.order_by("unit_number", "disk_key"))
    replicas = {r.disk_unit_number: r for r in ReplicaVolume.objects.filter(vm_context=vm_context)}
    volumes = [PlannedVolume(disk_id=d.disk_id, role="root" if i == 0 else "data",
                             volume_id=replicas[d.unit_number].volume_id if d.unit_number in replicas else None)
               for i, d in enumerate(disks)]
    if failover_type == FailoverType.LIVE:
        name = cloud.live_vm_name(vm_context, {})
        options = {"power_off_source": True, "final_sync": True, "shutdown_timeout": 300}
    else:
        name = "test-" + cloud.host_name(vm_context.vm_name, limit=44) + "-<stamp>"
        options = {"auto_cleanup": False}
    return PreflightConfiguration(
        cloudstack_config=validator.config.name if validator.config else None,
        networks=validator.plan.get("networks", []),
        unmapped_networks=readiness.network_info(vm_context, failover_type=failover_type)["unmapped"],
        compute=validator.plan.get("compute"), template=validator.plan.get("template"),
        destination_vm_name=name, volumes=volumes, **options)


def health() -> Health:
    # The failover app answers: its conductor and steps are loaded in this process (seed 003's "failover_engines").
    return Health(components={"failover_engines": "initialized"},
                  metrics={"active_failover_jobs": FailoverJob.objects.filter(status__in=ACTIVE).count(),
                           "network_mappings": NetworkMapping.objects.count()})


def owns_live_resources(owner: str) -> bool | None:
    """For the orphan sweep (settings' owner check): does failover job `owner` still hold its CloudStack resources?

    Live while it runs or is being cleaned up, while its test VM runs, and while it waits for cleanup-failed (which
    knows the order a teardown needs: replicas off the VM before it is destroyed). None: not a failover job's id.
    """
    job = FailoverJob.objects.filter(job_id=owner).first()
    if job is None:
        # A deleted failover job holds nothing; any other id is not ours to judge.
        return False if owner.startswith(("test-failover-", "live-failover-")) else None
    return job.status in ACTIVE or job.test_running or job.needs_cleanup
