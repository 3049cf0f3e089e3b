"""The agent's half: key files, host key pinning, the ssh command line, the tunnel status it reports."""
import json
import os
import subprocess

import paramiko
import pytest

from agent import enroll as agent_enroll
from agent import tunnel as agent_tunnel

from .conftest import new_key


def test_key_is_generated_once_with_private_permissions(tmp_path):
    key = agent_enroll.ensure_key(tmp_path)
    assert (tmp_path / "tunnel_ed25519").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tunnel_ed25519.pub").read_text().startswith(f"ssh-ed25519 {key.get_base64()} ")
    assert agent_enroll.ensure_key(tmp_path).fingerprint == key.fingerprint
    # OpenSSH reads the same file (the tunnel's data path uses it).
    public = subprocess.run(["ssh-keygen", "-y", "-f", str(tmp_path / "tunnel_ed25519")], capture_output=True,
                            text=True, check=True).stdout.split()
    assert public[:2] == ["ssh-ed25519", key.get_base64()]


def test_resume_without_a_pending_enrollment_is_a_clear_error(tmp_path):
    with pytest.raises(agent_enroll.EnrollmentFailed, match="give --code"):
        agent_enroll.enroll("http://127.0.0.1:9", None, state_dir=tmp_path, name="x")


def test_unreachable_control_plane_is_a_clear_error(tmp_path):
    client = agent_enroll.EnrollmentClient("http://127.0.0.1:9", attempts=2, sleep=lambda s: None)
    with pytest.raises(agent_enroll.EnrollmentFailed, match="cannot reach the control plane"):
        agent_enroll.enroll("http://127.0.0.1:9", "ABCD-EFGH", state_dir=tmp_path, name="x", client=client)


def test_ssh_command_is_forwarding_only_with_strict_host_keys():
    settings = agent_tunnel.TunnelSettings(
        ssh_host="oma.example.com", ssh_port=2222, ssh_user="vma-tunnel", key_file="/s/key",
        known_hosts_file="/s/known_hosts",
        local_forwards=[agent_tunnel.Forward(8082, 8082), agent_tunnel.Forward(10809, 10809)],
        reverse_forwards=[agent_tunnel.Forward(9081, 8081)], api_local_port=8082)
    command = agent_tunnel.ssh_command(settings)
    text = " ".join(command)
    for option in ("-N", "-F none", "ExitOnForwardFailure=yes", "ServerAliveInterval=10", "StrictHostKeyChecking=yes",
                   "UserKnownHostsFile=/s/known_hosts", "HostKeyAlias=mp-control-plane", "IdentitiesOnly=yes",
                   "Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com", "ForwardAgent=no",
                   "-L 127.0.0.1:8082:127.0.0.1:8082", "-L 127.0.0.1:10809:127.0.0.1:10809",
                   "-R 127.0.0.1:9081:127.0.0.1:8081", "-p 2222", "-l vma-tunnel"):
        assert option in text, option
    assert command[-1] == "oma.example.com"
    # ssh parses it (-G prints the resolved configuration without connecting).
    resolved = subprocess.run([command[0], "-G", *command[1:]], capture_output=True, text=True)
    assert resolved.returncode == 0, resolved.stderr
    assert "exitonforwardfailure yes" in resolved.stdout and "ciphers aes128-gcm@openssh.com" in resolved.stdout


def _enrollment_result(state_dir):
    state_dir.mkdir(exist_ok=True)
    (state_dir / "enrollment.json").write_text(json.dumps({"tunnel": {
        "ssh_host": "127.0.0.1", "ssh_port": 2222, "ssh_user": "vma-tunnel", "api_port": 8000,
        "nbd_ports": [10809, 10810], "reverse_port": 9082, "cipher": "aes128-gcm@openssh.com",
        "keepalive_interval": 5}}))


