"""The vCenter provider: the only module of the agent that touches pyvmomi.

`VSphereSource` opens one session, keeps it alive and logs in again when vCenter says
`NotAuthenticated` (replication jobs outlive idle sessions). Inventory is read with property
collectors (a container view traversal, paged with ContinueRetrievePropertiesEx), never one
round trip per property, so 1,000 VMs take seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Self, TypeVar

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from agent.errors import VCenterError, VCenterNotFound

log = logging.getLogger("agent.vsphere")

T = TypeVar("T")

# Every snapshot the agent makes is named SNAPSHOT_PREFIX + job id, so cleanup finds exactly its own.
SNAPSHOT_PREFIX = "vma-"
PAGE_SIZE = 500

VM_PROPERTIES = [
    "name",
    "parent",
    "parentVApp",
    "config.template",
    "config.instanceUuid",
    "config.uuid",
    "config.guestId",
    "config.guestFullName",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.firmware",
    "config.changeTrackingEnabled",
    "runtime.powerState",
    "snapshot",
]

_CONTROLLER_TYPES = {
    "ParaVirtualSCSIController": "pvscsi",
    "VirtualLsiLogicController": "lsilogic",
    "VirtualLsiLogicSASController": "lsilogic-sas",
    "VirtualBusLogicController": "buslogic",
    "VirtualAHCIController": "sata",
    "VirtualIDEController": "ide",
    "VirtualNVMEController": "nvme",
}

# Faults that mean "try again later" rather than "your request is wrong".
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ssl.SSLError)


def snapshot_name(job_id: str) -> str:
    return f"{SNAPSHOT_PREFIX}{job_id}"


def normalize_thumbprint(thumbprint: str) -> str:
    """Lower-case hex without separators; SHA-1, SHA-256 or SHA-512 length."""
    text = thumbprint.replace(":", "").replace(" ", "").lower()
    if len(text) not in _PIN_HASHES or any(ch not in "0123456789abcdef" for ch in text):
        raise ValueError("thumbprint must be a SHA-1, SHA-256 or SHA-512 hex digest")
    return text


_PIN_HASHES = {40: "sha1", 64: "sha256", 128: "sha512"}


class ThumbprintMismatch(ssl.SSLError):
    def __init__(self, actual: str):
        super().__init__("server certificate does not match the pinned thumbprint")
        self.actual = actual


class PinnedTLSContext(ssl.SSLContext):
    """A TLS client context that trusts exactly one certificate, named by its thumbprint.

    Every new connection is checked (pyvmomi's own pinning checks only the first one and then
    leaves its shared context unverified), so a self-signed vCenter or vcsim is safe to use.
    """

    def __new__(cls, thumbprint: str) -> Self:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, thumbprint: str):
        self.pin = normalize_thumbprint(thumbprint)
        self.check_hostname = False
        self.verify_mode = ssl.CERT_NONE

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        tls = super().wrap_socket(*args, **kwargs)
        der = tls.getpeercert(binary_form=True) or b""
        actual = hashlib.new(_PIN_HASHES[len(self.pin)], der).hexdigest()
        if not hmac.compare_digest(actual, self.pin):
            tls.close()
            raise ThumbprintMismatch(":".join(actual[i:i + 2] for i in range(0, len(actual), 2)).upper())
        return tls


@dataclass(frozen=True)
class VCenterEndpoint:
    """Where and how to log in. `password` never appears in repr or logs."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int = 443
    path: str = "/sdk"
    thumbprint: str = ""
    ca_file: str = ""
    timeout: float = 30.0

    @classmethod
    def parse(cls, vcenter: str, username: str, password: str, *, thumbprint: str = "",
              ca_file: str = "", timeout: float = 30.0) -> VCenterEndpoint:
        """Accepts "host", "host:port" or "https://host:port/sdk"."""
        text = vcenter.strip()
        if not text:
            raise ValueError("vcenter must not be empty")
        if "://" not in text:
            text = "https://" + text
        parsed = urllib.parse.urlsplit(text)
        if parsed.scheme != "https":
            raise ValueError("vcenter must be reached over https")
        if not parsed.hostname:
            raise ValueError(f"vcenter {vcenter!r} has no host name")
        try:
            port = parsed.port or 443
        except ValueError as exc:
            raise ValueError(f"vcenter {vcenter!r} has an invalid port") from exc
        if thumbprint:
            normalize_thumbprint(thumbprint)
        return cls(host=parsed.hostname, port=port, path=parsed.path or "/sdk",
                   username=username, password=password, thumbprint=thumbprint,
                   ca_file=ca_file, timeout=timeout)

    @property
    def display(self) -> str:
        return self.host if self.port == 443 else f"{self.host}:{self.port}"


