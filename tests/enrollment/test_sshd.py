"""The control plane's sshd configuration against a real OpenSSH server: only the agent's forwards, no shell,
revocation ends live sessions."""
import os
import pwd
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest

from apps.enrollment import keys_command, sshd
from apps.enrollment.models import Appliance, EnrollmentAuditEvent
from apps.enrollment.tasks import refresh_tunnel_seen

from .conftest import TUNNEL_USER, enroll_and_prove, new_code, new_key, write_key

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_keys_command_prints_only_the_matching_key_and_records_the_session(tmp_path):
    first, second = new_key(), new_key()
    keys_file = tmp_path / "authorized_keys"
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    lines = [sshd.authorized_key_line(key_type=k.get_name(), key_b64=k.get_base64(), appliance_id=name, api_port=8082,
                                      nbd_ports=[10809], reverse_port=9081) for k, name in ((first, "a"), (second, "b"))]
    sshd.write_authorized_keys(keys_file, lines)
    assert oct(keys_file.stat().st_mode & 0o777) == "0o644"

    def run(fingerprint, directory=sessions):
        return subprocess.run([sys.executable, keys_command.__file__, str(keys_file), str(directory), fingerprint],
                              capture_output=True, text=True)

    found = run(first.fingerprint)
    assert found.returncode == 0 and found.stdout.strip() == lines[0]
    records = list(sessions.iterdir())
    assert len(records) == 1
    record = keys_command.read_record(str(records[0]))
    # The helper's parent is the process that ran it: for sshd, the connection's monitor; here, this test.
    assert record["pid"] == os.getpid() and record["fingerprint"] == first.fingerprint
    assert keys_command.is_live(record)

    unknown = run(new_key().fingerprint)
    assert unknown.returncode == 0 and unknown.stdout == "" and len(list(sessions.iterdir())) == 1

    # No way to record the session: no key either (fail closed).
    closed = run(second.fingerprint, directory=tmp_path / "missing")
    assert closed.returncode == 1 and closed.stdout == "" and "cannot record" in closed.stderr


def test_session_records_of_dead_or_reused_pids_are_ignored_and_pruned(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        keys_command.write_record(str(tmp_path), "SHA256:x", sleeper.pid)
        path = keys_command.record_path(str(tmp_path), "SHA256:x", sleeper.pid)
        record = keys_command.read_record(path)
        assert keys_command.is_live(record)
        # Not an sshd: never listed, so never signalled.
        assert sshd.list_sessions(tmp_path) == []
        assert not Path(path).exists()
        keys_command.write_record(str(tmp_path), "SHA256:x", sleeper.pid)
        assert keys_command.is_live({**record, "start_ticks": record["start_ticks"] + 1}) is False
    finally:
        sleeper.kill()
        sleeper.wait()
    assert keys_command.is_live(record) is False
    keys_command.prune(str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def _approve(admin, anon, name="site-a"):
    agent = enroll_and_prove(anon, new_code(admin), name=name)
    body = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").json()
    return agent, Appliance.objects.get(appliance_id=body["appliance"]["appliance_id"])


def _transport(lab, key) -> paramiko.Transport:
    transport = paramiko.Transport(socket.create_connection(("127.0.0.1", lab.port), timeout=10))
    transport.start_client(timeout=10)
    transport.auth_publickey(TUNNEL_USER, key)
    return transport


def _ssh(lab, key_path, *args, timeout=15):
    command = ["ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
               "-i", str(key_path), "-p", str(lab.port), *args, f"{TUNNEL_USER}@127.0.0.1"]
    return command


@pytest.fixture
def restricted_lab(admin_client_api, anon_client, start_tunnel_sshd, echo_server, tmp_path):
    """An approved agent and the sshd; the echo server stands in for the control plane API on its port."""
    reverse_port = sshd.free_port()
    lab = start_tunnel_sshd(api_port=echo_server.port, nbd_ports=[sshd.free_port()], reverse_ports=[reverse_port])
    agent, appliance = _approve(admin_client_api, anon_client)
    key_path = write_key(agent.key, tmp_path / "agent_key")
    return lab, agent, appliance, key_path


def test_rendered_config_is_what_sshd_runs(restricted_lab):
    lab = restricted_lab[0]
    assert "MaxSessions 0" in lab.config and "AuthorizedKeysFile none" in lab.config
    lab.sshd.check(lab.config)  # sshd -t


def test_allowed_forward_works_and_others_are_refused(restricted_lab, echo_server):
    lab, agent, appliance, _ = restricted_lab
    forbidden = type(echo_server)()
    try:
        transport = _transport(lab, agent.key)
        channel = transport.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 0))
        channel.sendall(b"ping")
        assert channel.recv(4) == b"ping"
        channel.close()
        with pytest.raises(paramiko.ChannelException, match="prohibited"):
            transport.open_channel("direct-tcpip", ("127.0.0.1", forbidden.port), ("127.0.0.1", 0))
        with pytest.raises(paramiko.ChannelException, match="prohibited"):
            transport.open_channel("direct-tcpip", ("localhost", echo_server.port), ("127.0.0.1", 0))
        # Reverse forwards: only this agent's own port.
        assert transport.request_port_forward("127.0.0.1", appliance.tunnel_reverse_port) == \
            appliance.tunnel_reverse_port
        with pytest.raises(paramiko.SSHException):
            transport.request_port_forward("127.0.0.1", sshd.free_port())
        transport.close()
        assert forbidden.connections == 0
    finally:
        forbidden.close()


