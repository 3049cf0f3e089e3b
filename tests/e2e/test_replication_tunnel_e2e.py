"""Replication through the agent's SSH tunnel, as in production: vcsim -> agent -> `vma tunnel` (OpenSSH client)
-> the control plane's tunnel sshd (render_sshd_config, the approved agent's restricted key) -> NBD export ->
CloudStack volume. The control plane reaches the agent only at its reverse forward; the agent reaches the API and
the exports only at its local forwards (tunnel_stack in conftest.py wires it)."""
import itertools
import os
from pathlib import Path

import pytest

from agent.tunnel import tunnel_status
from apps.replication.models import ChangeIdRecord, ReplicaVolume, VMExportMapping
from tests.e2e.test_replication_e2e import BLOCK, MiB, assert_identical, start_sync, wait_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

# Several MiB of random data per disk with holes between them: (offset, length).
EXTENTS = [(0, 3 * MiB), (5 * MiB, 3 * MiB + BLOCK), (64 * MiB + 12345, 3 * MiB + 2 * BLOCK),
           (700 * MiB, 3 * MiB + 3 * BLOCK)]


def tcp_listeners(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            if len(address) == 8:
                address = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
            found.add((address, int(port, 16)))
    return found


def bytes_read(pid: int) -> int:
    """What the process read through read(2) so far: for the ssh client, everything entering the tunnel."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(io["rchar"])


def assert_went_through_the_tunnel(s, client, job, ssh_pid: int, read_before: int) -> None:
    events = client.get(f"/api/v1/replications/{job.job_id}").json()["events"]
    handed = [e["data"] for e in events if e["step"] == "agent"]
    assert len(handed) == 1, f"expected one hand-over to the agent: {events}"
    handed = handed[0]
    # The control plane called the agent at the reverse forward the approval gave this appliance.
    assert handed["agent_url"] == f"http://127.0.0.1:{s.reverse_port}", handed
    status = tunnel_status(s.state)
    assert status["state"] == "connected" and status["ssh_pid"] == ssh_pid, \
        f"the tunnel reconnected during the sync: {status}"
    ssh_listens = tcp_listeners(ssh_pid)
    mappings = {m.export_name: m for m in VMExportMapping.objects.filter(status="active")}
    assert len(mappings) == len(handed["targets"]) == 2
    for disk_id, target in handed["targets"].items():
        mapping = mappings[target["export_name"]]
        # The export: inside the sshd's PermitOpen and the key's permitopen, on the loopback only.
        assert mapping.port in s.export_ports and f"127.0.0.1:{mapping.port}" in s.lab.config
        assert tcp_listeners(mapping.pid) == {("127.0.0.1", mapping.port)}, disk_id
        # What the agent was told: its own end of the tunnel's local forward of that export, served by ssh.
        assert target["host"] == "127.0.0.1" and target["port"] == mapping.port + s.nbd_offset != mapping.port
        assert ("127.0.0.1", target["port"]) in ssh_listens, (disk_id, target, ssh_listens)
    # ... and the disk data entered the ssh client: it read at least every byte the agent copied.
    copied = sum(disk["bytes_copied"] for disk in job.disk_progress)
    assert copied > 0
    read = bytes_read(ssh_pid) - read_before
    assert read >= copied, f"the ssh client read {read} bytes, the agent copied {copied}: the data bypassed the tunnel"


def test_initial_then_incremental_sync_through_the_tunnel(tunnel_stack, operator_client):
    from lab.vcsim import create_vm, flat_file_path, write_random

    s = tunnel_stack
    vm = create_vm(s.si, "tunnel-vm", disks_mb=(1024, 1024), networks=("VM Network",), cbt=False)
    flats = [flat_file_path(s.sim, vm, i) for i in range(2)]
    for seed, (disk, (offset, length)) in enumerate(itertools.product(flats, EXTENTS)):
        write_random(disk, offset, length, seed=seed)

    # Discovery: the control plane finds the agent at the approved appliance's reverse forward.
    added = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["tunnel-vm"]}, format="json")
    assert added.status_code == 201, added.json()

    ssh_pid = tunnel_status(s.state)["ssh_pid"]
    read_before = bytes_read(ssh_pid)
    initial = wait_job(s, start_sync(operator_client, "tunnel-vm", "initial"), timeout=300)
    assert initial.status == "completed", initial.error_message
    replicas = {r.disk_id: r for r in ReplicaVolume.objects.all()}
    targets = [Path(os.path.realpath(replicas[d.disk_id].device_path))
               for d in initial.vm_context.disks.order_by("unit_number")]
    for flat, target in zip(flats, targets, strict=True):
        assert_identical(flat, target)
    assert_went_through_the_tunnel(s, operator_client, initial, ssh_pid, read_before)
    first_ids = dict(ChangeIdRecord.objects.filter(job=initial).values_list("disk_id", "change_id"))
    assert len(first_ids) == 2 and all(first_ids.values())  # stored by the agent through the API forward

    written = 0
    for i, flat in enumerate(flats):
        write_random(flat, 5 * MiB + 3 * BLOCK, 2 * BLOCK, seed=100 + i)
        write_random(flat, 300 * MiB, 5 * BLOCK, seed=200 + i)
        written += 7 * BLOCK
    read_before = bytes_read(ssh_pid)
    incremental = wait_job(s, start_sync(operator_client, "tunnel-vm", "incremental"), timeout=300)
    assert incremental.status == "completed", incremental.error_message
    for flat, target in zip(flats, targets, strict=True):
        assert_identical(flat, target)
    assert written <= incremental.bytes_transferred <= written + 4 * BLOCK, incremental.bytes_transferred
    assert incremental.bytes_transferred < initial.bytes_transferred / 10
    assert_went_through_the_tunnel(s, operator_client, incremental, ssh_pid, read_before)
    second_ids = dict(ChangeIdRecord.objects.filter(job=incremental).values_list("disk_id", "change_id"))
    assert second_ids.keys() == first_ids.keys() and all(second_ids[k] != first_ids[k] for k in first_ids)
    detail = operator_client.get("/api/v1/vm-contexts/tunnel-vm").json()
    assert detail["context"]["current_status"] == "ready_for_failover"
