"""The replication runner: provision volumes and exports for a job, then hand the copy to the agent.

The agent reports progress, change ids and the final status back through the API; nothing here waits for the
copy, so no worker sits idle for hours.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from apps.core.exceptions import ApplicationError, NotFound
from apps.enrollment.agent_client import AgentClient, AgentEndpoint, ReplicateRequest
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.inventory.selectors import agent_endpoint, agent_source
from apps.settings import cloudstack as cs
from apps.settings import volumes

from . import exports
from .choices import ReplicationStatus, VolumeStatus
from .jobs import (
    JobCancelled,
    LeaseKeeper,
    check_cancel,
    claim,
    event,
    release_lease,
    replication_finish,
    replication_set_status,
)
from .models import ReplicationJob, ReplicaVolume, VMExportMapping

logger = logging.getLogger(__name__)


def _volume_alive(client: cs.CloudStackClient, volume: ReplicaVolume) -> dict | None:
    try:
        return client.get_volume(volume.volume_id)
    except cs.CloudStackNotFoundError:
        return None


def provision(job: ReplicationJob, client: cs.CloudStackClient, agent: AgentEndpoint, *,
              taken_over: bool = False) -> list[dict]:
    """For each disk: a replica volume attached to the control plane and an NBD export of its device, on a port
    only the serving agent's key may open. ``taken_over``: a runner died in this job, perhaps while CloudStack
    created a volume it never recorded; such a volume is taken up rather than made twice."""
    context = job.vm_context
    config = job.ossea_config
    oma = volumes.oma_vm_id(config, client)
    targets = []
    for disk in context.disks.all().order_by("unit_number"):
        check_cancel(job)
        replica = ReplicaVolume.objects.filter(vm_context=context, disk_unit_number=disk.unit_number).first()
        remote = _volume_alive(client, replica) if replica else None
        if replica is not None and remote is None:
            event(job, "provision", f"volume {replica.volume_id} of {disk.disk_id} vanished from "
                                             "CloudStack; creating a new one (full sync)", level="warning")
            replica.delete()
            replica = None
        if replica is None:
            volume, attached = volumes.create_and_attach(config=config, client=client, owner=job.job_id,
                                                         vm_name=context.vm_name, disk_unit=disk.unit_number,
                                                         size_bytes=disk.capacity_bytes, adopt_unrecorded=taken_over,
                                                         vm_id=context.vm_id, disk_id=disk.disk_id,
                                                         datastore=disk.datastore)
            replica = ReplicaVolume.objects.create(
                vm_context=context, disk_id=disk.disk_id, disk_unit_number=disk.unit_number, volume_id=volume["id"],
                volume_name=volume["name"], size_bytes=int(volume.get("size") or disk.capacity_bytes),
                device_path=str(attached.device_path), device_id=attached.device_id, attached_vm_id=oma,
                status=VolumeStatus.ATTACHED_TO_OMA, created_by_job=job.job_id)
            event(job, "provision", f"created volume {volume['id']} for {disk.disk_id} at "
                                             f"{attached.device_path}", volume_id=volume["id"])
        elif remote.get("virtualmachineid") != oma:
            attached = volumes.attach_to_oma(config=config, client=client, owner=job.job_id,
                                             volume_id=replica.volume_id)
            ReplicaVolume.objects.filter(pk=replica.pk).update(
                device_path=str(attached.device_path), device_id=attached.device_id, attached_vm_id=oma,
                status=VolumeStatus.ATTACHED_TO_OMA)
            replica.refresh_from_db()
            event(job, "provision", f"re-attached volume {replica.volume_id} for {disk.disk_id}")
        export = exports.ensure_export(vm_id=context.vm_id, vm_name=context.vm_name, disk_unit=disk.unit_number,
                                       device_path=replica.device_path, appliance=agent.appliance)
        if not export.reused:
            event(job, "export", f"export {export.mapping.export_name} on port {export.mapping.port}")
        targets.append({"disk_id": disk.disk_id, "unit_number": disk.unit_number,
                        "capacity_bytes": disk.capacity_bytes,
                        "target": exports.agent_target(export.mapping),
                        "_export_pk": export.mapping.pk, "_export_reused": export.reused})
    return targets


def undo_provisioning(job: ReplicationJob, client: cs.CloudStackClient | None, targets: list[dict]) -> list[str]:
    """Remove what this job created and did not hand over: exports it started, its volumes and attachments."""
    done = []
    started = [t["_export_pk"] for t in targets if not t["_export_reused"]]
    for mapping in VMExportMapping.objects.filter(pk__in=started):
        exports.stop_export(mapping)
        done.append(f"stopped export {mapping.export_name}")
    created = list(ReplicaVolume.objects.filter(created_by_job=job.job_id))
    for replica in created:
        # An export of a volume we are about to remove must not survive it.
        for mapping in VMExportMapping.objects.filter(device_path=replica.device_path, status="active"):
            exports.stop_export(mapping)
            done.append(f"stopped export {mapping.export_name}")
    if client is not None:
        done += volumes.rollback(owner=job.job_id, client=client)
    ReplicaVolume.objects.filter(pk__in=[r.pk for r in created]).delete()
    return done


def agent_request(job: ReplicationJob, targets: list[dict]) -> ReplicateRequest:
    return ReplicateRequest(job_id=job.job_id, source=agent_source(job.vm_context), replication_type=job.replication_type,
                            disks=targets, oma_url=settings.MP_OMA_URL_FOR_AGENT, bandwidth_limit=job.bandwidth_limit)


def _already_handed_over(job: ReplicationJob, endpoint: AgentEndpoint) -> bool:
    """A runner that died after the hand-over but before recording it: does the agent have the job?"""
    try:
        AgentClient(base_url=endpoint.url).status(job.job_id)
    except NotFound:
        return False
    return True



def _undo_note(done: list[str]) -> str:
    """What the failed provisioning's undo did, worded so a leftover never reads as a success."""
    if not done:
        return ""
    left = any(line.startswith("NOT ") for line in done)
    head = "NOT fully undone, see /api/v1/cloud-resources?state=orphaned" if left else "undone"
    return f" ({head}: {'; '.join(done)})"