@dataclass
class DiskInfo:
    key: int
    id: str
    label: str
    controller_key: int | None
    controller_type: str
    bus_number: int | None
    unit_number: int | None
    capacity_bytes: int
    size_gb: float
    datastore: str
    path: str
    thin_provisioned: bool | None
    cbt_enabled: bool
    change_id: str | None = None


@dataclass
class NicInfo:
    key: int
    label: str
    network: str
    mac_address: str
    adapter_type: str
    connected: bool | None


@dataclass
class SnapshotInfo:
    id: str
    name: str
    description: str
    created_at: str | None
    power_state: str | None
    quiesced: bool


@dataclass
class VmInfo:
    id: str
    name: str
    path: str
    uuid: str | None
    bios_uuid: str | None
    power_state: str | None
    guest_os: str | None
    guest_os_name: str | None
    num_cpu: int | None
    memory_mb: int | None
    firmware: str | None
    cbt_enabled: bool
    disks: list[DiskInfo]
    nics: list[NicInfo]
    snapshots: list[SnapshotInfo]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChangedArea:
    start: int
    length: int


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _escape_name(name: str) -> str:
    # Inventory paths escape '/', '\' and '%' inside names the way vSphere does.
    return name.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def _type_name(obj: Any) -> str:
    return type(obj).__name__.rsplit(".", 1)[-1]


def datastore_of(file_name: str) -> tuple[str, str]:
    """Split "[datastore1] dir/vm.vmdk" into ("datastore1", "dir/vm.vmdk")."""
    text = file_name.strip()
    if text.startswith("["):
        end = text.find("]")
        if end > 0:
            return text[1:end], text[end + 1:].strip()
    return "", text


def disk_id_for(unit_number: int | None, key: int) -> str:
    return f"disk-{unit_number}" if unit_number is not None else f"disk-key{key}"


def _fault_text(exc: BaseException) -> str:
    msg = getattr(exc, "msg", None) or str(exc) or ""
    name = _type_name(exc)
    return f"{name}: {msg}" if msg and msg != name else name