def test_settings_come_from_the_enrollment_result(tmp_path):
    with pytest.raises(agent_tunnel.TunnelNotConfigured, match="vma enroll"):
        agent_tunnel.settings_from_enrollment(tmp_path)
    _enrollment_result(tmp_path)
    settings = agent_tunnel.settings_from_enrollment(tmp_path, nbd_local_offset=100, agent_api_port=18081)
    assert settings.local_forwards == [agent_tunnel.Forward(8082, 8000), agent_tunnel.Forward(10909, 10809),
                                       agent_tunnel.Forward(10910, 10810)]
    assert settings.reverse_forwards == [agent_tunnel.Forward(9082, 18081)]
    assert settings.keepalive_interval == 5 and settings.key_file == str(tmp_path / "tunnel_ed25519")


def test_tunnel_status_when_nothing_runs(tmp_path):
    assert agent_tunnel.tunnel_status(tmp_path) == {"state": "not_configured"}
    _enrollment_result(tmp_path)
    assert agent_tunnel.tunnel_status(tmp_path) == {"state": "stopped"}
    # A status file left by a `vma tunnel` that died is not believed.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "tunnel-status.json").write_text(json.dumps({"state": "connected", "supervisor_pid": dead.pid,
                                                             "connected_since": "2026-01-01T00:00:00Z"}))
    status = agent_tunnel.tunnel_status(tmp_path)
    assert status["state"] == "stopped" and status["connected_since"] is None


def test_supervisor_backs_off_and_reports_why(tmp_path):
    _enrollment_result(tmp_path)
    closed_port = __import__("apps.enrollment.sshd", fromlist=["free_port"]).free_port()
    settings = agent_tunnel.settings_from_enrollment(tmp_path, ssh_port=closed_port, backoff_initial=0.2,
                                                     backoff_max=0.4, api_local_port=closed_port)
    supervisor = agent_tunnel.TunnelSupervisor(settings, status_file=tmp_path / "tunnel-status.json").start()
    try:
        assert not supervisor.wait_connected(3)
        status = agent_tunnel.tunnel_status(tmp_path)  # the in-process supervisor answers
        assert status["state"] in ("backoff", "connecting") and status["attempts"] >= 2
        assert "refused" in (status["last_error"] or "").lower()
        on_disk = json.loads((tmp_path / "tunnel-status.json").read_text())
        assert on_disk["supervisor_pid"] == os.getpid()
    finally:
        supervisor.stop()
    assert agent_tunnel.tunnel_status(tmp_path)["state"] == "stopped"


def test_host_key_pinning(start_tunnel_sshd, tmp_path, echo_server):
    from apps.enrollment.sshd import free_port

    lab = start_tunnel_sshd(api_port=echo_server.port, nbd_ports=[], reverse_ports=[free_port()])
    presented = lab.sshd.host_public_key
    tunnel = {"ssh_host": "127.0.0.1", "ssh_port": lab.port, "host_keys": [presented]}
    path, fingerprint = agent_enroll.pin_host_key(tunnel, tmp_path)
    assert path.read_text() == f"mp-control-plane {presented}\n" and fingerprint.startswith("SHA256:")
    assert path.stat().st_mode & 0o777 == 0o600
    # Trust on first use when the control plane publishes none.
    path, _ = agent_enroll.pin_host_key({**tunnel, "host_keys": []}, tmp_path)
    assert path.read_text().split()[1:] == presented.split()[:2]
    # A server presenting another key than the published one is refused.
    other = new_key()
    with pytest.raises(agent_enroll.EnrollmentFailed, match="did not publish"):
        agent_enroll.pin_host_key({**tunnel, "host_keys": [f"ssh-ed25519 {other.get_base64()}"]}, tmp_path)
    assert isinstance(agent_enroll.fetch_host_key("127.0.0.1", lab.port), paramiko.PKey)


def test_commands_plug_into_the_vma_cli_by_module_path(tmp_path, monkeypatch, capsys):
    from agent import cli

    assert {"agent.enroll", "agent.tunnel"} <= set(cli.COMMANDS)
    config = tmp_path / "vma.toml"
    config.write_text(f'[server]\nstate_dir = "{tmp_path}"\n')
    assert cli.main(["--config", str(config), "tunnel", "--status"]) == 0
    assert json.loads(capsys.readouterr().out) == {"state": "not_configured"}
    assert cli.main(["--config", str(config), "enroll", "--url", "http://127.0.0.1:9"]) == 1
    assert "give --code" in capsys.readouterr().err
