"""Keep the guest's NIC names across the move: a Linux guest configured on VMware names its NIC by the PCI slot
vSphere gave it (`ens192`, `ens224`, ...); on KVM the virtio NIC sits elsewhere and udev names it otherwise
(`enp1s0`, `ens3`), so the guest's network configuration matches nothing and the guest comes up without network.
virt-v2v does not rename NICs. Before the conversion, this writes a systemd `.link` file per NIC that gives the new
NIC the name the guest's configuration expects; virt-v2v's initramfs rebuild then carries it into the initramfs too.

Which name: the interface names the guest's own network configuration uses (systemd-networkd, ifupdown, netplan,
NetworkManager, ifcfg), in the order of their vSphere slot numbers, paired with the VM's NICs in source order.
Which NIC: by its MAC where the failover keeps the source's MAC (a live failover, by default), else by the virtio
driver when the VM has one NIC. A test failover of a VM with several NICs and new MACs is not pinned (said in the
job): the MACs are CloudStack's to choose after this step.

The files land on the replica volumes on top of the failover's snapshots, like the conversion: ending a test
failover reverts them.
"""
from __future__ import annotations

import configparser
import fnmatch
import logging
import re
from dataclasses import dataclass, field

from . import conf

try:  # Debian's python3-guestfs (.ci/system-deps.sh); without it the names are not pinned and the job says so
    import guestfs
except ImportError:  # pragma: no cover - the package is installed wherever failovers convert guests
    guestfs = None

log = logging.getLogger(__name__)

LINK_DIR = "/etc/systemd/network"
LINK_PREFIX = "10-migrated-"  # before the distribution's 99-default.link: the first matching .link wins
VIRTIO_DRIVER = "virtio_net"
CONFIG_GLOBS = (
    "/etc/systemd/network/*.network",
    "/etc/network/interfaces", "/etc/network/interfaces.d/*",
    "/etc/netplan/*.yaml", "/etc/netplan/*.yml",
    "/etc/NetworkManager/system-connections/*",
    "/etc/sysconfig/network-scripts/ifcfg-*", "/etc/sysconfig/network/ifcfg-*",
)
NOT_NICS = re.compile(r"^(lo|bond\d*|br\d*|docker\d*|virbr\d*|vlan\d*|tun\d*|tap\d*|wg\d*|.*\..*|.*[*?\[].*)$")


@dataclass
class Pinning:
    """What was done, kept on the job (`conversion.nic_names`)."""

    names: list[str] = field(default_factory=list)  # found in the guest's configuration, in slot order
    links: list[dict] = field(default_factory=list)  # {"name", "match", "file"}
    note: str = ""

    def as_dict(self) -> dict:
        return {"names": self.names, "links": self.links, "note": self.note}


def _slot_order(name: str) -> tuple:
    """ens192 < ens224 < ens256 < ens1184: the numbers vSphere's slots give, in the order it adds NICs."""
    numbers = [int(n) for n in re.findall(r"\d+", name)]
    return (numbers or [0], name)


