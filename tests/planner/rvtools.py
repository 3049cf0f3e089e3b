"""RVTools-shaped workbooks for the planner's tests and benchmark.

Real RVTools exports carry dozens of columns per sheet in a fixed order (4.x spells sizes in MiB, 3.x in MB) and
are written by a .NET OpenXML writer, whose XML puts SpreadsheetML under an ``x:`` prefix instead of the default
namespace. ``workbook(...)`` builds such a file: openpyxl writes it, then ``dotnet_style`` rewrites the XML parts the
way the .NET writer spells them.
"""
from __future__ import annotations

import io
import random
import re
import zipfile

from openpyxl import Workbook

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

# Columns in RVTools 4.x order (a subset of the 90-odd, including neighbours that could be mistaken for ours).
V4 = {
    "vInfo": ["VM", "Powerstate", "Template", "SRM Placeholder", "Config status", "DNS Name", "Connection state",
              "Guest state", "Heartbeat", "Consolidation Needed", "PowerOn", "Creation date", "CPUs", "Memory",
              "Active Memory", "NICs", "Disks", "Total disk capacity MiB", "EnableUUID", "CBT", "Primary IP Address",
              "Network #1", "Network #2", "Resource pool", "Folder ID", "Folder", "vApp", "Provisioned MiB",
              "In Use MiB", "Unshared MiB", "Annotation", "Datacenter", "Cluster", "Host",
              "OS according to the configuration file", "OS according to the VMware Tools", "VM ID", "SMBIOS UUID",
              "VM UUID", "HW version", "VI SDK Server"],
    "vDisk": ["VM", "Powerstate", "Template", "Disk", "Disk Key", "Disk UUID", "Disk Path", "Capacity MiB", "Raw",
              "Disk Mode", "Sharing mode", "Thin", "Eagerly Scrub", "Split", "Write Through", "Controller", "Label",
              "Unit #", "Path", "Datacenter", "Cluster", "Host"],
    "vNIC": ["VM", "Powerstate", "Template", "NIC label", "Adapter", "Network", "Switch", "Connected",
             "Starts Connected", "Mac Address", "Type", "IPv4 Address", "IPv6 Address", "Datacenter", "Cluster",
             "Host"],
    "vHost": ["Host", "Datacenter", "Cluster", "Config status", "CPU Model", "Speed", "# CPU", "Cores per CPU",
              "# Cores", "CPU usage %", "# Memory", "Memory usage %", "# NICs", "# VMs total", "# VMs", "# vCPUs",
              "ESX Version"],
    "vCluster": ["Name", "Config status", "OverallStatus", "NumHosts", "numEffectiveHosts", "TotalCpu",
                 "NumCpuCores", "NumCpuThreads", "Effective Cpu", "TotalMemory", "Effective Memory", "HA enabled",
                 "DRS enabled", "Datacenter"],
    "vSnapshot": ["VM", "Powerstate", "Name", "Description", "Date / time", "Filename", "Size MiB (vmsn)",
                  "Size MiB (total)", "Quiesced", "State", "Datacenter", "Cluster", "Host"],
}
# RVTools 3.x: MB instead of MiB, one OS column, other spellings.
V3_RENAMES = {"Total disk capacity MiB": "Total disk capacity MB", "Provisioned MiB": "Provisioned MB",
              "In Use MiB": "In Use MB", "Unshared MiB": "Unshared MB", "Capacity MiB": "Capacity MB",
              "Size MiB (vmsn)": "Size MB (vmsn)", "Size MiB (total)": "Size MB (total)",
              "OS according to the configuration file": "OS", "NIC label": "NIC"}

OSES = ["Microsoft Windows Server 2019 (64-bit)", "Microsoft Windows Server 2016 (64-bit)",
        "Red Hat Enterprise Linux 8 (64-bit)", "Ubuntu Linux (64-bit)", "CentOS 7 (64-bit)",
        "Microsoft Windows Server 2003 Standard (32-bit)", "Oracle Solaris 11 (64-bit)", "Debian GNU/Linux 11 (64-bit)"]
OS_WEIGHTS = [20, 15, 15, 15, 10, 3, 2, 10]
NETWORKS = ["VLAN-100-Prod", "VLAN-200-App", "dvPG_vLAN_300_DB", "DMZ-Web", "VM Network", "vlan 3314 backup"]


