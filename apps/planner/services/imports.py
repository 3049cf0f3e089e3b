"""RVTools upload: read and check the whole workbook first, then replace the project's source data in one
transaction, so a bad file leaves the old data as it was."""
from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import InvalidInput

from .. import rvtools
from ..choices import OsFamily
from ..models import Project, SourceCluster, SourceDisk, SourceHost, SourceNIC, SourceSnapshot, SourceVM
from .projects import project_get
from .tenants import tenants_detect

LINUX_WORDS = ("linux", "centos", "red hat", "rhel", "ubuntu", "debian", "suse", "sles", "rocky", "alma", "photon",
               "coreos", "fedora", "amazon", "oracle enterprise")
DATASTORE = re.compile(r"^\[([^\]]+)\]")


def os_family(guest_os: str) -> str:
    text = guest_os.lower()
    if "windows" in text:
        return OsFamily.WINDOWS
    if any(word in text for word in LINUX_WORDS):
        return OsFamily.LINUX
    return OsFamily.OTHER


def _gb(value, sheet, column, row) -> float:
    return round(rvtools.to_float(value, sheet, column, row) / rvtools.MIB_PER_GB, 3)


def _int(value, sheet, column, row) -> int:
    number = rvtools.to_float(value, sheet, column, row)
    if number < 0 or number > 2**31:
        raise rvtools.RVToolsError(f"Sheet {sheet}, row {row}: column {column!r} out of range: {number}")
    return int(number)


def _vms(export: rvtools.Export) -> list[SourceVM]:
    vms, seen = [], {}
    for r in export.rows["vInfo"]:
        row = r["_row"]
        if rvtools.to_bool(r.get("template")):
            continue  # templates are not migrated
        name = rvtools.to_text(r.get("vm_name"))
        if not name:
            raise rvtools.RVToolsError(f"Sheet vInfo, row {row}: column 'VM' is empty")
        if name in seen:
            raise rvtools.RVToolsError(f"Sheet vInfo: VM {name!r} appears twice (rows {seen[name]} and {row})")
        seen[name] = row
        guest_os = rvtools.to_text(r.get("guest_os"))
        vms.append(SourceVM(
            vm_name=name, vm_uuid=rvtools.to_text(r.get("vm_uuid"), 64),
            power_state=rvtools.to_text(r.get("power_state"), 32), guest_os=guest_os, os_family=os_family(guest_os),
            num_cpu=_int(r.get("num_cpu"), "vInfo", "CPUs", row),
            memory_mb=_int(r.get("memory_mb"), "vInfo", "Memory", row),
            total_disk_gb=_gb(r.get("provisioned_mb"), "vInfo", "Provisioned MiB", row),
            in_use_gb=_gb(r.get("in_use_mb"), "vInfo", "In Use MiB", row),
            datacenter=rvtools.to_text(r.get("datacenter")), cluster=rvtools.to_text(r.get("cluster")),
            host=rvtools.to_text(r.get("host")), folder_path=rvtools.to_text(r.get("folder_path"), 1024),
            resource_pool=rvtools.to_text(r.get("resource_pool"), 1024),
            annotation=rvtools.to_text(r.get("annotation"), 4000), hw_version=rvtools.to_text(r.get("hw_version"), 32),
            cbt_enabled=rvtools.to_bool(r.get("cbt"))))
    return vms


def _disk(r: dict) -> SourceDisk:
    path = rvtools.to_text(r.get("disk_path"), 1024)
    found = DATASTORE.match(path)
    return SourceDisk(
        disk_label=rvtools.to_text(r.get("disk_label")), disk_path=path,
        capacity_gb=_gb(r.get("capacity_mb"), "vDisk", "Capacity MiB", r["_row"]),
        thin_provisioned=rvtools.to_bool(r.get("thin")), eagerly_scrub=rvtools.to_bool(r.get("eagerly_scrub")),
        datastore=found.group(1) if found else "", disk_mode=rvtools.to_text(r.get("disk_mode"), 64),
        is_rdm=bool(rvtools.to_bool(r.get("raw"))))


def _nic(r: dict) -> SourceNIC:
    return SourceNIC(
        nic_label=rvtools.to_text(r.get("nic_label")), adapter_type=rvtools.to_text(r.get("adapter_type"), 64),
        network_name=rvtools.to_text(r.get("network_name")), connected=rvtools.to_bool(r.get("connected")),
        mac_address=rvtools.to_text(r.get("mac_address"), 64), ip_address=rvtools.to_text(r.get("ip_address")))


