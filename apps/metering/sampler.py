"""One sampling round: the portal's collected tables (what CloudStack last said), the snapshot runs' policies, the
finished restore jobs and the web's request counters, into metering's samples, all stamped with the same time.

CloudStack reports a VM's usage (`cpuused` "12.5%", `memorykbs` its RAM and `memoryintfreekbs` the guest's free
memory in KiB, `networkkbsread`/`networkkbswrite` KiB totals) only where its hypervisor gives statistics; a VM without
them is sampled at 0% used, and RAM use is 0 where the guest gives no free memory (-1). A stopped VM is sampled too
(its storage is still charged) with power_state `stopped`. API usage is one row per endpoint (route pattern) and
method called in the round.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts import middleware as request_metrics
from apps.portal import models as portal
from apps.snapshots.choices import RestoreStatus
from apps.snapshots.models import PolicySnapshot, RestoreJob, SnapshotPolicy

from . import efficiency
from .models import (
    ApiUsageSample,
    EfficiencySample,
    MeteringSettings,
    ResourceSample,
    RestoreSample,
    SnapshotSample,
    StorageSample,
)

log = logging.getLogger(__name__)
GiB = 1024**3
SNAPSHOT_STATUS = {"BackedUp": "available", "Creating": "creating", "BackingUp": "creating", "Error": "error",
                   "Destroyed": "deleted"}
FINISHED = (RestoreStatus.COMPLETED, RestoreStatus.FAILED, RestoreStatus.CANCELED)
SAMPLES = (ResourceSample, StorageSample, SnapshotSample, RestoreSample, ApiUsageSample, EfficiencySample)


def _number(value) -> float:
    try:
        return float(str(value or 0).rstrip("%"))
    except ValueError:
        return 0.0


def _resources(now, period: int) -> list[ResourceSample]:
    disks: dict[str, list] = defaultdict(list)
    for volume in portal.Volume.objects.exclude(server_id=""):
        disks[volume.server_id].append(volume)
    rows = []
    for vm in portal.Server.objects.all():
        raw, volumes = vm.raw or {}, disks.get(vm.cloud_id, [])
        allocated = sum(v.size_gb for v in volumes)
        used = sum(_number((v.raw or {}).get("physicalsize")) for v in volumes) / GiB
        total_kb, free_kb = _number(raw.get("memorykbs")), _number(raw.get("memoryintfreekbs", -1))
        # Free memory -1: the guest gave none (no balloon driver's statistics), so its use is not known: 0.
        ram_used_mb = max(total_kb - free_kb, 0) / 1024 if total_kb and free_kb >= 0 else 0.0
        rows.append(ResourceSample(
            collected_at=now, period_min=period, vm_id=vm.cloud_id, vm_name=vm.name, project_name=vm.tenant_name,
            domain=vm.domain_name, host=vm.hypervisor_hostname, flavor=vm.flavor_name, vcpus_allocated=vm.vcpus,
            ram_allocated_mb=vm.ram_mb, disk_allocated_gb=allocated,
            cpu_usage_percent=round(_number(raw.get("cpuused")), 2), ram_usage_mb=round(ram_used_mb, 1),
            ram_usage_percent=round(100 * ram_used_mb / vm.ram_mb, 1) if vm.ram_mb else 0.0,
            disk_used_gb=round(used, 2), disk_usage_percent=round(100 * used / allocated, 1) if allocated else 0.0,
            network_rx_bytes=int(_number(raw.get("networkkbsread")) * 1024),
            network_tx_bytes=int(_number(raw.get("networkkbswrite")) * 1024),
            status=vm.status, power_state=(vm.state or "unknown").lower()))
    return rows


def _snapshots(now, period: int) -> list[SnapshotSample]:
    policies = dict(PolicySnapshot.objects.values_list("snapshot_id", "policy_name"))
    intervals = dict(SnapshotPolicy.objects.values_list("name", "interval_minutes"))
    newest: dict[str, object] = {}
    collected = list(portal.Snapshot.objects.all())
    for snap in collected:
        if snap.created and (snap.volume_id not in newest or snap.created > newest[snap.volume_id]):
            newest[snap.volume_id] = snap.created
    rows = []
    for snap in collected:
        policy = policies.get(snap.cloud_id)
        # Compliant: a policy's snapshot whose volume has one inside the policy's interval (as the dashboard counts).
        window = intervals.get(policy)
        compliant = bool(window and newest.get(snap.volume_id)
                         and newest[snap.volume_id] >= now - timedelta(minutes=window))
        rows.append(SnapshotSample(
            collected_at=now, period_min=period, snapshot_id=snap.cloud_id, snapshot_name=snap.name,
            volume_id=snap.volume_id, project_name=snap.tenant_name, domain=snap.domain_name,
            size_gb=float(snap.size_gb), status=SNAPSHOT_STATUS.get(snap.state, snap.state.lower()), policy=policy,
            is_compliant=compliant, created_at=snap.created))
    return rows


def _restores(now, period: int) -> list[RestoreSample]:
    done = set(RestoreSample.objects.values_list("restore_job_id", flat=True))
    servers = {s.cloud_id: s for s in portal.Server.objects.all()}
    sizes = dict(portal.Volume.objects.values_list("cloud_id", "size_gb"))
    rows = []
    for job in RestoreJob.objects.filter(status__in=FINISHED).exclude(job_id__in=done):
        vm = servers.get(job.vm_id)
        duration = int((job.finished_at - job.started_at).total_seconds()) if job.finished_at and job.started_at \
            else None
        rows.append(RestoreSample(
            collected_at=now, period_min=period, restore_job_id=job.job_id, vm_id=job.vm_id, vm_name=job.vm_name,
            project_name=vm.tenant_name if vm else job.project_id, domain=vm.domain_name if vm else "",
            snapshot_id=job.restore_point_id, mode=job.mode, status=job.status.lower(), duration_seconds=duration,
            initiated_by=job.created_by,
            data_transferred_gb=float(sum(sizes.get(v, 0) for v in job.created_volume_ids or []))))
    return rows


def percentile(buckets: list[int], share: float) -> float | None:
    """The latency under which `share` of the requests finished, from the counts per bucket of
    request_metrics.BUCKETS_MS (plus one slower): linear within the bucket holding that rank, as Prometheus's
    histogram_quantile estimates; the last bound where the rank is among the slower ones."""
    total = sum(buckets)
    if not total:
        return None
    rank, seen = share * total, 0
    bounds = request_metrics.BUCKETS_MS
    for index, count in enumerate(buckets[:len(bounds)]):
        if count and seen + count >= rank:
            lower = bounds[index - 1] if index else 0
            return round(lower + (bounds[index] - lower) * (rank - seen) / count, 1)
        seen += count
    return float(bounds[-1])


def _api_usage(now, period: int, config: MeteringSettings) -> list[ApiUsageSample]:
    """One row per endpoint (route pattern) and method called since the last round: the web's request counters'
    deltas. The counters live in the cache: one lower than last round's was reset (cache flushed), so all of it is
    new. p95/p99 are estimated from the latency buckets' deltas."""
    current = request_metrics.endpoint_figures()
    before = (config.api_counters or {}).get("endpoints", {})
    rows = []
    for (endpoint, method), now_counts in sorted(current.items()):
        name = f"{method} {endpoint}"
        was = before.get(name, {})
        if any(now_counts[k] < was.get(k, 0) for k in now_counts):
            was = {}
        calls = now_counts["requests"] - was.get("requests", 0)
        if calls <= 0:
            continue
        spent_ms = (now_counts["total_us"] - was.get("total_us", 0)) / 1000
        buckets = [now_counts.get(k, 0) - was.get(k, 0) for k in request_metrics.BUCKET_KEYS]
        rows.append(ApiUsageSample(collected_at=now, period_min=period, endpoint=endpoint, method=method,
                                   total_calls=calls, error_count=now_counts["errors"] - was.get("errors", 0),
                                   avg_latency_ms=round(spent_ms / calls, 2), p95_latency_ms=percentile(buckets, 0.95),
                                   p99_latency_ms=percentile(buckets, 0.99)))
    config.api_counters = {"endpoints": {f"{m} {e}": counts for (e, m), counts in current.items()}}
    return rows


