"""Failover writes: network mappings, and starting, ending, rolling back and cleaning up failovers.

Views and the admin call only these; they queue the tasks (`tasks.py`) that run the conductor. Refusals carry seed
003's error shape: `message` (what was refused), `error` (why), `error_code`, and `required_actions` where an
operator can act.
"""
from __future__ import annotations

import logging
import re
import time

from django.db import transaction

from apps.core.exceptions import ApplicationError, Conflict, InvalidInput, NotFound
from apps.core.utils import unique_or_conflict
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.inventory.selectors import credential_for
from apps.replication.choices import ACTIVE as REPLICATION_ACTIVE
from apps.replication.models import ReplicationJob, ReplicaVolume
from apps.settings import cloudstack as cs

from . import cloud, conductor, jobs, validation
from .choices import CANCELLABLE, CleanupStatus, FailoverStatus, FailoverType
from .jobs import event
from .models import FailoverJob, NetworkMapping
from .tasks import cleanup_failed_failover, end_test_failover, power_on_source, run_failover

logger = logging.getLogger(__name__)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
MAX_TEST_DURATION = 7 * 24 * 3600


def refusal(message: str, error: str, *, error_code: str, status: int = 409, actions=(), details=None,
            **extra) -> ApplicationError:
    return ApplicationError(error, error_code=error_code, status_code=status, details=details,
                            extra={"message": message, **({"required_actions": list(actions)} if actions else {}),
                                   **extra})


def parse_duration(text: str) -> int:
    """Go-style durations as seed 003 shows them ("30m", "2h", "4h30m", "2h0s", "90s"), in whole seconds."""
    value = (text or "").strip().lower()
    if not value or _DURATION_PART.sub("", value):
        raise ValueError(f"'{text}' is not a duration like 30m, 2h or 4h30m")
    seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in _DURATION_PART.findall(value))
    return int(seconds)


# -- network mappings ---------------------------------------------------------------------------------


def _cloud_networks(vm_context: VMContext) -> list[dict]:
    config = cloud.config_for(vm_context)
    client = cloud.client_for(config)
    try:
        zone = client.find_zone(config.zone)
        return client.list_networks(zone_id=zone["id"])
    except cs.CloudStackError as exc:
        raise cloud.api_error(exc) from exc


def cloud_networks(vm_context: VMContext) -> list[dict]:
    """The CloudStack networks of the VM's zone, that its mappings may point at (the console's choices)."""
    return _cloud_networks(vm_context)


def check_sources(vm_context: VMContext, names) -> None:
    known = list(dict.fromkeys(source for _, source in cloud.source_networks(vm_context)))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput(f"{', '.join(repr(n) for n in unknown)} is not a network of VM '{vm_context.vm_name}' "
                           f"(its NICs are on: {', '.join(repr(n) for n in known) or 'no network'})",
                           details={"source_networks": known}, error_code="INVALID_SOURCE_NETWORK")


def _destination(networks: list[dict], ident: str) -> dict:
    found = cloud.find_network(networks, ident)
    if found is None:
        raise InvalidInput(f"CloudStack network '{ident}' does not exist",
                           details={"available_networks": [{"id": n["id"], "name": n.get("name")} for n in networks]},
                           error_code="NETWORK_NOT_FOUND")
    return found


def mapping_create(*, vm_context: VMContext, source_network_name: str, destination_network_id: str,
                   destination_network_name: str = "", is_test_network: bool = False) -> NetworkMapping:
    """Map one source network of a VM to an existing CloudStack network (checked) for live or test failovers."""
    check_sources(vm_context, [source_network_name])
    found = _destination(_cloud_networks(vm_context), destination_network_id)
    kind = "test" if is_test_network else "production"
    with unique_or_conflict(f"VM '{vm_context.vm_name}' already has a {kind} mapping for '{source_network_name}'; "
                            f"change it with PUT /api/v1/network-mappings/{vm_context.vm_id}",
                            error_code="MAPPING_EXISTS"):
        return NetworkMapping.objects.create(
            vm_context=vm_context, source_network_name=source_network_name, destination_network_id=found["id"],
            destination_network_name=found.get("name") or destination_network_name, is_test_network=is_test_network)


