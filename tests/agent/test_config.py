"""Configuration: file formats, environment overrides, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import AgentConfig, ConfigError, env_table, load_config


def test_defaults_without_file() -> None:
    config = load_config(None, environ={})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8081)
    assert config.replication.disk_source == "auto" and config.replication.datastore_map == {}
    assert config.oma.url == "http://localhost:8082"


def test_toml_file_and_env_overrides(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret\n")
    path = tmp_path / "vma.toml"
    path.write_text(f"""
[server]
port = 9000
state_dir = "{tmp_path}/state"

[vcenter]
host = "vc.example.com"
username = "svc-migrate@vsphere.local"
password_file = "{tmp_path}/secret"
thumbprint = "AA:BB"

[replication]
datastore_map = {{ "datastore1" = "/srv/ds1" }}
quiesce = false

[oma]
appliance_id = "vma-001"
token = "tok-9f8e7d"
""")
    config = load_config(path, environ={"VMA_PORT": "0", "VMA_QUIESCE": "yes",
                                        "VMA_DATASTORE_MAP": "LocalDS_0=/tmp/ds0, other=/tmp/o"})
    assert config.server.port == 0  # the environment wins over the file
    assert config.replication.quiesce is True
    assert config.replication.datastore_map == {"LocalDS_0": "/tmp/ds0", "other": "/tmp/o"}
    assert config.vcenter_password() == "s3cret"
    assert config.oma_token() == "tok-9f8e7d"
    public = config.public_dict()
    assert public["vcenter"]["password_file"].endswith("secret")
    assert public["oma"]["token"] == "[REDACTED]"
    assert "tok-9f8e7d" not in repr(config) and "s3cret" not in repr(config)


def test_json_file_and_json_map_in_env(tmp_path: Path) -> None:
    path = tmp_path / "vma.json"
    path.write_text(json.dumps({"server": {"log_format": "json"}, "replication": {"disk_source": "vddk"}}))
    config = load_config(path, environ={"VMA_DATASTORE_MAP": '{"ds 1": "/srv/a"}', "VMA_CONFIG": "/nonexistent"})
    assert config.server.log_format == "json" and config.replication.disk_source == "vddk"
    assert config.replication.datastore_map == {"ds 1": "/srv/a"}


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 1234\n")
    assert load_config(None, environ={"VMA_CONFIG": str(path)}).server.port == 1234


@pytest.mark.parametrize("text, env, message", [
    ("[nope]\nx = 1\n", {}, "unknown config section"),
    ("[server]\nprot = 1\n", {}, "unknown setting server.prot"),
    ("[server]\nport = 'abc'\n", {}, "server.port"),
    ("", {"VMA_QUIESCE": "maybe"}, "VMA_QUIESCE"),
    ("", {"VMA_PORT": "70000"}, "between 0 and 65535"),
    ("", {"VMA_DISK_SOURCE": "tape"}, "disk_source"),
    ("", {"VMA_DATASTORE_MAP": "no-equals-sign"}, "VMA_DATASTORE_MAP"),
    ("[server\n", {}, "not valid"),
])
def test_bad_configuration_is_reported(tmp_path: Path, text: str, env: dict, message: str) -> None:
    path = tmp_path / "vma.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ=env)


def test_missing_secret_file_is_reported(tmp_path: Path) -> None:
    config = load_config(None, environ={"VMA_OMA_TOKEN_FILE": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="cannot read secret file"):
        config.oma_token()


def test_every_setting_has_one_env_name() -> None:
    names = [env for _, _, env in env_table()]
    assert len(names) == len(set(names))
    assert all(name.startswith("VMA_") for name in names)
    assert len(names) == sum(len(vars(getattr(AgentConfig(), s))) for s in
                             ("server", "vcenter", "oma", "replication", "vddk"))
