"""Checkpoint files: which parts of a copy are known to be on the target's stable storage.

A range is written to the file only after the target acknowledged a flush issued
after every write in it completed, so whatever the file lists survives a crash of
the copier, the target server or the host. The file is replaced atomically
(write, fsync, rename, fsync the directory): a crash while saving leaves the
previous checkpoint, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

from .ranges import RangeSet, as_offset_length

FORMAT = "datamover-checkpoint"
VERSION = 1


class CheckpointMismatch(ValueError):
    """The checkpoint file belongs to another copy (other disk size or other extents)."""


def scope_digest(scope: list[tuple[int, int]]) -> str:
    digest = hashlib.sha256()
    for start, end in scope:
        digest.update(f"{start}:{end};".encode())
    return digest.hexdigest()


class Checkpoint:
    def __init__(self, path: str, *, source_size: int, target_size: int, scope: list[tuple[int, int]], source: str, target: str):
        self.path = os.path.abspath(path)
        self.identity = {
            "source_size": source_size,
            "target_size": target_size,
            "scope_sha256": scope_digest(scope),
            "scope_bytes": sum(end - start for start, end in scope),
        }
        # URIs are informational: a restarted nbdkit gets a new socket path.
        self._info = {"source": source, "target": target}

    def load(self) -> RangeSet:
        """Ranges already done, empty if there is no checkpoint yet."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return RangeSet()
        except (OSError, ValueError) as exc:
            raise CheckpointMismatch(f"checkpoint {self.path} is unreadable: {exc}") from None
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise CheckpointMismatch(f"{self.path} is not a datamover checkpoint (version {VERSION})")
        for key, expected in self.identity.items():
            if data.get(key) != expected:
                raise CheckpointMismatch(
                    f"checkpoint {self.path} belongs to another copy: {key} is {data.get(key)!r}, "
                    f"this copy has {expected!r}; remove it to start over"
                )
        return RangeSet((offset, offset + length) for offset, length in data.get("done", []))

    def save(self, done: RangeSet, *, complete: bool = False) -> None:
        data = {
            "format": FORMAT,
            "version": VERSION,
            **self.identity,
            **self._info,
            "complete": complete,
            "bytes_done": done.total(),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "done": as_offset_length(done),
        }
        directory = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
