"""`vma discover`: list a datacenter's VMs from the command line (and optionally push them to
the control plane's inventory)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from pydantic import SecretStr

from agent import operations
from agent.config import AgentConfig
from agent.models import DiscoverRequest
from agent.omaclient import OmaClient


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("discover", help="discover VMs of a vCenter datacenter")
    parser.add_argument("--vcenter", help="vCenter host[:port] (default: vcenter.host)")
    parser.add_argument("--username", help="vCenter user (default: vcenter.username)")
    parser.add_argument("--password-env", metavar="VAR",
                        help="read the vCenter password from this environment variable "
                             "(default: vcenter.password / VMA_VCENTER_PASSWORD, else a prompt)")
    parser.add_argument("--datacenter", help="datacenter name (default: vcenter.datacenter or the only one)")
    parser.add_argument("--filter", help="VM name filter: substring, or glob with * ? [")
    parser.add_argument("--push", action="store_true",
                        help="also POST the result to the control plane (/api/v1/vms/inventory)")
    parser.add_argument("--table", action="store_true", help="print a table instead of JSON")
    parser.set_defaults(func=run)


def _password(args: argparse.Namespace, config: AgentConfig, username: str | None) -> SecretStr | None:
    # Passwords never come from argv: they would show in `ps` and shell history.
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise SystemExit(f"vma: environment variable {args.password_env} is empty")
        return SecretStr(value)
    if username is None or (username == config.vcenter.username and config.vcenter_password()):
        return None  # the configured account is used
    if sys.stdin.isatty():
        return SecretStr(getpass.getpass(f"vCenter password for {username}: "))
    raise SystemExit("vma: no password: use --password-env or configure vcenter.password")


def run(args: argparse.Namespace, config: AgentConfig) -> int:
    password = _password(args, config, args.username)
    request = DiscoverRequest(vcenter=args.vcenter, username=args.username if password else None,
                              password=password, datacenter=args.datacenter, filter=args.filter)
    result = operations.discover(request, config)
    if args.table:
        print(f"{'ID':<12} {'POWER':<11} {'CPU':>3} {'MEM MB':>7} {'DISKS':>5} {'NICS':>4}  PATH")
        for vm in result["vms"]:
            print(f"{vm['id']:<12} {vm['power_state'] or '':<11} {vm['num_cpu'] or 0:>3} "
                  f"{vm['memory_mb'] or 0:>7} {len(vm['disks']):>5} {len(vm['nics']):>4}  {vm['path']}")
        print(f"{result['count']} VM(s) in {result['vcenter']['datacenter']}")
    else:
        json.dump(result, sys.stdout, indent=2)
        print()
    if args.push:
        client = OmaClient(config.oma.url, appliance_id=config.oma.appliance_id, token=config.oma_token(),
                           timeout=config.oma.timeout, backoff_initial=config.oma.backoff_initial,
                           backoff_max=config.oma.backoff_max, max_attempts=config.oma.max_attempts)
        client.push_inventory(result)
        print(f"pushed {result['count']} VM(s) to {client.base_url}/vms/inventory", file=sys.stderr)
    return 0
