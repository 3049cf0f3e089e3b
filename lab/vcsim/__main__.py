"""Run the lab's vCenter simulator until interrupted.

    python -m lab.vcsim [--vms N] [--hosts N] [--clusters N] ...

Prints one JSON line with the URL, credentials, thumbprint and datastore directory as soon as
the simulator is up, then waits for SIGINT/SIGTERM and stops it (files removed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .simulator import Vcsim, VcsimError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.vcsim", description=__doc__.split("\n")[0])
    parser.add_argument("--vms", type=int, default=0, help="VMs per resource pool (per standalone host / cluster)")
    parser.add_argument("--hosts", type=int, default=1, help="standalone hosts per datacenter")
    parser.add_argument("--clusters", type=int, default=0, help="clusters per datacenter")
    parser.add_argument("--cluster-hosts", type=int, default=3, help="hosts per cluster")
    parser.add_argument("--datastores", type=int, default=1)
    parser.add_argument("--dvportgroups", type=int, default=0, help="distributed port groups per datacenter")
    parser.add_argument("--username", default="administrator@vsphere.local")
    parser.add_argument("--password", default=None, help="default: random")
    parser.add_argument("--no-autostart", action="store_true", help="leave model VMs powered off")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())

    # The options are named as Vcsim's parameters, but for the one that says no.
    options = vars(args)
    autostart = not options.pop("no_autostart")
    sim = Vcsim(**options, autostart=autostart)
    try:
        sim.start()
    except VcsimError as exc:
        print(f"vcsim: {exc}", file=sys.stderr)
        return 1
    try:
        print(json.dumps(sim.info()), flush=True)
        while not stop.wait(1.0):
            if not sim.running:
                print("vcsim: the simulator exited unexpectedly", file=sys.stderr)
                return 1
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