def names_in(path: str, text: str) -> list[str]:
    """Interface names a network configuration file refers to."""
    found: list[str] = []
    if path.endswith(".network"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            return []
        if parser.has_option("Match", "Name"):
            found += parser.get("Match", "Name").split()
    elif "/network/interfaces" in path:
        found += re.findall(r"^\s*(?:iface|auto|allow-hotplug)\s+([^\s]+)", text, re.MULTILINE)
    elif "/netplan/" in path:
        section = re.search(r"^(\s*)ethernets:\s*\n((?:\1\s+.*\n?|\s*\n)*)", text, re.MULTILINE)
        if section:
            keys = re.findall(r"^(\s+)([A-Za-z0-9_.:-]+):\s*$", section.group(2), re.MULTILINE)
            if keys:
                indent = min(len(k[0]) for k in keys)
                block = section.group(2)
                for key_indent, key in keys:
                    if len(key_indent) != indent:
                        continue
                    # an entry that matches by MAC or driver is not named by the guest's slot: leave it be
                    entry = re.search(rf"^{key_indent}{re.escape(key)}:\s*\n((?:{key_indent}\s+.*\n?)*)", block,
                                      re.MULTILINE)
                    if entry and re.search(r"^\s+match:", entry.group(1), re.MULTILINE):
                        named = re.search(r"^\s+name:\s*\"?([^\s\"]+)", entry.group(1), re.MULTILINE)
                        found += [named.group(1)] if named else []
                    else:
                        found.append(key)
    elif "/NetworkManager/" in path:
        found += re.findall(r"^\s*interface-name\s*=\s*(\S+)", text, re.MULTILINE)
    elif "/ifcfg-" in path:
        found += re.findall(r"^\s*DEVICE\s*=\s*\"?([^\s\"]+)", text, re.MULTILINE)
    return found


def configured_names(files: dict[str, str]) -> list[str]:
    """The NIC names of a guest's configuration files (path -> text), in vSphere slot order, without duplicates."""
    names = {name for path, text in files.items() for name in names_in(path, text)
             if not NOT_NICS.match(name)}
    return sorted(names, key=_slot_order)


def link_file(name: str, match: str) -> str:
    return ("# Written by the migration platform at failover: this guest's network configuration names its NIC\n"
            f"# {name} (its name on VMware); on KVM the NIC sits at another PCI address and would be named otherwise.\n"
            f"[Match]\n{match}\n\n[Link]\nName={name}\n")


def plan_links(names: list[str], nics: list[dict]) -> Pinning:
    """Pair the configured names with the destination NICs (source order, `mac` when the failover keeps it)."""
    pinning = Pinning(names=names)
    if not names:
        pinning.note = "no NIC names in the guest's network configuration: nothing to keep"
        return pinning
    if not nics:
        pinning.note = "the VM gets no NIC: nothing to keep"
        return pinning
    macs = [nic.get("mac") for nic in nics]
    if all(macs):
        for name, mac in zip(names, macs, strict=False):
            pinning.links.append({"name": name, "match": f"MACAddress={mac.lower()}"})
    elif len(nics) == 1:
        pinning.links.append({"name": names[0], "match": f"Driver={VIRTIO_DRIVER}"})
    else:
        pinning.note = (f"{len(nics)} NICs whose MACs CloudStack assigns: their names cannot be tied to them before "
                        "the VM exists; the guest may need its network configuration fixed (keep the MACs to avoid "
                        "this: custom_config.keep_mac_addresses)")
        return pinning
    if len(names) > len(nics):
        pinning.note = f"{len(names) - len(nics)} configured name(s) left without a NIC: {', '.join(names[len(nics):])}"
    for link in pinning.links:
        link["file"] = f"{LINK_DIR}/{LINK_PREFIX}{link['name']}.link"
    return pinning


class PinFailed(Exception):
    pass


def _handle(disks: tuple[str, ...], backend: str, backend_settings: str):
    g = guestfs.GuestFS(python_return_dict=True)
    g.set_backend(backend)
    if backend_settings:
        g.set_backend_settings(backend_settings.split(","))
    for path in disks:
        g.add_drive_opts(path, format="raw", readonly=False)
    g.launch()
    return g


def pin(disks: tuple[str, ...], nics: list[dict], *, backend: str | None = None,
        backend_settings: str | None = None) -> Pinning:
    """Inspect the guest on `disks` (boot disk first), write the .link files; raises PinFailed with the reason.
    libguestfs's backend and its settings are the conversion's (`conf`) unless given."""
    if guestfs is None:
        raise PinFailed("python3-guestfs is not installed on the control plane")
    try:
        g = _handle(disks, conf.libguestfs_backend() if backend is None else backend,
                    conf.libguestfs_backend_settings() if backend_settings is None else backend_settings)
    except RuntimeError as exc:
        raise PinFailed(f"libguestfs could not open the disks: {exc}") from None
    try:
        roots = g.inspect_os()
        if not roots:
            return Pinning(note="no operating system found on the disks: nothing to keep")
        root = roots[0]
        if g.inspect_get_type(root) != "linux":
            return Pinning(note=f"a {g.inspect_get_type(root)} guest: NIC names are Linux's concern")
        for mountpoint, device in sorted(g.inspect_get_mountpoints(root).items(), key=lambda item: len(item[0])):
            try:
                g.mount(device, mountpoint)
            except RuntimeError:
                log.info("nicnames: %s not mounted at %s", device, mountpoint)
        files = {}
        for pattern in CONFIG_GLOBS:
            directory = pattern.rsplit("/", 1)[0]
            if not g.is_dir(directory):
                continue
            for path in ([pattern] if "*" not in pattern else
                         [f"{directory}/{n}" for n in g.ls(directory) if fnmatch.fnmatch(n, pattern.rsplit("/", 1)[1])]):
                if g.is_file(path):
                    files[path] = g.cat(path)
        pinning = plan_links(configured_names(files), nics)
        if pinning.links:
            g.mkdir_p(LINK_DIR)
            for link in pinning.links:
                g.write(link["file"], link_file(link["name"], link["match"]).encode())
        g.umount_all()
        g.shutdown()
        return pinning
    except RuntimeError as exc:
        raise PinFailed(f"libguestfs failed: {exc}") from None
    finally:
        g.close()
