"""Boot verification: the started guest answers on a TCP port of its address, as an operator would check it.

The guest "answers" when a connection to `host:port` is accepted and the service speaks first within a few seconds
(SSH's version line, the default port 22): an accepted connection alone proves nothing behind NAT or a port
forward, which accept for a guest that is not up. Where the control plane reaches the guest is the VM's default
NIC address, or the VM detail `bootCheckEndpoint` (`host:port`) when something in between forwards it (the lab's
CloudStack emulator sets it to the port QEMU forwards to the guest's SSH).
"""
from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ENDPOINT_DETAIL = "bootCheckEndpoint"
ATTEMPT_TIMEOUT = 5.0
RETRY_SECONDS = 3.0
KEEP_LINES = 10


@dataclass
class Answer:
    answered: bool
    seconds: float
    target: str
    greeting: str = ""
    attempts: int = 0
    last_lines: list[str] = field(default_factory=list)


def summary(result: dict) -> str:
    """A job's `boot_verification` in one line, for the job and the readiness answer."""
    status = result.get("status")
    if status == "booted":
        return f"the guest answered on {result['target']} {result['seconds']:.0f} s after the start"
    if status == "not_answering":
        last = (result.get("last_lines") or ["nothing"])[-1]
        return f"the guest did not answer on {result['target']} within {result['timeout']} s (last: {last})"
    if status == "skipped":
        return f"boot verification skipped: {result.get('reason', '')}"
    return ""


def target(vm: dict, port: int) -> tuple[str, int] | None:
    """Where to knock: the endpoint detail, else the default NIC's address and `port`; None without an address."""
    details = vm.get("details") or {}
    endpoint = next((str(v) for k, v in details.items() if k.lower() == ENDPOINT_DETAIL.lower() and v), "")
    if endpoint:
        host, _, endpoint_port = endpoint.rpartition(":")
        if host and endpoint_port.isdigit():
            return host.strip("[]"), int(endpoint_port)
    nics = vm.get("nic") or []
    default = next((n for n in nics if n.get("isdefault")), nics[0] if nics else None)
    address = (default or {}).get("ipaddress")
    return (address, port) if address else None


def knock(host: str, port: int, timeout: float = ATTEMPT_TIMEOUT) -> str:
    """The service's first line; raises OSError (refused, unreachable, closed or silent) when it does not answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        data = sock.recv(256)
    if not data:
        raise ConnectionResetError("the connection was closed without a word")
    return data.decode(errors="replace").splitlines()[0].strip() if data.strip() else "(an empty line)"


def wait(host: str, port: int, timeout: float, *, progress: Callable[[float, str], None] | None = None,
         stop: Callable[[], None] | None = None) -> Answer:
    """Knock until the guest answers or `timeout` seconds passed; `progress` hears each failed attempt and `stop`
    may raise to give up early (a cancel)."""
    started = time.monotonic()
    lines: list[str] = []
    attempts = 0
    label = f"{host}:{port}"
    while True:
        attempts += 1
        try:
            greeting = knock(host, port, min(ATTEMPT_TIMEOUT, max(1.0, timeout)))
            return Answer(True, round(time.monotonic() - started, 1), label, greeting, attempts, lines[-KEEP_LINES:])
        except OSError as exc:
            elapsed = time.monotonic() - started
            line = f"+{elapsed:.0f} s: {type(exc).__name__}: {exc or 'no answer'}"
            if not lines or lines[-1].split(": ", 1)[1] != line.split(": ", 1)[1]:
                lines.append(line)  # the same error again is one line
            if progress is not None:
                progress(elapsed, line)
        if time.monotonic() - started + RETRY_SECONDS > timeout:
            return Answer(False, round(time.monotonic() - started, 1), label, "", attempts, lines[-KEEP_LINES:])
        if stop is not None:
            stop()
        time.sleep(RETRY_SECONDS)