def mappings_put(*, vm_context: VMContext, items: list[dict]) -> list[NetworkMapping]:
    """Create or replace each given mapping (keyed by source network and test/production)."""
    check_sources(vm_context, [item["source_network_name"] for item in items])
    keys = [(item["source_network_name"], item.get("is_test_network", False)) for item in items]
    if len(set(keys)) != len(keys):
        raise InvalidInput("The same source network and is_test_network appear twice in mappings")
    networks = _cloud_networks(vm_context)
    resolved = [(item, _destination(networks, item["destination_network_id"])) for item in items]
    saved = []
    with transaction.atomic():
        for item, found in resolved:
            mapping, _ = NetworkMapping.objects.update_or_create(
                vm_context=vm_context, source_network_name=item["source_network_name"],
                is_test_network=item.get("is_test_network", False),
                defaults={"destination_network_id": found["id"],
                          "destination_network_name": found.get("name") or item.get("destination_network_name", "")})
            saved.append(mapping)
    return saved


def mappings_delete(*, vm_context: VMContext, source_network_name: str | None = None,
                    is_test_network: bool | None = None) -> int:
    rows = NetworkMapping.objects.filter(vm_context=vm_context)
    if source_network_name is not None:
        rows = rows.filter(source_network_name=source_network_name)
    if is_test_network is not None:
        rows = rows.filter(is_test_network=is_test_network)
    count, _ = rows.delete()
    if not count:
        what = f" for '{source_network_name}'" if source_network_name is not None else ""
        raise NotFound(f"VM '{vm_context.vm_name}' has no network mapping{what}", error_code="MAPPING_NOT_FOUND")
    return count


# -- failover jobs -------------------------------------------------------------------------------------


def job_get(job_id: str) -> FailoverJob:
    job = jobs.load(job_id)
    if job is None:
        raise NotFound(f"Failover job '{job_id}' not found", error_code="JOB_NOT_FOUND")
    return job


def latest_job(vm_context: VMContext, failover_type: str | None = None) -> FailoverJob | None:
    rows = FailoverJob.objects.filter(vm_context=vm_context)
    if failover_type:
        rows = rows.filter(job_type=failover_type)
    return rows.select_related("vm_context", "ossea_config").order_by("-created_at", "-id").first()


def _new_job_id(failover_type: str, vm_context: VMContext) -> str:
    stamp = int(time.time())
    while FailoverJob.objects.filter(job_id=f"{failover_type}-failover-{vm_context.vm_id}-{stamp}").exists():
        stamp += 1
    return f"{failover_type}-failover-{vm_context.vm_id}-{stamp}"


def _enqueue(job: FailoverJob) -> None:
    transaction.on_commit(lambda: run_failover.apply_async(args=[job.job_id], task_id=job.job_id, queue="failover"))


