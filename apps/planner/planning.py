"""The bandwidth model, per-VM time estimates and the agent recommendation.

Four constraints limit a migration's throughput: the source hosts' NICs (the share of them we may use), the link
between the sites (cross-site topologies only, slowed by latency), the agents (count x concurrent streams x what one
stream moves) and the destination's primary storage. The smallest is the bottleneck; the concurrent copies share it.

Once the platform completed syncs of its own, what they measured replaces the project's guesses (`source` says
which): the median speed of one VM's sync is what one agent stream moves, and the median share of a VM's disks an
incremental sync carried is the change rate (once an incremental completed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .choices import Bottleneck, MigrationMode, Topology
from .models import Project, SourceVM

MBIT_PER_GB = 8 * 1024  # disk sizes are GiB, link speeds Mbit/s (decimal, as NICs are sold): close enough to plan
CUTOVER_OVERHEAD_HOURS = 0.25  # power off, last delta, create and boot the CloudStack VM
LATENCY_FREE_MS = 10.0


@dataclass(frozen=True)
class Bandwidth:
    source_effective_mbps: float
    link_effective_mbps: float | None
    agent_effective_mbps: float
    storage_effective_mbps: float
    bottleneck: str
    bottleneck_mbps: float
    latency_penalty: float
    slots: int
    change_rate_pct: float
    source: str = "model"  # "measured": the agent stream speed (and change rate) come from our own syncs
    change_rate_source: str = "model"
    measured_jobs: int = 0
    measured_stream_mbps: float | None = None

    @property
    def per_vm_mbps(self) -> float:
        return self.bottleneck_mbps / self.slots

    def as_dict(self) -> dict:
        return {"source_effective_mbps": self.source_effective_mbps, "link_effective_mbps": self.link_effective_mbps,
                "agent_effective_mbps": self.agent_effective_mbps,
                "storage_effective_mbps": self.storage_effective_mbps, "bottleneck": self.bottleneck,
                "bottleneck_mbps": self.bottleneck_mbps, "latency_penalty": self.latency_penalty,
                "source": self.source, "measured_jobs": self.measured_jobs,
                "measured_stream_mbps": self.measured_stream_mbps, "change_rate_pct": self.change_rate_pct,
                "change_rate_source": self.change_rate_source}


def bandwidth(project: Project, measured=None) -> Bandwidth:
    """The model; `measured` (replication's `Measured`, None before any sync) replaces the stream speed and change
    rate the project assumed."""
    source = round(project.source_nic_speed_gbps * 1000 * project.source_usable_pct / 100, 1)
    link, penalty = None, 1.0
    if project.topology_type != Topology.LOCAL:
        speed = project.link_speed_gbps or project.source_nic_speed_gbps
        # TCP over a long link: each copy stream's window fills more slowly as the round trip grows.
        penalty = round(1.0 + max(0.0, project.link_latency_ms - LATENCY_FREE_MS) / 100.0, 2)
        link = round(speed * 1000 * project.link_usable_pct / 100 / penalty, 1)
    slots = project.agent_count * project.agent_concurrent_vms
    stream = measured.stream_mbps if measured else project.agent_stream_mbps
    agent = round(slots * stream, 1)
    storage = round(project.target_storage_mbps, 1)
    candidates = [(source, Bottleneck.SOURCE), (agent, Bottleneck.AGENT), (storage, Bottleneck.STORAGE)]
    if link is not None:
        candidates.append((link, Bottleneck.LINK))
    mbps, name = min(candidates, key=lambda pair: pair[0])
    measured_change = measured.change_rate_pct if measured else None
    return Bandwidth(source, link, agent, storage, str(name), mbps, penalty, slots,
                     change_rate_pct=project.change_rate_pct if measured_change is None else measured_change,
                     source="measured" if measured else "model",
                     change_rate_source="model" if measured_change is None else "measured",
                     measured_jobs=measured.jobs if measured else 0,
                     measured_stream_mbps=measured.stream_mbps if measured else None)


def hours(gb: float, mbps: float) -> float:
    return gb * MBIT_PER_GB / mbps / 3600 if mbps > 0 else 0.0


def vm_estimate(vm: SourceVM, model: Bandwidth) -> dict:
    """Warm: copy the used data while the VM runs, then a short cutover; cold: the whole disk while it is off."""
    rate = model.per_vm_mbps
    used = vm.in_use_gb or vm.total_disk_gb
    phase1 = hours(used, rate)
    cutover = hours(used * model.change_rate_pct / 100, rate) + CUTOVER_OVERHEAD_HOURS
    cold = hours(vm.total_disk_gb, rate) + CUTOVER_OVERHEAD_HOURS
    return {"warm_phase1_hours": round(phase1, 2), "warm_cutover_hours": round(cutover, 2),
            "warm_downtime_hours": round(cutover, 2), "cold_total_hours": round(cold, 2),
            "cold_downtime_hours": round(cold, 2)}


def vm_hours(vm: SourceVM, estimate: dict) -> float:
    """The slot time a VM takes in its mode."""
    if vm.effective_mode == MigrationMode.COLD_REQUIRED:
        return estimate["cold_total_hours"]
    return estimate["warm_phase1_hours"] + estimate["warm_cutover_hours"]


def effective_working_days(project: Project) -> int:
    return max(1, math.floor(project.migration_duration_days * project.working_days_per_week / 7))


def agent_recommendation(project: Project, vm_count: int, avg_vm_hours: float) -> dict:
    concurrent = project.agent_concurrent_vms
    hours_per_day = project.working_hours_per_day
    # One slot moves this many VMs a working day (at least one: small VMs share the slot's day).
    per_slot_day = max(1, math.floor(hours_per_day / avg_vm_hours)) if avg_vm_hours > 0 else hours_per_day
    per_agent_day = concurrent * per_slot_day
    reasoning = []
    if project.target_vms_per_day > 0:
        need = float(project.target_vms_per_day)
        agents = math.ceil(need / per_agent_day)
        reasoning.append(f"Target {project.target_vms_per_day} VMs/day ({hours_per_day}h/d)")
        reasoning.append(f"Need {need:.1f} VMs/day → {agents} agents")
    elif project.migration_duration_days > 0:
        days = effective_working_days(project)
        need = vm_count / days
        agents = math.ceil(need / per_agent_day)
        reasoning.append(f"{vm_count} VMs in {project.migration_duration_days} days "
                         f"({project.working_days_per_week}d/wk × {hours_per_day}h/d = {days} effective days)")
        reasoning.append(f"Need {need:.1f} VMs/day → {agents} agents")
    else:
        agents = math.ceil(vm_count / (concurrent * 20)) if vm_count else 1
        reasoning.append(f"No schedule set: {vm_count} VMs at about 20 per concurrent slot → {agents} agents")
    agents = max(1, agents)
    slots = agents * concurrent
    vcpu, ram, disk = 2 * concurrent, 2 + concurrent, 100 + 4 * concurrent
    capacity = slots * per_slot_day
    reasoning.append(f"Recommended {agents} agents = {slots} concurrent slots")
    reasoning.append(f"Per agent: {vcpu} vCPU, {ram} GB RAM, {disk} GB disk")
    if vm_count:
        reasoning.append(f"Estimated completion: ~{math.ceil(vm_count / capacity)} working days "
                         f"({capacity} VMs/day capacity)")
    return {"recommended_agent_count": agents, "vcpu_per_agent": vcpu, "ram_gb_per_agent": ram,
            "disk_gb_per_agent": disk, "max_concurrent_vms": slots, "reasoning": reasoning}
