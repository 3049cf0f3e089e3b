#!/usr/bin/python3 -IS
"""sshd ``AuthorizedKeysCommand`` for the agent tunnel: the managed keys file, plus a session registry.

sshd runs it for every key an agent offers, as ``AuthorizedKeysCommandUser``::

    AuthorizedKeysCommand /usr/local/libexec/mp-tunnel-keys <authorized_keys> <sessions_dir> %f

It prints the lines of ``<authorized_keys>`` (written by the control plane) whose key has fingerprint ``%f``, and
records ``(fingerprint, pid, start time)`` of the process that ran it in ``<sessions_dir>``. That process is the
privileged sshd monitor of this very connection, so revoking an agent can terminate exactly its live sessions,
whatever the client did (``ssh -N`` opens no session, so ``ExposeAuthInfo`` or forced commands never run).
If the record cannot be written the key is not printed: there are no sessions the control plane cannot end.

Standard library only, no Django: sshd runs it with an empty environment, and the control plane imports it to read
the same records.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sys
import time

KEY_TYPES = frozenset({
    "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
})
RECORD_SUFFIX = ".session"


def fingerprint(blob_b64: str) -> str:
    """OpenSSH's SHA256 fingerprint (what sshd passes as %f) of a base64 public key blob."""
    digest = hashlib.sha256(base64.b64decode(blob_b64, validate=True)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_line(line: str) -> tuple[str, str, str] | None:
    """(options, key type, base64 blob) of an authorized_keys line the control plane wrote, else None.

    The control plane never puts spaces inside options, so whitespace splits the fields.
    """
    parts = line.strip().split()
    if not parts or parts[0].startswith("#"):
        return None
    if parts[0] in KEY_TYPES and len(parts) >= 2:
        return "", parts[0], parts[1]
    if len(parts) >= 3 and parts[1] in KEY_TYPES:
        return parts[0], parts[1], parts[2]
    return None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode(errors="replace")
    except OSError:
        return None
    # The command name sits in parentheses and may itself hold spaces or parentheses.
    return raw[raw.rfind(")") + 2:].split()


def process_start_ticks(pid: int) -> int | None:
    """Start time of a live process in clock ticks since boot; None when it is gone or a zombie."""
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def process_parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def record_path(sessions_dir: str, key_fingerprint: str, pid: int) -> str:
    name = hashlib.sha256(key_fingerprint.encode()).hexdigest()[:32]
    return os.path.join(sessions_dir, f"{name}-{pid}{RECORD_SUFFIX}")


def read_record(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
        if isinstance(record, dict) and isinstance(record.get("pid"), int) and isinstance(record.get("start_ticks"), int):
            return record
    except (OSError, ValueError):
        pass
    return None


def is_live(record: dict) -> bool:
    """The recorded process still runs: same pid *and* same start time, so a reused pid never matches."""
    return process_start_ticks(record["pid"]) == record["start_ticks"]


def write_record(sessions_dir: str, key_fingerprint: str, pid: int) -> None:
    ticks = process_start_ticks(pid)
    if ticks is None:
        raise OSError(f"process {pid} is gone")
    path = record_path(sessions_dir, key_fingerprint, pid)
    body = json.dumps({"fingerprint": key_fingerprint, "pid": pid, "start_ticks": ticks, "recorded_at": time.time()})
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fchmod(fd, 0o644)  # readable by the control plane whatever umask sshd gave us
        os.write(fd, body.encode())
    finally:
        os.close(fd)
    os.replace(temporary, path)


def prune(sessions_dir: str) -> None:
    """Drop the records of connections that have ended."""
    try:
        names = os.listdir(sessions_dir)
    except OSError:
        return
    for name in names:
        if not name.endswith(RECORD_SUFFIX):
            continue
        path = os.path.join(sessions_dir, name)
        record = read_record(path)
        if record is None or not is_live(record):
            try:
                os.unlink(path)
            except OSError:
                pass


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: mp-tunnel-keys AUTHORIZED_KEYS SESSIONS_DIR FINGERPRINT", file=sys.stderr)
        return 2
    keys_file, sessions_dir, wanted = argv
    try:
        with open(keys_file, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return 0  # no agent approved yet
    matches = []
    for line in lines:
        parsed = parse_line(line)
        if parsed is None:
            continue
        try:
            if fingerprint(parsed[2]) == wanted:
                matches.append(line.strip())
        except (binascii.Error, ValueError):
            continue
    if not matches:
        return 0
    try:
        write_record(sessions_dir, wanted, os.getppid())
        prune(sessions_dir)
    except OSError as exc:
        # Fail closed: a session the control plane cannot find is a session it cannot end on revoke.
        print(f"mp-tunnel-keys: cannot record the session in {sessions_dir}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write("\n".join(matches) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