def preconditions(vm_context: VMContext, failover_type: str, *, overrides: dict, power_off_source: bool = False) -> None:
    """What no failover may skip, validation or not: a state it can start from and volumes it can move."""
    refused = "Failover refused"
    if not vm_context.disks.exists():
        raise refusal(refused, f"VM '{vm_context.vm_name}' has no disks in the inventory", error_code="VALIDATION_FAILED",
                      status=400, actions=[f"Discover VM '{vm_context.vm_name}' again"])
    status = vm_context.current_status
    if status == VMContextStatus.FAILED_OVER:
        raise refusal(refused, f"VM '{vm_context.vm_name}' has already been failed over", error_code="INVALID_STATE")
    active_replication = ReplicationJob.objects.filter(vm_context=vm_context, status__in=REPLICATION_ACTIVE).first()
    if active_replication is not None:
        raise refusal("Validation failed", "VM has active migration jobs - cannot perform failover",
                      error_code="ACTIVE_JOBS",
                      actions=[f"Wait for migration job {active_replication.job_id} to complete",
                               f"Cancel active migration job (DELETE /api/v1/replications/{active_replication.job_id})"])
    occupying = FailoverJob.objects.filter(vm_context=vm_context, active_slot__isnull=False).first()
    if occupying is not None:
        action = (f"End test failover {occupying.job_id} (DELETE /api/v1/failover/test/{occupying.job_id})"
                  if occupying.test_running else f"Wait for failover job {occupying.job_id} ({occupying.status})")
        raise refusal(refused, f"VM '{vm_context.vm_name}' already has an active failover job {occupying.job_id}",
                      error_code="ACTIVE_JOBS", actions=[action], job_id=occupying.job_id,
                      job_status=occupying.status)
    leftover = FailoverJob.objects.filter(vm_context=vm_context, needs_cleanup=True).first()
    if leftover is not None:
        raise refusal(refused, f"Failed failover {leftover.job_id} left resources behind", error_code="CLEANUP_REQUIRED",
                      actions=[f"POST /api/v1/failover/{vm_context.vm_name}/cleanup-failed"])
    if status != VMContextStatus.READY_FOR_FAILOVER:
        raise refusal(refused, f"VM '{vm_context.vm_name}' is '{status}', not ready for failover",
                      error_code="VALIDATION_FAILED",
                      actions=[f"Complete a replication of VM '{vm_context.vm_name}' (POST /api/v1/replications)"])
    units = set(vm_context.disks.values_list("unit_number", flat=True))
    have = set(ReplicaVolume.objects.filter(vm_context=vm_context).values_list("disk_unit_number", flat=True))
    if units - have:
        raise refusal(refused, f"{len(units - have)} disk(s) of VM '{vm_context.vm_name}' have no replica volume",
                      error_code="VOLUME_NOT_AVAILABLE",
                      actions=[f"Run a replication of VM '{vm_context.vm_name}' (POST /api/v1/replications)"])
    if overrides:
        check_sources(vm_context, list(overrides))
    if power_off_source:
        if credential_for(vm_context) is None:
            raise refusal(refused, "power_off_source needs vCenter credentials and there are none",
                          error_code="VALIDATION_FAILED", status=400,
                          actions=["Add vCenter credentials (POST /api/v1/vmware-credentials)",
                                   "or set power_off_source to false and power the source off yourself"])


def _validation_refusal(result: dict, validator: validation.Validator) -> ApplicationError:
    failure = validator.first_failure()
    return refusal("Validation failed", "; ".join(result["errors"]) or "Validation failed",
                   error_code=failure.error_code if failure else "VALIDATION_FAILED",
                   status=failure.http_status if failure else 409,
                   actions=result["required_actions"], validation_result=result)


def failover_start(*, vm_context: VMContext, failover_type: str, options: dict, requested_by: str = "") -> FailoverJob:
    """Check, create the job (the VM context enters test_failover for a test) and queue it. 409 while one runs."""
    config = cloud.config_for(vm_context)
    overrides = options.get("network_mappings") or {}
    live = failover_type == FailoverType.LIVE
    preconditions(vm_context, failover_type, overrides=overrides,
                  power_off_source=live and options.get("power_off_source", True))
    if not options.get("skip_validation"):
        result, validator = validation.validate(vm_context, failover_type, overrides=overrides,
                                                custom_config=options.get("custom_config"))
        if not result["is_ready"]:
            raise _validation_refusal(result, validator)
        overrides = {nic["source_network_name"]: nic["destination_network_id"] for nic in
                     validator.plan.get("networks", []) if nic["from"] == "request"}
    else:
        result = None
        if overrides:
            networks = _cloud_networks(vm_context)
            overrides = {source: _destination(networks, ident)["id"] for source, ident in overrides.items()}
        _, unmapped = cloud.resolve_networks(vm_context, failover_type=failover_type, overrides=overrides,
                                             networks=None)
        if unmapped:
            kind = "test" if failover_type == FailoverType.TEST else "production"
            raise refusal("Failover refused", f"No {kind} network mapping for " + ", ".join(repr(n) for n in unmapped),
                          error_code="NETWORK_MAPPING_MISSING", status=400,
                          actions=[f"Create network mapping for '{n}' (POST /api/v1/network-mappings)" for n in unmapped])
    # A start that lost a race with another for the same VM breaks the unique active slot: the refusal answers it.
    with unique_or_conflict(refusal("Failover refused", f"VM '{vm_context.vm_name}' already has an active failover job",
                                    error_code="ACTIVE_JOBS")):
        context = VMContext.objects.select_for_update().get(pk=vm_context.pk)
        if context.current_status != VMContextStatus.READY_FOR_FAILOVER:
            raise Conflict(f"VM '{context.vm_name}' changed to '{context.current_status}' meanwhile",
                           error_code="ACTIVE_JOBS")
        job = FailoverJob.objects.create(
            job_id=_new_job_id(failover_type, context), vm_context=context, ossea_config=config,
            job_type=failover_type, skip_validation=bool(options.get("skip_validation")),
            test_duration=options.get("test_duration", "") if not live else "",
            test_duration_seconds=options.get("test_duration_seconds") if not live else None,
            auto_cleanup=bool(options.get("auto_cleanup")) and not live,
            power_off_source=live and options.get("power_off_source", True),
            final_sync=live and options.get("final_sync", True),
            shutdown_timeout_seconds=options.get("shutdown_timeout", 300),
            network_overrides=overrides, custom_config=options.get("custom_config") or {},
            notification_config=options.get("notification_config") or {}, requested_by=requested_by,
            validation_result=result or {}, current_step="Queued")
        if not live:
            jobs.context_status(context, VMContextStatus.TEST_FAILOVER)
        event(job, "created", f"{failover_type} failover queued", requested_by=requested_by,
              skip_validation=job.skip_validation)
        _enqueue(job)
    return job