class VSphereSource:
    """A logged-in vCenter session with the operations discovery and replication need."""

    def __init__(self, endpoint: VCenterEndpoint, *, keepalive_seconds: float = 600.0):
        self.endpoint = endpoint
        self.keepalive_seconds = keepalive_seconds
        self._si: Any = None
        self._content: Any = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._keepalive: threading.Thread | None = None
        self.relogins = 0

    # -- session -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        """Log in; raises VCenterError with a clear reason (credentials, TLS, unreachable)."""
        ep = self.endpoint
        kwargs: dict[str, Any] = {
            "host": ep.host, "port": ep.port, "path": ep.path,
            "user": ep.username, "pwd": ep.password,
            "httpConnectionTimeout": ep.timeout,
        }
        # Always an explicit context: pyvmomi would otherwise skip verification for localhost.
        if ep.thumbprint:
            kwargs["sslContext"] = PinnedTLSContext(ep.thumbprint)
        else:
            try:
                kwargs["sslContext"] = ssl.create_default_context(cafile=ep.ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise VCenterError(f"cannot load vCenter CA file {ep.ca_file}: {exc}") from exc
        try:
            self._probe(kwargs["sslContext"])
            self._si = SmartConnect(**kwargs)
            self._content = self._si.RetrieveContent()
        except vim.fault.InvalidLogin as exc:
            raise VCenterError(
                f"vCenter {ep.display} rejected the login of user {ep.username!r}: invalid credentials"
            ) from exc
        except vmodl.MethodFault as exc:
            raise VCenterError(f"vCenter {ep.display} refused the login: {_fault_text(exc)}") from exc
        except ThumbprintMismatch as exc:
            raise VCenterError(f"vCenter {ep.display} TLS certificate does not match the pinned thumbprint "
                               f"(server presents {exc.actual})") from exc
        except ssl.SSLCertVerificationError as exc:
            raise VCenterError(
                f"vCenter {ep.display} TLS certificate is not trusted ({exc.verify_message}); "
                "configure vcenter.thumbprint or vcenter.ca_file"
            ) from exc
        except TimeoutError as exc:
            raise VCenterError(f"vCenter {ep.display} unreachable: timed out after {ep.timeout:g}s") from exc
        except _NETWORK_ERRORS as exc:
            raise VCenterError(f"vCenter {ep.display} unreachable: {exc}") from exc
        except Exception as exc:  # pyvmomi raises bare Exception for unexpected answers
            raise VCenterError(f"vCenter {ep.display} connection failed: {_type_name(exc)}: {exc}") from exc
        log.info("vcenter login host=%s user=%s", ep.display, ep.username)
        if self.keepalive_seconds > 0:
            self._stop.clear()
            self._keepalive = threading.Thread(target=self._keepalive_loop, name="vcenter-keepalive",
                                               daemon=True)
            self._keepalive.start()

    def _probe(self, context: ssl.SSLContext) -> None:
        """Reach vCenter once with our timeout: SmartConnect's API-version probe has none and
        would hang forever on a server that accepts the connection but never answers."""
        ep = self.endpoint
        conn = http.client.HTTPSConnection(ep.host, ep.port, timeout=ep.timeout, context=context)
        try:
            conn.request("GET", ep.path.rstrip("/") + "/vimServiceVersions.xml")
            conn.getresponse().read()
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        si, self._si, self._content = self._si, None, None
        if si is not None:
            try:
                Disconnect(si)
            except (vmodl.MethodFault, *_NETWORK_ERRORS):
                log.debug("vcenter logout failed host=%s", self.endpoint.display)

    @property
    def content(self) -> Any:
        if self._content is None:
            raise VCenterError(f"not connected to vCenter {self.endpoint.display}")
        return self._content

    def _keepalive_loop(self) -> None:
        # A cheap call well inside vCenter's idle timeout keeps long copies from losing the session.
        while not self._stop.wait(self.keepalive_seconds):
            try:
                self.call(lambda: self._si.CurrentTime())
            except VCenterError as exc:
                log.warning("vcenter keepalive failed host=%s error=%s", self.endpoint.display, exc)

    def _relogin(self) -> None:
        with self._lock:
            ep = self.endpoint
            # Login on the same stub keeps every managed object reference we hold usable.
            self._content.sessionManager.Login(ep.username, ep.password)
            self.relogins += 1
            log.info("vcenter session renewed host=%s user=%s", ep.display, ep.username)

    def call(self, fn: Callable[[], T], what: str = "vCenter call") -> T:
        """Run one vCenter call; log in again once on NotAuthenticated; map faults to VCenterError."""
        if self._si is None:
            raise VCenterError(f"not connected to vCenter {self.endpoint.display}")
        for attempt in (1, 2):
            try:
                return fn()
            except vim.fault.NotAuthenticated as exc:
                if attempt == 2:
                    raise VCenterError(f"{what} failed: session not authenticated after re-login") from exc
                try:
                    self._relogin()
                except vim.fault.InvalidLogin as login_exc:
                    raise VCenterError(
                        f"vCenter {self.endpoint.display} session expired and re-login was rejected"
                    ) from login_exc
            except vmodl.MethodFault as exc:
                raise VCenterError(f"{what} failed: {_fault_text(exc)}") from exc
            except TimeoutError as exc:
                raise VCenterError(f"{what} failed: vCenter {self.endpoint.display} timed out") from exc
            except _NETWORK_ERRORS as exc:
                raise VCenterError(f"{what} failed: vCenter {self.endpoint.display} unreachable: {exc}") from exc
        raise AssertionError("unreachable")

    def current_session_key(self) -> str:
        return self.call(lambda: self.content.sessionManager.currentSession.key)

    # -- property collector --------------------------------------------------------------

    def _retrieve(self, container: Any, types: list[Any], props: dict[Any, list[str]],
                  recursive: bool = True) -> list[tuple[Any, dict[str, Any]]]:
        """All objects of `types` under `container` with the given properties, page by page."""
        pc_mod = vmodl.query.PropertyCollector
        content = self.content
        view = self.call(lambda: content.viewManager.CreateContainerView(container, types, recursive),
                         "CreateContainerView")
        try:
            traversal = pc_mod.TraversalSpec(name="traverseView", path="view", skip=False,
                                             type=vim.view.ContainerView)
            spec = pc_mod.FilterSpec(
                objectSet=[pc_mod.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
                propSet=[pc_mod.PropertySpec(type=t, pathSet=paths) for t, paths in props.items()],
            )
            options = pc_mod.RetrieveOptions(maxObjects=PAGE_SIZE)
            collector = content.propertyCollector
            result = self.call(lambda: collector.RetrievePropertiesEx([spec], options), "RetrievePropertiesEx")
            rows: list[tuple[Any, dict[str, Any]]] = []
            while result is not None:
                for obj in result.objects or []:
                    rows.append((obj.obj, {p.name: p.val for p in obj.propSet or []}))
                token = result.token
                if not token:
                    break
                result = self.call(lambda token=token: collector.ContinueRetrievePropertiesEx(token),
                                   "ContinueRetrievePropertiesEx")
            return rows
        finally:
            try:
                self.call(view.DestroyView, "DestroyView")
            except VCenterError:
                log.debug("container view cleanup failed")

    def _properties(self, obj: Any, paths: list[str]) -> dict[str, Any]:
        """Selected properties of one object in one round trip."""
        pc_mod = vmodl.query.PropertyCollector
        spec = pc_mod.FilterSpec(objectSet=[pc_mod.ObjectSpec(obj=obj, skip=False)],
                                 propSet=[pc_mod.PropertySpec(type=type(obj), pathSet=paths)])
        collector = self.content.propertyCollector
        result = self.call(lambda: collector.RetrievePropertiesEx([spec], pc_mod.RetrieveOptions()),
                           "RetrievePropertiesEx")
        if result is None or not result.objects:
            return {}
        return {p.name: p.val for p in result.objects[0].propSet or []}

    # -- inventory -----------------------------------------------------------------------

    def datacenters(self) -> list[tuple[Any, str]]:
        rows = self._retrieve(self.content.rootFolder, [vim.Datacenter], {vim.Datacenter: ["name"]})
        return [(obj, props.get("name", "")) for obj, props in rows]

    def find_datacenter(self, name: str | None) -> tuple[Any, str]:
        """The datacenter called `name`; with no name, the only one (or an error if several)."""
        found = self.datacenters()
        if name:
            for obj, dc_name in found:
                if dc_name == name:
                    return obj, dc_name
            known = ", ".join(sorted(n for _, n in found)) or "none"
            raise VCenterNotFound(f"datacenter {name!r} not found in vCenter {self.endpoint.display} "
                                  f"(known: {known})")
        if len(found) == 1:
            return found[0]
        raise VCenterNotFound("datacenter is required: vCenter has "
                              f"{len(found)} datacenters ({', '.join(sorted(n for _, n in found))})")

    def _folder_paths(self, datacenter: Any, dc_name: str) -> tuple[dict[str, str], Any]:
        """moref -> inventory path for every folder and vApp under the datacenter's VM folder."""
        vm_folder = self.call(lambda: datacenter.vmFolder, "Datacenter.vmFolder")
        rows = self._retrieve(vm_folder, [vim.Folder, vim.VirtualApp],
                              {vim.Folder: ["name", "parent"], vim.VirtualApp: ["name", "parent", "parentVApp"]})
        nodes = {obj._moId: props for obj, props in rows}
        paths: dict[str, str] = {vm_folder._moId: f"/{_escape_name(dc_name)}/vm"}

        def resolve(moid: str, depth: int = 0) -> str:
            if moid in paths:
                return paths[moid]
            props = nodes.get(moid)
            if props is None or depth > 64:
                return f"/{_escape_name(dc_name)}/vm"
            parent = props.get("parent") or props.get("parentVApp")
            base = resolve(parent._moId, depth + 1) if parent is not None else f"/{_escape_name(dc_name)}/vm"
            paths[moid] = f"{base}/{_escape_name(props.get('name', moid))}"
            return paths[moid]

        for moid in nodes:
            resolve(moid)
        return paths, vm_folder

    def _network_names(self, datacenter: Any) -> tuple[dict[str, str], dict[str, str]]:
        """(network moref -> name, distributed port group key -> name) for one datacenter."""
        net_folder = self.call(lambda: datacenter.networkFolder, "Datacenter.networkFolder")
        rows = self._retrieve(net_folder, [vim.Network],
                              {vim.Network: ["name"], vim.dvs.DistributedVirtualPortgroup: ["name", "key"]})
        by_moref = {obj._moId: props.get("name", "") for obj, props in rows}
        by_key = {props["key"]: props.get("name", "") for _, props in rows if "key" in props}
        return by_moref, by_key

    def list_vms(self, datacenter_name: str | None = None, name_filter: str | None = None) -> tuple[str, list[VmInfo]]:
        """Every VM (templates excluded) of one datacenter, optionally filtered by name.

        The filter is a case-insensitive substring, or a glob when it holds `*`, `?` or `[`.
        """
        datacenter, dc_name = self.find_datacenter(datacenter_name)
        folder_paths, vm_folder = self._folder_paths(datacenter, dc_name)
        networks, portgroups = self._network_names(datacenter)
        rows = self._retrieve(vm_folder, [vim.VirtualMachine], {vim.VirtualMachine: VM_PROPERTIES})
        match = _name_matcher(name_filter)
        vms = []
        for obj, props in rows:
            if props.get("config.template"):
                continue
            name = props.get("name", obj._moId)
            if not match(name):
                continue
            vms.append(self._vm_info(obj, props, dc_name, folder_paths, networks, portgroups))
        vms.sort(key=lambda v: v.path)
        return dc_name, vms

    def vm_info(self, vm: Any, datacenter_name: str | None = None) -> VmInfo:
        """The same rich record discovery returns, for one VM."""
        datacenter, dc_name = self.find_datacenter(datacenter_name)
        folder_paths, _ = self._folder_paths(datacenter, dc_name)
        networks, portgroups = self._network_names(datacenter)
        props = self._properties(vm, VM_PROPERTIES)
        return self._vm_info(vm, props, dc_name, folder_paths, networks, portgroups)

    def _vm_info(self, obj: Any, props: dict[str, Any], dc_name: str, folder_paths: dict[str, str],
                 networks: dict[str, str], portgroups: dict[str, str]) -> VmInfo:
        name = props.get("name", obj._moId)
        parent = props.get("parent") or props.get("parentVApp")
        base = folder_paths.get(parent._moId) if parent is not None else None
        path = f"{base or '/' + _escape_name(dc_name) + '/vm'}/{_escape_name(name)}"
        devices = props.get("config.hardware.device") or []
        cbt = bool(props.get("config.changeTrackingEnabled"))
        disks, nics = parse_devices(devices, cbt, networks, portgroups)
        return VmInfo(
            id=obj._moId,
            name=name,
            path=path,
            uuid=props.get("config.instanceUuid"),
            bios_uuid=props.get("config.uuid"),
            power_state=props.get("runtime.powerState"),
            guest_os=props.get("config.guestId"),
            guest_os_name=props.get("config.guestFullName"),
            num_cpu=props.get("config.hardware.numCPU"),
            memory_mb=props.get("config.hardware.memoryMB"),
            firmware=props.get("config.firmware"),
            cbt_enabled=cbt,
            disks=disks,
            nics=nics,
            snapshots=flatten_snapshots(props.get("snapshot")),
        )

    def find_vm(self, *, path: str | None = None, moref: str | None = None,
                datacenter_name: str | None = None) -> Any:
        """A VM by inventory path ("/DC/vm/folder/name") or by moref id ("vm-123")."""
        content = self.content
        if moref:
            vm = vim.VirtualMachine(moref, self._si._stub)
            try:
                self.call(lambda: vm.name, "VirtualMachine.name")
            except VCenterError as exc:
                raise VCenterNotFound(f"VM {moref!r} not found in vCenter {self.endpoint.display}") from exc
            return vm
        if not path:
            raise VCenterNotFound("a VM path or moref id is required")
        inventory_path = path.strip("/")
        vm = self.call(lambda: content.searchIndex.FindByInventoryPath(inventory_path), "FindByInventoryPath")
        if vm is None and datacenter_name and not inventory_path.startswith(f"{datacenter_name}/"):
            # Accept a path relative to the datacenter's VM folder too ("folder/name").
            candidate = f"{datacenter_name}/vm/{inventory_path}"
            vm = self.call(lambda: content.searchIndex.FindByInventoryPath(candidate), "FindByInventoryPath")
        if not isinstance(vm, vim.VirtualMachine):
            raise VCenterNotFound(f"VM {path!r} not found in vCenter {self.endpoint.display}")
        return vm

    # -- tasks, CBT and snapshots --------------------------------------------------------

    def wait_task(self, task: Any, what: str, timeout: float = 3600.0) -> Any:
        """Poll a vCenter task until it ends; its error becomes a VCenterError."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            # Only the fields we need: some servers put a non-entity in info.entity, which
            # pyvmomi refuses to deserialize.
            info = self._properties(task, ["info.state", "info.error", "info.result"])
            state = info.get("info.state")
            if state == vim.TaskInfo.State.success:
                return info.get("info.result")
            if state == vim.TaskInfo.State.error:
                error = info.get("info.error")
                raise VCenterError(f"{what} failed: {_fault_text(error) if error else 'unknown error'}")
            if time.monotonic() > deadline:
                raise VCenterError(f"{what} did not finish within {timeout:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def cbt_enabled(self, vm: Any) -> bool:
        return bool(self._properties(vm, ["config.changeTrackingEnabled"]).get("config.changeTrackingEnabled"))

    def enable_cbt(self, vm: Any) -> bool:
        """Turn on Changed Block Tracking; returns True when it was off.

        On real vSphere the setting takes effect at the VM's next stun/unstun cycle: the snapshot
        the replication creates right after is that cycle, so its change ids are usable.
        """
        if self.cbt_enabled(vm):
            return False
        spec = vim.vm.ConfigSpec(changeTrackingEnabled=True)
        task = self.call(lambda: vm.ReconfigVM_Task(spec=spec), "ReconfigVM_Task")
        self.wait_task(task, "enable CBT")
        log.info("cbt enabled vm=%s", vm._moId)
        return True

    def create_snapshot(self, vm: Any, name: str, description: str = "", quiesce: bool = True) -> tuple[Any, bool]:
        """Create a disk-only snapshot; quiesced when asked and possible. Returns (snapshot, quiesced)."""
        if quiesce:
            try:
                task = self.call(lambda: vm.CreateSnapshot_Task(name=name, description=description,
                                                                memory=False, quiesce=True),
                                 "CreateSnapshot_Task")
                return self.wait_task(task, "create quiesced snapshot"), True
            except VCenterError as exc:
                # No VMware Tools or a failing VSS writer: a crash-consistent snapshot still replicates.
                log.warning("quiesced snapshot failed, retrying without quiesce vm=%s error=%s", vm._moId, exc)
        task = self.call(lambda: vm.CreateSnapshot_Task(name=name, description=description,
                                                        memory=False, quiesce=False),
                         "CreateSnapshot_Task")
        return self.wait_task(task, "create snapshot"), False

    def snapshot_disks(self, snapshot: Any) -> list[DiskInfo]:
        """The VM's disks as frozen in the snapshot, each with its changeId and backing file."""
        props = self._properties(snapshot, ["config.hardware.device", "config.changeTrackingEnabled"])
        disks, _ = parse_devices(props.get("config.hardware.device") or [],
                                 bool(props.get("config.changeTrackingEnabled")), {}, {})
        return disks

    def query_changed_areas(self, vm: Any, snapshot: Any, device_key: int, capacity_bytes: int,
                            change_id: str = "*") -> list[ChangedArea]:
        """QueryChangedDiskAreas from offset 0 until the disk's capacity is covered.

        change_id "*" lists every allocated area (a full copy); a change id lists what changed since.
        """
        areas: list[ChangedArea] = []
        offset = 0
        while offset < capacity_bytes:
            info = self.call(lambda offset=offset: vm.QueryChangedDiskAreas(
                                 snapshot=snapshot, deviceKey=device_key, startOffset=offset, changeId=change_id),
                             "QueryChangedDiskAreas")
            for extent in info.changedArea or []:
                areas.append(ChangedArea(int(extent.start), int(extent.length)))
            next_offset = int(info.startOffset) + int(info.length)
            if next_offset <= offset:
                # A reply that does not advance would loop forever; vSphere always advances.
                break
            offset = next_offset
        return areas

    def remove_snapshot(self, snapshot: Any) -> None:
        task = self.call(lambda: snapshot.RemoveSnapshot_Task(removeChildren=False), "RemoveSnapshot_Task")
        self.wait_task(task, "remove snapshot")

    def snapshots_of(self, vm: Any) -> list[tuple[Any, SnapshotInfo]]:
        tree = self._properties(vm, ["snapshot"]).get("snapshot")
        return _snapshot_nodes(tree)

    def find_snapshots(self, job_id: str | None, vm: Any | None = None) -> list[tuple[Any, Any, SnapshotInfo]]:
        """Snapshots this agent made for `job_id` (every snapshot it made when None): on one VM,
        or on every VM of the vCenter. Returns (vm, snapshot, info) tuples."""
        if job_id is None:
            def wanted(name: str) -> bool:
                return name.startswith(SNAPSHOT_PREFIX)
        else:
            def wanted(name: str) -> bool:
                return name == snapshot_name(job_id)
        if vm is not None:
            return [(vm, snap, info) for snap, info in self.snapshots_of(vm) if wanted(info.name)]
        rows = self._retrieve(self.content.rootFolder, [vim.VirtualMachine], {vim.VirtualMachine: ["snapshot"]})
        found = []
        for obj, props in rows:
            for snap, info in _snapshot_nodes(props.get("snapshot")):
                if wanted(info.name):
                    found.append((obj, snap, info))
        return found

    def power_state(self, vm: Any) -> str:
        return str(self._properties(vm, ["runtime.powerState"]).get("runtime.powerState"))

    def power_off(self, vm: Any, timeout: float = 300.0) -> str:
        """Shut the guest down cleanly, powering off hard after `timeout` seconds.

        Returns "already_off", "guest_shutdown" or "powered_off".
        """
        if self.power_state(vm) == "poweredOff":
            return "already_off"
        try:
            self.call(vm.ShutdownGuest, "ShutdownGuest")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.power_state(vm) == "poweredOff":
                    log.info("guest shut down vm=%s", vm._moId)
                    return "guest_shutdown"
                time.sleep(min(2.0, max(0.05, timeout / 20)))
            log.warning("guest shutdown timed out, powering off vm=%s timeout=%s", vm._moId, timeout)
        except VCenterError as exc:
            log.warning("guest shutdown refused, powering off vm=%s error=%s", vm._moId, exc)
        if self.power_state(vm) == "poweredOff":
            return "guest_shutdown"
        task = self.call(vm.PowerOffVM_Task, "PowerOffVM_Task")
        self.wait_task(task, "power off")
        return "powered_off"

    def power_on(self, vm: Any) -> str:
        """Power the VM on (a suspended VM resumes). Returns "already_on" or "powered_on"."""
        if self.power_state(vm) == "poweredOn":
            return "already_on"
        task = self.call(vm.PowerOnVM_Task, "PowerOnVM_Task")
        self.wait_task(task, "power on")
        return "powered_on"


def _name_matcher(name_filter: str | None) -> Callable[[str], bool]:
    if not name_filter:
        return lambda name: True
    needle = name_filter.lower()
    if any(ch in needle for ch in "*?["):
        return lambda name: fnmatchcase(name.lower(), needle)
    return lambda name: needle in name.lower()


def parse_devices(devices: Iterable[Any], cbt_enabled: bool, networks: dict[str, str],
                  portgroups: dict[str, str]) -> tuple[list[DiskInfo], list[NicInfo]]:
    """Disks and NICs from a VM's (or snapshot's) device list."""
    devices = list(devices)
    controllers = {d.key: d for d in devices if isinstance(d, vim.vm.device.VirtualController)}
    disks: list[DiskInfo] = []
    nics: list[NicInfo] = []
    for dev in devices:
        label = dev.deviceInfo.label if dev.deviceInfo else ""
        if isinstance(dev, vim.vm.device.VirtualDisk):
            backing = dev.backing
            file_name = getattr(backing, "fileName", "") or ""
            datastore, _ = datastore_of(file_name)
            capacity = int(dev.capacityInBytes or 0) or int(dev.capacityInKB or 0) * 1024
            controller = controllers.get(dev.controllerKey)
            ctype = _type_name(controller) if controller is not None else ""
            disks.append(DiskInfo(
                key=int(dev.key),
                id=disk_id_for(dev.unitNumber, int(dev.key)),
                label=label,
                controller_key=dev.controllerKey,
                controller_type=_CONTROLLER_TYPES.get(ctype, ctype.lower()),
                bus_number=getattr(controller, "busNumber", None),
                unit_number=dev.unitNumber,
                capacity_bytes=capacity,
                size_gb=round(capacity / 2**30, 3),
                datastore=datastore,
                path=file_name,
                thin_provisioned=getattr(backing, "thinProvisioned", None),
                cbt_enabled=cbt_enabled,
                change_id=getattr(backing, "changeId", None) or None,
            ))
        elif isinstance(dev, vim.vm.device.VirtualEthernetCard):
            nics.append(NicInfo(
                key=int(dev.key),
                label=label,
                network=_nic_network(dev.backing, networks, portgroups),
                mac_address=dev.macAddress or "",
                adapter_type=_type_name(dev).removeprefix("Virtual").lower(),
                connected=dev.connectable.connected if dev.connectable else None,
            ))
    disks.sort(key=lambda d: (d.bus_number or 0, d.controller_key or 0, d.unit_number or 0))
    units = [d.unit_number for d in disks]
    for disk in disks:
        if units.count(disk.unit_number) > 1:
            # Two controllers use the same unit number: qualify the id so it stays unique per VM.
            disk.id = f"disk-{disk.controller_key}-{disk.unit_number}"
    return disks, nics


def _nic_network(backing: Any, networks: dict[str, str], portgroups: dict[str, str]) -> str:
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        key = backing.port.portgroupKey if backing.port else ""
        return portgroups.get(key, key or "")
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
        if backing.network is not None and backing.network._moId in networks:
            return networks[backing.network._moId]
        return backing.deviceName or ""
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo):
        return backing.opaqueNetworkId or ""
    return ""


def _snapshot_nodes(info: Any) -> list[tuple[Any, SnapshotInfo]]:
    nodes: list[tuple[Any, SnapshotInfo]] = []
    stack = list(info.rootSnapshotList or []) if info is not None else []
    while stack:
        node = stack.pop(0)
        nodes.append((node.snapshot, SnapshotInfo(
            id=node.snapshot._moId,
            name=node.name,
            description=node.description or "",
            created_at=_iso(node.createTime),
            power_state=node.state,
            quiesced=bool(node.quiesced),
        )))
        stack.extend(node.childSnapshotList or [])
    return nodes


def flatten_snapshots(info: Any) -> list[SnapshotInfo]:
    return [snap for _, snap in _snapshot_nodes(info)]
