"""How the agent's standalone commands (`vma enroll`, `vma tunnel`) start: arguments, logging, state dir, exit codes."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from agent.errors import AgentError


def run_command(*, prog: str, description: str, add_arguments: Callable[[argparse.ArgumentParser], None],
                run: Callable[[argparse.Namespace], int], argv: list[str] | None = None) -> int:
    """Parse `argv`, log at VMA_LOG_LEVEL, default the state dir to VMA_STATE_DIR, and turn an AgentError into exit 1
    with its code on stderr (Ctrl-C: 130)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("VMA_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not args.state_dir:
        args.state_dir = os.environ.get("VMA_STATE_DIR", "/var/lib/vma")
    try:
        return run(args)
    except AgentError as exc:
        print(f"vma: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