def _cannot_cleanup(job: FailoverJob, error: str) -> ApplicationError:
    return refusal("Cannot cleanup test failover", error, error_code="INVALID_STATE", job_status=job.status,
                   job_id=job.job_id)


def test_end(*, job: FailoverJob, requested_by: str = "") -> FailoverJob:
    """End a running test failover: its VM is destroyed, the volumes reverted and given back to the control plane."""
    if job.job_type != FailoverType.TEST:
        raise _cannot_cleanup(job, f"{job.job_id} is a live failover; a completed live failover is final")
    with transaction.atomic():
        row = FailoverJob.objects.select_for_update().get(pk=job.pk)
        if not row.test_running:
            if row.status in CANCELLABLE:
                error = (f"The test failover is still running ({row.status}); stop it with POST "
                         "/api/v1/failover/rollback")
            elif row.status in (FailoverStatus.CLEANUP, FailoverStatus.REVERTING):
                error = "The test failover is already being cleaned up"
            elif row.status == FailoverStatus.FAILED and row.needs_cleanup:
                error = ("The test failover failed and left resources behind: POST "
                         f"/api/v1/failover/{row.vm_context.vm_name}/cleanup-failed")
            else:
                error = "Job not found or not in a state that allows cleanup"
            raise _cannot_cleanup(row, error)
        jobs.start_test_end(row, requested_by=requested_by)
        transaction.on_commit(lambda: end_test_failover.apply_async(args=[row.job_id], queue="failover"))
    return row


def test_end_for_vm(*, vm_context: VMContext, requested_by: str = "") -> FailoverJob:
    job = FailoverJob.objects.filter(vm_context=vm_context, job_type=FailoverType.TEST,
                                     active_slot__isnull=False).select_related("vm_context").first()
    if job is None:
        raise refusal("Cannot cleanup test failover", f"VM '{vm_context.vm_name}' has no running test failover",
                      error_code="INVALID_STATE")
    return test_end(job=job, requested_by=requested_by)


def cleanup_failed(*, vm_context: VMContext, requested_by: str = "") -> FailoverJob:
    """Roll back again what a failed failover of this VM left behind (CloudStack leftovers, a source still off)."""
    rows = FailoverJob.objects.select_related("vm_context").order_by("-created_at", "-id")
    job = rows.filter(vm_context=vm_context, status=FailoverStatus.FAILED, needs_cleanup=True).first()
    if job is not None:
        return _retry_cleanup(job, requested_by)
    # Failed jobs whose rollback could not power the source back on.
    job = rows.filter(FailoverJob.source_power_on_owed_q(), vm_context=vm_context, status=FailoverStatus.FAILED).first()
    if job is not None:
        return _retry_power_on(job, requested_by)
    raise refusal("Nothing to clean up", f"No failed failover of VM '{vm_context.vm_name}' left anything behind",
                  error_code="INVALID_STATE")


