"""python -m lab.cloudstack --port 0 --state DIR

Prints one JSON line first (url, api_key, secret_key, lab_root, ...) so a launcher can parse it,
then serves until SIGTERM/SIGINT. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from lab.cloudstack import hypervisor
from lab.cloudstack.server import API_PATH, Lab, make_server
from lab.cloudstack.state import LabOptions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lab.cloudstack",
                                     description="CloudStack API emulator for the lab")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", required=True, type=Path, help="state directory (kept)")
    parser.add_argument("--lab-root", type=Path, default=None,
                        help="where dev/disk/by-id/virtio-<serial> links appear (default: --state)")
    parser.add_argument("--api-key", default=None, help="fixed API key (default: generated once)")
    parser.add_argument("--secret-key", default=None, help="fixed secret key")
    parser.add_argument("--oma-vm-id", default=None, help="id of the control plane's own VM")
    parser.add_argument("--oma-vm-macs", default="",
                        help="comma-separated MACs of the control plane VM's NICs")
    parser.add_argument("--zone-name", default="OSSEA-Zone", help="name of the zone (first start)")
    parser.add_argument("--extra-zone", default=None,
                        help="name of a second zone, with its own storage pools (first start)")
    parser.add_argument("--cloudstack-version", default="4.20.0.0",
                        help="the version listCapabilities answers; createVolume takes storageid from 4.23")
    parser.add_argument("--max-data-volumes", type=int, default=6,
                        help="data volumes a VM may have (hypervisor_capabilities)")
    parser.add_argument("--job-delay", type=float, default=0.2,
                        help="seconds an async job takes before it finishes")
    parser.add_argument("--run-guests", type=hypervisor.truthy, default=None, metavar="BOOL",
                        help="run started VMs with a bootable root volume as QEMU processes "
                             "(default: LAB_RUN_GUESTS)")
    parser.add_argument("--guest-accel", choices=("auto", "kvm", "tcg"), default=None,
                        help="QEMU accelerator for guests (default: LAB_GUEST_ACCEL or auto: probed)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    macs = [m.strip().lower() for m in args.oma_vm_macs.split(",") if m.strip()]
    options = LabOptions(
        state_dir=args.state, lab_root=args.lab_root, api_key=args.api_key,
        secret_key=args.secret_key, oma_vm_id=args.oma_vm_id, oma_vm_macs=macs,
        zone_name=args.zone_name, max_data_volumes=args.max_data_volumes,
        job_delay=args.job_delay, extra_zone=args.extra_zone, cloudstack_version=args.cloudstack_version,
    )
    hypervisor.configure(run_guests=args.run_guests, accel=args.guest_accel)
    lab = Lab(options)
    with lab.state.lock:
        hypervisor.guests.resume(lab.state)
    server = make_server(lab, args.host, args.port)
    host, port = server.server_address[:2]
    oma = lab.state.oma_vm()
    base = f"http://{host}:{port}"
    # The lab's own throwaway credentials: printing them is this command's contract.
    print(json.dumps({
        "url": base + API_PATH, "admin_url": base + "/lab", "api_key": lab.state.api_key,
        "secret_key": lab.state.secret_key, "user_api_key": lab.state.user_api_key,
        "user_secret_key": lab.state.user_secret_key, "lab_root": str(lab.state.lab_root),
        "state_dir": str(lab.state.state_dir), "oma_vm_id": oma["id"],
        "oma_vm_macs": [n["macaddress"] for n in oma["nics"]],
        "zone": next(iter(lab.state.zones.values()))["name"], "pid": os.getpid(),
    }), flush=True)
    # Nothing else ever reaches stdout: a launcher may stop reading it after that line.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return, so it must run off this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        hypervisor.guests.shutdown()
        with lab.state.lock:
            lab.state.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
