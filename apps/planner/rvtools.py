"""Read an RVTools export (XLSX) into plain records, checking every sheet and column before anything is stored.

RVTools renames columns between versions ("Provisioned MB" became "Provisioned MiB", "OS" became "OS according to
the configuration file"...) and real exports come from a .NET OpenXML writer (namespace-prefixed XML, inline
strings), so headers are matched loosely: case, spaces and punctuation ignored, MB and MiB the same, and a list of
known names per field (never a partial name). A file that cannot be read, or lacks a sheet or column we need,
raises ``RVToolsError`` naming the sheet and column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO, Any

from openpyxl import load_workbook

MIB_PER_GB = 1024.0
SHEETS = ("vInfo", "vDisk", "vNIC", "vHost", "vCluster", "vSnapshot")
REQUIRED_SHEETS = ("vInfo",)
MAX_ROWS = 200_000


class RVToolsError(ValueError):
    pass


# field -> (required, known header names). The first known name is the current RVTools spelling.
COLUMNS: dict[str, dict[str, tuple[bool, tuple[str, ...]]]] = {
    "vInfo": {
        "vm_name": (True, ("VM", "VM Name", "Name")),
        "power_state": (False, ("Powerstate", "Power State")),
        "template": (False, ("Template",)),
        "num_cpu": (False, ("CPUs", "Num CPU", "vCPU")),
        "memory_mb": (False, ("Memory", "Memory MB", "Memory MiB")),
        "provisioned_mb": (False, ("Provisioned MiB", "Provisioned MB", "Total disk capacity MiB")),
        "in_use_mb": (False, ("In Use MiB", "In Use MB", "In Use")),
        "guest_os": (False, ("OS according to the configuration file", "OS according to the VMware Tools", "OS",
                             "Guest OS")),
        "datacenter": (False, ("Datacenter",)),
        "cluster": (False, ("Cluster",)),
        "host": (False, ("Host",)),
        "folder_path": (False, ("Folder", "Folder Path")),
        "resource_pool": (False, ("Resource pool", "Resource Pool Path")),
        "vm_uuid": (False, ("VM UUID", "UUID", "SMBIOS UUID")),
        "annotation": (False, ("Annotation", "Notes")),
        "hw_version": (False, ("HW version", "Version", "Hardware version")),
        "cbt": (False, ("CBT", "Change Tracking", "Changed Block Tracking")),
    },
    "vDisk": {
        "vm_name": (True, ("VM", "VM Name")),
        "disk_label": (True, ("Disk", "Disk Label", "Label")),
        "capacity_mb": (True, ("Capacity MiB", "Capacity MB", "Capacity")),
        "thin": (False, ("Thin", "Thin Provisioned")),
        "eagerly_scrub": (False, ("Eagerly Scrub", "Eager Zero")),
        "disk_path": (False, ("Path", "Disk Path", "Filename")),
        "disk_mode": (False, ("Disk Mode", "Mode")),
        "raw": (False, ("Raw", "RDM")),
    },
    "vNIC": {
        "vm_name": (True, ("VM", "VM Name")),
        "nic_label": (True, ("NIC label", "NIC", "Network Adapter")),
        "adapter_type": (False, ("Adapter", "Adapter Type", "Type")),
        "network_name": (True, ("Network", "Network Name", "Portgroup")),
        "connected": (False, ("Connected",)),
        "mac_address": (False, ("Mac Address", "MAC")),
        "ip_address": (False, ("IPv4 Address", "IP Address", "IPv4")),
    },
    "vHost": {
        "host_name": (True, ("Host", "Host Name", "Name")),
        "datacenter": (False, ("Datacenter",)),
        "cluster": (False, ("Cluster",)),
        "cpu_model": (False, ("CPU Model",)),
        "num_cpu_cores": (False, ("# Cores", "Num Cores", "Cores")),
        "memory_mb": (False, ("# Memory", "Memory", "Memory MB")),
        "esx_version": (False, ("ESX Version", "Version")),
        "num_vms": (False, ("# VMs", "Num VMs", "VMs")),
    },
    "vCluster": {
        "cluster_name": (True, ("Name", "Cluster", "Cluster Name")),
        "datacenter": (False, ("Datacenter",)),
        "num_hosts": (False, ("NumHosts", "# Hosts", "Num Hosts")),
        "num_cpu_cores": (False, ("NumCpuCores", "Num CPU Cores", "# Cores")),
        "total_memory": (False, ("TotalMemory", "Total Memory", "Effective Memory")),
        "ha_enabled": (False, ("HA enabled", "HA")),
        "drs_enabled": (False, ("DRS enabled", "DRS")),
    },
    "vSnapshot": {
        "vm_name": (True, ("VM", "VM Name")),
        "snapshot_name": (True, ("Name", "Snapshot", "Snapshot Name")),
        "created": (False, ("Date / time", "Date", "Created")),
        "size_mb": (False, ("Size MiB (total)", "Size MB (total)", "Size MiB (vmsn)", "Size MB (vmsn)", "Size")),
    },
}


def _key(header: Any) -> str:
    text = str(header or "").strip().lower().replace("mib", "mb")
    return re.sub(r"[^a-z0-9#]+", "", text)


def _sheet_key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def match_columns(sheet: str, headers: list[Any]) -> dict[str, int]:
    """field -> column index, by the known names compared without case, spaces, punctuation or MB/MiB. Never by
    a partial name: "VM" must not find "VM ID" when a version lacks the column."""
    keys = {}
    for index, header in enumerate(headers):
        keys.setdefault(_key(header), index)
    found: dict[str, int] = {}
    for name, (required, aliases) in COLUMNS[sheet].items():
        index = next((keys[_key(a)] for a in aliases if _key(a) in keys), None)
        if index is not None:
            found[name] = index
        elif required:
            raise RVToolsError(f"Sheet {sheet}: column {aliases[0]!r} not found (looked for {', '.join(aliases)})")
    return found


def to_float(value: Any, sheet: str, column: str, row: int) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        raise RVToolsError(f"Sheet {sheet}, row {row}: column {column!r} is not a number: {str(value)[:40]!r}") from None


def to_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "enabled", "on"):
        return True
    if text in ("false", "no", "0", "disabled", "off"):
        return False
    return None


def to_text(value: Any, limit: int = 255) -> str:
    if value is None:
        return ""
    return str(value).strip()[:limit]


@dataclass
class Export:
    """The sheets as lists of dicts (field -> raw cell value), with the row number for messages."""

    rows: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def stats(self) -> dict[str, int]:
        return {sheet: len(self.rows.get(sheet, [])) for sheet in SHEETS}


def read(stream: IO[bytes]) -> Export:
    # openpyxl parses whatever the caller sent: a damaged file surfaces as any of zipfile's, zlib's, ElementTree's
    # or openpyxl's own errors, all the file's fault, so every one of them is a 400.
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 (see above)
        raise RVToolsError(f"The file cannot be read as an XLSX workbook: {exc.__class__.__name__}: {str(exc)[:200]}") from None
    try:
        by_key = {_sheet_key(name): name for name in workbook.sheetnames}
        export = Export()
        for sheet in SHEETS:
            actual = by_key.get(_sheet_key(sheet))
            if actual is None:
                if sheet in REQUIRED_SHEETS:
                    raise RVToolsError(f"Sheet {sheet} not found (the workbook has {', '.join(workbook.sheetnames)})")
                export.rows[sheet] = []
                continue
            export.rows[sheet] = _read_sheet(sheet, workbook[actual])
        return export
    except RVToolsError:
        raise
    except Exception as exc:  # noqa: BLE001 (sheets are read lazily: a damaged part shows up here)
        raise RVToolsError(f"The workbook cannot be read: {exc.__class__.__name__}: {str(exc)[:200]}") from None
    finally:
        workbook.close()


def _read_sheet(sheet: str, worksheet) -> list[dict]:
    rows = worksheet.iter_rows(values_only=True)
    headers = next(rows, None)
    if headers is None:
        raise RVToolsError(f"Sheet {sheet} is empty (no header row)")
    columns = match_columns(sheet, list(headers))
    records = []
    for number, values in enumerate(rows, start=2):
        if not values or all(v is None or v == "" for v in values):
            continue
        if len(records) >= MAX_ROWS:
            raise RVToolsError(f"Sheet {sheet}: more than {MAX_ROWS} rows")
        record = {name: (values[index] if index < len(values) else None) for name, index in columns.items()}
        record["_row"] = number
        records.append(record)
    return records
