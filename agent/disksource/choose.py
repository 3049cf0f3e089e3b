"""Which disk source reads a job's disks (`replication.disk_source`).

- `file`: the lab's, nbdkit file over the datastore directories of `replication.datastore_map`;
- `vddk`: VMware's VDDK, reads every kind of disk;
- `https`: vCenter's datastore file service, only for disks whose snapshot state is their base
  flat file (see `agent.vsphere.backing`);
- `auto` (default): `file` when the datastore map covers every disk, else `vddk` when it is
  installed, else `https` when the VM qualifies, else a refusal that says why the VM needs VDDK.

The choice is made before anything changes on the VM, so a refused VM keeps no snapshot.
"""

from __future__ import annotations

from typing import Any

from agent.config import AgentConfig
from agent.vsphere import DiskInfo, VSphereSource, check_flat_read, snapshot_name

from .base import DiskSource, NeedsVddk
from .file import FileDiskSource
from .https import HttpsDiskSource
from .vddk import VddkDiskSource, vddk_problem


def _vddk(config: AgentConfig) -> VddkDiskSource:
    return VddkDiskSource(config.vddk.libdir, config.vddk.transports, config.vddk.config_file,
                          config.replication.nbdkit)


def make_disk_source(config: AgentConfig, session: VSphereSource, vm: Any, job_id: str,
                     disks: list[DiskInfo]) -> DiskSource:
    """The source for this job's `disks` of `vm`; raises NeedsVddk when none can read them."""
    rep = config.replication
    mode = rep.disk_source
    mapped = bool(disks) and all(d.datastore in rep.datastore_map for d in disks)
    if mode == "file" or (mode == "auto" and mapped):
        return FileDiskSource(rep.datastore_map, rep.nbdkit)
    if mode == "vddk":
        return _vddk(config)
    problem = vddk_problem(config.vddk.libdir, rep.nbdkit) if mode == "auto" else "replication.disk_source is https"
    if problem is None:
        return _vddk(config)
    refusals, locations = check_flat_read(session, vm, disks, snapshot_name(job_id))
    if refusals:
        raise NeedsVddk(refusals, vddk_problem=problem)
    return HttpsDiskSource(session, locations, nbdkit=rep.nbdkit)
