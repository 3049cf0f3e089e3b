"""The platform's CloudStack client: the one place that builds CloudStack requests.

Wraps the `cs` package (which signs requests). Knows nothing of Django: callers pass the API URL,
keys, zone and the control plane's VM id. Every failure is a `CloudStackError` whose message
names the cause; secrets (secret key, signatures) never reach a log line or an error message.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cs import CloudStack, CloudStackApiException, CloudStackException

log = logging.getLogger(__name__)

GiB = 1024**3
DEFAULT_TIMEOUT = 30
DEFAULT_JOB_TIMEOUT = 900.0
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_DEVICE_TIMEOUT = 60.0
DEFAULT_RETRIES = 3
PRODUCTION_DEV_ROOT = Path("/dev")
JOB_PENDING, JOB_SUCCEEDED, JOB_FAILED = 0, 1, 2
_UNKNOWN_ID = "entity does not exist"
_NOT_ATTACHED = "The specified volume is not attached to a VM."


# -- errors ------------------------------------------------------------------------------------


class CloudStackError(Exception):
    """Base of every error this module raises; str() is a sentence an operator can act on."""

    def __init__(self, message: str, *, command: str | None = None):
        super().__init__(message)
        self.message = message
        self.command = command


class CloudStackAuthError(CloudStackError):
    """HTTP 401: wrong API key, wrong secret key, or a clock too far off for `expires`."""


class CloudStackAPIError(CloudStackError):
    """CloudStack refused a call; carries its errorcode (431, 530, ...) and errortext."""

    def __init__(self, command: str | None, errorcode: int, errortext: str,
                 cserrorcode: int | None = None, message: str | None = None):
        super().__init__(message or f"CloudStack refused {command}: {errortext} "
                         f"(error {errorcode})", command=command)
        self.errorcode = errorcode
        self.errortext = errortext
        self.cserrorcode = cserrorcode


class CloudStackNotFoundError(CloudStackAPIError):
    """A lookup by id or name found nothing (CloudStack answers 431 for an unknown id)."""


class CloudStackJobError(CloudStackAPIError):
    """An async job ended with jobstatus 2; errortext is CloudStack's own from the jobresult."""

    def __init__(self, command: str, jobid: str, errorcode: int, errortext: str,
                 resource_id: str | None = None):
        super().__init__(command, errorcode, errortext,
                         message=f"CloudStack job {jobid} ({command}) failed: {errortext} "
                                 f"(error {errorcode})")
        self.jobid = jobid
        # What the job was about (the new volume/VM/snapshot id), so a caller can clean up.
        self.resource_id = resource_id


class CloudStackJobTimeoutError(CloudStackError):
    """An async job was still pending after the client's job timeout."""

    def __init__(self, command: str, jobid: str, timeout: float, resource_id: str | None = None):
        super().__init__(f"CloudStack job {jobid} ({command}) did not finish within "
                         f"{timeout:g} s; it may still complete", command=command)
        self.jobid = jobid
        self.timeout = timeout
        self.resource_id = resource_id


class CloudStackUnreachableError(CloudStackError):
    """No HTTP answer at all: connection refused, name not resolved, TLS failure, timeout."""

    def __init__(self, api_url: str, reason: str, command: str | None = None):
        super().__init__(f"Cannot reach CloudStack at {api_url}: {reason}", command=command)
        self.api_url = api_url
        self.reason = reason


class CloudStackBadResponseError(CloudStackError):
    """Something answered, but not the CloudStack API (HTML page, proxy error, broken JSON)."""

    def __init__(self, api_url: str, detail: str, status: int | None = None,
                 command: str | None = None):
        super().__init__(f"{api_url} did not answer like the CloudStack API ({detail}); check that "
                         "the API URL is right, it usually ends with /client/api", command=command)
        self.api_url = api_url
        self.status = status


class CloudStackDeviceError(CloudStackError):
    """The job succeeded but the guest device did not (dis)appear in time."""

    def __init__(self, message: str, *, volume_id: str, device_path: Path):
        super().__init__(message)
        self.volume_id = volume_id
        self.device_path = device_path


class OmaVmDetectionError(CloudStackError):
    """The control plane's own VM could not be identified among CloudStack's VMs."""


# -- helpers -----------------------------------------------------------------------------------


def virtio_serial(volume_id: str) -> str:
    """The serial KVM gives a CloudStack volume's disk: UUID without dashes, first 20 chars."""
    return volume_id.replace("-", "")[:20]


