"""`vma tunnel`: the command line that starts the supervisor (or prints its status)."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any

from agent.command import Command, state_dir_of

from .settings import STATUS_FILE, settings_from_enrollment
from .supervisor import TunnelSupervisor, tunnel_status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", help="where `vma enroll` stored its result (default: server.state_dir)")
    parser.add_argument("--api-local-port", type=int, default=8082,
                        help="local port of the control plane API forward (default 8082)")
    parser.add_argument("--agent-api-port", type=int,
                        help="local port of the agent API the control plane reaches (default: server.port, 8081)")
    parser.add_argument("--nbd-local-offset", type=int, default=0,
                        help="local NBD port = control plane NBD port + offset (default 0: the same numbers)")
    parser.add_argument("--ssh", default="ssh", help="OpenSSH client binary")
    parser.add_argument("--status", action="store_true", help="print the running tunnel's status and exit")


def run(args: argparse.Namespace, config: Any = None) -> int:
    state_dir = state_dir_of(args, config)
    if args.status:
        print(json.dumps(tunnel_status(state_dir), indent=2))
        return 0
    agent_port = args.agent_api_port or (config.server.port if config is not None else 8081)
    settings = settings_from_enrollment(state_dir, api_local_port=args.api_local_port, agent_api_port=agent_port,
                                        nbd_local_offset=args.nbd_local_offset, ssh_binary=args.ssh)
    supervisor = TunnelSupervisor(settings, status_file=state_dir / STATUS_FILE)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    supervisor.start()
    print(f"Tunnel to {settings.ssh_host}:{settings.ssh_port} supervised; status in {state_dir / STATUS_FILE}",
          flush=True)
    try:
        stop.wait()
    finally:
        supervisor.stop()
    return 0


COMMAND = Command("tunnel", help="keep the SSH tunnel to the control plane up",
                  description="Keep the SSH tunnel to the control plane up", add_arguments=add_arguments, run=run)
