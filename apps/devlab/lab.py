"""The lab `make run` starts beside the platform: stand-ins for CloudStack, vCenter and the agent.

- CloudStack: our wire-level emulator (`lab.cloudstack`), state kept under var/lab/cloudstack.
- vCenter: govmomi's vcsim built from Debian packages (`lab.vcsim`), with two demo VMs holding data and, once the
  lab guest image is built (in the background, minutes the first time, then cached under var/lab-guest), two more:
  `demo-guest` and `demo-guest-efi`, the bootable lab guest as built on VMware (BIOS and UEFI). The emulator runs
  started guests as QEMU, so a test failover of either reaches a converted guest that answers on SSH. On by
  default where the machine has the tools (.ci/system-deps.sh installs them); `LAB_RUN_GUESTS=0` turns it off.
- the agent: `python -m agent serve` talking to vcsim and calling the control plane back.

The platform is wired to them: an OSSEA configuration "lab" and VMware credentials "lab-vcenter" are created or
refreshed (ports change at every start), and an approved agent identity "lab-agent" logs in with a token kept in
var/lab/agent-token (0600). A peer that cannot start is reported and skipped; the console still runs.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings

from apps.enrollment import services as enrollment_services
from apps.enrollment.models import Appliance
from apps.settings import services as settings_services
from apps.settings.cloudstack import local_macs
from apps.settings.models import OsseaConfig, VMwareCredential
from lab.cloudstack import hypervisor, launch
from lab.guest import images as guest_images
from lab.guest import missing_tools as guest_build_tools_missing
from lab.guest.vsphere import guest_vm
from lab.vcsim import Vcsim, create_vm, find_datacenter, flat_file_path, write_random

DEMO_VMS = {"demo-web": (2, "VM Network"), "demo-db": (1, "VM Network")}
GUEST_VMS = {"demo-guest": "bios", "demo-guest-efi": "efi"}


def guests_missing() -> list[str]:
    """The tools this machine lacks for the bootable lab guest (empty: it can build, convert and run it): those that
    build its image, QEMU and OVMF that run it (BIOS and UEFI), virt-v2v-in-place that converts it at failover."""
    missing = guest_build_tools_missing()
    missing += [tool for tool in (hypervisor.QEMU, "virt-v2v-in-place") if shutil.which(tool) is None]
    if not hypervisor.OVMF_CODE.exists():
        missing.append(str(hypervisor.OVMF_CODE))
    return missing


def guests_wanted() -> bool:
    """`LAB_RUN_GUESTS` when set, else on wherever the machine has the tools."""
    chosen = os.environ.get("LAB_RUN_GUESTS", "").strip()
    return hypervisor.truthy(chosen) if chosen else not guests_missing()


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]


class Lab:
    def __init__(self, root: Path, stdout=None, web_url: str = "http://127.0.0.1:8000",
                 cloudstack_options: dict | None = None, guests: bool | None = None):
        self.cloudstack_options = cloudstack_options or {}  # e.g. max_data_volumes for a benchmark of many VMs
        # The bootable guests: `None` decides by LAB_RUN_GUESTS and the machine's tools (guests_wanted).
        self.guests = guests_wanted() if guests is None else guests
        self.guest_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.stdout = stdout
        self.web_url = web_url
        self._stack = contextlib.ExitStack()

    def _say(self, text: str) -> None:
        if self.stdout is not None:
            self.stdout.write(text)

    def start(self) -> dict[str, str]:
        """Start what is available; return environment variables the platform processes should see."""
        env: dict[str, str] = {}
        for name, starter in (("CloudStack emulator", self._cloudstack), ("vCenter simulator", self._vcsim),
                              ("agent", self._agent)):
            try:
                env.update(starter(env))
            except Exception as exc:  # a missing peer must not stop the console
                self._say(f"lab: {name} not started: {exc}")
        return env

    def stop(self) -> None:
        self._stopping.set()
        self._stack.close()
        if self.guest_thread is not None:
            self.guest_thread.join(timeout=30)

    def wait_for_guests(self, timeout: float) -> bool:
        """True once the guest VMs are on vCenter (or there are none to place); for tests and scripts."""
        if self.guest_thread is None:
            return True
        self.guest_thread.join(timeout)
        return not self.guest_thread.is_alive()

    # -- peers -----------------------------------------------------------------------------------

    def _cloudstack(self, env: dict) -> dict[str, str]:
        options = {"run_guests": self.guests, **self.cloudstack_options}
        lab = self._stack.enter_context(launch(self.root / "cloudstack", oma_vm_macs=",".join(sorted(local_macs())),
                                               **options))
        self.cloudstack = lab
        # The emulator's port and keys change at every start: refresh the "lab" configuration to match.
        data = {"api_url": lab.url, "api_key": lab.api_key, "secret_key": lab.secret_key, "oma_vm_id": lab.oma_vm_id}
        config = OsseaConfig.objects.filter(name="lab").first()
        if config is None:
            config = settings_services.ossea_config_create(data={"name": "lab", "zone": "OSSEA-Zone", **data})
        else:
            config = settings_services.ossea_config_update(config=config, data=data)
        self._say(f"lab: CloudStack emulator at {lab.url} (OSSEA configuration 'lab', id {config.id})")
        # The emulator listens on 127.0.0.1: the lab lets the setup endpoints call loopback.
        return {"MP_DEVICE_ROOT": str(lab.dev_root), "MP_CLOUDSTACK_POLL_INTERVAL": "0.5",
                "MP_CLOUDSTACK_ALLOW_LOOPBACK": "1",
                # KVM cannot run nested here (docs/lab-guest.md): libguestfs's appliance runs under TCG.
                "MP_LIBGUESTFS_BACKEND_SETTINGS": os.environ.get("MP_LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")}

    def _vcsim(self, env: dict) -> dict[str, str]:
        sim = self._stack.enter_context(Vcsim(password="lab-password"))
        si = sim.connect()
        for name, (disks, network) in DEMO_VMS.items():
            vm = create_vm(si, name, disks_mb=(1024,) * disks, networks=(network,))
            for index in range(disks):
                # A few MiB of data with holes, so a first sync has something to copy.
                flat = flat_file_path(sim, vm, index)
                for n, offset in enumerate((0, 64 << 20, 512 << 20)):
                    write_random(flat, offset, 2 << 20, seed=hash((name, index, n)) & 0xFFFF)
        self.sim, self.si = sim, si
        if self.guests:
            self._start_guests(sim)
        elif missing := guests_missing():
            self._say(f"lab: no bootable guest: this machine lacks {', '.join(missing)} (.ci/system-deps.sh)")
        data = {"vcenter_host": f"{sim.host}:{sim.port}", "username": sim.username, "password": sim.password,
                "datacenter": sim.datacenter, "is_default": True}
        credential = VMwareCredential.objects.filter(name="lab-vcenter").first()
        if credential is None:
            settings_services.credential_create(data={"name": "lab-vcenter", **data})
        else:
            settings_services.credential_update(credential=credential, data=data)
        self._say(f"lab: vCenter simulator at {sim.url} with VMs {', '.join(DEMO_VMS)} (credentials 'lab-vcenter')")
        return {}

    def _start_guests(self, sim) -> None:
        """Build the lab guest image in a child process (minutes the first time; the console does not wait), then
        put it on vCenter VMs. The build is a process so that stopping the lab stops it too."""
        log_path = self.root / "guest-build.log"
        log = open(log_path, "ab")
        proc = subprocess.Popen([sys.executable, "-m", "lab.guest", "build"], cwd=settings.BASE_DIR,
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        self._stack.callback(self._stop_process, proc, log)
        self._say(f"lab: the bootable guest is being prepared in the background (first time: minutes; {log_path})")
        self.guest_thread = threading.Thread(target=self._place_guests, args=(sim, proc, log_path),
                                             name="lab-guests", daemon=True)
        self.guest_thread.start()

    def _place_guests(self, sim, proc: subprocess.Popen, log_path: Path) -> None:
        proc.wait()
        if self._stopping.is_set():
            return
        if proc.returncode != 0:
            self._say(f"lab: the bootable guest was not built (exit {proc.returncode}; see {log_path})")
            return
        try:
            guest = guest_images()  # built: answered from the cache
            si = sim.connect()  # its own session: the start-up thread may still be using the first one
            for name, firmware in GUEST_VMS.items():
                if self._stopping.is_set():
                    return
                guest_vm(sim, si, name, guest, firmware=firmware)
        except Exception as exc:  # the lab goes on without its guests; the operator is told why
            if not self._stopping.is_set():
                self._say(f"lab: the bootable guest VMs were not created: {exc}")
            return
        self._say(f"lab: VMs {', '.join(GUEST_VMS)} hold the lab guest (Debian as built on VMware, BIOS and UEFI, "
                  "a data disk); discover them, sync, and a test failover boots the converted guest")

    def _agent(self, env: dict) -> dict[str, str]:
        token_file = self.root / "agent-token"
        appliance = Appliance.objects.filter(appliance_id="lab-agent").first()
        if appliance is None:
            appliance, token = enrollment_services.appliance_create(appliance_id="lab-agent", name="Lab agent")
        elif token_file.exists():
            token = token_file.read_text().strip()
        else:
            token = enrollment_services.appliance_token_reset(appliance=appliance)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
        datastores = {}
        if getattr(self, "si", None) is not None:
            for ds in find_datacenter(self.si).datastore:
                datastores[ds.name] = ds.info.url
        port = _free_port(9081)
        agent_env = {k: v for k, v in os.environ.items() if not k.startswith("VMA_")}
        agent_env.update({
            "VMA_STATE_DIR": str(self.root / "agent-state"), "VMA_OMA_URL": self.web_url,
            "VMA_OMA_APPLIANCE_ID": "lab-agent", "VMA_OMA_TOKEN_FILE": str(token_file),
            "VMA_DATASTORE_MAP": json.dumps(datastores),
            "VMA_VCENTER_THUMBPRINT": getattr(getattr(self, "sim", None), "thumbprint", ""),
        })
        log = open(self.root / "agent.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "agent", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=settings.BASE_DIR, env=agent_env, stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True)
        self._stack.callback(self._stop_process, proc, log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while not sel.select(0.2):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the agent did not start (see {self.root / 'agent.log'})")
        self._say(f"lab: agent at {url} (appliance 'lab-agent')")
        return {"MP_AGENT_API_URL": url, "MP_OMA_URL_FOR_AGENT": self.web_url}

    @staticmethod
    def _stop_process(proc: subprocess.Popen, log) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