def volume_device_path(volume_id: str, dev_root: str | Path = PRODUCTION_DEV_ROOT) -> Path:
    """Where the control plane sees an attached volume: <dev_root>/disk/by-id/virtio-<serial>."""
    return Path(dev_root) / "disk" / "by-id" / f"virtio-{virtio_serial(volume_id)}"


def size_bytes_to_gb(size_bytes: int) -> int:
    """CloudStack sizes custom volumes in whole GB (GiB); round up so the source always fits."""
    return max(1, math.ceil(size_bytes / GiB))


def volume_name_for_disk(vm_name: str, disk_unit: int | str) -> str:
    """`migration-<vm>-disk-<unit>`, limited to characters every CloudStack version signs alike."""
    safe_vm = re.sub(r"[^A-Za-z0-9._-]+", "-", vm_name).strip("-") or "vm"
    return f"migration-{safe_vm}-disk-{disk_unit}"


def local_macs(sys_class_net: str | Path = "/sys/class/net") -> set[str]:
    """MAC addresses of this host's interfaces (loopback's all-zero address left out)."""
    macs = set()
    for address in Path(sys_class_net).glob("*/address"):
        try:
            mac = address.read_text().strip().lower()
        except OSError:
            continue
        if mac and mac != "00:00:00:00:00:00":
            macs.add(mac)
    return macs


@dataclass(frozen=True)
class AttachedVolume:
    volume: dict
    device_id: int
    device_path: Path


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (certificate or protocol)"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return "no answer within the request timeout"
    if "Name or service not known" in text or "Failed to resolve" in text or \
            "NameResolutionError" in text or "nodename nor servname" in text:
        return "host name does not resolve"
    if "Connection refused" in text:
        return "connection refused (nothing listens on that port)"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text.lower():
        return "the server closed the connection without answering"
    return "network error"


# -- the client --------------------------------------------------------------------------------