def _snapshot(r: dict) -> SourceSnapshot:
    return SourceSnapshot(
        snapshot_name=rvtools.to_text(r.get("snapshot_name")), created=rvtools.to_text(r.get("created"), 64),
        size_gb=_gb(r.get("size_mb"), "vSnapshot", "Size MiB (total)", r["_row"]))


def _children(export: rvtools.Export, names: set[str]) -> tuple[list, list, list]:
    """Disks, NICs and snapshots as (vm_name, unsaved row) pairs; rows of VMs not in vInfo (templates) are left out."""

    def of(sheet: str, build) -> list:
        return [(vm, build(r)) for r in export.rows[sheet] if (vm := rvtools.to_text(r.get("vm_name"))) in names]

    return of("vDisk", _disk), of("vNIC", _nic), of("vSnapshot", _snapshot)


def _hosts_and_clusters(export: rvtools.Export) -> tuple[list[SourceHost], list[SourceCluster]]:
    hosts = [SourceHost(
        host_name=rvtools.to_text(r.get("host_name")), datacenter=rvtools.to_text(r.get("datacenter")),
        cluster=rvtools.to_text(r.get("cluster")), cpu_model=rvtools.to_text(r.get("cpu_model")),
        num_cpu_cores=_int(r.get("num_cpu_cores"), "vHost", "# Cores", r["_row"]),
        memory_gb=_gb(r.get("memory_mb"), "vHost", "# Memory", r["_row"]),
        esx_version=rvtools.to_text(r.get("esx_version")), num_vms=_int(r.get("num_vms"), "vHost", "# VMs", r["_row"]))
        for r in export.rows["vHost"]]
    clusters = [SourceCluster(
        cluster_name=rvtools.to_text(r.get("cluster_name")), datacenter=rvtools.to_text(r.get("datacenter")),
        num_hosts=_int(r.get("num_hosts"), "vCluster", "NumHosts", r["_row"]),
        num_cpu_cores=_int(r.get("num_cpu_cores"), "vCluster", "NumCpuCores", r["_row"]),
        # RVTools reports a cluster's memory in bytes.
        total_memory_gb=round(rvtools.to_float(r.get("total_memory"), "vCluster", "TotalMemory", r["_row"]) / 2**30, 2),
        ha_enabled=rvtools.to_bool(r.get("ha_enabled")), drs_enabled=rvtools.to_bool(r.get("drs_enabled")))
        for r in export.rows["vCluster"]]
    return hosts, clusters


def replace_source_data(*, project: Project, vms: list[SourceVM], disks: list, nics: list, snapshots: list,
                        hosts: list[SourceHost], clusters: list[SourceCluster], source_name: str) -> None:
    """The project's source data becomes these rows, in one transaction (children as (vm_name, row) pairs)."""
    with transaction.atomic():
        project = project_get(project.pk, lock=True)
        project.vms.all().delete()  # cascades to disks, NICs, snapshots and dependencies
        project.hosts.all().delete()
        project.clusters.all().delete()
        for vm in vms:
            vm.project = project
        SourceVM.objects.bulk_create(vms, batch_size=500)
        ids = dict(project.vms.values_list("vm_name", "id"))
        for vm_name, row in (*disks, *nics, *snapshots):
            row.vm_id = ids[vm_name]
        SourceDisk.objects.bulk_create([row for _, row in disks], batch_size=1000)
        SourceNIC.objects.bulk_create([row for _, row in nics], batch_size=1000)
        SourceSnapshot.objects.bulk_create([row for _, row in snapshots], batch_size=1000)
        for row in (*hosts, *clusters):
            row.project = project
        SourceHost.objects.bulk_create(hosts, batch_size=500)
        SourceCluster.objects.bulk_create(clusters, batch_size=500)
        project.source_file_name = source_name[:255]
        project.uploaded_at = timezone.now()
        project.assessed_at = None
        project.save(update_fields=["source_file_name", "uploaded_at", "assessed_at", "updated_at"])
        tenants_detect(project=project)


def upload_rvtools(*, project: Project, stream, file_name: str = "") -> dict[str, int]:
    try:
        export = rvtools.read(stream)
        vms = _vms(export)
        disks, nics, snapshots = _children(export, {vm.vm_name for vm in vms})
        hosts, clusters = _hosts_and_clusters(export)
    except rvtools.RVToolsError as exc:
        raise InvalidInput(str(exc)) from None
    replace_source_data(project=project, vms=vms, disks=disks, nics=nics, snapshots=snapshots, hosts=hosts,
                        clusters=clusters, source_name=file_name)
    stats = export.stats
    stats.update(vInfo=len(vms), vDisk=len(disks), vNIC=len(nics), vSnapshot=len(snapshots))
    return stats