def _requeue(job: FailoverJob, requested_by: str, what: str, task) -> FailoverJob:
    """A failed job goes back to reverting and `task` runs the undo again."""
    with transaction.atomic():
        if not jobs.claim(job, FailoverStatus.FAILED, FailoverStatus.REVERTING, cleanup_status=CleanupStatus.IN_PROGRESS,
                            current_step=f"{what.capitalize()} queued"):
            raise refusal("Nothing to clean up", f"Job {job.job_id} is '{job.status}' now", error_code="INVALID_STATE")
        event(job, "cleanup", f"{what} requested", requested_by=requested_by)
        transaction.on_commit(lambda: task.apply_async(args=[job.job_id], queue="failover"))
    return job


def _retry_cleanup(job: FailoverJob, requested_by: str) -> FailoverJob:
    return _requeue(job, requested_by, "cleanup of the failed execution", cleanup_failed_failover)


def _retry_power_on(job: FailoverJob, requested_by: str) -> FailoverJob:
    return _requeue(job, requested_by, "power-on of the source VM", power_on_source)


def rollback(*, job: FailoverJob, requested_by: str = "") -> tuple[FailoverJob, str]:
    """POST /failover/rollback: whatever undoing the job means in its state. Returns (job, what happens)."""
    if job.test_running:
        return test_end(job=job, requested_by=requested_by), "The test failover is being ended and cleaned up"
    if job.status == FailoverStatus.PENDING:
        FailoverJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        event(job, "rollback", "rollback requested before the run started", requested_by=requested_by)
        if not job.source_powered_off_by_platform:
            conductor.fail(job, None, "Cancelled by the operator before it changed anything", "CANCELLED")
            job.refresh_from_db()
            return job, "The job had not changed anything yet; it is cancelled"
        conductor.fail(job, None, "Cancelled by the operator before it changed anything in CloudStack", "CANCELLED")
        job.refresh_from_db()
        if job.source_powered_on_at:
            return job, "The job is cancelled; the source VM it had powered off was powered back on"
        return job, ("The job is cancelled, but the source VM it had powered off could not be powered back on: "
                     f"{job.source_power_on_error}")
    if job.status in CANCELLABLE:
        FailoverJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        event(job, "rollback", "rollback requested: stopping after the current step", requested_by=requested_by)
        job.refresh_from_db()
        return job, "The job stops after its current step and rolls back everything it did"
    if job.status in (FailoverStatus.CLEANUP, FailoverStatus.REVERTING):
        raise refusal("Rollback refused", f"Job {job.job_id} is already being rolled back or cleaned up",
                      error_code="INVALID_STATE", job_status=job.status)
    if job.status == FailoverStatus.FAILED and job.needs_cleanup:
        return _retry_cleanup(job, requested_by), "What the failed run left behind is being cleaned up"
    if job.source_power_on_owed and job.status == FailoverStatus.FAILED:
        return (_retry_power_on(job, requested_by),
                "The failed run was rolled back except the source VM's power: it is being powered on again")
    if job.status == FailoverStatus.FAILED:
        left = (" (the source VM's power is left to the operator: the power-off answer was lost and the VM was not "
                "known to be on before)" if job.source_power_left_to_operator else "")
        raise refusal("Rollback refused", f"Job {job.job_id} failed and was already rolled back completely{left}",
                      error_code="INVALID_STATE", job_status=job.status)
    if job.job_type == FailoverType.LIVE:
        raise refusal("Rollback refused", f"Live failover {job.job_id} completed: the VM runs in CloudStack and owns "
                      "the data since; a completed live failover is final", error_code="INVALID_STATE",
                      job_status=job.status)
    raise refusal("Rollback refused", f"Test failover {job.job_id} already ended", error_code="INVALID_STATE",
                  job_status=job.status)


def rollback_target(*, job_id: str = "", vm_context: VMContext | None = None, failover_type: str = "") -> FailoverJob:
    if job_id:
        return job_get(job_id)
    job = latest_job(vm_context, failover_type or None)
    if job is None:
        raise NotFound(f"VM '{vm_context.vm_name}' has no {failover_type + ' ' if failover_type else ''}failover job",
                       error_code="JOB_NOT_FOUND")
    return job

