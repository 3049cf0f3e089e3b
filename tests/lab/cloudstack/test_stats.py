"""A VM's statistics in listVirtualMachines: the fields CloudStack's UserVmJoinDaoImpl adds for a running VM with
statistics, from a lab workload (record-only VMs) or from a real process (QEMU guests: /proc)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from lab.cloudstack import stats

STAT_FIELDS = {"cpuused", "memorykbs", "memoryintfreekbs", "memorytargetkbs", "networkkbsread", "networkkbswrite",
               "diskkbsread", "diskkbswrite", "diskioread", "diskiowrite"}


@pytest.mark.parametrize("percent, text", [(12.5, "12.5%"), (0, "0%"), (100, "100%"), (33.3333, "33.33%"),
                                           (12.345, "12.35%"), (0.125, "0.12%"), (7.005, "7%"), (99.999, "100%")])
def test_cpuused_is_formatted_as_javas_decimal_format(percent, text):
    assert stats.cpu_text(percent) == text


@pytest.mark.integration
def test_a_workload_is_reported_while_the_vm_runs(api, world, cloudstack_lab):
    vm = world.vm(api, "busy")
    [listed] = api.listVirtualMachines(id=vm["id"])["virtualmachine"]
    assert not STAT_FIELDS & set(listed)  # no hypervisor statistics for a record-only VM yet
    cloudstack_lab.set_workload(vm["id"], cpu_percent=42.5, memory_used_mb=768, network_kbs_read=2048,
                                network_kbs_write=512, disk_kbs_read=100, disk_kbs_write=300, disk_io_read=7,
                                disk_io_write=9)
    [listed] = api.listVirtualMachines(id=vm["id"])["virtualmachine"]
    assert listed["memory"] == 1024 and "lab_workload" not in listed
    assert {k: listed[k] for k in STAT_FIELDS} == {
        "cpuused": "42.5%", "memorykbs": 1024 * 1024, "memorytargetkbs": 1024 * 1024,
        "memoryintfreekbs": 256 * 1024, "networkkbsread": 2048, "networkkbswrite": 512, "diskkbsread": 100,
        "diskkbswrite": 300, "diskioread": 7, "diskiowrite": 9}
    # Without memory figures the guest gives no free memory: -1, as the KVM agent reports it.
    cloudstack_lab.set_workload(vm["id"], cpu_percent=3)
    [listed] = api.listVirtualMachines(id=vm["id"])["virtualmachine"]
    assert (listed["cpuused"], listed["memoryintfreekbs"], listed["networkkbsread"]) == ("3%", -1, 0)
    # A stopped VM has no statistics; started again, it reports its workload again.
    api.stopVirtualMachine(id=vm["id"])
    assert not STAT_FIELDS & set(api.listVirtualMachines(id=vm["id"])["virtualmachine"][0])
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["cpuused"] == "3%"
    cloudstack_lab.set_workload(vm["id"])  # cleared
    assert not STAT_FIELDS & set(api.listVirtualMachines(id=vm["id"])["virtualmachine"][0])


@pytest.mark.integration
def test_a_bad_workload_is_refused(api, world, cloudstack_lab):
    vm = world.vm(api, "busy")
    url = f"{cloudstack_lab.admin_url}/vms/{vm['id']}/workload"
    for bad in ({"cpu_percent": -1}, {"cpu": 5}, {"memory_used_mb": "lots"}, [1]):
        answer = requests.post(url, json=bad, timeout=10)
        assert answer.status_code == 400 and "error" in answer.json(), bad
    assert requests.post(f"{cloudstack_lab.admin_url}/vms/nope/workload", json={}, timeout=10).status_code == 404


def test_a_real_process_is_measured_from_proc():
    """What a QEMU guest's statistics are made of, on processes whose load is known: one spinning, one asleep."""
    spinning = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    sleeping = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        for process in (spinning, sleeping):
            stats.process_stats(process.pid, 1)
        time.sleep(1.0)
        busy, rss, disk = stats.process_stats(spinning.pid, 1)
        idle, _, _ = stats.process_stats(sleeping.pid, 1)
        # A vCPU's worth of spinning (on a shared 2-core machine, what the scheduler gives it), and none.
        assert busy > 10 and idle < 2
        assert 1024 < rss < 512 * 1024  # a Python interpreter's resident set, in KiB
        assert set(disk) <= {"diskkbsread", "diskkbswrite"}
    finally:
        for process in (spinning, sleeping):
            process.kill()
            process.wait()
    assert stats.process_stats(spinning.pid, 1) is None  # gone
