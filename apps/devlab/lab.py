"""The lab `make run` starts beside the platform: stand-ins for CloudStack, vCenter and the agent.

- CloudStack: our wire-level emulator (`lab.cloudstack`), state kept under var/lab/cloudstack.
- vCenter: govmomi's vcsim built from Debian packages (`lab.vcsim`), with two demo VMs holding data, and with
  `LAB_RUN_GUESTS=1` a third, `demo-guest`, holding the bootable lab guest (the emulator then runs it as QEMU).
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
import socket
import subprocess
import sys
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
from lab.guest.vsphere import guest_vm
from lab.vcsim import Vcsim, create_vm, find_datacenter, flat_file_path, write_random

DEMO_VMS = {"demo-web": (2, "VM Network"), "demo-db": (1, "VM Network")}
GUEST_VM = "demo-guest"


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
                 cloudstack_options: dict | None = None):
        self.cloudstack_options = cloudstack_options or {}  # e.g. max_data_volumes for a benchmark of many VMs
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
        self._stack.close()

    # -- peers -----------------------------------------------------------------------------------

    def _cloudstack(self, env: dict) -> dict[str, str]:
        lab = self._stack.enter_context(launch(self.root / "cloudstack", oma_vm_macs=",".join(sorted(local_macs())),
                                               **self.cloudstack_options))
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
        if hypervisor.truthy(os.environ.get("LAB_RUN_GUESTS")):
            # The bootable guest (docs/lab-guest.md): built once into var/lab-guest, then on a vCenter VM's disks, so
            # a test failover reaches a converted, booted guest (the emulator runs it: LAB_RUN_GUESTS).
            guest_vm(sim, si, GUEST_VM, guest_images())
            self._say(f"lab: VM {GUEST_VM} holds the lab guest (Debian as built on VMware, a data disk)")
        data = {"vcenter_host": f"{sim.host}:{sim.port}", "username": sim.username, "password": sim.password,
                "datacenter": sim.datacenter, "is_default": True}
        credential = VMwareCredential.objects.filter(name="lab-vcenter").first()
        if credential is None:
            settings_services.credential_create(data={"name": "lab-vcenter", **data})
        else:
            settings_services.credential_update(credential=credential, data=data)
        self._say(f"lab: vCenter simulator at {sim.url} with VMs {', '.join(DEMO_VMS)} (credentials 'lab-vcenter')")
        return {}

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
