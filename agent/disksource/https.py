"""Reading a snapshot's disks without VDDK: nbdkit's curl plugin over vCenter's datastore file
service (`https://<vcenter>/folder/<path>?dcPath=<dc>&dsName=<ds>`), as virt-v2v does.

Once the sync's snapshot is taken, a disk's base `-flat.vmdk` is frozen and holds exactly the
snapshot's state, provided the VM has no older snapshot and the disk is a flat file
(`agent.vsphere.backing` checks both before anything changes on the VM). HTTP range requests
then read any area of it.

- Login: the job's own vSphere session cookie (`vmware_soap_session`), handed to nbdkit in a
  0600 file (`cookie=+FILE`) that is deleted as soon as nbdkit has read it; it dies when the job
  logs out. Never on a command line, never logged.
- TLS: with a pinned thumbprint, the certificate vCenter presents is checked against the pin
  and becomes curl's only trust anchor (`cainfo=`), so curl trusts exactly that certificate;
  else `vcenter.ca_file`, else the system store. Redirects are not followed (the cookie would
  follow them) and only https is allowed.
- Sparseness: HTTP has none, so QueryChangedDiskAreas('*') of the snapshot becomes nbdkit's
  extent list (`extentlist` filter): a full sync reads only allocated data and zeroes the rest.
- Transient failures: the `retry` filter reopens the connection and retries the request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from agent.errors import VCenterError
from agent.vsphere import (
    DatastoreLocation,
    DiskInfo,
    VCenterEndpoint,
    VSphereSource,
    pinned_certificate_pem,
    snapshot_allocated_areas,
    snapshot_disk_file,
)

from .base import DiskSourceError, flat_file, private_file, running

log = logging.getLogger("agent.disksource")

# Outermost first: the extent list answers block status itself; retry wraps every request to curl.
HTTPS_FILTERS = ("extentlist", "retry")


def folder_url(endpoint: VCenterEndpoint, file_name: str, locations: dict[str, DatastoreLocation]) -> str:
    """The datastore file service URL of a disk descriptor's flat extent."""
    datastore, relative = flat_file(file_name)
    location = locations.get(datastore)
    if location is None:
        raise DiskSourceError(f"datastore {datastore!r} of {file_name} is not one of the VM's datastores")
    query = urlencode({"dcPath": location.dc_path, "dsName": datastore}, quote_via=quote)
    return f"https://{endpoint.display}/folder/{quote(str(relative))}?{query}"


class HttpsDiskSource:
    """nbdkit curl, read-only, over the flat file of each disk in the snapshot, on the job's session."""

    name = "https"

    def __init__(self, session: VSphereSource, locations: dict[str, DatastoreLocation], *,
                 nbdkit: str = "nbdkit", filters: tuple[str, ...] = HTTPS_FILTERS):
        self.session = session
        self.locations = locations
        self.nbdkit = nbdkit
        self.filters = filters

    def server(self, *, url: str, cookie_file: str, cainfo: str | None, extentlist: str) -> Any:
        """The (not yet started) nbdkit curl server for one flat file."""
        from datamover.nbdkit import NbdkitServer  # libnbd/nbdkit are needed only when copying

        args = [f"url={url}", f"cookie=+{cookie_file}", "followlocation=false", "protocols=https",
                "user-agent=vma-agent"]
        if cainfo:
            args.append(f"cainfo={cainfo}")
        if "extentlist" in self.filters:
            args.append(f"extentlist={extentlist}")
        # The plugin reads the file's size with a HEAD request while it starts.
        return NbdkitServer("curl", args, readonly=True, filters=self.filters, nbdkit=self.nbdkit,
                            startup_timeout=60.0)

    def _allocated(self, disk: DiskInfo, snapshot_id: str, vm_id: str) -> list[tuple[int, int]]:
        try:
            areas = snapshot_allocated_areas(self.session, vm_id, snapshot_id, disk.key, disk.capacity_bytes)
        except VCenterError as exc:
            # Without CBT nothing says where the holes are: every byte is read.
            log.warning("no allocation map, reading the whole disk vm=%s disk=%s error=%s", vm_id, disk.key,
                        exc.message)
            return [(0, disk.capacity_bytes)]
        return [(a.start, a.length) for a in areas if a.length > 0]

    @contextlib.contextmanager
    def open(self, *, disk: DiskInfo, snapshot_id: str, vm_id: str, endpoint: VCenterEndpoint) -> Iterator[str]:
        try:
            descriptor = snapshot_disk_file(self.session, snapshot_id, disk.key)
        except ValueError as exc:
            raise DiskSourceError(f"the https disk source cannot read this disk: {exc}") from exc
        url = folder_url(endpoint, descriptor, self.locations)
        allocated = self._allocated(disk, snapshot_id, vm_id)
        with tempfile.TemporaryDirectory(prefix="vma-https-") as tmp:
            cookie_file = private_file(tmp, "cookie", self.session.session_cookie())
            cainfo = endpoint.ca_file or None
            if endpoint.thumbprint:
                try:
                    cainfo = private_file(tmp, "vcenter.pem", pinned_certificate_pem(endpoint))
                except OSError as exc:
                    raise DiskSourceError(f"vCenter {endpoint.display} TLS check failed: {exc}") from exc
            extentlist = private_file(tmp, "extents", "".join(f"{start} {length}\n" for start, length in allocated))
            server = self.server(url=url, cookie_file=cookie_file, cainfo=cainfo, extentlist=extentlist)
            with running(server, "curl") as uri:
                os.unlink(cookie_file)
                log.info("disk source ready plugin=curl vm=%s snapshot=%s disk=%s file=%s allocated_areas=%d",
                         vm_id, snapshot_id, disk.key, descriptor, len(allocated))
                yield uri
