"""The emulator as a process: its first stdout line, its options, and state kept across restarts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab.cloudstack import launch
from lab.cloudstack.launcher import REPO_ROOT
from lab.cloudstack.storage import device_link
from tests.lab.cloudstack.helpers import World, make_api, wait_job

pytestmark = pytest.mark.integration


def test_command_prints_one_json_line_first_and_stops_on_sigterm(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.cloudstack", "--port", "0", "--state", str(tmp_path / "s")],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(process.stdout.readline())
        assert info["url"].startswith("http://127.0.0.1:") and info["url"].endswith("/client/api")
        assert info["api_key"] and info["secret_key"]
        assert info["lab_root"] == str((tmp_path / "s").resolve())
        assert info["oma_vm_id"] and info["zone"] == "OSSEA-Zone"
        assert make_api(SimpleNamespace(**info)).listZones()["count"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_options_set_keys_oma_vm_and_lab_root(tmp_path):
    macs = ["52:54:00:aa:bb:01", "52:54:00:aa:bb:02"]
    vm_id = "0f0f0f0f-1111-4222-8333-444444444444"
    with launch(tmp_path / "state", api_key="k", secret_key="s", oma_vm_id=vm_id,
                oma_vm_macs=macs, lab_root=tmp_path / "root", zone_name="Lab-Zone",
                job_delay=0.05) as lab:
        assert (lab.api_key, lab.secret_key, lab.oma_vm_id) == ("k", "s", vm_id)
        api = make_api(lab)
        [oma] = api.listVirtualMachines(id=vm_id)["virtualmachine"]
        assert [n["macaddress"] for n in oma["nic"]] == macs
        assert api.listZones()["zone"][0]["name"] == "Lab-Zone"
        world = World(api, lab)
        volume = world.volume(api)
        api.attachVolume(id=volume["id"], virtualmachineid=vm_id)
        assert device_link(tmp_path / "root", volume["id"]).exists()


def test_state_survives_a_restart(tmp_path):
    with launch(tmp_path / "state", job_delay=0.05) as lab:
        api = make_api(lab)
        world = World(api, lab)
        keys = (lab.api_key, lab.secret_key, lab.oma_vm_id)
        kept = world.volume(api, name="kept")
        api.attachVolume(id=kept["id"], virtualmachineid=world.oma_vm_id)
        link = device_link(lab.lab_root, kept["id"])
        with open(link, "r+b") as disk:
            disk.write(b"survives")
        snap = api.createSnapshot(volumeid=kept["id"])["snapshot"]
        guest = world.vm(api, name="still-here", start=False)

        lab.restart()
        assert (lab.api_key, lab.secret_key, lab.oma_vm_id) == keys
        api = make_api(lab)
        [volume] = api.listVolumes(id=kept["id"])["volume"]
        assert (volume["virtualmachineid"], volume["deviceid"]) == (world.oma_vm_id, 1)
        with open(link, "rb") as disk:
            assert disk.read(8) == b"survives"
        assert api.listSnapshots(id=snap["id"])["snapshot"][0]["state"] == "BackedUp"
        assert api.listVirtualMachines(id=guest["id"])["virtualmachine"][0]["state"] == "Stopped"
        assert len(api.listAsyncJobs()["asyncjobs"]) == 4
        next_volume = world.volume(api, name="next")
        attached = api.attachVolume(id=next_volume["id"], virtualmachineid=world.oma_vm_id)
        assert attached["volume"]["deviceid"] == 2


def test_a_job_pending_at_restart_is_failed_not_left_pending(tmp_path):
    with launch(tmp_path / "state", job_delay=0.05) as lab:
        raw = make_api(lab, fetch_result=False)
        world = World(make_api(lab), lab)
        lab.inject("createVolume", delay=30)
        jobid = raw.createVolume(name="slow", zoneid=world.zone["id"],
                                 diskofferingid=world.custom_disk["id"], size=1)["jobid"]
        lab.restart()
        job = wait_job(make_api(lab, fetch_result=False), jobid)
        assert job["jobstatus"] == 2
        assert "management server restarted" in job["jobresult"]["errortext"]


def test_device_links_are_rebuilt_from_state(tmp_path):
    with launch(tmp_path / "state", job_delay=0.05) as lab:
        api = make_api(lab)
        world = World(api, lab)
        volume = world.volume(api)
        api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
        link = device_link(lab.lab_root, volume["id"])
        lab.stop()
        link.unlink()
        stray = Path(link.parent, "virtio-0123456789abcdef0123")
        stray.symlink_to("/nonexistent")
        lab.start()
        assert link.exists()
        assert not stray.is_symlink()
