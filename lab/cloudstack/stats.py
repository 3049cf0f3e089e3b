"""A VM's statistics in listVirtualMachines, as CloudStack shows them.

CloudStack (UserVmJoinDaoImpl, details `all` or `stats`) adds these fields to a VM its StatsCollector holds
statistics for, and none of them to a VM it has none for:
- `cpuused`: the utilization over the last collection, `DecimalFormat("#.##")` plus "%" ("12.5%", "0%", "33.33%");
  the KVM agent divides the domain's CPU time by the wall time and the vCPUs;
- `memorykbs` (the domain's memory, KiB: the VM's RAM), `memorytargetkbs` (the balloon's target, KiB),
  `memoryintfreekbs` (free memory inside the guest from the balloon driver's statistics, KiB; -1 when the guest gives
  none; a value at or above `memorykbs` is shown as 0);
- `networkkbsread`/`networkkbswrite`, `diskkbsread`/`diskkbswrite` (KiB), `diskioread`/`diskiowrite` (operations):
  the StatsCollector adds each collection's deltas, so they are totals; all whole numbers.

The emulator has statistics for a Running VM that
- runs as QEMU (hypervisor.py, `--run-guests`): from the process, the host's view of the guest: CPU % from its CPU
  time (/proc/<pid>/stat utime + stime) over the wall time since the previous listing (the first listing: since the
  process started), per vCPU QEMU was given; memory used is the process's resident set (what the guest touched plus
  QEMU's own), so free = the VM's RAM minus it; disk KiB from /proc/<pid>/io (what the process read from and wrote to
  storage); network 0 and disk operations 0 (user-mode networking and the block layer expose no counters without a
  monitor, and the guests run with `-monitor none`);
- or has a lab workload (POST /lab/vms/<id>/workload, `LabCloudStack.set_workload`): the figures the lab set, as they
  are, so a test drives known usage. A workload without `memory_used_mb` reports free memory -1 (no balloon driver).
A record-only VM without a workload has no hypervisor to give statistics: no fields, as a VM CloudStack has not
collected yet.
"""

from __future__ import annotations

import os
import threading
import time
from decimal import ROUND_HALF_EVEN, Decimal

from lab.cloudstack import hypervisor

WORKLOAD = "lab_workload"  # the VM record's key: the lab's, never in an answer (responses._PRIVATE)
# Workload figure -> the CloudStack field it sets (whole numbers, as CloudStack casts them to long).
COUNTERS = {"network_kbs_read": "networkkbsread", "network_kbs_write": "networkkbswrite",
            "disk_kbs_read": "diskkbsread", "disk_kbs_write": "diskkbswrite",
            "disk_io_read": "diskioread", "disk_io_write": "diskiowrite"}
FIGURES = ("cpu_percent", "memory_used_mb", *COUNTERS)

_TICKS = os.sysconf("SC_CLK_TCK")
_last_cpu: dict[int, tuple[float, float]] = {}  # pid -> (CPU seconds, monotonic time) at the previous listing
_lock = threading.Lock()


def cpu_text(percent: float) -> str:
    """Java's DecimalFormat("#.##") and "%": HALF_EVEN on the double's exact value, no trailing zeros."""
    value = Decimal(float(percent)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN).normalize()
    text = format(value, "f")
    return ("0" if text in ("-0", "0") else text) + "%"


def validate(spec: dict | None) -> dict:
    """A workload from the side channel: known figures, numbers >= 0 (`{}` or null: none)."""
    spec = spec or {}
    if not isinstance(spec, dict):
        raise ValueError("a workload is a JSON object")
    unknown = sorted(set(spec) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown workload figures {unknown}; known: {list(FIGURES)}")
    for key, value in spec.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{key} must be a number >= 0, not {value!r}")
    return dict(spec)


def _fields(vm: dict, cpu: float, used_kb: float | None, counters: dict[str, float]) -> dict:
    total = int(vm.get("memory") or 0) * 1024
    free = -1 if used_kb is None else int(max(total - used_kb, 0))
    return {"cpuused": cpu_text(cpu), "memorykbs": total, "memorytargetkbs": total,
            "memoryintfreekbs": 0 if free >= total else free,
            **{name: int(counters.get(name, 0)) for name in COUNTERS.values()}}


def _read_process(pid: int) -> tuple[float, float, float, dict[str, float]]:
    """(CPU seconds, seconds since it started, resident KiB, disk KiB read/written) of a live process."""
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    uptime = float(open("/proc/uptime").read().split()[0])
    age = max(uptime - int(fields[19]) / _TICKS, 1e-3)  # starttime
    rss = 0.0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            rss = float(line.split()[1])
    disk: dict[str, float] = {}
    try:
        for line in open(f"/proc/{pid}/io"):
            key, _, value = line.partition(":")
            if key in ("read_bytes", "write_bytes"):
                disk["diskkbsread" if key == "read_bytes" else "diskkbswrite"] = int(value) / 1024
    except OSError:  # /proc/<pid>/io needs ptrace access: the emulator started the process, so it has it
        pass
    return cpu, age, rss, disk


def process_stats(pid: int, vcpus: int) -> tuple[float, float, dict[str, float]] | None:
    """(CPU % per vCPU since the previous call, resident KiB, disk counters) of `pid`; None if it is gone."""
    try:
        cpu, age, rss, disk = _read_process(pid)
    except (OSError, ValueError, IndexError):
        with _lock:
            _last_cpu.pop(pid, None)  # ended: its pid may come back as another process
        return None
    moment = time.monotonic()
    with _lock:
        previous = _last_cpu.get(pid)
        _last_cpu[pid] = (cpu, moment)
    if previous is not None and moment - previous[1] > 0.05:
        used, elapsed = cpu - previous[0], moment - previous[1]
    else:
        used, elapsed = cpu, age  # the first listing (or one right after): the average since the process started
    return max(used, 0.0) * 100 / (elapsed * max(vcpus, 1)), rss, disk


def of(vm: dict) -> dict:
    """The statistics fields of a VM (empty when CloudStack would have none)."""
    if vm.get("state") != "Running":
        return {}
    pid = hypervisor.guests.pid(vm["id"])
    if pid is not None:
        vcpus = max(1, min(int(vm.get("cpunumber") or 1), hypervisor.MAX_CPUS))
        measured = process_stats(pid, vcpus)
        if measured is not None:
            cpu, rss, disk = measured
            return _fields(vm, cpu, rss, disk)
    workload = vm.get(WORKLOAD)
    if not workload:
        return {}
    used = workload.get("memory_used_mb")
    return _fields(vm, float(workload.get("cpu_percent", 0)), None if used is None else float(used) * 1024,
                   {field: workload.get(figure, 0) for figure, field in COUNTERS.items()})