def sample(*, now=None, force: bool = False) -> bool:
    """Take one round if metering is enabled and the interval has passed (or `force`); prune past retention."""
    config = MeteringSettings.load()
    now = now or timezone.now()
    if not force and (not config.enabled or (
            config.last_sampled_at and now - config.last_sampled_at < timedelta(minutes=config.collection_interval_min))):
        return False
    period = config.collection_interval_min
    with transaction.atomic():
        resources = _resources(now, period)
        ResourceSample.objects.bulk_create(resources, batch_size=500)
        EfficiencySample.objects.bulk_create([efficiency.score(r) for r in resources], batch_size=500)
        StorageSample.objects.bulk_create([
            StorageSample(collected_at=now, period_min=period, volume_id=v.cloud_id, volume_name=v.name,
                          project_name=v.tenant_name, domain=v.domain_name, size_gb=v.size_gb)
            for v in portal.Volume.objects.all()], batch_size=500)
        SnapshotSample.objects.bulk_create(_snapshots(now, period), batch_size=500)
        RestoreSample.objects.bulk_create(_restores(now, period), batch_size=500)
        ApiUsageSample.objects.bulk_create(_api_usage(now, period, config))
        config.last_sampled_at = now
        config.save(update_fields=["last_sampled_at", "api_counters"])
        cutoff = now - timedelta(days=config.retention_days)
        for model in SAMPLES:
            model.objects.filter(collected_at__lt=cutoff).delete()
    log.info("metering.sample vms=%d", len(resources))
    return True