def test_shell_exec_and_sessions_are_refused(restricted_lab):
    lab, agent, _, key_path = restricted_lab
    transport = _transport(lab, agent.key)
    with pytest.raises(paramiko.ChannelException):
        transport.open_session()
    transport.close()
    result = subprocess.run(_ssh(lab, key_path, "-tt") + ["id"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "uid=" not in result.stdout
    shell = subprocess.run(_ssh(lab, key_path), capture_output=True, text=True, timeout=30, input="id\n")
    assert shell.returncode != 0 and "uid=" not in shell.stdout


def test_openssh_client_forward_outside_the_allowed_ones_is_refused(restricted_lab, tmp_path):
    lab, _, _, key_path = restricted_lab
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen(1)
    target.settimeout(0.5)
    local = sshd.free_port()
    process = subprocess.Popen(_ssh(lab, key_path, "-N", "-o", "ExitOnForwardFailure=yes",
                                    "-L", f"127.0.0.1:{local}:127.0.0.1:{target.getsockname()[1]}"),
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client = socket.create_connection(("127.0.0.1", local), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        client.settimeout(5)
        assert client.recv(1) == b""  # ssh closes it: the server refused the channel
        client.close()
        with pytest.raises(socket.timeout):
            target.accept()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        target.close()
    assert "prohibited" in stderr
    # A reverse forward on a port that is not the agent's own: the client gives up at once.
    denied = subprocess.run(_ssh(lab, key_path, "-N", "-o", "ExitOnForwardFailure=yes",
                                 "-R", f"127.0.0.1:{sshd.free_port()}:127.0.0.1:22"),
                            capture_output=True, text=True, timeout=30)
    assert denied.returncode == 255 and "remote port forwarding failed" in denied.stderr


def test_unknown_and_revoked_keys_cannot_log_in(restricted_lab, admin_client_api):
    lab, agent, appliance, _ = restricted_lab
    with pytest.raises(paramiko.AuthenticationException):
        _transport(lab, new_key())
    admin_client_api.delete(f"/api/v1/admin/vma/revoke/{appliance.appliance_id}")
    with pytest.raises(paramiko.AuthenticationException):
        _transport(lab, agent.key)


def test_revoke_ends_the_live_session(restricted_lab, admin_client_api, settings):
    lab, agent, appliance, key_path = restricted_lab
    process = subprocess.Popen(_ssh(lab, key_path, "-N", "-o", "LogLevel=VERBOSE", "-o", "ExitOnForwardFailure=yes",
                                    "-R", f"127.0.0.1:{appliance.tunnel_reverse_port}:127.0.0.1:9"),
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        sessions = []
        while time.monotonic() < deadline and not sessions:
            time.sleep(0.1)
            sessions = sshd.list_sessions(Path(settings.MP_SSH_SESSIONS_DIR), fingerprint=agent.key.fingerprint,
                                          login_uid=pwd.getpwnam(TUNNEL_USER).pw_uid)
            sessions = [s for s in sessions if s.authenticated]
        assert len(sessions) == 1, lab.sshd.log()
        assert process.poll() is None
        # Beat's minute task stamps the agent as seen through its tunnel without anyone reading the list.
        assert Appliance.objects.get(pk=appliance.pk).tunnel_last_seen_at is None
        assert refresh_tunnel_seen() == 1
        assert Appliance.objects.get(pk=appliance.pk).tunnel_last_seen_at is not None
        active = admin_client_api.get("/api/v1/admin/vma/active").json()["appliances"][0]
        assert active["tunnel"]["connected"] is True and active["tunnel"]["sessions"] == 1, (active, lab.sshd.log())
        assert active["tunnel_last_seen_at"] is not None

        revoked = admin_client_api.delete(f"/api/v1/admin/vma/revoke/{appliance.appliance_id}").json()
        assert revoked["tunnel_sessions_ended"] == 1 and revoked["warnings"] == [], (revoked, lab.sshd.log())
        assert process.wait(timeout=10) != 0
        assert sshd.list_sessions(Path(settings.MP_SSH_SESSIONS_DIR), fingerprint=agent.key.fingerprint) == []
        assert refresh_tunnel_seen() == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_management_command_renders_a_config_sshd_accepts_and_syncs_keys(tunnel_files, settings, tmp_path):
    import io

    from django.core.management import call_command

    if os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists():
        pytest.skip("sshd -t needs the OpenSSH server and root")
    server = sshd.ThrowawaySshd(tmp_path / "sshd")
    out = io.StringIO()
    call_command("tunnel_sshd", "config", "--listen", "127.0.0.1", "--host-key", str(server.host_key),
                 "--keys-command-user", TUNNEL_USER, stdout=out)
    config = out.getvalue()
    assert "AllowUsers nobody" in config and "PermitListen 127.0.0.1:9081 " in config
    assert f"AuthorizedKeysCommand /usr/local/libexec/mp-tunnel-keys {settings.MP_SSH_AUTHORIZED_KEYS} " in config
    server.check(config)
    destination = tunnel_files / "libexec" / "mp-tunnel-keys"
    call_command("tunnel_sshd", "install-keys-command", "--dest", str(destination), stdout=io.StringIO())
    assert destination.read_text().startswith("#!/usr/bin/python3 -IS\n") and os.access(destination, os.X_OK)
    out = io.StringIO()
    call_command("tunnel_sshd", "sync-keys", stdout=out)
    assert "wrote 0 key(s)" in out.getvalue() and Path(settings.MP_SSH_AUTHORIZED_KEYS).exists()
    assert EnrollmentAuditEvent.objects.get().action == "keys_sync"
    out = io.StringIO()
    call_command("tunnel_sshd", "sessions", stdout=out)
    assert "0 live session(s)" in out.getvalue()


def test_revoke_without_permission_to_signal_still_revokes_and_says_so(restricted_lab, admin_client_api, settings,
                                                                       monkeypatch):
    lab, agent, appliance, key_path = restricted_lab
    process = subprocess.Popen(_ssh(lab, key_path, "-N"), stderr=subprocess.DEVNULL)
    try:
        sessions_dir = Path(settings.MP_SSH_SESSIONS_DIR)
        uid = pwd.getpwnam(TUNNEL_USER).pw_uid
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not [s for s in sshd.list_sessions(sessions_dir, login_uid=uid)
                                                   if s.authenticated]:
            time.sleep(0.1)

        def refuse(pidfd, signum):
            raise PermissionError(1, "Operation not permitted")

        # As a control plane without CAP_KILL would experience it.
        monkeypatch.setattr(sshd.signal, "pidfd_send_signal", refuse)
        response = admin_client_api.delete(f"/api/v1/admin/vma/revoke/{appliance.appliance_id}")
        assert response.status_code == 200
        body = response.json()
        assert body["tunnel_sessions_ended"] == 0 and "CAP_KILL" in body["warnings"][0]
        assert Appliance.objects.get(pk=appliance.pk).status == "revoked"
        assert agent.key.get_base64() not in Path(settings.MP_SSH_AUTHORIZED_KEYS).read_text()
        assert process.poll() is None  # still connected: exactly what the warning says
    finally:
        process.kill()
        process.wait(10)


def test_tunnel_seen_task_survives_an_unreadable_registry(settings, tmp_path, caplog):
    not_a_directory = tmp_path / "sessions"
    not_a_directory.write_text("")
    settings.MP_SSH_SESSIONS_DIR = str(not_a_directory)
    assert refresh_tunnel_seen() == 0
    assert "cannot read the tunnel session registry" in caplog.text
