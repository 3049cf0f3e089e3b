"""How the agent's standalone commands (`vma enroll`, `vma tunnel`) start: under `vma` and alone
(`python -m agent.enroll`), with the same arguments, logging, state dir and exit codes."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import AgentError

DEFAULT_STATE_DIR = "/var/lib/vma"


def state_dir_of(args: argparse.Namespace, config: Any = None) -> Path:
    """`--state-dir`, else the agent config's `server.state_dir` (under `vma`), else the default."""
    return Path(args.state_dir or (config.server.state_dir if config is not None else DEFAULT_STATE_DIR))


@dataclass(frozen=True)
class Command:
    """One standalone command: `register` plugs it into the `vma` command line (which sets `func(args, config)`),
    `main` runs it alone."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[..., int]

    def register(self, subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser(self.name, help=self.help)
        self.add_arguments(parser)
        parser.set_defaults(func=self.run)

    def main(self, argv: list[str] | None = None) -> int:
        """Parse `argv`, log at VMA_LOG_LEVEL, default the state dir to VMA_STATE_DIR, and turn an AgentError into
        exit 1 with its code on stderr (Ctrl-C: 130)."""
        parser = argparse.ArgumentParser(prog=f"vma {self.name}", description=self.description)
        self.add_arguments(parser)
        args = parser.parse_args(argv)
        logging.basicConfig(level=os.environ.get("VMA_LOG_LEVEL", "INFO"),
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        if not args.state_dir:
            args.state_dir = os.environ.get("VMA_STATE_DIR", DEFAULT_STATE_DIR)
        try:
            return self.run(args)
        except AgentError as exc:
            print(f"vma: {exc.code}: {exc.message}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
