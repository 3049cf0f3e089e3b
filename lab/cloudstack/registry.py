"""The command table and the parameter reader every command handler uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lab.cloudstack.errors import dispatch_error, invalid

SYNC, ASYNC, CREATE = "sync", "async", "create"
# The management server's `default.page.size`: the most a list answers with, and the largest pagesize.
DEFAULT_PAGE_SIZE = 500
UNLIMITED_PAGE_SIZE = -1


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

    @property
    def is_list(self) -> bool:
        """A BaseListCmd: takes page/pagesize and answers at most default.page.size items."""
        return self.name.startswith("list")


# Keyed by the exact name: ApiServer looks `command` up in a HashMap, so `listzones` is unknown.
COMMANDS: dict[str, Command] = {}


def command(name: str, kind: str = SYNC, java_class: str = ""):
    def register(handler: Callable) -> Callable:
        COMMANDS[name] = Command(name, kind, handler, java_class or f"{name}Cmd")
        return handler

    return register


# `name[index].field`: ParamUnpackWorker lower-cases `name` but keeps `field` as sent.
_MAP_KEY = re.compile(r"^([^\[\]]+)\[(\d+)\]\.(.+)$")
# VmDetailConstants the management server reads from `details` with Map.get, so only in this spelling
# (UserVmManagerImpl.validateCustomParameters: customParameters.get("cpuSpeed")); `cpuspeed` is stored
# as an arbitrary detail nobody reads.
_KNOWN_DETAILS = ("cpuNumber", "cpuSpeed", "memory", "minCpu", "maxCpu", "minMemory", "maxMemory",
                  "rootDiskController", "dataDiskController", "nicAdapter", "rootdisksize")


class Params:
    """Request parameters with CloudStack's validation messages.

    Top-level names are looked up case-insensitively because CloudStack's dispatch chain starts with
    ParamUnpackWorker, which lower-cases every name before ParamProcessWorker reads the lower-case
    `@Parameter(name=...)`: `virtualMachineId=X` is honoured as `virtualmachineid=X`. The field names
    inside a map parameter (`details[0].cpuSpeed`, `iptonetworklist[0].ip`) keep their case and are read
    with exact keys, so they are case-sensitive (see `map_param`).
    """

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
            raise dispatch_error(f"Unable to execute API command {self.cmd} due to missing parameter {name}")
        return value

    def _bad_value(self, name: str, value: str):
        return dispatch_error(
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
            # Integer.valueOf's NumberFormatException, an IllegalArgumentException to ParamProcessWorker.
            raise dispatch_error(f"Unable to execute API command {self.cmd} due to invalid value {value} "
                                 f"for parameter {name}") from None

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

    def map_param(self, name: str) -> list[dict[str, str]]:
        """A map parameter (`name[0].field=v`, what cs sends for a dict), one dict per index in index order.

        The name matches whatever its case; the field names are kept exactly as sent.
        """
        by_index: dict[int, dict[str, str]] = {}
        for key, value in self.raw.items():
            match = _MAP_KEY.match(key)
            if match and match.group(1).lower() == name.lower():
                by_index.setdefault(int(match.group(2)), {})[match.group(3)] = value
        return [by_index[i] for i in sorted(by_index)]

    def details(self) -> dict[str, str]:
        """The `details` map (every index merged, as DeployVMCmd.getDetails does), keys lower-cased for lookup.

        A known detail counts only in CloudStack's spelling: `details[0].cpuspeed` is not `cpuSpeed`.
        """
        known = {k.lower(): k for k in _KNOWN_DETAILS}
        out = {}
        for entry in self.map_param("details"):
            for field, value in entry.items():
                if known.get(field.lower(), field) == field:
                    out[field.lower()] = value
        return out

    def page_window(self) -> tuple[int, int | None]:
        """(first index, page size or None for unlimited) of a list command, refused as CloudStack refuses it.

        ParamProcessWorker parses the integers, BaseListCmd.validateSpecificParameters wants page and
        pagesize together (both 9999), then getPageSize refuses a size above default.page.size (4350).
        Without either, a list answers its first default.page.size items.
        """
        page, pagesize = self.integer("page"), self.integer("pagesize")
        if page is None and pagesize is not None and pagesize != UNLIMITED_PAGE_SIZE:
            raise dispatch_error('"page" parameter is required when "pagesize" is specified')
        if pagesize is None and page is not None:
            raise dispatch_error('"pagesize" parameter is required when "page" is specified')
        if pagesize is not None and pagesize > DEFAULT_PAGE_SIZE:
            raise invalid(f"Page size can't exceed max allowed page size value: {DEFAULT_PAGE_SIZE}")
        if pagesize == UNLIMITED_PAGE_SIZE:
            if page is not None:
                raise invalid("Can't specify page parameter when pagesize is -1 (Unlimited)")
            return 0, None
        size = DEFAULT_PAGE_SIZE if pagesize is None else pagesize
        return (size * (page - 1) if page and page > 0 else 0), size


def list_response(key: str, items: list[dict], params: Params, render: Callable[[dict], dict] | None = None) -> dict:
    """CloudStack's list shape: {"count": n, key: [...]}, or {} when nothing matched.

    With `render`, `items` are records and only the page shown is rendered (a list of thousands stays linear)."""
    start, size = params.page_window()
    if not items:
        return {}
    shown = items[start:] if size is None else items[start : start + size]
    if render is not None:
        shown = [render(item) for item in shown]
    # A page past the end still tells the total, as the server's ListResponse does.
    return {"count": len(items), key: shown} if shown else {"count": len(items)}
