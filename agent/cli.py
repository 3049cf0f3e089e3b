"""`vma` command line: `python -m agent [--config FILE] <command> ...`.

Each subcommand is a module with `register(subparsers)` that adds its parser and sets
`func(args, config) -> int`; adding one (e.g. `enroll`) is that module plus its dotted name in
COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from agent import __version__
from agent.config import ConfigError, load_config
from agent.errors import AgentError
from agent.logutil import configure_logging

COMMANDS = ("agent.commands.serve", "agent.commands.discover", "agent.enroll", "agent.tunnel")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vma", description="VMware-side migration agent (VMA)")
    parser.add_argument("--config", "-c", metavar="FILE",
                        help="TOML or JSON config file (default: $VMA_CONFIG, else /etc/vma/vma.toml if present)")
    parser.add_argument("--version", action="version", version=f"vma {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"vma: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.server.log_level, config.server.log_format)
    try:
        return int(args.func(args, config) or 0)
    except ConfigError as exc:
        print(f"vma: {exc}", file=sys.stderr)
        return 2
    except AgentError as exc:
        print(f"vma: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