def _vm_rows(count: int, tenants: int, rng: random.Random, templates: int) -> dict[str, list[dict]]:
    rows = {sheet: [] for sheet in V4}
    hosts = [f"esx{h:02d}.lab.local" for h in range(1, 9)]
    for index in range(count + templates):
        template = index >= count
        tenant = f"Org-{index % tenants:02d}"
        vdc = ["Prod", "Dev"][index // tenants % 2]
        name = f"{tenant.lower()}-{vdc.lower()}-vm{index:04d}" if not template else f"tmpl-{index:03d}"
        power = "poweredOff" if index % 9 == 0 else "poweredOn"
        host = hosts[index % len(hosts)]
        cluster = "Cluster-A" if hosts.index(host) < 4 else "Cluster-B"
        os_name = rng.choices(OSES, OS_WEIGHTS)[0]
        disks = []
        for d in range(1 + (index % 3 == 0) + (index % 17 == 0) * 2):
            capacity = rng.choice([40, 60, 100, 250, 500, 1024]) * 1024
            if index % 97 == 5 and d == 0:
                capacity = 3 * 1024 * 1024  # a 3 TiB disk
            disks.append(capacity)
        nics = [NETWORKS[(index + n) % len(NETWORKS)] for n in range(1 + (index % 5 == 0))]
        provisioned = sum(disks)
        rows["vInfo"].append({
            "VM": name, "Powerstate": power, "Template": template, "SRM Placeholder": False, "Config status": "green",
            "DNS Name": f"{name}.lab.local", "Connection state": "connected", "Guest state": "running",
            "Heartbeat": "green", "Consolidation Needed": False, "PowerOn": "2026/01/02 03:04:05",
            "Creation date": "2024/05/06 07:08:09", "CPUs": rng.choice([1, 2, 4, 8]),
            "Memory": rng.choice([2048, 4096, 8192, 16384]), "Active Memory": 1024, "NICs": len(nics),
            "Disks": len(disks), "Total disk capacity MiB": provisioned, "EnableUUID": False,
            "CBT": index % 5 != 1, "Primary IP Address": f"10.{index // 250}.{index % 250}.10",
            "Network #1": nics[0], "Network #2": nics[1] if len(nics) > 1 else "",
            "Resource pool": f"/DC1/host/{cluster}/Resources/{tenant}", "Folder ID": f"group-v{index}",
            "Folder": f"/{tenant}/{vdc}", "vApp": "", "Provisioned MiB": provisioned,
            "In Use MiB": int(provisioned * rng.uniform(0.2, 0.8)), "Unshared MiB": 0,
            "Annotation": f"owner={tenant}", "Datacenter": "DC1", "Cluster": cluster, "Host": host,
            "OS according to the configuration file": os_name, "OS according to the VMware Tools": os_name,
            "VM ID": f"vm-{1000 + index}", "SMBIOS UUID": f"4205{index:04x}-0000-0000-0000-{index:012x}",
            "VM UUID": f"5003{index:04x}-1111-2222-3333-{index:012x}", "HW version": "vmx-19",
            "VI SDK Server": "vcenter.lab.local"})
        for d, capacity in enumerate(disks):
            rdm = index % 61 == 7 and d == len(disks) - 1 and len(disks) > 1
            independent = index % 53 == 3 and d == 0
            rows["vDisk"].append({
                "VM": name, "Powerstate": power, "Template": template, "Disk": f"Hard disk {d + 1}",
                "Disk Key": 2000 + d, "Disk UUID": f"6000C29{index:05x}{d}", "Capacity MiB": capacity,
                "Disk Path": f"[DS0{d % 3 + 1}] {name}/{name}_{d}.vmdk", "Raw": rdm,
                "Disk Mode": "independent_persistent" if independent else "persistent", "Sharing mode": "sharingNone",
                "Thin": d % 2 == 0, "Eagerly Scrub": False, "Split": False, "Write Through": False,
                "Controller": "SCSI controller 0", "Label": f"Hard disk {d + 1}", "Unit #": d,
                "Path": f"[DS0{d % 3 + 1}] {name}/{name}_{d}.vmdk", "Datacenter": "DC1", "Cluster": cluster,
                "Host": host})
        for n, network in enumerate(nics):
            rows["vNIC"].append({
                "VM": name, "Powerstate": power, "Template": template, "NIC label": f"Network adapter {n + 1}",
                "Adapter": "VMXNET3" if n == 0 else "E1000E", "Network": network, "Switch": "dvSwitch0",
                "Connected": not (index % 41 == 0 and n == 0), "Starts Connected": True,
                "Mac Address": f"00:50:56:{index // 256 % 256:02x}:{index % 256:02x}:{n:02x}", "Type": "assigned",
                "IPv4 Address": f"10.{index // 250}.{index % 250}.{10 + n}", "IPv6 Address": "",
                "Datacenter": "DC1", "Cluster": cluster, "Host": host})
        if index % 10 == 4 and not template:
            rows["vSnapshot"].append({
                "VM": name, "Powerstate": power, "Name": "before-patch", "Description": "", "Date / time":
                "2026/03/01 10:00:00", "Filename": f"[DS01] {name}/{name}-Snapshot1.vmsn", "Size MiB (vmsn)": 12,
                "Size MiB (total)": 5120, "Quiesced": False, "State": "poweredOn", "Datacenter": "DC1",
                "Cluster": cluster, "Host": host})
    for h, host in enumerate(hosts):
        rows["vHost"].append({
            "Host": host, "Datacenter": "DC1", "Cluster": "Cluster-A" if h < 4 else "Cluster-B",
            "Config status": "green", "CPU Model": "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Speed": 2500,
            "# CPU": 2, "Cores per CPU": 20, "# Cores": 40, "CPU usage %": 31, "# Memory": 786432,
            "Memory usage %": 55, "# NICs": 4, "# VMs total": count // len(hosts) + 1, "# VMs": count // len(hosts),
            "# vCPUs": 200, "ESX Version": "VMware ESXi 7.0.3 build-21930508"})
    for name in ("Cluster-A", "Cluster-B"):
        rows["vCluster"].append({
            "Name": name, "Config status": "green", "OverallStatus": "green", "NumHosts": 4, "numEffectiveHosts": 4,
            "TotalCpu": 400000, "NumCpuCores": 160, "NumCpuThreads": 320, "Effective Cpu": 380000,
            "TotalMemory": 4 * 768 * 2**30, "Effective Memory": 3000000, "HA enabled": True, "DRS enabled": True,
            "Datacenter": "DC1"})
    return rows


def dotnet_style(data: bytes) -> bytes:
    """Rewrite the SpreadsheetML parts as the .NET OpenXML writer spells them: ``x:`` prefixed elements."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.endswith(".xml") and f'xmlns="{MAIN_NS}"'.encode() in content:
                text = content.decode("utf-8").replace(f'xmlns="{MAIN_NS}"', f'xmlns:x="{MAIN_NS}"')
                text = re.sub(r"<(/?)([A-Za-z][\w.-]*)(?=[\s/>])", r"<\1x:\2", text)
                content = text.encode("utf-8")
            target.writestr(item, content)
    return out.getvalue()


def workbook(vms: int = 300, *, tenants: int = 6, version: int = 4, dotnet: bool = True, seed: int = 7,
             templates: int = 3, drop: tuple[tuple[str, str], ...] = (), sheets: tuple[str, ...] | None = None,
             edit=None) -> bytes:
    """An RVTools export of ``vms`` VMs (plus templates, which the planner skips). ``drop`` removes (sheet, column)
    pairs; ``edit(rows)`` may change the rows before writing."""
    rng = random.Random(seed)
    rows = _vm_rows(vms, tenants, rng, templates)
    if edit:
        edit(rows)
    book = Workbook(write_only=True)
    for sheet, columns in V4.items():
        if sheets is not None and sheet not in sheets:
            continue
        columns = [c for c in columns if (sheet, c) not in drop]
        written = [V3_RENAMES.get(c, c) if version == 3 else c for c in columns]
        page = book.create_sheet(sheet)
        page.append(written)
        for row in rows[sheet]:
            page.append([row.get(c) for c in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    return dotnet_style(data) if dotnet else data