class CloudStackClient:
    """A signed-request client for one CloudStack endpoint.

    Lists are fetched whole (paged) and retried on connection errors; async commands are polled
    until their job ends or `job_timeout` passes. Methods return CloudStack's own JSON objects.
    """

    def __init__(self, api_url: str, api_key: str, secret_key: str, *,
                 timeout: float = DEFAULT_TIMEOUT, job_timeout: float = DEFAULT_JOB_TIMEOUT,
                 poll_interval: float = DEFAULT_POLL_INTERVAL, retries: int = DEFAULT_RETRIES,
                 verify_tls: bool = True):
        self.api_url = api_url
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval
        # POST: the signed parameters travel in the body, so no proxy or urllib3 debug log
        # line ever holds the signature. cs wants whole seconds.
        self._cs = CloudStack(endpoint=api_url, key=api_key, secret=secret_key,
                              timeout=max(1, math.ceil(timeout)), method="post",
                              retry=retries, retry_backoff=0.5,
                              dangerous_no_tls_verify=not verify_tls)

    def __repr__(self) -> str:
        return f"<CloudStackClient {self.api_url}>"

    # -- the wire -----------------------------------------------------------------------------

    def call(self, command: str, **params: Any) -> Any:
        """One API call; CloudStack's answer (the object under `<command>response`)."""
        for name, value in params.items():
            if isinstance(value, str) and "~" in value:
                # cs leaves '~' raw when signing, CloudStack's Java encoder does not: the
                # server would answer 401. Refuse early with the real reason.
                raise CloudStackError(f"Parameter {name} of {command} contains '~', which cannot "
                                      "be signed compatibly with CloudStack; remove it",
                                      command=command)
        started = time.monotonic()
        try:
            answer = getattr(self._cs, command)(**params)
        except CloudStackApiException as exc:
            raise self._api_error(command, exc) from None
        except CloudStackException as exc:
            raise self._bad_response(command, exc) from None
        except requests.exceptions.InvalidURL:
            raise CloudStackUnreachableError(self.api_url, "not a valid http(s) URL",
                                             command) from None
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise CloudStackUnreachableError(self.api_url, "the URL must start with http:// or "
                                             "https://", command) from None
        except requests.exceptions.RequestException as exc:
            log.warning("cloudstack.unreachable command=%s url=%s", command, self.api_url)
            raise CloudStackUnreachableError(self.api_url, _connection_reason(exc),
                                             command) from None
        log.debug("cloudstack.call command=%s ms=%d", command,
                  (time.monotonic() - started) * 1000)
        return answer

    def _api_error(self, command: str, exc: CloudStackApiException) -> CloudStackError:
        body = exc.error if isinstance(exc.error, dict) else {}
        status = getattr(exc.response, "status_code", None)
        code = int(body.get("errorcode") or status or 0)
        text = str(body.get("errortext") or exc)
        log.warning("cloudstack.error command=%s errorcode=%s errortext=%r", command, code, text)
        if code == 401 or status == 401:
            return CloudStackAuthError(
                f"CloudStack rejected the credentials for {command}: {text}. Check the API key "
                "and secret key (and this host's clock: signed requests expire)", command=command)
        if code == 431 and _UNKNOWN_ID in text:
            # The dispatcher's answer to an id it does not know: "already gone" for cleanups.
            return CloudStackNotFoundError(command, code, text, body.get("cserrorcode"))
        return CloudStackAPIError(command, code, text, body.get("cserrorcode"))

    def _bad_response(self, command: str, exc: CloudStackException) -> CloudStackError:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        ctype = response.headers.get("Content-Type", "no content type") if response is not None \
            else "no response"
        log.warning("cloudstack.bad_response command=%s status=%s", command, status)
        return CloudStackBadResponseError(self.api_url, f"HTTP {status}, {ctype}", status, command)

    def list_all(self, command: str, **params: Any) -> list[dict]:
        """A list command, every page; [] when CloudStack answers with an empty object."""
        return self.call(command, fetch_list=True, **params)

    def submit(self, command: str, **params: Any) -> dict:
        """Start an async command; CloudStack's immediate answer: {"jobid"} (+ "id" on creates)."""
        return self.call(command, **params)

    def wait_for_job(self, jobid: str, *, command: str = "async job",
                     resource_id: str | None = None, timeout: float | None = None) -> dict:
        """Poll queryAsyncJobResult until the job ends; its jobresult on success."""
        timeout = self.job_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            job = self.call("queryAsyncJobResult", jobid=jobid)
            status = int(job.get("jobstatus", JOB_PENDING))
            if status == JOB_SUCCEEDED:
                return job.get("jobresult") or {}
            if status == JOB_FAILED:
                result = job.get("jobresult") or {}
                raise CloudStackJobError(command, jobid,
                                         int(result.get("errorcode") or job.get("jobresultcode") or 530),
                                         str(result.get("errortext") or "no error text given"),
                                         resource_id)
            if time.monotonic() + self.poll_interval > deadline:
                raise CloudStackJobTimeoutError(command, jobid, timeout, resource_id)
            time.sleep(self.poll_interval)

    def run_job(self, command: str, result_key: str | None, **params: Any) -> Any:
        """Submit, wait, and return jobresult[result_key] (the whole jobresult when None)."""
        started = time.monotonic()
        answer = self.submit(command, **params)
        if not isinstance(answer, dict) or "jobid" not in answer:
            raise CloudStackBadResponseError(self.api_url, f"{command} answered without a jobid",
                                             command=command)
        result = self.wait_for_job(answer["jobid"], command=command,
                                   resource_id=answer.get("id") or params.get("id"))
        log.info("cloudstack.job command=%s jobid=%s ms=%d", command, answer["jobid"],
                 (time.monotonic() - started) * 1000)
        return result.get(result_key) if result_key else result

    def _get_one(self, command: str, what: str, ident: str, **params: Any) -> dict:
        items = self.list_all(command, **params)
        if not items:
            raise CloudStackNotFoundError(command, 431, f"{what} {ident} not found",
                                          message=f"CloudStack has no {what} {ident}")
        return items[0]

    # -- inventory ----------------------------------------------------------------------------

    def list_zones(self, *, name: str | None = None) -> list[dict]:
        return self.list_all("listZones", name=name)

    def find_zone(self, zone: str) -> dict:
        """A zone by name or id."""
        zones = self.list_zones()
        for z in zones:
            if zone in (z["id"], z["name"]):
                return z
        names = ", ".join(z["name"] for z in zones) or "none"
        raise CloudStackNotFoundError("listZones", 431, f"zone {zone} not found",
                                      message=f"CloudStack has no zone {zone!r} (zones: {names})")

    def list_networks(self, *, zone_id: str | None = None) -> list[dict]:
        return self.list_all("listNetworks", zoneid=zone_id, listall=True)

    def list_service_offerings(self) -> list[dict]:
        return self.list_all("listServiceOfferings")

    def list_disk_offerings(self) -> list[dict]:
        return self.list_all("listDiskOfferings")

    def list_templates(self, *, zone_id: str | None = None,
                       template_filter: str = "executable") -> list[dict]:
        return self.list_all("listTemplates", templatefilter=template_filter, zoneid=zone_id)

    def custom_disk_offering(self) -> dict:
        """The disk offering that takes a size: what replicated volumes are made from."""
        for offering in self.list_disk_offerings():
            if offering.get("iscustomized"):
                return offering
        raise CloudStackNotFoundError("listDiskOfferings", 431, "no customized disk offering",
                                      message="CloudStack has no disk offering with a custom "
                                              "size; create one for replicated volumes")

    # -- virtual machines ---------------------------------------------------------------------

    def list_virtual_machines(self, *, zone_id: str | None = None, name: str | None = None,
                              state: str | None = None) -> list[dict]:
        return self.list_all("listVirtualMachines", zoneid=zone_id, name=name, state=state,
                         listall=True)

    def get_vm(self, vm_id: str) -> dict:
        return self._get_one("listVirtualMachines", "VM", vm_id, id=vm_id, listall=True)

    def list_nics(self, vm_id: str) -> list[dict]:
        return self.list_all("listNics", virtualmachineid=vm_id)

    def deploy_virtual_machine(self, *, zone_id: str, service_offering_id: str,
                               template_id: str, network_ids: Iterable[str] = (),
                               name: str | None = None, display_name: str | None = None,
                               start: bool = False, cpu_number: int | None = None,
                               memory_mb: int | None = None, cpu_speed: int | None = None,
                               root_disk_size_gb: int | None = None) -> dict:
        """Deploy a VM (stopped by default). cpu_number/memory_mb are for a customized offering."""
        details = {k: v for k, v in (("cpuNumber", cpu_number), ("memory", memory_mb),
                                     ("cpuSpeed", cpu_speed)) if v is not None}
        return self.run_job("deployVirtualMachine", "virtualmachine", zoneid=zone_id,
                            serviceofferingid=service_offering_id, templateid=template_id,
                            networkids=list(network_ids), name=name, displayname=display_name,
                            startvm=start, details=details or None,
                            rootdisksize=root_disk_size_gb)

    def start_virtual_machine(self, vm_id: str) -> dict:
        return self.run_job("startVirtualMachine", "virtualmachine", id=vm_id)

    def stop_virtual_machine(self, vm_id: str, *, forced: bool = False) -> dict:
        return self.run_job("stopVirtualMachine", "virtualmachine", id=vm_id, forced=forced)

    def destroy_virtual_machine(self, vm_id: str, *, expunge: bool = True) -> None:
        """Destroy (and by default expunge) a VM; its data volumes are detached, not deleted."""
        self.run_job("destroyVirtualMachine", None, id=vm_id, expunge=expunge)

    def create_vm_snapshot(self, vm_id: str, *, name: str | None = None,
                           memory: bool = False) -> dict:
        return self.run_job("createVMSnapshot", "vmsnapshot", virtualmachineid=vm_id, name=name,
                            snapshotmemory=memory)

    def list_vm_snapshots(self, *, vm_id: str | None = None) -> list[dict]:
        return self.list_all("listVMSnapshot", virtualmachineid=vm_id, listall=True)

    def delete_vm_snapshot(self, vm_snapshot_id: str) -> None:
        self.run_job("deleteVMSnapshot", None, vmsnapshotid=vm_snapshot_id)

    # -- volumes ------------------------------------------------------------------------------

    def list_volumes(self, *, vm_id: str | None = None, volume_type: str | None = None,
                     name: str | None = None, zone_id: str | None = None) -> list[dict]:
        return self.list_all("listVolumes", virtualmachineid=vm_id, type=volume_type, name=name,
                         zoneid=zone_id, listall=True)

    def get_volume(self, volume_id: str) -> dict:
        return self._get_one("listVolumes", "volume", volume_id, id=volume_id, listall=True)

    def create_volume(self, *, name: str, zone_id: str, disk_offering_id: str,
                      size_gb: int | None = None) -> dict:
        """Create a data volume (state Allocated until first attached); the volume object."""
        return self.run_job("createVolume", "volume", name=name, zoneid=zone_id,
                            diskofferingid=disk_offering_id, size=size_gb)

    def create_volume_from_snapshot(self, *, snapshot_id: str, name: str) -> dict:
        """A new volume holding a snapshot's data (Ready at once), e.g. to boot a test VM from."""
        return self.run_job("createVolume", "volume", snapshotid=snapshot_id, name=name)

    def create_volume_for_disk(self, *, vm_name: str, disk_unit: int | str, size_bytes: int,
                               zone_id: str, name: str | None = None) -> dict:
        """A replication target: customized offering, size rounded up to whole GB."""
        offering = self.custom_disk_offering()
        return self.create_volume(name=name or volume_name_for_disk(vm_name, disk_unit),
                                  zone_id=zone_id, disk_offering_id=offering["id"],
                                  size_gb=size_bytes_to_gb(size_bytes))

    def attach_volume(self, volume_id: str, vm_id: str, *, device_id: int | None = None) -> dict:
        return self.run_job("attachVolume", "volume", id=volume_id, virtualmachineid=vm_id,
                            deviceid=device_id)

    def detach_volume(self, volume_id: str | None = None, *, vm_id: str | None = None,
                      device_id: int | None = None) -> dict:
        """Detach by volume id, or by (vm_id, device_id)."""
        return self.run_job("detachVolume", "volume", id=volume_id, virtualmachineid=vm_id,
                            deviceid=device_id)

    def delete_volume(self, volume_id: str) -> None:
        """Synchronous in CloudStack; refused (431) while the volume is attached."""
        self.call("deleteVolume", id=volume_id)

    def resize_volume(self, volume_id: str, size_gb: int, *, shrink_ok: bool = False) -> dict:
        return self.run_job("resizeVolume", "volume", id=volume_id, size=size_gb,
                            shrinkok=shrink_ok)

    def create_snapshot(self, volume_id: str, *, name: str | None = None) -> dict:
        return self.run_job("createSnapshot", "snapshot", volumeid=volume_id, name=name)

    def list_snapshots(self, *, volume_id: str | None = None,
                       snapshot_id: str | None = None) -> list[dict]:
        return self.list_all("listSnapshots", volumeid=volume_id, id=snapshot_id, listall=True)

    def revert_snapshot(self, snapshot_id: str) -> dict:
        """Volume back to the snapshot; CloudStack wants it Ready and its VM (if any) stopped."""
        return self.run_job("revertSnapshot", "snapshot", id=snapshot_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.run_job("deleteSnapshot", None, id=snapshot_id)

    def list_async_jobs(self) -> list[dict]:
        return self.list_all("listAsyncJobs", listall=True)

    # -- what replication and failover do -----------------------------------------------------

    def attach_to_oma(self, volume_id: str, oma_vm_id: str, *,
                      dev_root: str | Path = PRODUCTION_DEV_ROOT,
                      device_timeout: float = DEFAULT_DEVICE_TIMEOUT) -> AttachedVolume:
        """Attach to the control plane's VM; return once the job succeeded and the device exists.

        If the device never appears the volume is detached again, so nothing is left half-done.
        """
        volume = self.attach_volume(volume_id, oma_vm_id)
        path = volume_device_path(volume_id, dev_root)
        if not _wait_for_path(path, present=True, timeout=device_timeout):
            try:
                self.detach_volume(volume_id)
                undone = "it was detached again"
            except CloudStackError as exc:
                log.warning("cloudstack.detach_after_missing_device volume=%s error=%s",
                            volume_id, exc)
                undone = f"detaching it again failed too: {exc}"
            raise CloudStackDeviceError(
                f"Volume {volume_id} was attached to VM {oma_vm_id} (device id "
                f"{volume.get('deviceid')}) but {path} did not appear within {device_timeout:g} s"
                f" ({undone}); is that VM really this host?", volume_id=volume_id, device_path=path)
        return AttachedVolume(volume, int(volume["deviceid"]), path)

    def detach_from_oma(self, volume_id: str, *, dev_root: str | Path = PRODUCTION_DEV_ROOT,
                        device_timeout: float = DEFAULT_DEVICE_TIMEOUT) -> dict:
        """Detach from the control plane's VM; return once the device is gone.

        Idempotent, for rollbacks: a volume that is already detached only has its device waited on.
        """
        try:
            volume = self.detach_volume(volume_id)
        except CloudStackJobError as exc:
            if exc.errortext != _NOT_ATTACHED:
                raise
            volume = self.get_volume(volume_id)
        path = volume_device_path(volume_id, dev_root)
        if not _wait_for_path(path, present=False, timeout=device_timeout):
            raise CloudStackDeviceError(
                f"Volume {volume_id} is detached in CloudStack but {path} is still present "
                f"after {device_timeout:g} s", volume_id=volume_id, device_path=path)
        return volume

    def replace_root_volume(self, vm_id: str, volume_id: str, *, delete_old: bool = True) -> dict:
        """Give a stopped VM `volume_id` as its root disk (device id 0).

        CloudStack (KVM, VMware, XenServer) allows detaching a stopped VM's ROOT volume and
        attaching another volume at device id 0, which makes it the VM's ROOT. If attaching the
        new root fails, the old one is put back before the error is raised.
        """
        roots = [v for v in self.list_volumes(vm_id=vm_id) if v.get("deviceid") == 0]
        old = roots[0] if roots else None
        if old is not None:
            self.detach_volume(old["id"])
        try:
            new_root = self.attach_volume(volume_id, vm_id, device_id=0)
        except CloudStackError:
            if old is not None:
                self.attach_volume(old["id"], vm_id, device_id=0)
            raise
        if old is not None and delete_old:
            self.delete_volume(old["id"])
        return new_root

    def discover_all(self, *, zone: str | None = None, oma_macs: Iterable[str] | None = None,
                     oma_vm_id: str | None = None) -> dict:
        """Everything the settings screen offers: zones, networks, offerings, templates, OMA VM."""
        zones = self.list_zones()
        zone_id = self.find_zone(zone)["id"] if zone else None
        try:
            oma_vm, oma_error = detect_oma_vm(self, macs=oma_macs, vm_id=oma_vm_id), None
        except OmaVmDetectionError as exc:
            oma_vm, oma_error = None, str(exc)
        return {
            "zones": zones,
            "networks": self.list_networks(zone_id=zone_id),
            "service_offerings": self.list_service_offerings(),
            "disk_offerings": self.list_disk_offerings(),
            "templates": self.list_templates(zone_id=zone_id),
            "oma_vm": oma_vm,
            "oma_vm_error": oma_error,
        }


def _wait_for_path(path: Path, *, present: bool, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        # "Gone" means no link at all: a dangling by-id link still means the disk is there.
        if (path.exists() if present else not path.is_symlink() and not path.exists()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def detect_oma_vm(client: CloudStackClient, macs: Iterable[str] | None = None,
                  vm_id: str | None = None) -> dict:
    """The control plane's own VM: the configured id, else the VM whose NIC MACs are this host's."""
    if vm_id:
        try:
            return client.get_vm(vm_id)
        except CloudStackNotFoundError:
            raise OmaVmDetectionError(f"The configured control-plane VM {vm_id} does not exist "
                                      "in CloudStack") from None
    wanted = {m.lower() for m in (local_macs() if macs is None else macs)}
    if not wanted:
        raise OmaVmDetectionError("This host has no network interface MAC address to match")
    # A destroyed VM may still list the MACs it had; only a live one can be this host.
    found = [vm for vm in client.list_virtual_machines()
             if vm.get("state") not in ("Destroyed", "Expunging", "Error")
             and wanted & {nic.get("macaddress", "").lower() for nic in vm.get("nic", [])}]
    if not found:
        raise OmaVmDetectionError("No CloudStack VM has a NIC with this host's MAC addresses ("
                                  + ", ".join(sorted(wanted)) + "); set the control-plane VM id")
    if len(found) > 1:
        raise OmaVmDetectionError("Several CloudStack VMs share this host's MAC addresses ("
                                  + ", ".join(vm["name"] for vm in found)
                                  + "); set the control-plane VM id")
    return found[0]


def test_connection(api_url: str, api_key: str, secret_key: str, zone: str | None = None, *,
                    timeout: float = 10) -> dict:
    """The `test` action of /ossea/config (seed 001's `details`).

    A CloudStackError (auth, unreachable, bad response, ...) when the API cannot be used;
    `zone_verified` is the zone's name when `zone` (a name or id) exists, else None.
    """
    client = CloudStackClient(api_url, api_key, secret_key, timeout=timeout, retries=0)
    zones = client.list_zones()
    match = next((z for z in zones if zone in (z["id"], z["name"])), None) if zone else None
    return {"zones_found": len(zones), "zone_verified": match["name"] if match else None,
            "api_accessible": True}


test_connection.__test__ = False  # a product function, not a pytest test, despite its name