def run(job_id: str) -> None:
    """Provision and hand over a job; a re-run after a worker death continues from what the rows record."""
    job = ReplicationJob.objects.select_related("vm_context", "ossea_config").filter(job_id=job_id).first()
    if job is None:
        return
    token = claim(job)
    if token is None:
        return  # running elsewhere under a live lease, handed to the agent, finished or cancelled: nothing to do
    job.refresh_from_db()
    resumed = job.status != ReplicationStatus.PENDING
    try:
        with LeaseKeeper(job, token):
            _run(job, resumed)
    finally:
        release_lease(job, token)


def _run(job: ReplicationJob, resumed: bool) -> None:
    client: cs.CloudStackClient | None = None
    targets: list[dict] = []
    try:
        if resumed:
            event(job, "resume", f"continuing a job left {job.status} by a runner that stopped (its worker died)",
                  level="warning")
        else:
            replication_set_status(job, ReplicationStatus.PROVISIONING, current_operation="Provisioning volumes")
        with transaction.atomic():
            context = VMContext.objects.select_for_update().get(pk=job.vm_context_id)
            if context.current_status != VMContextStatus.REPLICATING:
                context.current_status = VMContextStatus.REPLICATING
                context.save(update_fields=["current_status", "updated_at"])
        # One agent for the whole job, the one of the VM's vCenter: its exports go to that agent's block, and the
        # copy to that agent.
        endpoint = agent_endpoint(job.vm_context)
        job.appliance_id = endpoint.appliance.appliance_id if endpoint.appliance else ""
        ReplicationJob.objects.filter(pk=job.pk).update(appliance_id=job.appliance_id)
        if job.status == ReplicationStatus.READY_FOR_SYNC and _already_handed_over(job, endpoint):
            event(job, "resume", "the agent already has the job; its reports carry it on")
            return
        check_cancel(job)
        client = volumes.client_for(job.ossea_config)
        targets = provision(job, client, endpoint, taken_over=resumed)
        check_cancel(job)
        volumes.release(job.job_id)
        replication_set_status(job, ReplicationStatus.READY_FOR_SYNC,
                                        current_operation="Volumes and exports ready; starting the agent")
        agent = AgentClient(base_url=endpoint.url)
        answer = agent.replicate(agent_request(job, targets))
        # Where the agent was reached and where it writes: the tunnel's reverse forward and local forwards.
        writes = ", ".join(f"{t['disk_id']} to {t['target']['host']}:{t['target']['port']}" for t in targets)
        event(job, "agent", f"agent {job.appliance_id or 'without a tunnel'} at {agent.base_url} accepted the job "
                                     f"({answer.get('status', 'started')}); it writes {writes}",
                       agent_url=agent.base_url, appliance_id=job.appliance_id,
                       targets={t["disk_id"]: t["target"] for t in targets})
    except JobCancelled:
        done = undo_provisioning(job, client or _client_or_none(job), targets)
        replication_finish(job=job, status=ReplicationStatus.CANCELLED, error="cancelled by the operator")
        if done:
            event(job, "cleanup", "; ".join(done))
    except (cs.CloudStackError, exports.ExportError) as exc:
        done = undo_provisioning(job, client, targets)
        replication_finish(job=job, status=ReplicationStatus.FAILED,
                                    error=f"provisioning failed: {exc}{_undo_note(done)}")
    except ApplicationError as exc:
        if exc.error_code == "JOB_CONFLICT":
            # The agent still runs this job: an earlier attempt's copy that outlived a failure the control plane
            # declared (the agent could not be asked then). Its reports carry the job on from here.
            event(job, "adopted", f"the agent is still running this job ({exc.message}); its copy is kept",
                  level="warning")
            return
        # The agent refused or could not be reached: volumes and exports stay for the retry.
        replication_finish(job=job, status=ReplicationStatus.FAILED, error=exc.message)
    except Exception as exc:  # a bug must still end the job with a reason, never leave it 'provisioning'
        logger.exception("replication runner crashed job=%s", job.job_id)
        done = undo_provisioning(job, client, targets) if job.status == ReplicationStatus.PROVISIONING else []
        replication_finish(job=job, status=ReplicationStatus.FAILED, error=f"internal error: {exc}")
        if done:
            event(job, "cleanup", "; ".join(done))


def _client_or_none(job: ReplicationJob) -> cs.CloudStackClient | None:
    return volumes.client_for(job.ossea_config) if job.ossea_config_id else None
