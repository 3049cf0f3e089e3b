"""Agent configuration: a TOML or JSON file, then `VMA_*` environment variables on top.

Every setting has one environment name (listed in docs/agent.md). Secrets may come from a file
(`password_file`, `token_file`) so they need not sit in the environment or the main config.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATHS = ("/etc/vma/vma.toml",)
DISK_SOURCES = ("auto", "file", "vddk", "https")


class ConfigError(ValueError):
    """The configuration file or an environment override is unusable."""


def _env(name: str, **kwargs: Any) -> Any:
    # The environment name travels in the field's metadata so loader and docs share one table.
    return field(metadata={"env": name}, **kwargs)


@dataclass
class ServerConfig:
    host: str = _env("VMA_HOST", default="127.0.0.1")
    port: int = _env("VMA_PORT", default=8081)
    state_dir: str = _env("VMA_STATE_DIR", default="/var/lib/vma")
    log_level: str = _env("VMA_LOG_LEVEL", default="INFO")
    log_format: str = _env("VMA_LOG_FORMAT", default="text")


@dataclass
class VCenterConfig:
    # Default vCenter: used by cleanup of jobs this process does not know and by `vma discover`.
    host: str = _env("VMA_VCENTER_HOST", default="")
    username: str = _env("VMA_VCENTER_USERNAME", default="")
    password: str = _env("VMA_VCENTER_PASSWORD", default="", repr=False)
    password_file: str = _env("VMA_VCENTER_PASSWORD_FILE", default="")
    datacenter: str = _env("VMA_VCENTER_DATACENTER", default="")
    # TLS trust: a pinned SHA-1/SHA-256 thumbprint, or a CA bundle, else the system trust store.
    thumbprint: str = _env("VMA_VCENTER_THUMBPRINT", default="")
    ca_file: str = _env("VMA_VCENTER_CA_FILE", default="")
    timeout: float = _env("VMA_VCENTER_TIMEOUT", default=30.0)
    keepalive_seconds: float = _env("VMA_VCENTER_KEEPALIVE", default=600.0)


@dataclass
class OmaConfig:
    url: str = _env("VMA_OMA_URL", default="http://localhost:8082")
    appliance_id: str = _env("VMA_OMA_APPLIANCE_ID", default="")
    token: str = _env("VMA_OMA_TOKEN", default="", repr=False)
    token_file: str = _env("VMA_OMA_TOKEN_FILE", default="")
    timeout: float = _env("VMA_OMA_TIMEOUT", default=30.0)
    backoff_initial: float = _env("VMA_OMA_BACKOFF_INITIAL", default=1.0)
    backoff_max: float = _env("VMA_OMA_BACKOFF_MAX", default=60.0)
    max_attempts: int = _env("VMA_OMA_MAX_ATTEMPTS", default=8)


@dataclass
class ReplicationConfig:
    # "auto": file when datastore_map covers the disks, else vddk when installed, else https when
    # the VM qualifies; or one of "file" (lab), "vddk", "https" (agent/disksource/choose.py).
    disk_source: str = _env("VMA_DISK_SOURCE", default="auto")
    # Datastore name -> local directory, for the file source (vcsim keeps datastores in directories).
    datastore_map: dict[str, str] = field(default_factory=dict, metadata={"env": "VMA_DATASTORE_MAP"})
    progress_interval: float = _env("VMA_PROGRESS_INTERVAL", default=1.0)
    quiesce: bool = _env("VMA_QUIESCE", default=True)
    shutdown_timeout: float = _env("VMA_SHUTDOWN_TIMEOUT", default=300.0)
    nbdkit: str = _env("VMA_NBDKIT", default="nbdkit")
    # Where the control plane's NBD export of PUT /api/v1/config is reached (the tunnel's local forwards), for a
    # replicate request that names no disk targets.
    nbd_target_host: str = _env("VMA_NBD_TARGET_HOST", default="127.0.0.1")
    cancel_wait: float = _env("VMA_CANCEL_WAIT", default=60.0)
    # How often a copy records its progress for resuming (each time the target is flushed).
    checkpoint_interval: float = _env("VMA_CHECKPOINT_INTERVAL", default=5.0)
    # Cap on data read per disk copy, bytes/s (0: none); a replicate request may set its own.
    bandwidth: float = _env("VMA_BANDWIDTH", default=0.0)


@dataclass
class VddkConfig:
    libdir: str = _env("VMA_VDDK_LIBDIR", default="/opt/vmware-vix-disklib-distrib")
    transports: str = _env("VMA_VDDK_TRANSPORTS", default="nbdssl:nbd")
    config_file: str = _env("VMA_VDDK_CONFIG_FILE", default="")


@dataclass
class AgentConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    vcenter: VCenterConfig = field(default_factory=VCenterConfig)
    oma: OmaConfig = field(default_factory=OmaConfig)
    replication: ReplicationConfig = field(default_factory=ReplicationConfig)
    vddk: VddkConfig = field(default_factory=VddkConfig)

    def vcenter_password(self) -> str:
        return _secret(self.vcenter.password, self.vcenter.password_file)

    def oma_token(self) -> str:
        return _secret(self.oma.token, self.oma.token_file)

    def public_dict(self) -> dict[str, Any]:
        """The configuration with every secret replaced by "[REDACTED]" (safe to log or return)."""
        data = dataclasses.asdict(self)
        for section, key in (("vcenter", "password"), ("oma", "token")):
            if data[section][key]:
                data[section][key] = "[REDACTED]"
        return data


SECTIONS = ("server", "vcenter", "oma", "replication", "vddk")


def env_table() -> list[tuple[str, str, str]]:
    """(section, key, environment variable) for every setting; docs and tests read it."""
    table = []
    for section in SECTIONS:
        for f in dataclasses.fields(type(getattr(AgentConfig(), section))):
            table.append((section, f.name, f.metadata["env"]))
    return table


def _secret(value: str, path: str) -> str:
    if value:
        return value
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from exc
    return ""


def _coerce(value: Any, kind: Any, where: str) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind_name == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind_name == "float":
            return float(value)
        if kind_name == "str":
            if not isinstance(value, (str, int, float)):
                raise ValueError(value)
            return str(value)
        if kind_name.startswith("dict"):
            return _parse_map(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read {value!r} as {kind_name}") from exc
    raise ConfigError(f"{where}: unsupported setting type {kind_name}")


def _parse_map(value: Any) -> dict[str, str]:
    """A mapping from a table, JSON object text, or "name=dir,name2=dir2" text."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    text = str(value).strip()
    if not text:
        return {}
    if text.startswith("{"):
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError(text)
        return {str(k): str(v) for k, v in parsed.items()}
    result = {}
    for part in text.split(","):
        name, sep, directory = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(text)
        result[name.strip()] = directory.strip()
    return result


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        if path.suffix == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode())
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table/object at the top")
    return data


