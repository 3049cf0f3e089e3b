"""The command table and the parameter reader every command handler uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lab.cloudstack.errors import invalid

SYNC, ASYNC, CREATE = "sync", "async", "create"


@dataclass
class AsyncSpec:
    """What an async command hands the job runner: the work, and what it is about."""

    instance_type: str
    instance_id: str | None
    run: Callable[[], dict]
    # Called (under the lock) when the job fails, e.g. to mark a half-made VM `Error`.
    on_fail: Callable[[], None] | None = None


@dataclass
class Command:
    name: str
    kind: str
    handler: Callable
    java_class: str


COMMANDS: dict[str, Command] = {}


def command(name: str, kind: str = SYNC, java_class: str = ""):
    def register(handler: Callable) -> Callable:
        COMMANDS[name.lower()] = Command(name, kind, handler, java_class or f"{name}Cmd")
        return handler

    return register


_DETAIL_KEY = re.compile(r"^details\[(\d+)\]\.(.+)$", re.IGNORECASE)


class Params:
    """Request parameters, looked up case-insensitively, with CloudStack's validation messages."""

    def __init__(self, raw: dict[str, str], command_name: str):
        self.raw = raw
        self.lower = {k.lower(): v for k, v in raw.items()}
        self.cmd = command_name.lower()

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.lower.get(name.lower())
        return default if value in (None, "") else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise invalid(f"Unable to execute API command {self.cmd} due to missing parameter {name}")
        return value

    def _bad_value(self, name: str, value: str):
        return invalid(
            f"Unable to execute API command {self.cmd} due to invalid value. Invalid parameter "
            f"{name} value={value} due to incorrect long value format, or entity does not exist "
            "or due to incorrect parameter annotation for the field in api cmd class."
        )

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        return default if value is None else value.lower() == "true"

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise self._bad_value(name, value) from None

    def entity(self, name: str, table: dict, required: bool = False) -> dict | None:
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        record = table.get(value)
        if record is None:
            raise self._bad_value(name, value)
        return record

    def entities(self, name: str, table: dict) -> list[dict]:
        value = self.get(name)
        if value is None:
            return []
        records = []
        for item in value.split(","):
            if item.strip() not in table:
                raise self._bad_value(name, item.strip())
            records.append(table[item.strip()])
        return records

    def details(self) -> dict[str, str]:
        """`details[0].cpuNumber=2` style map parameters (what cs sends for a dict)."""
        out = {}
        for key, value in self.raw.items():
            match = _DETAIL_KEY.match(key)
            if match:
                out[match.group(2).lower()] = value
        return out


def list_response(key: str, items: list[dict], params: Params) -> dict:
    """CloudStack's list shape: {"count": n, key: [...]}, or {} when nothing matched."""
    if not items:
        return {}
    page = params.integer("page")
    pagesize = params.integer("pagesize")
    shown = items
    if page and pagesize:
        shown = items[(page - 1) * pagesize : page * pagesize]
    # A page past the end still tells the total, as the server's ListResponse does.
    return {"count": len(items), key: shown} if shown else {"count": len(items)}
