"""Benchmark: the lab guest's image build and its boot under the CloudStack emulator's QEMU.

`run(quick)` returns a markdown section for bench/run.py. The full run builds the images from
nothing into a temporary cache (the first-time cost: packages downloaded and unpacked by
mmdebstrap, file systems and boot loaders made) and boots the BIOS and the UEFI variant; quick
mode reuses the var/ cache (and reports the build time it recorded) and boots the BIOS variant only.
A boot is timed from startVirtualMachine to the guest's login prompt on the serial console and to
its sshd answering through the forwarded port; the accelerator is the one the emulator chose.
Then the guest conversion: virt-v2v-in-place over a copy of the BIOS image and the data disk (the
libvirt XML the failover's `convert` step writes, libguestfs under TCG where the emulator found KVM
unusable), and the converted guest booted on virtio with the failover's boot verification
(`apps/failover/bootcheck.py`: SSH's greeting on the forwarded port) timed from the start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs import CloudStack  # noqa: E402

from apps.failover import bootcheck, conversion, nicnames  # noqa: E402 (none reads Django's settings here)
from lab.cloudstack import launch, storage  # noqa: E402
from lab.guest import GuestImages, cache_root, images  # noqa: E402
from lab.guest.reach import copy_onto_volumes, ssh, wait_serial  # noqa: E402


def _boot(lab, image: Path, key: Path, boottype: str | None, controller: str) -> dict:
    api = CloudStack(endpoint=lab.url, key=lab.api_key, secret=lab.secret_key, method="post",
                     fetch_result=True, poll_interval=0.1, job_timeout=120)
    zone = api.listZones()["zone"][0]
    offering = next(o for o in api.listServiceOfferings()["serviceoffering"]
                    if o["name"] == "Small Instance")
    template = api.listTemplates(templatefilter="executable")["template"][0]
    network = api.listNetworks()["network"][1]
    params = {"name": f"bench-{(boottype or 'bios').lower()}", "zoneid": zone["id"],
              "serviceofferingid": offering["id"], "templateid": template["id"],
              "networkids": network["id"], "startvm": False,
              "details[0].rootDiskController": controller, "details[1].nicAdapter": "vmxnet3"}
    if boottype:
        params["boottype"] = boottype
        params["bootmode"] = "LEGACY"  # CloudStack refuses a boot type without a mode
    vm = api.deployVirtualMachine(**params)["virtualmachine"]
    copy_onto_volumes(api, lab, vm["id"], image)
    started = time.monotonic()
    api.startVirtualMachine(id=vm["id"])
    wait_serial(lab, vm["id"], r"login: ")
    login = time.monotonic() - started
    ssh(lab, vm["id"], key).close()
    answered = time.monotonic() - started
    guest = lab.guest(vm["id"])
    api.destroyVirtualMachine(id=vm["id"], expunge=True)
    return {"login": login, "ssh": answered, "accel": guest["accel"], "reason": guest["accel_reason"]}


def _converted_boot(lab, guest: GuestImages, workdir: Path, accel: str) -> dict:
    """virt-v2v-in-place over copies of the images, then the converted guest booted on virtio."""
    root, data = workdir / "convert-root.img", workdir / "convert-data.img"
    storage.copy_sparse_into(guest.bios, root)
    storage.copy_sparse_into(guest.data, data)
    xml = workdir / "guest.xml"
    xml.write_text(conversion.domain_xml(conversion.Guest(name="bench-guest", disks=(str(root), str(data)))))
    env = {**os.environ, "LIBGUESTFS_BACKEND": "direct"}
    if accel != "kvm":
        env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
    started = time.monotonic()
    # As the failover's convert step does: the NIC keeps its VMware name (ens192) on the virtio NIC, then virt-v2v.
    pinned = nicnames.pin((str(root), str(data)), [{"mac": None}], backend="direct",
                          backend_settings=env.get("LIBGUESTFS_BACKEND_SETTINGS", ""))
    if not pinned.links:
        raise RuntimeError(f"the NIC names were not kept: {pinned.note}")
    names_kept = time.monotonic() - started
    started = time.monotonic()
    done = subprocess.run([shutil.which("virt-v2v-in-place") or "virt-v2v-in-place", "-i", "libvirtxml", "--root",
                           "first", str(xml)], env=env, capture_output=True, text=True, timeout=3600)
    converted = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"virt-v2v-in-place failed: {conversion.tail(done.stdout + done.stderr, 5)}")
    api = CloudStack(endpoint=lab.url, key=lab.api_key, secret=lab.secret_key, method="post",
                     fetch_result=True, poll_interval=0.1, job_timeout=120)
    offering = next(o for o in api.listServiceOfferings()["serviceoffering"] if o["name"] == "Small Instance")
    disk_offering = next(o for o in api.listDiskOfferings()["diskoffering"] if not o.get("iscustomized"))
    vm = api.deployVirtualMachine(name="bench-converted", zoneid=api.listZones()["zone"][0]["id"],
                                  serviceofferingid=offering["id"], diskofferingid=disk_offering["id"],
                                  templateid=api.listTemplates(templatefilter="executable")["template"][0]["id"],
                                  networkids=api.listNetworks()["network"][1]["id"], startvm=False,
                                  **{"details[0].rootDiskController": "virtio", "details[1].nicAdapter": "virtio"})
    vm = vm["virtualmachine"]
    copy_onto_volumes(api, lab, vm["id"], root, data)
    started = time.monotonic()
    api.startVirtualMachine(id=vm["id"])
    host, port = bootcheck.target(api.listVirtualMachines(id=vm["id"])["virtualmachine"][0], 22)
    answer = bootcheck.wait(host, port, 600)
    booted = time.monotonic() - started
    api.destroyVirtualMachine(id=vm["id"], expunge=True)
    if not answer.answered:
        raise RuntimeError(f"the converted guest did not answer: {answer.last_lines}")
    return {"convert": converted, "names": names_kept, "boot": booted,
            "convert_accel": "kvm" if accel == "kvm" else "tcg"}


def _measure(quick: bool, workdir: Path) -> tuple[GuestImages, str, float, list[tuple[str, dict]]]:
    if quick:
        guest = images()
        built = (f"{guest.manifest['build_seconds']:.0f} s when the cache was made "
                 f"({guest.manifest['rootfs_seconds']:.0f} s of it mmdebstrap); reused here")
    else:
        started = time.monotonic()
        guest = images(workdir / "lab-guest")
        seconds = time.monotonic() - started
        built = (f"{seconds:.0f} s from nothing ({guest.manifest['rootfs_seconds']:.0f} s of it "
                 "mmdebstrap: download and unpack)")
    allocated_mib = guest.bios.stat().st_blocks * 512 / 1024**2
    variants = [("BIOS, PVSCSI", guest.bios, None, "pvscsi")]
    if not quick:
        variants.append(("UEFI (OVMF), SATA", guest.efi, "UEFI", "sata"))
    boots = []
    with launch(workdir / "cloudstack", job_delay=0.05, run_guests=True) as lab:
        for label, image, boottype, controller in variants:
            boots.append((label, _boot(lab, image, guest.key, boottype, controller)))
        try:
            converted = _converted_boot(lab, guest, workdir, boots[0][1]["accel"])
        except Exception as exc:  # noqa: BLE001 - reported in the section, the boots above still count
            converted = {"error": f"{type(exc).__name__}: {exc}"}
    return guest, built, allocated_mib, boots, converted


def run(quick: bool) -> str:
    lines = ["## Lab guest (image build, boot under the emulator's QEMU, conversion)", ""]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-guest-", dir=cache_root().parent) as tmp:
            guest, built, allocated_mib, boots, converted = _measure(quick, Path(tmp))
    except Exception as exc:  # noqa: BLE001 - a bench reports why it could not run instead of failing the report
        lines.append(f"Not measured: {type(exc).__name__}: {exc}")
        return "\n".join(lines) + "\n"
    accel = boots[0][1]
    lines += [
        f"Debian {guest.manifest['suite']} minbase, kernel {guest.manifest['kernel']}; disks of 2 GiB, "
        f"sparse (the BIOS image allocates {allocated_mib:.0f} MiB). "
        f"Image build: {built}.",
        "",
        f"Accelerator: **{accel['accel']}** ({accel['reason']}).",
        "",
        "| variant | power on to login prompt (s) | power on to SSH answering (s) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {label} | {b['login']:.0f} | {b['ssh']:.0f} |" for label, b in boots]
    if "error" in converted:
        lines += ["", f"Conversion not measured: {converted['error']}"]
    else:
        lines += ["", "| guest conversion (virt-v2v-in-place, BIOS guest and data disk) | seconds | accelerator |",
                  "|---|---:|---|",
                  f"| NIC names kept (libguestfs inspection, one .link file) | {converted['names']:.0f} | "
                  f"libguestfs appliance: {converted['convert_accel']} |",
                  f"| conversion | {converted['convert']:.0f} | libguestfs appliance: {converted['convert_accel']} |",
                  f"| converted guest, power on to boot verification (SSH greeting) on virtio | "
                  f"{converted['boot']:.0f} | {accel['accel']} |"]
    lines += ["", "One vCPU of a shared 2-core machine under TCG: the figures move with the neighbours' load."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