def load_config(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read the config file (explicit path, else `VMA_CONFIG`, else /etc/vma/vma.toml if present)
    and apply `VMA_*` environment overrides."""
    environ = os.environ if environ is None else environ
    config = AgentConfig()
    chosen = path or environ.get("VMA_CONFIG")
    if chosen is None:
        chosen = next((p for p in DEFAULT_CONFIG_PATHS if Path(p).exists()), None)
    data = _read_file(Path(chosen)) if chosen else {}

    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
    for section in SECTIONS:
        target = getattr(config, section)
        values = data.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"config section [{section}] must be a table")
        known = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"unknown setting {section}.{key}")
            setattr(target, key, _coerce(value, known[key].type, f"{section}.{key}"))
        for f in known.values():
            env_name = f.metadata["env"]
            if env_name in environ:
                setattr(target, f.name, _coerce(environ[env_name], f.type, env_name))

    if config.replication.disk_source not in DISK_SOURCES:
        raise ConfigError(f"replication.disk_source must be one of {', '.join(DISK_SOURCES)}")
    if not 0 <= config.server.port <= 65535:
        raise ConfigError("server.port must be between 0 and 65535")
    if config.server.log_format not in ("text", "json"):
        raise ConfigError("server.log_format must be 'text' or 'json'")
    return config
