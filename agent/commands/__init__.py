"""Subcommands of the `vma` CLI, one module each (see agent.cli.COMMANDS)."""
