"""Test helpers: build VMs in vcsim through the vSphere API, run the agent as a process, and
stand in for the control plane's changeid/progress endpoints with a tiny real HTTP server."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from pyVim.connect import SmartConnect
from pyVmomi import vim

from agent.vsphere import PinnedTLSContext

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def connect(sim: Any) -> Any:
    """A pyvmomi ServiceInstance on the simulator, its certificate pinned by thumbprint."""
    return SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password,
                        sslContext=PinnedTLSContext(sim.thumbprint))


def wait_task(task: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = task.info.state
        if state == vim.TaskInfo.State.success:
            return task.info.result
        if state == vim.TaskInfo.State.error:
            raise RuntimeError(task.info.error.msg)
        time.sleep(0.02)
    raise TimeoutError("task did not finish")


def datacenter(si: Any) -> Any:
    return next(e for e in si.content.rootFolder.childEntity if isinstance(e, vim.Datacenter))


def datastore_map(si: Any) -> dict[str, str]:
    return {ds.name: ds.info.url for ds in datacenter(si).datastore}


def ensure_folder(si: Any, name: str) -> Any:
    parent = datacenter(si).vmFolder
    for child in parent.childEntity:
        if isinstance(child, vim.Folder) and child.name == name:
            return child
    return parent.CreateFolder(name)


@dataclass
class NicSpec:
    network: str
    adapter: str = "vmxnet3"


@dataclass
class VmSpec:
    name: str
    disks_mb: list[int] = field(default_factory=lambda: [8])
    nics: list[NicSpec] = field(default_factory=lambda: [NicSpec("VM Network")])
    firmware: str = "bios"
    guest_id: str = "otherLinux64Guest"
    cpus: int = 1
    memory_mb: int = 256
    folder: str | None = None
    # Disks beyond this many go on a second (LSI Logic) controller.
    disks_on_first_controller: int = 8


_ADAPTERS = {
    "vmxnet3": vim.vm.device.VirtualVmxnet3,
    "e1000": vim.vm.device.VirtualE1000,
    "e1000e": vim.vm.device.VirtualE1000e,
}


def create_vm(si: Any, spec: VmSpec) -> Any:
    """Create a VM with the given disks (thin, capacity in MiB) and NICs via CreateVM_Task."""
    dc = datacenter(si)
    compute = dc.hostFolder.childEntity[0]
    host, pool = compute.host[0], compute.resourcePool
    ds_name = dc.datastore[0].name
    changes = []
    controllers = [
        vim.vm.device.ParaVirtualSCSIController(key=-100, busNumber=0, sharedBus="noSharing"),
        vim.vm.device.VirtualLsiLogicController(key=-101, busNumber=1, sharedBus="noSharing"),
    ]
    for ctrl in controllers:
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=ctrl))
    for index, size_mb in enumerate(spec.disks_mb):
        first = index < spec.disks_on_first_controller
        unit = index if first else index - spec.disks_on_first_controller
        if unit >= 7:
            unit += 1  # unit 7 is the SCSI controller itself
        disk = vim.vm.device.VirtualDisk(
            key=-200 - index,
            controllerKey=-100 if first else -101,
            unitNumber=unit,
            capacityInKB=size_mb * 1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                diskMode="persistent", thinProvisioned=True, fileName=f"[{ds_name}]"),
        )
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=disk))
    portgroups = {pg.name: pg for pg in dc.network if isinstance(pg, vim.dvs.DistributedVirtualPortgroup)}
    for index, nic in enumerate(spec.nics):
        if nic.network in portgroups:
            pg = portgroups[nic.network]
            backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
                port=vim.dvs.PortConnection(switchUuid=pg.config.distributedVirtualSwitch.uuid,
                                            portgroupKey=pg.key))
        else:
            backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=nic.network)
        card = _ADAPTERS[nic.adapter](key=-300 - index, backing=backing)
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=card))
    config = vim.vm.ConfigSpec(
        name=spec.name, guestId=spec.guest_id, numCPUs=spec.cpus, memoryMB=spec.memory_mb,
        firmware=spec.firmware, files=vim.vm.FileInfo(vmPathName=f"[{ds_name}]"), deviceChange=changes,
    )
    folder = ensure_folder(si, spec.folder) if spec.folder else dc.vmFolder
    return wait_task(folder.CreateVM_Task(config=config, pool=pool, host=host))


def find_vm(si: Any, name: str) -> Any:
    view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
    try:
        return next(vm for vm in view.view if vm.name == name)
    finally:
        view.DestroyView()


def vm_disks(vm: Any) -> list[Any]:
    return [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]


def flat_file(si: Any, file_name: str) -> Path:
    """Local path of a disk's -flat.vmdk in vcsim's datastore directory."""
    ds, rel = file_name[1:].split("] ", 1)
    rel = rel[:-5] + "-flat.vmdk"
    return Path(datastore_map(si)[ds]) / rel


def write_at(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def snapshot_names(vm: Any) -> list[str]:
    names = []
    stack = list(vm.snapshot.rootSnapshotList) if vm.snapshot else []
    while stack:
        node = stack.pop()
        names.append(node.name)
        stack.extend(node.childSnapshotList or [])
    return sorted(names)


# -- the agent as a process -----------------------------------------------------------------


class AgentProcess:
    """`python -m agent serve --port 0` with its own environment; reads the printed URL."""

    def __init__(self, env: dict[str, str], log_path: Path, args: list[str] | None = None):
        self.env = env
        self.log_path = log_path
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> AgentProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMA_")}
        env.update(self.env)
        env["PYTHONPATH"] = str(REPO)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", *self.args, "serve", "--host", "127.0.0.1", "--port", "0"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        line = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in line:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"agent did not start: {self.log_path.read_text()[-3000:]}")
                if sel.select(0.2):
                    chunk = os.read(self.proc.stdout.fileno(), 1024)
                    if not chunk:
                        continue
                    line += chunk
        first = line.split(b"\n", 1)[0].decode()
        self.url = first.rsplit(" ", 1)[-1]
        return self

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
        self.proc = None


# -- a tiny control plane ------------------------------------------------------------------


class FakeControlPlane:
    """A real HTTP server standing in for the control plane's auth/changeid/progress/inventory
    endpoints. Records every request; behaviour is steered through attributes."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.change_ids: dict[tuple[str, str], str] = {}
        self.progress: dict[str, list[dict[str, Any]]] = {}
        self.inventory: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self.appliance_id = "vma-test"
        self.appliance_token = "vma_test_token_abc123def456789012345678"
        self.token_lifetime = 24 * 3600.0
        self.require_auth = True
        self.logins = 0
        # Hooks: a callable (method, path) -> (status, body) | None to override an answer.
        self.override: Callable[[str, str], tuple[int, Any] | None] | None = None
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            # One buffered write per response: header and body in separate segments meet
            # delayed ACKs and cost ~40 ms per request on loopback.
            wbufsize = 1 << 16
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else None

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                outer._handle(self, "GET")

            def do_POST(self) -> None:
                outer._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r["method"] == method) and r["path"].startswith(path_prefix)]

    def _handle(self, h: Any, method: str) -> None:
        url = urlsplit(h.path)
        body = h._body() if method == "POST" else None
        auth = h.headers.get("Authorization", "")
        with self.lock:
            self.requests.append({"method": method, "path": url.path, "query": parse_qs(url.query),
                                  "body": body, "auth": auth, "time": time.monotonic()})
        if self.override is not None:
            answer = self.override(method, url.path)
            if answer is not None:
                h._reply(*answer)
                return
        if url.path == "/api/v1/auth/login" and method == "POST":
            if body.get("appliance_id") != self.appliance_id or body.get("token") != self.appliance_token:
                h._reply(401, {"success": False, "error": "invalid appliance credentials"})
                return
            with self.lock:
                self.logins += 1
                token = f"oma_session_{self.logins}"
                self.tokens.add(token)
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.token_lifetime))
            h._reply(200, {"success": True, "message": "Authentication successful",
                           "session_token": token, "expires_at": expires})
            return
        if self.require_auth and auth.removeprefix("Bearer ") not in self.tokens:
            h._reply(401, {"success": False, "error": "invalid or expired session token"})
            return
        parts = url.path.strip("/").split("/")
        if url.path == "/api/v1/replications/changeid" and method == "GET":
            q = parse_qs(url.query)
            key = (q.get("vm_path", [""])[0], q.get("disk_id", [""])[0])
            if key in self.change_ids:
                h._reply(200, {"change_id": self.change_ids[key], "vm_path": key[0], "disk_id": key[1]})
            else:
                h._reply(404, {"success": False, "error": "no change id recorded"})
            return
        if len(parts) == 5 and parts[:3] == ["api", "v1", "replications"] and parts[4] == "changeid":
            with self.lock:
                self.change_ids[(body["vm_path"], body["disk_id"])] = body["change_id"]
            h._reply(200, {"success": True})
            return
        if len(parts) == 5 and parts[:3] == ["api", "v1", "replications"] and parts[4] == "progress":
            with self.lock:
                self.progress.setdefault(parts[3], []).append(body)
            h._reply(200, {"success": True})
            return
        if url.path == "/api/v1/vms/inventory" and method == "POST":
            with self.lock:
                self.inventory.append(body)
            h._reply(200, {"success": True, "count": len(body.get("vms", []))})
            return
        h._reply(404, {"success": False, "error": f"no route {method} {url.path}"})
