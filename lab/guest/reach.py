"""Put the lab guest on an emulator VM's volumes, and reach the running guest (serial log, SSH).

Used by the guest tests and `make bench`; `lab` is a running emulator (lab.cloudstack.launch) with
run_guests on, `api` a `cs` client of it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import paramiko

from lab.cloudstack import storage

BOOT_TIMEOUT = 300  # TCG on a shared 2-core machine: a boot takes about a minute, rarely three


def volume_file(lab, volume_id: str) -> Path:
    return Path(lab.info["state_dir"]) / "volumes" / f"{volume_id}.img"


def copy_onto_volumes(api, lab, vm_id: str, root_image: Path, data_image: Path | None = None) -> None:
    """Copy the images raw onto a stopped VM's volumes, as a replica volume would hold them."""
    for volume in api.listVolumes(virtualmachineid=vm_id)["volume"]:
        image = root_image if volume["type"] == "ROOT" else data_image
        if image is not None:
            storage.copy_sparse_into(image, volume_file(lab, volume["id"]))


def wait_serial(lab, vm_id: str, pattern: str, timeout: float = BOOT_TIMEOUT) -> str:
    """The serial log once `pattern` (a regex) shows in it; fails with the log's tail otherwise."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = lab.serial_log(vm_id)
        if re.search(pattern, text):
            return text
        if not lab.guest(vm_id)["running"]:
            break
        time.sleep(2)
    raise AssertionError(f"{pattern!r} not in the serial log of {vm_id} within {timeout:.0f} s "
                         f"(running: {lab.guest(vm_id)['running']}); its tail:\n{text[-3000:]}")


def ssh(lab, vm_id: str, key: Path, timeout: float = BOOT_TIMEOUT) -> paramiko.SSHClient:
    """An SSH session to the guest as root with the lab key, once its sshd answers."""
    info = lab.guest(vm_id)
    pkey = paramiko.Ed25519Key.from_private_key_file(str(key))
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a fresh lab guest
        try:
            client.connect(info["ssh"]["host"], port=info["ssh"]["port"], username="root", pkey=pkey,
                           timeout=5, banner_timeout=10, auth_timeout=10, allow_agent=False,
                           look_for_keys=False)
            return client
        except (paramiko.SSHException, OSError, EOFError) as exc:
            last = exc
            client.close()
            if not lab.guest(vm_id)["running"]:
                break
            time.sleep(3)
    raise AssertionError(f"the guest {vm_id} did not answer on SSH within {timeout:.0f} s ({last!r}); "
                         f"serial log tail:\n{lab.serial_log(vm_id, tail=3000)}")


def run(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command, timeout=60)
    out, err = stdout.read().decode(), stderr.read().decode()
    status = stdout.channel.recv_exit_status()
    if status != 0:
        raise AssertionError(f"{command!r} exited {status}: {err}")
    return out
