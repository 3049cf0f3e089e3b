"""Step `validate`: readiness checks again (unless skip_validation), then the plan: networks, offering, template,
the VM's identity (NIC MACs and addresses, boot, OS type, KVM details: `identity.py`), the VM's name and each
replica volume's role (a FailoverVolume row per disk).

It only reads CloudStack, so its undo has nothing to do; the rows it writes are the record the later steps and the
rollback work from.
"""
from __future__ import annotations

from django.utils import timezone

from apps.replication.models import ReplicaVolume
from apps.settings import cloudstack as cs
from apps.settings import volumes

from .. import cloud, identity, validation
from ..choices import FailoverStatus, FailoverType, VolumePlace
from ..jobs import StepFailed, event
from ..models import FailoverJob, FailoverVolume
from .base import Context, Step


def make_plan(job: FailoverJob, client: cs.CloudStackClient) -> dict:
    """Decide everything before touching anything: networks, compute, template, name, the volumes and their roles."""
    config, context = job.ossea_config, job.vm_context
    zone = client.find_zone(config.zone)
    oma = volumes.oma_vm_id(config, client)
    networks = client.list_networks(zone_id=zone["id"])
    resolved, unmapped = cloud.resolve_networks(context, failover_type=job.job_type, overrides=job.network_overrides,
                                                networks=networks)
    if unmapped:
        raise StepFailed(f"No {'test' if job.job_type == FailoverType.TEST else 'production'} network mapping for "
                         + ", ".join(f"'{n}'" for n in unmapped), "NETWORK_MAPPING_MISSING")
    by_id = {n["id"]: n for n in networks}
    for nic in resolved:
        found = by_id.get(nic["destination_network_id"])
        if found is None:
            raise StepFailed(f"CloudStack network {nic['destination_network_id']} (mapped for "
                             f"'{nic['source_network_name']}') does not exist", "NETWORK_MAPPING_MISSING")
        nic["destination_network_name"] = found.get("name", "")
    try:
        compute = cloud.choose_offering(client.list_service_offerings(), context,
                                        wanted_id=job.custom_config.get("service_offering_id")
                                        or config.service_offering_id)
        template = cloud.choose_template(client.list_templates(zone_id=zone["id"]),
                                         wanted_id=job.custom_config.get("template_id", ""))
    except cloud.PlanError as exc:
        raise StepFailed(str(exc), "VALIDATION_FAILED") from None
    replicas = {r.disk_unit_number: r for r in ReplicaVolume.objects.filter(vm_context=context)}
    disks = list(context.disks.order_by("unit_number", "disk_key"))
    if not disks:
        raise StepFailed(f"VM '{context.vm_name}' has no disks", "VALIDATION_FAILED")
    for index, disk in enumerate(disks):
        replica = replicas.get(disk.unit_number)
        if replica is None:
            raise StepFailed(f"Disk {disk.disk_id} has no replica volume; run a replication first",
                             "VOLUME_NOT_AVAILABLE")
        try:
            remote = client.get_volume(replica.volume_id)
        except cs.CloudStackNotFoundError:
            raise StepFailed(f"Replica volume {replica.volume_id} of {disk.disk_id} no longer exists in CloudStack",
                             "VOLUME_NOT_AVAILABLE") from None
        where = remote.get("virtualmachineid")
        if where and where != oma:
            raise StepFailed(f"Replica volume {replica.volume_id} of {disk.disk_id} is attached to VM {where}, not to "
                             "the control plane", "VOLUME_NOT_AVAILABLE")
        FailoverVolume.objects.update_or_create(
            job=job, volume_id=replica.volume_id,
            defaults={"replica": replica, "volume_name": replica.volume_name, "disk_id": disk.disk_id,
                      "disk_unit_number": disk.unit_number, "is_root": index == 0, "oma_vm_id": oma,
                      "place": VolumePlace.ON_OMA if where else VolumePlace.DETACHED})
    stamp = int(timezone.now().timestamp())
    name = (cloud.test_vm_name(context, stamp) if job.job_type == FailoverType.TEST
            else cloud.live_vm_name(context, job.custom_config))
    display = context.vm_name.replace("~", "-") + (" (test failover)" if job.job_type == FailoverType.TEST else "")
    who = identity.plan(context, resolved, networks, failover_type=job.job_type, custom_config=job.custom_config,
                        os_types=client.list_os_types(), vms=client.list_virtual_machines(zone_id=zone["id"]))
    for warning in who.warnings:
        event(job, "plan", warning, level="warning")
    plan = {"zone_id": zone["id"], "oma_vm_id": oma, "networks": resolved,
            "network_ids": cloud.deploy_network_ids(resolved), "compute": compute.as_plan(), **who.plan,
            "template": {"id": template["id"], "name": template.get("name")}, "vm_name": name,
            "display_name": display, "boot_volume_id": replicas[disks[0].unit_number].volume_id,
            "boot_disk_id": disks[0].disk_id}
    FailoverJob.objects.filter(pk=job.pk).update(plan=plan)
    job.plan = plan
    event(job, "plan", f"VM '{name}' with offering '{compute.offering.get('name')}' on network(s) "
                       + (", ".join(n["destination_network_name"] or n["destination_network_id"] for n in resolved)
                          or "(default)") + f", boot disk {disks[0].disk_id}", plan=plan)
    return plan


class Validate(Step):
    name = "validate"
    status = FailoverStatus.VALIDATING
    requires = ("vm_context", "ossea_config", "job_type", "network_overrides", "custom_config")
    records = ("validation_result", "plan", "FailoverVolume")
    undoes = "nothing (it only reads CloudStack)"
    doing = "Validating readiness"

    def run(self, ctx: Context) -> None:
        job = ctx.job
        if ctx.again and job.plan and job.volumes.exists():
            return  # planned by an earlier run: the volumes may have moved since, so it is not checked again
        if not job.skip_validation:
            result, validator = validation.validate(job.vm_context, job.job_type, overrides=job.network_overrides,
                                                    exclude_job_id=job.job_id, custom_config=job.custom_config,
                                                    running_job=job)
            FailoverJob.objects.filter(pk=job.pk).update(validation_result=result)
            if not result["is_ready"]:
                failure = validator.first_failure()
                raise StepFailed("Validation failed: " + "; ".join(result["errors"]),
                                 failure.error_code if failure else "VALIDATION_FAILED")
            event(job, "validated", f"ready for failover (score {result['readiness_score']})")
        else:
            event(job, "validated", "validation skipped on request", level="warning")
        make_plan(job, ctx.cloudstack())
